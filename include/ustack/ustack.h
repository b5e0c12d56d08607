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
};

/* Starts the process's stack: opens the link and starts the stack thread.
 * cfg NULL: everything from the environment. Called implicitly by the first
 * ust_* call of a program that never calls it. 0, or -1 with errno (EINVAL
 * for a bad value, with a message on stderr naming the variable). EALREADY
 * when the stack already runs. */
int ust_init(const struct ust_config *cfg);
/* Stops the stack thread, closes the link (removing a TAP it created).
 * Every open socket is closed; threads blocked on one return EBADF. Safe to
 * call twice and from atexit (ust_init registers it there). */
void ust_fini(void);

/* --- sockets: AF_INET; SOCK_DGRAM now, SOCK_STREAM when TCP lands ---
 * ustack fds are numbered from 1000000 up, apart from the kernel's; they are
 * valid only with ust_* calls. */
int ust_socket(int domain, int type, int protocol);
int ust_bind(int fd, const struct sockaddr *addr, socklen_t addrlen);
/* UDP: sets the default peer (AF_UNSPEC removes it). */
int ust_connect(int fd, const struct sockaddr *addr, socklen_t addrlen);
ssize_t ust_sendto(int fd, const void *buf, size_t len, int flags,
                   const struct sockaddr *dest_addr, socklen_t addrlen);
ssize_t ust_send(int fd, const void *buf, size_t len, int flags);
ssize_t ust_recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *src_addr,
                     socklen_t *addrlen);
ssize_t ust_recv(int fd, void *buf, size_t len, int flags);
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
 * SO_TYPE, SO_DOMAIN, SO_PROTOCOL, SO_ERROR, SO_ACCEPTCONN. */
int ust_setsockopt(int fd, int level, int optname, const void *optval, socklen_t optlen);
int ust_getsockopt(int fd, int level, int optname, void *optval, socklen_t *optlen);

#ifdef __cplusplus
}
#endif

#endif
