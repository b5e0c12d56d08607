/* ustack: a user-space TCP/IP stack with a POSIX socket API.
 * This is the one header an application includes. Every ust_* call has the
 * signature and the errno semantics of the POSIX call of the same name, as
 * Linux implements it: -1 with errno set on failure. */
#ifndef USTACK_USTACK_H
#define USTACK_USTACK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Configuration of the process's stack. Every field mirrors a USTACK_*
 * environment variable; a NULL string or 0 means "take the environment's
 * value, or the default". */
struct ust_config {
	const char *tap;      /* USTACK_TAP, default "ustack0" */
	const char *ip;       /* USTACK_IP, default "10.77.0.2/24" */
	const char *host_ip;  /* USTACK_HOST_IP, default "10.77.0.1/24" */
	const char *gw;       /* USTACK_GW, default: the host IP */
	const char *mac;      /* USTACK_MAC, default: random locally administered */
	unsigned mtu;         /* USTACK_MTU, default 1500 */
	const char *pcap;     /* USTACK_PCAP, capture file; unset: none */
	const char *impair;   /* USTACK_IMPAIR, e.g. "loss=5%,delay=20ms,seed=7" */
	const char *exit_linger; /* USTACK_EXIT_LINGER, "10", "10s", "500ms"; default 10 s */
};

/* Starts the process's stack: opens the link and starts the stack thread.
 * cfg NULL: everything from the environment. Called implicitly by the first
 * ust_* call of a program that never calls it. 0, or -1 with errno (EINVAL
 * for a bad value, with a message on stderr naming the variable). EALREADY
 * when the stack already runs. EADDRINUSE when another process drives the
 * TAP (one stack per TAP; the message names that process); every later
 * ust_* call then fails with the same errno. */
int ust_init(const struct ust_config *cfg);
/* Stops the stack thread, closes the link (removing a TAP it created).
 * Every open socket is closed as close(2) would (FIN; RST for unread data
 * or SO_LINGER 0); threads blocked on one return EBADF. First the stack
 * keeps running until every connection has had its data and FIN
 * acknowledged, or USTACK_EXIT_LINGER passes (SO_LINGER's time for a socket
 * that set it). Safe to call twice and from atexit (the first ust_* call
 * registers it there, so returning from main or exit() drains). */
void ust_fini(void);

/* --- sockets: AF_INET, SOCK_STREAM (TCP) and SOCK_DGRAM (UDP) ---
 * ustack fds are numbered from 1000000 up, apart from the kernel's; they are
 * valid only with ust_* calls. */
int ust_socket(int domain, int type, int protocol);
int ust_bind(int fd, const struct sockaddr *addr, socklen_t addrlen);
/* UDP: sets the default peer (AF_UNSPEC removes it). TCP: blocks until
 * the handshake ends (ECONNREFUSED, ETIMEDOUT, ...; SO_SNDTIMEO bounds it);
 * non-blocking: EINPROGRESS, EALREADY, then SO_ERROR tells the outcome. */
int ust_connect(int fd, const struct sockaddr *addr, socklen_t addrlen);
ssize_t ust_sendto(int fd, const void *buf, size_t len, int flags,
                   const struct sockaddr *dest_addr, socklen_t addrlen);
ssize_t ust_send(int fd, const void *buf, size_t len, int flags);
ssize_t ust_recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *src_addr,
                     socklen_t *addrlen);
ssize_t ust_recv(int fd, void *buf, size_t len, int flags);
/* Flags: MSG_DONTWAIT, MSG_PEEK, MSG_WAITALL, MSG_NOSIGNAL, MSG_TRUNC (UDP).
 * On a stream, EPIPE raises SIGPIPE unless MSG_NOSIGNAL (as Linux); a
 * blocking send returns once every byte is queued. No ancillary data. */
ssize_t ust_sendmsg(int fd, const struct msghdr *msg, int flags);
ssize_t ust_recvmsg(int fd, struct msghdr *msg, int flags);
ssize_t ust_read(int fd, void *buf, size_t count);
ssize_t ust_write(int fd, const void *buf, size_t count);
ssize_t ust_readv(int fd, const struct iovec *iov, int iovcnt);
ssize_t ust_writev(int fd, const struct iovec *iov, int iovcnt);
int ust_close(int fd);
int ust_getsockname(int fd, struct sockaddr *addr, socklen_t *addrlen);
int ust_getpeername(int fd, struct sockaddr *addr, socklen_t *addrlen);
/* F_GETFL / F_SETFL (O_NONBLOCK), F_GETFD / F_SETFD (FD_CLOEXEC). */
int ust_fcntl(int fd, int cmd, ...);
/* Connection calls (TCP); a UDP socket answers EOPNOTSUPP, as in Linux. */
int ust_listen(int fd, int backlog);
int ust_accept(int fd, struct sockaddr *addr, socklen_t *addrlen);
int ust_accept4(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags);
int ust_shutdown(int fd, int how);
/* SOL_SOCKET: SO_REUSEADDR, SO_REUSEPORT, SO_BROADCAST, SO_KEEPALIVE,
 * SO_RCVBUF, SO_SNDBUF, SO_LINGER, SO_RCVTIMEO, SO_SNDTIMEO; get also
 * SO_TYPE, SO_DOMAIN, SO_PROTOCOL, SO_ERROR, SO_ACCEPTCONN.
 * IPPROTO_TCP: TCP_NODELAY, TCP_MAXSEG, TCP_KEEPIDLE, TCP_KEEPINTVL,
 * TCP_KEEPCNT; get also TCP_INFO (struct tcp_info of <netinet/tcp.h>:
 * state, rtt, rttvar, rto, snd_cwnd, snd_ssthresh, mss, retransmits). */
int ust_setsockopt(int fd, int level, int optname, const void *optval, socklen_t optlen);
int ust_getsockopt(int fd, int level, int optname, void *optval, socklen_t *optlen);

/* --- readiness: poll, select, epoll ---
 * Sets may mix ustack fds and kernel fds (pipes, eventfd, timerfd, AF_UNIX
 * sockets, files); a call wakes for either. Semantics are Linux's. */
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <time.h>

int ust_poll(struct pollfd *fds, nfds_t nfds, int timeout);
int ust_ppoll(struct pollfd *fds, nfds_t nfds, const struct timespec *tmo,
              const sigset_t *sigmask);
/* The sets are bit arrays of nfds bits as select(2) reads them. A stock
 * fd_set holds FD_SETSIZE (1024) bits, fewer than ustack's fd numbers: name
 * ustack fds with ust_poll or ust_epoll_*, or pass sets sized for nfds. */
int ust_select(int nfds, fd_set *readfds, fd_set *writefds, fd_set *exceptfds,
               struct timeval *timeout);
int ust_pselect(int nfds, fd_set *readfds, fd_set *writefds, fd_set *exceptfds,
                const struct timespec *timeout, const sigset_t *sigmask);
/* An epoll instance is a kernel epoll fd (small, below the ustack range):
 * it can itself sit in a kernel poll set. Close it with ust_close. Its
 * ustack sockets must belong to one stack (a process has one). Level-
 * triggered by default; EPOLLET, EPOLLONESHOT, EPOLLRDHUP; EPOLLERR and
 * EPOLLHUP always reported; EPOLLEXCLUSIVE accepted. A wait costs the
 * sockets that became ready, not the sockets registered. */
int ust_epoll_create(int size);
int ust_epoll_create1(int flags);
int ust_epoll_ctl(int epfd, int op, int fd, struct epoll_event *event);
int ust_epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout);
int ust_epoll_pwait(int epfd, struct epoll_event *events, int maxevents, int timeout,
                    const sigset_t *sigmask);
/* FIONREAD (bytes of the next datagram / readable stream bytes) and FIONBIO. */
int ust_ioctl(int fd, unsigned long request, ...);

#ifdef __cplusplus
}
#endif

#endif
