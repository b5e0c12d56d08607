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

struct rt_sock {
	struct ust_runtime *rt;
	atomic_uint refs;
	uint32_t idx;            /* fd - base: the wait queue id */
	int type;                /* SOCK_DGRAM; SOCK_STREAM with TCP */
	bool nonblock, cloexec;  /* under rt->lock */
	bool closed, bound, connected;
	bool shut_rd, shut_wr;   /* shutdown(2) */
	/* SOL_SOCKET options (sockopt.c); protocols read what they honour. */
	bool reuseaddr, reuseport, broadcast, keepalive;
	bool linger_on;
	int linger_s;
	int sndbuf;
	int so_error;            /* pending error, read and cleared by SO_ERROR */
	uint64_t rcvtimeo_us, sndtimeo_us;  /* 0: block without limit */
	uint32_t waiters;        /* threads asleep on this socket */
	/* A datagram taken out by MSG_PEEK, handed out first by the next recv. */
	struct pkt *peek;
	uint32_t peek_src;
	uint16_t peek_port;
	union {
		struct udp_pcb udp;
		/* TCP: the TCB index/pointer goes here. */
	} u;
};

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

#endif
