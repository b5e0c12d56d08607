/* The socket object and the helpers its calls share. Internal to the
 * runtime: socket.c implements UDP and the fd table; TCP's socket calls
 * (a file of their own beside it) use the same object and helpers.
 *
 * To add SOCK_STREAM: accept it in check_type() (socket.c), create the TCB
 * in rt_socket(), give the union below its TCB field, and dispatch on
 * s->type in the ust_* calls that both protocols share (each has a marked
 * place: "TCP:"); IPPROTO_TCP options go in rt_setsockopt's level switch. */
#ifndef USTACK_RUNTIME_SOCK_H
#define USTACK_RUNTIME_SOCK_H

#include <stdatomic.h>
#include <sys/socket.h>

#include "runtime/runtime.h"
#include "tcp/tcp.h"

/* SOL_SOCKET options a socket rarely sets, allocated by the first
 * setsockopt that sets one (rt_sock_opts_get): a socket without them costs
 * a NULL pointer (issue 6, the per-connection budget). */
struct rt_sock_opts {
	uint64_t rcvtimeo_us, sndtimeo_us;  /* 0: block without limit */
	int linger_s;
	int sndbuf;              /* a datagram socket's (a stream socket's is
	                          * the TCB's); 0: never set */
};

/* What only a datagram socket has: its PCB and a datagram taken out by
 * MSG_PEEK, handed out first by the next recv. Allocated with the socket. */
struct rt_udp {
	struct udp_pcb pcb;
	struct pkt *peek;
	uint32_t peek_src;
	uint16_t peek_port;
};

/* One per open socket, 40 bytes: a stream socket's state lives in its
 * TCB, a datagram socket's in the struct rt_udp after it. */
struct rt_sock {
	atomic_uint refs;
	uint32_t idx;            /* fd - base: the wait queue id */
	unsigned type : 2;       /* SOCK_DGRAM or SOCK_STREAM */
	/* under the runtime's lock */
	bool nonblock : 1, cloexec : 1;
	bool closed : 1, bound : 1, connected : 1;  /* TCP: connected is SS_CONNECTED */
	bool connecting : 1;     /* TCP: SS_CONNECTING (a connect in progress or
	                          * completed and not yet confirmed by connect) */
	bool shut_rd : 1, shut_wr : 1;  /* shutdown(2) */
	/* SOL_SOCKET flags (sockopt.c); protocols read what they honour */
	bool reuseaddr : 1, reuseport : 1, broadcast : 1, keepalive : 1, linger_on : 1;
	uint16_t rt_id;          /* its runtime: sock_rt */
	uint32_t waiters;        /* threads asleep on this socket */
	struct rt_epi *epi;      /* epoll/poll registrations (epoll.h) */
	struct rt_sock_opts *opt; /* NULL: every option below at its default */
	union {
		/* SOCK_DGRAM: right after the socket, in the same allocation */
		struct rt_udp *udp;
		/* SOCK_STREAM: the core's TCB (its app pointer is this socket);
		 * NULL once the socket is closed (the core owns it then). */
		struct tcb *tcb;
	} u;
};

/* A socket's runtime, by the id the runtime took at its start (a
 * 2-byte id, not an 8-byte pointer, in every socket). */
static inline struct ust_runtime *sock_rt(const struct rt_sock *s)
{
	return rt_by_id(s->rt_id);
}

/* The socket's options, allocated on first use (NULL: ENOMEM). */
struct rt_sock_opts *rt_sock_opts_get(struct rt_sock *s);
static inline uint64_t rt_sock_rcvtimeo(const struct rt_sock *s)
{
	return s->opt ? s->opt->rcvtimeo_us : 0;
}
static inline uint64_t rt_sock_sndtimeo(const struct rt_sock *s)
{
	return s->opt ? s->opt->sndtimeo_us : 0;
}
static inline int rt_sock_linger_s(const struct rt_sock *s)
{
	return s->opt ? s->opt->linger_s : 0;
}

/* The socket behind fd with a reference, or NULL with errno = EBADF. */
struct rt_sock *rt_sock_get(int fd);
/* Drops a reference; the last one frees the socket. */
void rt_sock_put(struct rt_sock *s);
/* Takes the stack mutex; EBADF (mutex not held) when s was closed. */
int rt_sock_lock(struct rt_sock *s);
void rt_sock_unlock(struct rt_sock *s);
/* Sleeps on s's wait queue bucket until its state may have changed or
 * `deadline` (rt_now_us clock; UINT64_MAX: none) passes; the caller rechecks
 * (s->closed first). 0, or EAGAIN once the deadline passed (SO_RCVTIMEO /
 * SO_SNDTIMEO expiry reads as EAGAIN, as in Linux). Under the stack mutex. */
int rt_sock_wait(struct rt_sock *s, uint64_t deadline);
/* The deadline of a call that may block for up to timeo_us (0: forever). */
uint64_t rt_deadline(uint64_t timeo_us);

/* -1 with errno = err. */
int rt_fail(int err);
/* Puts s; then -1 with errno = err, or rc when err is 0. */
int rt_done(struct rt_sock *s, int err, int rc);

/* A sockaddr_in in (EFAULT, EINVAL for a short length, EAFNOSUPPORT) and
 * out (truncated to *len, *len set to its full size), as Linux does. */
int rt_get_sin(const struct sockaddr *a, socklen_t len, uint32_t *ip, uint16_t *port);
int rt_put_sin(struct sockaddr *a, socklen_t *len, uint32_t ip, uint16_t port);

/* The fd-table side of socket creation (socket.c): a new socket of rt with
 * a runtime reference (NULL: ENOMEM / ENETDOWN in *err), under rt->lock; a
 * stream socket gets a new TCB, or adopts `tcb` (from accept) when given.
 * Then its fd once it is ready to be seen (-errno on failure). */
struct rt_sock *rt_sock_new(struct ust_runtime *rt, int type, int flags, struct tcb *tcb,
                            int *err);
int rt_sock_install(struct rt_sock *s);

/* --- SOCK_STREAM (sock_tcp.c): TCP's side of the calls that dispatch on
 * s->type. "Locked" ones run under s->rt->lock and return 0 or an errno;
 * the others take the lock themselves and return as the ust_* call does. */
struct iovec;
int rt_tcp_create(struct rt_sock *s, struct tcb *adopt);                /* locked */
void rt_tcp_release(struct rt_sock *s);                                 /* locked */
/* close(2) of a blocking socket with SO_LINGER on and a time: sends the FIN
 * and sleeps until it is acknowledged or the time is up (tcp_close's
 * sk_stream_wait_close). Locked, before rt_tcp_release. */
void rt_tcp_linger(struct rt_sock *s);
int rt_tcp_bind(struct rt_sock *s, uint32_t ip, uint16_t port);         /* locked */
int rt_tcp_connect(struct rt_sock *s, uint32_t ip, uint16_t port);      /* locked, may sleep */
int rt_tcp_listen(struct rt_sock *s, int backlog);                      /* locked */
int rt_tcp_accept(struct rt_sock *s, struct sockaddr *addr, socklen_t *addrlen, int flags);
int rt_tcp_shutdown(struct rt_sock *s, int how);                        /* locked */
int rt_tcp_name(struct rt_sock *s, bool peer, uint32_t *ip, uint16_t *port); /* locked */
/* Stream data over an iovec (checked by the caller); bytes or -1/errno.
 * SIGPIPE is raised here, after the lock is dropped. */
ssize_t rt_tcp_send(struct rt_sock *s, const struct iovec *iov, int iovcnt, int flags);
ssize_t rt_tcp_recv(struct rt_sock *s, const struct iovec *iov, int iovcnt, int flags);
/* SOL_SOCKET options the TCB keeps, and IPPROTO_TCP. Locked. */
int rt_tcp_setsockopt(struct rt_sock *s, int level, int name, const void *val, socklen_t len);
int rt_tcp_getsockopt(struct rt_sock *s, int level, int name, void *val, socklen_t *len);
/* Readiness of a stream socket as SOCK_EV_* bits (for poll/epoll). Locked. */
uint32_t rt_tcp_poll(struct rt_sock *s);
/* `ustack stat`: every TCB of rt's stack as `ss -tan` lists it. Locked. */
void rt_tcp_stat(struct ust_runtime *rt, FILE *out, bool verbose);

#endif
