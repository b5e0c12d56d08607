/* The fd table and the socket calls. The fd table is process-wide (like the
 * kernel's) so one fd namespace spans every runtime; each socket points to
 * the runtime it lives on, whose mutex protects its state. Blocking calls
 * sleep on the runtime's hashed wait queue bucket of the socket's index.
 *
 * Lifetime: the table holds one reference to a socket, every call in flight
 * holds one more; close removes the fd at once (it can be reused) and marks
 * the socket closed under the stack mutex, so sleepers wake to EBADF. A
 * socket holds a reference to its runtime. The object is in sock.h.
 *
 * fds are fd_base + index, fd_base 1000000 by default (rt_fd_set_base), so
 * a preload shim tells ustack's fds from the kernel's with one compare. A
 * freed fd is reused first (LIFO, O(1)) rather than POSIX's lowest-free
 * rule, which would need a search; nothing relies on the order here. */
#include "runtime/sock.h"
#include "runtime/epoll.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#define UDP_MAX_PAYLOAD 65507u  /* 65535 - IP header - UDP header */

/* --- the fd table: chunks of pointers, allocated as the table grows, so a
 * lookup never sees memory move --- */

#define CHUNK_BITS 12u
#define CHUNK_SIZE (1u << CHUNK_BITS)
#define NCHUNKS (RT_FD_MAX / CHUNK_SIZE)

static pthread_mutex_t fd_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rt_sock **fd_chunk[NCHUNKS];
static uint32_t fd_next;         /* indices below this were handed out once */
static uint32_t *fd_free;        /* stack of released indices */
static uint32_t fd_nfree, fd_free_cap;
static uint32_t fd_open;
static int fd_base = RT_FD_BASE_DEFAULT;

int rt_fd_set_base(int base)
{
	int rc = 0;

	if (base < 3 || base > INT_MAX - (int)RT_FD_MAX)
		return -EINVAL;
	pthread_mutex_lock(&fd_lock);
	if (fd_open)
		rc = -EBUSY;
	else
		fd_base = base;
	pthread_mutex_unlock(&fd_lock);
	return rc;
}

int rt_fd_base(void)
{
	return fd_base;
}

bool rt_fd_is_ours(int fd)
{
	return fd >= fd_base && (uint32_t)(fd - fd_base) < RT_FD_MAX;
}

/* Under fd_lock. -EMFILE when the table is full, -ENOMEM. */
static int fd_alloc(struct rt_sock *s)
{
	uint32_t i;

	if (fd_nfree) {
		i = fd_free[--fd_nfree];
	} else {
		if (fd_next >= RT_FD_MAX)
			return -EMFILE;
		if (!fd_chunk[fd_next >> CHUNK_BITS]) {
			fd_chunk[fd_next >> CHUNK_BITS] = calloc(CHUNK_SIZE, sizeof(struct rt_sock *));
			if (!fd_chunk[fd_next >> CHUNK_BITS])
				return -ENOMEM;
		}
		i = fd_next++;
	}
	fd_chunk[i >> CHUNK_BITS][i & (CHUNK_SIZE - 1)] = s;
	s->idx = i;
	fd_open++;
	return fd_base + (int)i;
}

/* Under fd_lock. An index that cannot be remembered is simply not reused. */
static void fd_release(uint32_t i)
{
	fd_chunk[i >> CHUNK_BITS][i & (CHUNK_SIZE - 1)] = NULL;
	fd_open--;
	if (fd_nfree == fd_free_cap) {
		uint32_t cap = fd_free_cap ? fd_free_cap * 2 : 1024;
		uint32_t *n = realloc(fd_free, cap * sizeof(*n));
		if (!n)
			return;
		fd_free = n;
		fd_free_cap = cap;
	}
	fd_free[fd_nfree++] = i;
}

/* Under fd_lock. */
static struct rt_sock *fd_slot(uint32_t i)
{
	struct rt_sock **c = i < fd_next ? fd_chunk[i >> CHUNK_BITS] : NULL;

	return c ? c[i & (CHUNK_SIZE - 1)] : NULL;
}

void rt_sock_put(struct rt_sock *s)
{
	struct ust_runtime *rt;

	if (atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	rt = sock_rt(s);
	free(s->opt);
	free(s);
	rt_put(rt);
}

struct rt_sock_opts *rt_sock_opts_get(struct rt_sock *s)
{
	if (!s->opt)
		s->opt = calloc(1, sizeof(*s->opt));
	return s->opt;
}

/* The socket behind fd with a reference, or NULL with errno = EBADF. */
struct rt_sock *rt_sock_get(int fd)
{
	struct rt_sock *s = NULL;

	if (rt_fd_is_ours(fd)) {
		pthread_mutex_lock(&fd_lock);
		s = fd_slot((uint32_t)(fd - fd_base));
		if (s)
			atomic_fetch_add(&s->refs, 1);
		pthread_mutex_unlock(&fd_lock);
	}
	if (!s)
		errno = EBADF;
	return s;
}

int rt_fail(int err)
{
	errno = err;
	return -1;
}

/* Puts s and returns -1 with errno = err, or rc when err is 0. */
int rt_done(struct rt_sock *s, int err, int rc)
{
	rt_sock_put(s);
	return err ? rt_fail(err) : rc;
}

/* --- readiness --- */

void rt_sock_event(void *ctx, void *app, uint32_t events)
{
	struct ust_runtime *rt = ctx;
	struct rt_sock *s = app;

	/* No syscall when nobody sleeps on the socket. */
	if (s && s->waiters)
		rt_wake(rt, s->idx);
	if (s && s->epi)
		rt_epoll_notify(s, events);  /* readiness: epoll.c */
}

unsigned rt_sock_waiters(int fd)
{
	struct rt_sock *s = rt_sock_get(fd);
	unsigned n;

	if (!s)
		return 0;
	pthread_mutex_lock(&sock_rt(s)->lock);
	n = s->waiters;
	pthread_mutex_unlock(&sock_rt(s)->lock);
	rt_sock_put(s);
	return n;
}

uint64_t rt_deadline(uint64_t timeo_us)
{
	return timeo_us ? rt_now_us() + timeo_us : UINT64_MAX;
}

int rt_sock_wait(struct rt_sock *s, uint64_t deadline)
{
	int rc;

	s->waiters++;
	rc = rt_wait(sock_rt(s), s->idx, deadline);
	s->waiters--;
	return rc == ETIMEDOUT ? EAGAIN : 0;
}

/* --- socket creation and close --- */

/* Linux's checks, in Linux's order (__sock_create, inet_create). */
static int check_type(int domain, int type, int protocol, int *base)
{
	if (type & ~(0xf | SOCK_NONBLOCK | SOCK_CLOEXEC))
		return EINVAL;
	*base = type & 0xf;
	if (*base >= 11 || *base == 0)
		return EINVAL;  /* SOCK_MAX */
	if (domain != AF_INET)
		return EAFNOSUPPORT;
	switch (*base) {
	case SOCK_DGRAM:
		return protocol == 0 || protocol == IPPROTO_UDP ? 0 : EPROTONOSUPPORT;
	case SOCK_STREAM:
		return protocol == 0 || protocol == IPPROTO_TCP ? 0 : EPROTONOSUPPORT;
	default:
		return ESOCKTNOSUPPORT;
	}
}

/* Under rt->lock (a TCB comes from the stack). */
struct rt_sock *rt_sock_new(struct ust_runtime *rt, int type, int flags, struct tcb *tcb,
                            int *err)
{
	struct rt_sock *s;

	if (!rt->stk) {
		*err = ENETDOWN;
		return NULL;
	}
	s = calloc(1, sizeof(*s) + (type == SOCK_DGRAM ? sizeof(struct rt_udp) : 0));
	if (!s) {
		*err = ENOMEM;
		return NULL;
	}
	atomic_init(&s->refs, 1);
	s->rt_id = rt->id;
	s->type = (uint8_t)type;
	s->nonblock = (flags & SOCK_NONBLOCK) != 0;
	s->cloexec = (flags & SOCK_CLOEXEC) != 0;
	if (type == SOCK_STREAM) {
		*err = rt_tcp_create(s, tcb);
		if (*err) {
			free(s);
			return NULL;
		}
	} else {
		s->u.udp = (struct rt_udp *)(s + 1);
		s->u.udp->pcb.rcvbuf = rt->stk->cfg.udp_rcvbuf;
		s->u.udp->pcb.app = s;
	}
	rt->refs++;
	return s;
}

int rt_sock_install(struct rt_sock *s)
{
	int fd;

	pthread_mutex_lock(&fd_lock);
	fd = fd_alloc(s);
	pthread_mutex_unlock(&fd_lock);
	return fd;
}

static void sock_shut(struct rt_sock *s);

int rt_socket(struct ust_runtime *rt, int domain, int type, int protocol)
{
	struct rt_sock *s;
	int base, err, fd;

	err = check_type(domain, type, protocol, &base);
	if (err)
		return rt_fail(err);
	pthread_mutex_lock(&rt->lock);
	s = rt_sock_new(rt, base, type, NULL, &err);
	pthread_mutex_unlock(&rt->lock);
	if (!s)
		return rt_fail(err);
	fd = rt_sock_install(s);
	if (fd < 0) {
		pthread_mutex_lock(&rt->lock);
		sock_shut(s);
		pthread_mutex_unlock(&rt->lock);
		rt_sock_put(s);
		return rt_fail(-fd);
	}
	return fd;
}

int ust_socket(int domain, int type, int protocol)
{
	struct ust_runtime *rt;
	int base, err, fd;

	/* Argument errors win over a stack that cannot start, as for a kernel
	 * socket whose arguments are checked before anything is allocated. */
	err = check_type(domain, type, protocol, &base);
	if (err)
		return rt_fail(err);
	rt = rt_global_get();
	if (!rt)
		return -1;
	fd = rt_socket(rt, domain, type, protocol);
	err = errno;
	rt_put(rt);
	errno = err;
	return fd;
}

/* Detaches s from the core and wakes its sleepers. Under rt->lock. */
static void sock_shut(struct rt_sock *s)
{
	struct ust_runtime *rt = sock_rt(s);
	uint32_t src;
	uint16_t port;
	struct pkt *p;

	if (s->closed)
		return;
	s->closed = true;
	if (s->type == SOCK_STREAM) {
		rt_tcp_release(s);
	} else {
		pkt_free_chain(s->u.udp->peek);
		s->u.udp->peek = NULL;
		if (s->bound && rt->stk) {
			while ((p = udp_recv(&s->u.udp->pcb, &src, &port)))
				pkt_free_chain(p);
			udp_unbind(rt->stk, &s->u.udp->pcb);
			if (rt->rx_starved)
				rt_kick(rt);
		}
	}
	s->bound = false;
	if (s->waiters)
		rt_wake(rt, s->idx);
	if (s->epi)
		rt_epoll_sock_closed(s);  /* readiness: epoll.c */
}

int ust_close(int fd)
{
	struct rt_sock *s = NULL;

	if (rt_fd_is_ours(fd)) {
		pthread_mutex_lock(&fd_lock);
		s = fd_slot((uint32_t)(fd - fd_base));
		if (s)
			fd_release(s->idx);  /* the table's reference is now ours */
		pthread_mutex_unlock(&fd_lock);
	}
	if (!s)  /* an epoll instance is a kernel fd (epoll.c) */
		return rt_epoll_close(fd) == 0 ? 0 : rt_fail(EBADF);
	pthread_mutex_lock(&sock_rt(s)->lock);
	if (s->type == SOCK_STREAM && !s->closed && sock_rt(s)->stk)
		rt_tcp_linger(s);  /* SO_LINGER with a time: waits for the FIN's ACK */
	sock_shut(s);
	pthread_mutex_unlock(&sock_rt(s)->lock);
	rt_sock_put(s);
	return 0;
}

void rt_close_all(struct ust_runtime *rt)
{
	struct rt_sock **v = NULL, *s;
	uint32_t n = 0, cap = 0;

	pthread_mutex_lock(&fd_lock);
	for (uint32_t i = 0; i < fd_next; i++) {
		s = fd_slot(i);
		if (!s || sock_rt(s) != rt)
			continue;
		if (n == cap) {
			struct rt_sock **nv = realloc(v, (cap ? cap * 2 : 64) * sizeof(*v));
			if (!nv)
				break;  /* the rest are shut when their fd is closed */
			v = nv;
			cap = cap ? cap * 2 : 64;
		}
		fd_release(i);
		v[n++] = s;
	}
	pthread_mutex_unlock(&fd_lock);
	pthread_mutex_lock(&rt->lock);
	for (uint32_t i = 0; i < n; i++)
		sock_shut(v[i]);
	pthread_mutex_unlock(&rt->lock);
	for (uint32_t i = 0; i < n; i++)
		rt_sock_put(v[i]);
	free(v);
}

/* --- addresses --- */

/* Reads a sockaddr_in the way inet_bind/udp_sendmsg do. AF_UNSPEC is taken
 * as AF_INET, as Linux does for compatibility. */
int rt_get_sin(const struct sockaddr *a, socklen_t len, uint32_t *ip, uint16_t *port)
{
	struct sockaddr_in sin;

	if (!a)
		return EFAULT;
	if (len < sizeof(sin))
		return EINVAL;
	memcpy(&sin, a, sizeof(sin));
	if (sin.sin_family != AF_INET && sin.sin_family != AF_UNSPEC)
		return EAFNOSUPPORT;
	*ip = ntohl(sin.sin_addr.s_addr);
	*port = ntohs(sin.sin_port);
	return 0;
}

/* Copies ip:port out, truncated to *len as the kernel does. */
int rt_put_sin(struct sockaddr *a, socklen_t *len, uint32_t ip, uint16_t port)
{
	struct sockaddr_in sin;

	if (!a || !len)
		return EFAULT;
	if ((int)*len < 0)
		return EINVAL;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(ip);
	sin.sin_port = htons(port);
	memcpy(a, &sin, *len < sizeof(sin) ? *len : sizeof(sin));
	*len = sizeof(sin);
	return 0;
}

/* Binds to an ephemeral port if not bound yet (Linux's autobind). */
static int autobind(struct rt_sock *s)
{
	int rc;

	if (s->bound)
		return 0;
	rc = udp_bind(sock_rt(s)->stk, &s->u.udp->pcb, 0, 0);
	if (rc < 0)
		return -rc;
	s->bound = true;
	return 0;
}

/* Takes the socket's lock; EBADF when it was closed meanwhile. */
int rt_sock_lock(struct rt_sock *s)
{
	pthread_mutex_lock(&sock_rt(s)->lock);
	if (s->closed || !sock_rt(s)->stk) {
		pthread_mutex_unlock(&sock_rt(s)->lock);
		return EBADF;
	}
	rt_hold(sock_rt(s));
	return 0;
}

void rt_sock_unlock(struct rt_sock *s)
{
	rt_unhold(sock_rt(s));  /* runs a reply that came in during the call */
	pthread_mutex_unlock(&sock_rt(s)->lock);
}

int ust_bind(int fd, const struct sockaddr *addr, socklen_t addrlen)
{
	struct rt_sock *s = rt_sock_get(fd);
	uint32_t ip;
	uint16_t port;
	int err, rc;

	if (!s)
		return -1;
	err = rt_get_sin(addr, addrlen, &ip, &port);
	if (err)
		return rt_done(s, err, 0);
	if (((const struct sockaddr_in *)(const void *)addr)->sin_family == AF_UNSPEC && ip)
		return rt_done(s, EAFNOSUPPORT, 0);  /* inet_bind: AF_UNSPEC only for ANY */
	err = rt_sock_lock(s);
	if (err)
		return rt_done(s, err, 0);
	if (s->type == SOCK_STREAM) {
		err = rt_tcp_bind(s, ip, port);
	} else if (s->bound) {
		err = EINVAL;
	} else if (ip && !ipv4_is_local(sock_rt(s)->stk, ip)) {
		err = EADDRNOTAVAIL;
	} else {
		rc = udp_bind(sock_rt(s)->stk, &s->u.udp->pcb, ip, port);
		if (rc < 0)
			err = -rc;
		else
			s->bound = true;
	}
	rt_sock_unlock(s);
	return rt_done(s, err, 0);
}

int ust_connect(int fd, const struct sockaddr *addr, socklen_t addrlen)
{
	struct rt_sock *s = rt_sock_get(fd);
	uint32_t ip;
	uint16_t port;
	int err;

	if (!s)
		return -1;
	if (!addr)
		return rt_done(s, EFAULT, 0);
	if (s->type == SOCK_STREAM) {
		if (addrlen < sizeof(sa_family_t))
			return rt_done(s, EINVAL, 0);
		/* AF_UNSPEC asks for tcp_disconnect: a no-op on an unconnected
		 * socket; the core has no abort-and-reuse for the others. */
		err = addr->sa_family == AF_UNSPEC ? 0 : rt_get_sin(addr, addrlen, &ip, &port);
		if (!err)
			err = rt_sock_lock(s);
		if (err)
			return rt_done(s, err, 0);
		if (addr->sa_family == AF_UNSPEC)
			err = s->connected || s->connecting ||
			      tcp_state(s->u.tcb) != TCPS_CLOSED ? EOPNOTSUPP : 0;
		else
			err = rt_tcp_connect(s, ip, port);
		rt_sock_unlock(s);
		return rt_done(s, err, 0);
	}
	if (addrlen >= sizeof(sa_family_t) && addr->sa_family == AF_UNSPEC) {
		/* UDP: AF_UNSPEC dissolves the association (connect(2)). */
		err = rt_sock_lock(s);
		if (!err) {
			s->connected = false;
			s->u.udp->pcb.raddr = 0;
			s->u.udp->pcb.rport = 0;
			rt_sock_unlock(s);
		}
		return rt_done(s, err, 0);
	}
	err = rt_get_sin(addr, addrlen, &ip, &port);
	if (err)
		return rt_done(s, err, 0);
	err = rt_sock_lock(s);
	if (err)
		return rt_done(s, err, 0);
	err = autobind(s);
	if (!err) {
		s->u.udp->pcb.raddr = ip;
		s->u.udp->pcb.rport = port;
		s->connected = true;
	}
	rt_sock_unlock(s);
	return rt_done(s, err, 0);
}

/* --- data --- */

/* Sends one datagram; waits for buffers when the pool is empty and the
 * socket blocks, as long as frames are leaving (each tx burst frees some). */
static int udp_send_locked(struct rt_sock *s, uint32_t ip, uint16_t port, const void *buf,
                           size_t len, bool nonblock)
{
	struct ust_runtime *rt = sock_rt(s);
	uint64_t gen;
	int rc;

	for (;;) {
		rc = udp_sendto(rt->stk, &s->u.udp->pcb, ip, port, buf, len);
		if (rc != -ENOBUFS)
			break;
		if (nonblock)
			return EAGAIN;
		if (!rt->stk->txq.count)
			return ENOBUFS;  /* nothing in flight will free a buffer */
		gen = rt->tx_gen;
		rt_kick(rt);
		rt->txspace_waiters++;
		rt_settle(rt);  /* frames answered for (rt_hold) first */
		while (rt->tx_gen == gen && rt->stk && !s->closed)
			pthread_cond_wait(&rt->txspace, &rt->lock);
		rt->txspace_waiters--;
		if (s->closed || !rt->stk)
			return EBADF;
	}
	if (rc < 0)
		return -rc;
	rt_kick(rt);
	return 0;
}

ssize_t ust_sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *dest,
                   socklen_t addrlen)
{
	struct rt_sock *s = rt_sock_get(fd);
	uint32_t ip = 0;
	uint16_t port = 0;
	int err;

	if (!s)
		return -1;
	if (!buf && len)
		return rt_done(s, EFAULT, 0);
	if (flags & MSG_OOB)
		return rt_done(s, EOPNOTSUPP, 0);
	if (s->type == SOCK_STREAM) {
		/* tcp_sendmsg ignores the address (no TCP Fast Open here). */
		struct iovec v = { .iov_base = (void *)(uintptr_t)buf, .iov_len = len };
		ssize_t n = rt_tcp_send(s, &v, 1, flags);

		err = errno;
		rt_sock_put(s);
		errno = err;
		return n;
	}
	if (dest) {
		err = rt_get_sin(dest, addrlen, &ip, &port);
		if (err)
			return rt_done(s, err, 0);
		if (!port)
			return rt_done(s, EINVAL, 0);
	}
	if (len > UDP_MAX_PAYLOAD)
		return rt_done(s, EMSGSIZE, 0);
	err = rt_sock_lock(s);
	if (err)
		return rt_done(s, err, 0);
	if (s->shut_wr) {
		err = EPIPE;  /* udp(7): no SIGPIPE for a datagram socket */
	} else if (!dest) {
		if (!s->connected)
			err = EDESTADDRREQ;
		ip = s->u.udp->pcb.raddr;
		port = s->u.udp->pcb.rport;
	}
	if (!err)
		err = autobind(s);
	if (!err)
		err = udp_send_locked(s, ip, port, buf, len,
		                      s->nonblock || (flags & MSG_DONTWAIT));
	rt_sock_unlock(s);
	rt_sock_put(s);
	if (err)
		return rt_fail(err);
	return (ssize_t)len;
}

ssize_t ust_send(int fd, const void *buf, size_t len, int flags)
{
	return ust_sendto(fd, buf, len, flags, NULL, 0);
}

/* The next datagram, waiting for one when the socket blocks: 0, an errno,
 * or RT_EOF once shutdown(SHUT_RD) left nothing to read. Under lock. */
#define RT_EOF (-1)
static int next_datagram(struct rt_sock *s, bool nonblock, struct pkt **p, uint32_t *src,
                         uint16_t *port)
{
	uint64_t deadline = rt_deadline(rt_sock_rcvtimeo(s));
	int err;

	for (;;) {
		if (s->closed || !sock_rt(s)->stk)
			return EBADF;
		if (s->u.udp->peek) {
			*p = s->u.udp->peek;
			*src = s->u.udp->peek_src;
			*port = s->u.udp->peek_port;
			s->u.udp->peek = NULL;
			return 0;
		}
		if (s->bound) {
			*p = udp_recv(&s->u.udp->pcb, src, port);
			if (*p)
				return 0;
		}
		/* udp(7) after SHUT_RD: queued datagrams, then 0 bytes. */
		if (s->shut_rd)
			return RT_EOF;
		if (nonblock)
			return EAGAIN;
		err = rt_sock_wait(s, deadline);
		if (err)
			return err;
	}
}

/* Copies up to len bytes of a datagram (a chain of buffers when it was
 * reassembled) into buf; returns the datagram's full length. */
static size_t copy_chain(const struct pkt *p, void *buf, size_t len, size_t *copied)
{
	size_t full = 0, n = 0, k;

	for (; p; p = p->next) {
		full += p->len;
		k = len - n < p->len ? len - n : p->len;
		if (k) {
			memcpy((char *)buf + n, p->data, k);
			n += k;
		}
	}
	*copied = n;
	return full;
}

ssize_t ust_recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *src_addr,
                     socklen_t *addrlen)
{
	struct rt_sock *s = rt_sock_get(fd);
	struct pkt *p = NULL;
	uint32_t src = 0;
	uint16_t port = 0;
	size_t n = 0, full = 0;
	int err;

	if (!s)
		return -1;
	if (!buf && len)
		return rt_done(s, EFAULT, 0);
	if (src_addr && !addrlen)
		return rt_done(s, EFAULT, 0);
	if (src_addr && (int)*addrlen < 0)
		return rt_done(s, EINVAL, 0);
	if (flags & MSG_OOB)
		return rt_done(s, EOPNOTSUPP, 0);
	if (s->type == SOCK_STREAM) {
		struct iovec v = { .iov_base = buf, .iov_len = len };
		ssize_t r = rt_tcp_recv(s, &v, 1, flags);

		err = errno;
		if (r >= 0 && src_addr)
			*addrlen = 0;  /* a stream has no source address per read */
		rt_sock_put(s);
		errno = err;
		return r;
	}
	err = rt_sock_lock(s);
	if (err)
		return rt_done(s, err, 0);
	err = next_datagram(s, s->nonblock || (flags & MSG_DONTWAIT), &p, &src, &port);
	if (err == RT_EOF) {
		rt_sock_unlock(s);
		return rt_done(s, 0, 0);
	}
	if (!err) {
		full = copy_chain(p, buf, len, &n);
		if (flags & MSG_PEEK) {
			s->u.udp->peek = p;
			s->u.udp->peek_src = src;
			s->u.udp->peek_port = port;
		} else {
			pkt_free_chain(p);
			/* A stack thread that ran out of buffers waits for this. */
			if (sock_rt(s)->rx_starved)
				rt_kick(sock_rt(s));
		}
	}
	rt_sock_unlock(s);
	if (!err && src_addr)
		rt_put_sin(src_addr, addrlen, src, port);
	rt_sock_put(s);
	if (err)
		return rt_fail(err);
	/* MSG_TRUNC: the real length of the datagram (udp(7)). */
	return (ssize_t)((flags & MSG_TRUNC) ? full : n);
}

ssize_t ust_recv(int fd, void *buf, size_t len, int flags)
{
	return ust_recvfrom(fd, buf, len, flags, NULL, NULL);
}

/* --- the iovec calls: a stream moves the vector directly; a datagram is
 * gathered into (or scattered from) one buffer, since it is one message --- */

#define RT_IOV_MAX 1024  /* UIO_MAXIOV */

/* Linux's import_iovec checks: EINVAL for a bad count or a total beyond
 * SSIZE_MAX, EFAULT for a vector or a non-empty base it cannot read. */
static int iov_check(const struct iovec *iov, int iovcnt, size_t *total)
{
	size_t t = 0;

	if (iovcnt < 0 || iovcnt > RT_IOV_MAX)
		return EINVAL;
	if (!iov && iovcnt)
		return EFAULT;
	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > (size_t)SSIZE_MAX - t)
			return EINVAL;
		if (!iov[i].iov_base && iov[i].iov_len)
			return EFAULT;
		t += iov[i].iov_len;
	}
	*total = t;
	return 0;
}

static ssize_t dgram_sendmsg(int fd, const struct msghdr *m, int flags, size_t total)
{
	char *buf = NULL, *p;
	ssize_t rc;

	if (total > UDP_MAX_PAYLOAD)
		return rt_fail(EMSGSIZE);
	if (total && !(buf = malloc(total)))
		return rt_fail(ENOBUFS);
	p = buf;
	for (size_t i = 0; i < m->msg_iovlen; i++) {
		if (m->msg_iov[i].iov_len)
			memcpy(p, m->msg_iov[i].iov_base, m->msg_iov[i].iov_len);
		p += m->msg_iov[i].iov_len;
	}
	rc = ust_sendto(fd, buf ? buf : "", total, flags, (const struct sockaddr *)m->msg_name,
	                m->msg_name ? m->msg_namelen : 0);
	free(buf);
	return rc;
}

/* What sendmsg and recvmsg check before anything moves: the header, the
 * iovec (count, pointers, total length) and MSG_OOB (no urgent data). */
static int msg_check(const struct msghdr *msg, int flags, size_t *total)
{
	int err;

	if (!msg)
		return EFAULT;
	if (msg->msg_iovlen > RT_IOV_MAX)
		return EMSGSIZE;
	err = iov_check(msg->msg_iov, (int)msg->msg_iovlen, total);
	if (err)
		return err;
	return (flags & MSG_OOB) ? EOPNOTSUPP : 0;
}

ssize_t ust_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	struct rt_sock *s = rt_sock_get(fd);
	size_t total = 0;
	ssize_t rc;
	int err;

	if (!s)
		return -1;
	err = msg_check(msg, flags, &total);
	if (err)
		return rt_done(s, err, 0);
	if (s->type != SOCK_STREAM) {
		rt_sock_put(s);
		return dgram_sendmsg(fd, msg, flags, total);
	}
	rc = rt_tcp_send(s, msg->msg_iov, (int)msg->msg_iovlen, flags);
	err = errno;
	rt_sock_put(s);
	errno = err;
	return rc;
}

static ssize_t dgram_recvmsg(int fd, struct msghdr *m, int flags, size_t total)
{
	char *buf = NULL, *p;
	size_t left;
	ssize_t n;

	/* One more byte than asked tells a datagram that did not fit. */
	buf = malloc(total + 1);
	if (!buf)
		return rt_fail(ENOBUFS);
	n = ust_recvfrom(fd, buf, total + 1, flags & ~MSG_TRUNC, (struct sockaddr *)m->msg_name,
	                 m->msg_name ? &m->msg_namelen : NULL);
	if (n < 0) {
		free(buf);
		return n;
	}
	m->msg_flags = 0;
	if ((size_t)n > total) {
		m->msg_flags |= MSG_TRUNC;
		n = (flags & MSG_TRUNC) ? n : (ssize_t)total;
	}
	p = buf;
	left = (size_t)n < total ? (size_t)n : total;
	for (size_t i = 0; i < m->msg_iovlen && left; i++) {
		size_t k = m->msg_iov[i].iov_len < left ? m->msg_iov[i].iov_len : left;

		memcpy(m->msg_iov[i].iov_base, p, k);
		p += k;
		left -= k;
	}
	free(buf);
	return n;
}

ssize_t ust_recvmsg(int fd, struct msghdr *msg, int flags)
{
	struct rt_sock *s = rt_sock_get(fd);
	size_t total = 0;
	ssize_t rc;
	int err;

	if (!s)
		return -1;
	err = msg_check(msg, flags, &total);
	if (err)
		return rt_done(s, err, 0);
	msg->msg_controllen = 0;  /* no ancillary data is delivered */
	if (s->type != SOCK_STREAM) {
		rt_sock_put(s);
		return dgram_recvmsg(fd, msg, flags, total);
	}
	rc = rt_tcp_recv(s, msg->msg_iov, (int)msg->msg_iovlen, flags);
	err = errno;
	if (rc >= 0) {
		msg->msg_namelen = 0;
		msg->msg_flags = 0;
	}
	rt_sock_put(s);
	errno = err;
	return rc;
}

/* read(2)/write(2) on a socket: a zero-length call returns 0 at once
 * (sock_read_iter / sock_write_iter), otherwise recv/send with no flags. */
static ssize_t rw_iov(int fd, const struct iovec *iov, int iovcnt, bool write)
{
	struct msghdr m = { .msg_iov = (struct iovec *)(uintptr_t)iov,
	                    .msg_iovlen = (size_t)(iovcnt < 0 ? 0 : iovcnt) };
	struct rt_sock *s = rt_sock_get(fd);
	size_t total = 0;
	int err;

	if (!s)
		return -1;
	err = iov_check(iov, iovcnt, &total);
	if (err)
		return rt_done(s, err, 0);
	rt_sock_put(s);
	if (!total)
		return 0;
	return write ? ust_sendmsg(fd, &m, 0) : ust_recvmsg(fd, &m, 0);
}

ssize_t ust_readv(int fd, const struct iovec *iov, int iovcnt)
{
	return rw_iov(fd, iov, iovcnt, false);
}

ssize_t ust_writev(int fd, const struct iovec *iov, int iovcnt)
{
	return rw_iov(fd, iov, iovcnt, true);
}

ssize_t ust_read(int fd, void *buf, size_t count)
{
	struct iovec v = { .iov_base = buf, .iov_len = count };

	return ust_readv(fd, &v, 1);
}

ssize_t ust_write(int fd, const void *buf, size_t count)
{
	struct iovec v = { .iov_base = (void *)(uintptr_t)buf, .iov_len = count };

	return ust_writev(fd, &v, 1);
}

int ust_getsockname(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
	struct rt_sock *s = rt_sock_get(fd);
	uint32_t ip = 0;
	uint16_t port = 0;
	int err;

	if (!s)
		return -1;
	err = rt_sock_lock(s);
	if (err)
		return rt_done(s, err, 0);
	if (s->type == SOCK_STREAM) {
		rt_tcp_name(s, false, &ip, &port);
	} else if (s->bound) {
		ip = s->u.udp->pcb.laddr;
		port = s->u.udp->pcb.lport;
		/* A connected socket bound to ANY reports the source its route
		 * picks: with one interface, the stack's address. */
		if (!ip && s->connected)
			ip = sock_rt(s)->stk->cfg.ip;
	}
	rt_sock_unlock(s);
	return rt_done(s, rt_put_sin(addr, addrlen, ip, port), 0);
}

int ust_getpeername(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
	struct rt_sock *s = rt_sock_get(fd);
	uint32_t ip = 0;
	uint16_t port = 0;
	int err;

	if (!s)
		return -1;
	err = rt_sock_lock(s);
	if (err)
		return rt_done(s, err, 0);
	if (s->type == SOCK_STREAM) {
		err = rt_tcp_name(s, true, &ip, &port);
	} else {
		if (!s->connected)
			err = ENOTCONN;
		ip = s->u.udp->pcb.raddr;
		port = s->u.udp->pcb.rport;
	}
	rt_sock_unlock(s);
	if (err)
		return rt_done(s, err, 0);
	return rt_done(s, rt_put_sin(addr, addrlen, ip, port), 0);
}

int ust_fcntl(int fd, int cmd, ...)
{
	struct rt_sock *s = rt_sock_get(fd);
	va_list ap;
	long arg = 0;
	int err, rc = 0;

	if (!s)
		return -1;
	if (cmd == F_SETFL || cmd == F_SETFD) {
		va_start(ap, cmd);
		arg = va_arg(ap, int);
		va_end(ap);
	}
	err = rt_sock_lock(s);
	if (err)
		return rt_done(s, err, 0);
	switch (cmd) {
	case F_GETFL:
		rc = O_RDWR | (s->nonblock ? O_NONBLOCK : 0);
		break;
	case F_SETFL:
		/* Other status flags are ignored, as for a kernel socket. */
		s->nonblock = (arg & O_NONBLOCK) != 0;
		break;
	case F_GETFD:
		rc = s->cloexec ? FD_CLOEXEC : 0;
		break;
	case F_SETFD:
		s->cloexec = (arg & FD_CLOEXEC) != 0;
		break;
	default:
		err = EINVAL;
	}
	rt_sock_unlock(s);
	return rt_done(s, err, rc);
}

/* --- connection calls: TCP's; a datagram socket answers as Linux's
 * inet_dgram_ops do --- */

int ust_listen(int fd, int backlog)
{
	struct rt_sock *s = rt_sock_get(fd);
	int err;

	if (!s)
		return -1;
	if (s->type != SOCK_STREAM)
		return rt_done(s, EOPNOTSUPP, 0);
	err = rt_sock_lock(s);
	if (err)
		return rt_done(s, err, 0);
	err = rt_tcp_listen(s, backlog);
	rt_sock_unlock(s);
	return rt_done(s, err, 0);
}

int ust_accept4(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags)
{
	struct rt_sock *s = rt_sock_get(fd);
	int rc, err;

	if (!s)
		return -1;
	if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC))
		return rt_done(s, EINVAL, 0);
	if (s->type != SOCK_STREAM)
		return rt_done(s, EOPNOTSUPP, 0);
	rc = rt_tcp_accept(s, addr, addrlen, flags);
	err = errno;
	rt_sock_put(s);
	errno = err;
	return rc;
}

int ust_accept(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
	return ust_accept4(fd, addr, addrlen, 0);
}

int ust_shutdown(int fd, int how)
{
	struct rt_sock *s = rt_sock_get(fd);
	int err;

	if (!s)
		return -1;
	if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR)
		return rt_done(s, EINVAL, 0);
	err = rt_sock_lock(s);
	if (err)
		return rt_done(s, err, 0);
	if (s->type == SOCK_STREAM) {
		err = rt_tcp_shutdown(s, how);
		rt_sock_unlock(s);
		return rt_done(s, err, 0);
	}
	/* inet_shutdown: an unconnected datagram socket is shut all the same
	 * (its readers wake) and the call reports ENOTCONN. */
	s->shut_rd |= how != SHUT_WR;
	s->shut_wr |= how != SHUT_RD;
	if (s->waiters)
		rt_wake(sock_rt(s), s->idx);
	if (s->epi)
		rt_epoll_notify(s, POLLIN | POLLOUT | POLLRDHUP | POLLHUP);  /* epoll.c */
	err = s->connected ? 0 : ENOTCONN;
	rt_sock_unlock(s);
	return rt_done(s, err, 0);
}

/* --- stat --- */

static void fmt_ep(char *b, size_t n, uint32_t ip, uint16_t port)
{
	snprintf(b, n, "%u.%u.%u.%u:%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255,
	         port);
}

static uint32_t chain_len(const struct pkt *p)
{
	uint32_t n = 0;

	for (; p; p = p->next)
		n += p->len;
	return n;
}

void rt_stat_sockets(struct ust_runtime *rt, FILE *out)
{
	struct rt_sock *s;
	char l[32], r[32];
	unsigned n = 0;

	/* Lock order is fd_lock then rt->lock, here only; the socket calls
	 * never hold both, so this cannot deadlock. */
	pthread_mutex_lock(&fd_lock);
	pthread_mutex_lock(&rt->lock);
	fprintf(out, "udp sockets\n");
	for (uint32_t i = 0; i < fd_next; i++) {
		s = fd_slot(i);
		if (!s || sock_rt(s) != rt || s->closed)
			continue;
		if (s->type != SOCK_DGRAM)
			continue;  /* TCP's lines come from its tables (rt_tcp_stat) */
		n++;
		fmt_ep(l, sizeof(l), s->u.udp->pcb.laddr, s->bound ? s->u.udp->pcb.lport : 0);
		fmt_ep(r, sizeof(r), s->u.udp->pcb.raddr, s->u.udp->pcb.rport);
		fprintf(out, "  udp fd %d local %s peer %s recv-q %u\n", fd_base + (int)i, l,
		        s->connected ? r : "*:*", s->u.udp->pcb.rx_bytes + chain_len(s->u.udp->peek));
	}
	if (!n)
		fprintf(out, "  (none)\n");
	pthread_mutex_unlock(&rt->lock);
	pthread_mutex_unlock(&fd_lock);
}
