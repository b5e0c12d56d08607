/* The socket and I/O calls of the preload library. Each looks its fd up:
 * a kernel fd goes to the next definition untouched; a placeholder goes to
 * the ustack call of the same name with the ustack fd; a placeholder that
 * crossed fork/exec fails with EBADF and a message. socket() takes AF_INET
 * stream and datagram sockets; every other family and type is the kernel's. */
#include "preload/preload.h"
#include "runtime/epoll.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/close_range.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

static DEFINE_REAL(int, socket, int, int, int);
static DEFINE_REAL(int, bind, int, const struct sockaddr *, socklen_t);
static DEFINE_REAL(int, listen, int, int);
static DEFINE_REAL(int, accept, int, struct sockaddr *, socklen_t *);
static DEFINE_REAL(int, accept4, int, struct sockaddr *, socklen_t *, int);
static DEFINE_REAL(int, connect, int, const struct sockaddr *, socklen_t);
static DEFINE_REAL(ssize_t, send, int, const void *, size_t, int);
static DEFINE_REAL(ssize_t, sendto, int, const void *, size_t, int, const struct sockaddr *,
                   socklen_t);
static DEFINE_REAL(ssize_t, sendmsg, int, const struct msghdr *, int);
static DEFINE_REAL(ssize_t, recv, int, void *, size_t, int);
static DEFINE_REAL(ssize_t, recvfrom, int, void *, size_t, int, struct sockaddr *, socklen_t *);
static DEFINE_REAL(ssize_t, recvmsg, int, struct msghdr *, int);
static DEFINE_REAL(ssize_t, read, int, void *, size_t);
static DEFINE_REAL(ssize_t, write, int, const void *, size_t);
static DEFINE_REAL(ssize_t, readv, int, const struct iovec *, int);
static DEFINE_REAL(ssize_t, writev, int, const struct iovec *, int);
static DEFINE_REAL(ssize_t, sendfile, int, int, off_t *, size_t);
static DEFINE_REAL(int, close, int);
static DEFINE_REAL(int, shutdown, int, int);
static DEFINE_REAL(int, getsockopt, int, int, int, void *, socklen_t *);
static DEFINE_REAL(int, setsockopt, int, int, int, const void *, socklen_t);
static DEFINE_REAL(int, getsockname, int, struct sockaddr *, socklen_t *);
static DEFINE_REAL(int, getpeername, int, struct sockaddr *, socklen_t *);
static DEFINE_REAL(int, fcntl, int, int, ...);
static DEFINE_REAL(int, fcntl64, int, int, ...);
static DEFINE_REAL(int, ioctl, int, unsigned long, ...);
static DEFINE_REAL(int, close_range, unsigned, unsigned, int);
static DEFINE_REAL(void, closefrom, int);
static DEFINE_REAL(int, dup, int);
static DEFINE_REAL(int, dup2, int, int);
static DEFINE_REAL(int, dup3, int, int, int);
static DEFINE_REAL(ssize_t, __read_chk, int, void *, size_t, size_t);
static DEFINE_REAL(ssize_t, __recv_chk, int, void *, size_t, size_t, int);
static DEFINE_REAL(ssize_t, __recvfrom_chk, int, void *, size_t, size_t, int, struct sockaddr *,
                   socklen_t *);

/* Routes a call on fd: kernel fds (and everything the runtime itself does)
 * go to the next definition, dead placeholders fail. */
#define ROUTE(fd, u, name, ...)                       \
	int u = pl_inside ? PL_KERNEL : pl_lookup(fd); \
	if (u == PL_KERNEL)                            \
		return REAL(name)(__VA_ARGS__);        \
	if (u == PL_DEAD)                              \
		return pl_dead(fd, #name)

/* --- sockets --- */

static bool carried(int domain, int type, int protocol)
{
	int base = type & 0xf;

	if (domain != AF_INET)
		return false;
	if (base == SOCK_STREAM)
		return protocol == 0 || protocol == IPPROTO_TCP;
	if (base == SOCK_DGRAM)
		return protocol == 0 || protocol == IPPROTO_UDP;
	return false;  /* raw, packet, SCTP...: the kernel's */
}

int socket(int domain, int type, int protocol)
{
	int u, k, err;

	if (pl_inside || !carried(domain, type, protocol))
		return REAL(socket)(domain, type, protocol);
	if (pl_forked) {
		pl_say("socket(AF_INET) in a forked child: the stack runs in the parent and a child "
		       "cannot share it; exec a program instead (EAFNOSUPPORT)");
		errno = EAFNOSUPPORT;
		return -1;
	}
	u = UST(ust_socket(domain, type, protocol));
	if (u < 0) {
		err = errno;
		pl_say("socket(AF_INET, %s): %s: ustack cannot carry this socket",
		       (type & 0xf) == SOCK_STREAM ? "SOCK_STREAM" : "SOCK_DGRAM", strerror(err));
		errno = err;
		return -1;
	}
	k = pl_install(u, (type & SOCK_CLOEXEC) != 0);
	if (k < 0) {
		err = errno;
		UST(ust_close(u));
		errno = err;
	}
	return k;
}

int bind(int fd, const struct sockaddr *a, socklen_t l)
{
	ROUTE(fd, u, bind, fd, a, l);
	return UST(ust_bind(u, a, l));
}

int listen(int fd, int backlog)
{
	ROUTE(fd, u, listen, fd, backlog);
	return UST(ust_listen(u, backlog));
}

int accept4(int fd, struct sockaddr *a, socklen_t *l, int flags)
{
	int n, k, err;

	ROUTE(fd, u, accept4, fd, a, l, flags);
	n = UST(ust_accept4(u, a, l, flags));
	if (n < 0)
		return n;
	k = pl_install(n, (flags & SOCK_CLOEXEC) != 0);
	if (k < 0) {
		err = errno;
		UST(ust_close(n));
		errno = err;
	}
	return k;
}

int accept(int fd, struct sockaddr *a, socklen_t *l)
{
	ROUTE(fd, u, accept, fd, a, l);
	(void)u;
	return accept4(fd, a, l, 0);
}

int connect(int fd, const struct sockaddr *a, socklen_t l)
{
	ROUTE(fd, u, connect, fd, a, l);
	return UST(ust_connect(u, a, l));
}

int shutdown(int fd, int how)
{
	ROUTE(fd, u, shutdown, fd, how);
	return UST(ust_shutdown(u, how));
}

int getsockname(int fd, struct sockaddr *a, socklen_t *l)
{
	ROUTE(fd, u, getsockname, fd, a, l);
	return UST(ust_getsockname(u, a, l));
}

int getpeername(int fd, struct sockaddr *a, socklen_t *l)
{
	ROUTE(fd, u, getpeername, fd, a, l);
	return UST(ust_getpeername(u, a, l));
}

/* Options that only tune the kernel's own behaviour and that programs set
 * as hints (a failure would only be logged): accepted and ignored when
 * ustack does not know them, so the program goes on as over the kernel. */
static bool hint_option(int level, int name)
{
	switch (level) {
	case SOL_SOCKET:
		return name == SO_PRIORITY || name == SO_RCVLOWAT || name == SO_SNDLOWAT;
	case IPPROTO_IP:
		return name == IP_TOS || name == IP_MTU_DISCOVER || name == IP_RECVERR ||
		       name == IP_BIND_ADDRESS_NO_PORT;
	case IPPROTO_TCP:
		/* Not TCP_CONGESTION, TCP_MD5SIG and the like: their absence
		 * matters, and the program should hear of it. */
		return name == TCP_QUICKACK || name == TCP_DEFER_ACCEPT || name == TCP_FASTOPEN ||
		       name == TCP_NOTSENT_LOWAT || name == TCP_USER_TIMEOUT ||
		       name == TCP_WINDOW_CLAMP || name == TCP_THIN_LINEAR_TIMEOUTS;
	default:
		return false;
	}
}

/* TCP_CORK (nginx's tcp_nopush, sendfile after a header): ustack has no
 * cork, so corking only lets Nagle gather, and uncorking pushes what is
 * queued, as Linux's uncork does, by a TCP_NODELAY round trip. Without the
 * push, a header and a small body wait a delayed ACK (40 ms) apart. */
static int set_cork(int u, const void *v, socklen_t l)
{
	int on, nodelay = 0, one = 1;
	socklen_t nl = sizeof(nodelay);

	if (l < sizeof(int))
		return errno = EINVAL, -1;
	memcpy(&on, v, sizeof(on));
	if (on)
		return 0;
	if (UST(ust_getsockopt(u, IPPROTO_TCP, TCP_NODELAY, &nodelay, &nl)) < 0)
		return -1;
	if (UST(ust_setsockopt(u, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one))) < 0)
		return -1;
	if (!nodelay)
		UST(ust_setsockopt(u, IPPROTO_TCP, TCP_NODELAY, &nodelay, sizeof(nodelay)));
	return 0;
}

int setsockopt(int fd, int level, int name, const void *v, socklen_t l)
{
	int rc;

	ROUTE(fd, u, setsockopt, fd, level, name, v, l);
	if (level == IPPROTO_TCP && name == TCP_CORK && v)
		return set_cork(u, v, l);
	rc = UST(ust_setsockopt(u, level, name, v, l));
	if (rc < 0 && errno == ENOPROTOOPT && hint_option(level, name))
		rc = 0;
	return rc;
}

int getsockopt(int fd, int level, int name, void *v, socklen_t *l)
{
	ROUTE(fd, u, getsockopt, fd, level, name, v, l);
	return UST(ust_getsockopt(u, level, name, v, l));
}

/* --- data --- */

ssize_t send(int fd, const void *b, size_t n, int flags)
{
	ROUTE(fd, u, send, fd, b, n, flags);
	return UST(ust_send(u, b, n, flags));
}

ssize_t sendto(int fd, const void *b, size_t n, int flags, const struct sockaddr *a, socklen_t l)
{
	ROUTE(fd, u, sendto, fd, b, n, flags, a, l);
	return UST(ust_sendto(u, b, n, flags, a, l));
}

ssize_t sendmsg(int fd, const struct msghdr *m, int flags)
{
	ROUTE(fd, u, sendmsg, fd, m, flags);
	return UST(ust_sendmsg(u, m, flags));
}

ssize_t recv(int fd, void *b, size_t n, int flags)
{
	ROUTE(fd, u, recv, fd, b, n, flags);
	return UST(ust_recv(u, b, n, flags));
}

ssize_t recvfrom(int fd, void *b, size_t n, int flags, struct sockaddr *a, socklen_t *l)
{
	ROUTE(fd, u, recvfrom, fd, b, n, flags, a, l);
	return UST(ust_recvfrom(u, b, n, flags, a, l));
}

ssize_t recvmsg(int fd, struct msghdr *m, int flags)
{
	ROUTE(fd, u, recvmsg, fd, m, flags);
	return UST(ust_recvmsg(u, m, flags));
}

ssize_t read(int fd, void *b, size_t n)
{
	ROUTE(fd, u, read, fd, b, n);
	return UST(ust_read(u, b, n));
}

ssize_t write(int fd, const void *b, size_t n)
{
	ROUTE(fd, u, write, fd, b, n);
	return UST(ust_write(u, b, n));
}

ssize_t readv(int fd, const struct iovec *v, int n)
{
	ROUTE(fd, u, readv, fd, v, n);
	return UST(ust_readv(u, v, n));
}

ssize_t writev(int fd, const struct iovec *v, int n)
{
	ROUTE(fd, u, writev, fd, v, n);
	return UST(ust_writev(u, v, n));
}

/* _FORTIFY_SOURCE builds (Debian's programs) call these instead. */
ssize_t __read_chk(int fd, void *b, size_t n, size_t buflen)
{
	ROUTE(fd, u, __read_chk, fd, b, n, buflen);
	if (n > buflen)
		abort();  /* what glibc's __chk_fail does: a bug in the program */
	return UST(ust_read(u, b, n));
}

ssize_t __recv_chk(int fd, void *b, size_t n, size_t buflen, int flags)
{
	ROUTE(fd, u, __recv_chk, fd, b, n, buflen, flags);
	if (n > buflen)
		abort();
	return UST(ust_recv(u, b, n, flags));
}

ssize_t __recvfrom_chk(int fd, void *b, size_t n, size_t buflen, int flags, struct sockaddr *a,
                       socklen_t *l)
{
	ROUTE(fd, u, __recvfrom_chk, fd, b, n, buflen, flags, a, l);
	if (n > buflen)
		abort();
	return UST(ust_recvfrom(u, b, n, flags, a, l));
}

/* sendfile to a ustack socket: read from the file, send; the file offset
 * moves by what was sent, as sendfile(2) does. */
#define SENDFILE_CHUNK 65536

static ssize_t sendfile_ust(int u, int in, off_t *off, size_t count)
{
	char *buf;
	size_t total = 0;
	ssize_t n = 0, sent = 0;
	int err = 0;

	if (pl_lookup(in) != PL_KERNEL) {
		errno = EINVAL;  /* in_fd must be a file */
		return -1;
	}
	buf = malloc(SENDFILE_CHUNK);
	if (!buf) {
		errno = ENOMEM;
		return -1;
	}
	while (total < count) {
		size_t want = count - total < SENDFILE_CHUNK ? count - total : SENDFILE_CHUNK;

		n = off ? pread(in, buf, want, *off) : REAL(read)(in, buf, want);
		if (n <= 0) {
			err = n < 0 ? errno : 0;
			break;
		}
		sent = UST(ust_send(u, buf, (size_t)n, 0));
		if (sent < 0) {
			err = errno;
			if (!off)
				lseek(in, -n, SEEK_CUR);
			break;
		}
		if (off)
			*off += sent;
		else if (sent < n)
			lseek(in, -(n - sent), SEEK_CUR);
		total += (size_t)sent;
		if (sent < n)
			break;
	}
	free(buf);
	if (!total && err) {
		errno = err;
		return -1;
	}
	return (ssize_t)total;
}

ssize_t sendfile(int out, int in, off_t *off, size_t count)
{
	ROUTE(out, u, sendfile, out, in, off, count);
	return sendfile_ust(u, in, off, count);
}

ssize_t sendfile64(int out, int in, off_t *off, size_t count)
{
	return sendfile(out, in, off, count);
}

/* --- descriptors --- */

int close(int fd)
{
	int v = pl_inside ? PL_KERNEL : pl_lookup(fd);

	if (v != PL_KERNEL) {
		if (!pl_in_child())
			pl_forget(fd);
		return REAL(close)(fd);
	}
	/* An epoll instance of ours is a kernel fd with state behind it. */
	if (!pl_inside && UST(rt_epoll_is_ours(fd)) && !pl_in_child() && UST(rt_epoll_close(fd)) == 0)
		return 0;
	return REAL(close)(fd);
}

/* close_range/closefrom (a child closing what it inherited, say): the
 * placeholders among them let go of their sockets, or a reused number
 * would still look like a socket. */
static void forget_range(unsigned first, unsigned last)
{
	unsigned end = pl_tab_cap();

	for (unsigned fd = first; fd <= last && fd < end; fd++)
		if (pl_lookup((int)fd) != PL_KERNEL)
			pl_forget((int)fd);
}

int close_range(unsigned first, unsigned last, int flags)
{
	int rc = REAL(close_range)(first, last, flags);

	if (rc == 0 && !pl_inside && !(flags & CLOSE_RANGE_CLOEXEC) && !pl_in_child())
		forget_range(first, last);
	return rc;
}

void closefrom(int lowfd)
{
	REAL(closefrom)(lowfd);
	if (!pl_inside && lowfd >= 0 && !pl_in_child())
		forget_range((unsigned)lowfd, UINT_MAX);
}

static int dup_common(int old, int newfd, int flags, int which)
{
	int u = pl_inside ? PL_KERNEL : pl_lookup(old), k;

	if (u == PL_DEAD)
		return pl_dead(old, "dup");
	if (which == 1)
		k = REAL(dup)(old);
	else if (which == 2)
		k = REAL(dup2)(old, newfd);
	else
		k = REAL(dup3)(old, newfd, flags);
	if (k < 0 || k == old || pl_inside || pl_in_child())
		return k;
	/* dup2/dup3 closed what newfd was: a placeholder lets go of its socket. */
	pl_forget(k);
	if (u >= 0)
		pl_map_dup(k, u);
	return k;
}

int dup(int old)
{
	return dup_common(old, -1, 0, 1);
}

int dup2(int old, int newfd)
{
	return dup_common(old, newfd, 0, 2);
}

int dup3(int old, int newfd, int flags)
{
	return dup_common(old, newfd, flags, 3);
}

static int fcntl_ust(int fd, int u, int cmd, uintptr_t arg, int (*real)(int, int, ...))
{
	int k;

	switch (cmd) {
	case F_GETFL:
		return UST(ust_fcntl(u, F_GETFL));
	case F_SETFL:
		return UST(ust_fcntl(u, F_SETFL, (int)arg));
	case F_GETFD:
	case F_SETFD:
		/* close-on-exec lives on the placeholder, where exec sees it. */
		return real(fd, cmd, (int)arg);
	case F_DUPFD:
	case F_DUPFD_CLOEXEC:
		k = real(fd, cmd, (int)arg);
		if (k >= 0 && !pl_in_child())
			pl_map_dup(k, u);
		return k;
	default:
		return UST(ust_fcntl(u, cmd, (int)arg));
	}
}

int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	uintptr_t arg;

	va_start(ap, cmd);
	arg = va_arg(ap, uintptr_t);  /* int or pointer: a full register either way */
	va_end(ap);
	ROUTE(fd, u, fcntl, fd, cmd, arg);
	return fcntl_ust(fd, u, cmd, arg, REAL(fcntl));
}

int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	uintptr_t arg;

	va_start(ap, cmd);
	arg = va_arg(ap, uintptr_t);
	va_end(ap);
	ROUTE(fd, u, fcntl64, fd, cmd, arg);
	return fcntl_ust(fd, u, cmd, arg, REAL(fcntl64));
}

int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	ROUTE(fd, u, ioctl, fd, req, arg);
	if (req == FIOCLEX || req == FIONCLEX)
		return REAL(ioctl)(fd, req, arg);
	return UST(ust_ioctl(u, req, arg));
}
