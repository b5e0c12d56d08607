/* poll, ppoll, select, pselect over ustack sockets and kernel fds, and the
 * readiness of one socket. A call that finds nothing ready registers a
 * temporary waiter on each of its ustack sockets (epoll.c's items with
 * is_poll: a wake-up, no ready list), then sleeps in the kernel's ppoll on
 * its kernel fds plus the calling thread's eventfd, which the stack thread
 * signals. poll is O(nfds) by contract; epoll is the O(ready) interface. */
#include "runtime/epoll.h"
#include "runtime/sock.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#include "tcp/tcp.h"

/* Linux's select(2) sets (fs/select.c POLLIN_SET and friends). */
#define SEL_IN (POLLIN | POLLRDNORM | POLLRDBAND | POLLHUP | POLLERR)
#define SEL_OUT (POLLOUT | POLLWRNORM | POLLWRBAND | POLLERR)
#define SEL_EX POLLPRI
/* pollfd arrays up to this size live on the stack. */
#define POLL_STACK 32

static uint32_t stream_poll(struct rt_sock *s);

uint32_t rt_sock_poll(struct rt_sock *s)
{
	uint32_t m = 0;

	if (s->closed || !sock_rt(s)->stk)
		return POLLNVAL;
	if (s->type == SOCK_DGRAM) {
		/* datagram_poll: readable with a datagram queued, writable
		 * always (a full pool blocks inside send, not here). */
		if (s->u.udp->peek || (s->bound && s->u.udp->pcb.rxq.count))
			m |= POLLIN | POLLRDNORM;
		m |= POLLOUT | POLLWRNORM | POLLWRBAND;
	} else {
		m |= stream_poll(s);
	}
	if (s->shut_rd)
		m |= POLLIN | POLLRDNORM | POLLRDHUP;
	if (s->shut_rd && s->shut_wr)
		m |= POLLHUP;
	return m;
}

/* SOCK_EV_* are poll's bits; tcp_poll leaves out the *NORM aliases. */
static uint32_t with_norm(uint32_t ev)
{
	if (ev & POLLIN)
		ev |= POLLRDNORM;
	if (ev & POLLOUT)
		ev |= POLLWRNORM | POLLWRBAND;
	return ev;
}

/* TCP's readiness (tcp_poll through the TCP socket code): a listener is
 * readable with a non-empty accept queue, a connect in progress becomes
 * writable (or ERR) when it ends. */
static uint32_t stream_poll(struct rt_sock *s)
{
	return with_norm(rt_tcp_poll(s));
}

/* --- the calling thread's eventfd, made on its first wait --- */

static pthread_key_t efd_key;
static pthread_once_t efd_once = PTHREAD_ONCE_INIT;
static __thread int t_efd = -1;

static void efd_dtor(void *p)
{
	close((int)(intptr_t)p - 1);
}

static void efd_key_make(void)
{
	pthread_key_create(&efd_key, efd_dtor);
}

static int thread_efd(void)
{
	if (t_efd >= 0)
		return t_efd;
	t_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (t_efd >= 0) {
		pthread_once(&efd_once, efd_key_make);
		pthread_setspecific(efd_key, (void *)(intptr_t)(t_efd + 1));
	}
	return t_efd;
}

/* --- poll --- */

struct pwait {
	struct rt_ep ep;          /* is_poll: only efd and signalled are used */
	struct rt_sock **socks;   /* per pollfd, NULL for kernel fds */
	struct rt_epi *items;     /* per pollfd */
};

/* revents of the ustack entries; the count of ready entries of all. */
static int ust_revents(struct pollfd *fds, nfds_t nfds, struct rt_sock **socks)
{
	int ready = 0;

	for (nfds_t i = 0; i < nfds; i++) {
		struct rt_sock *s = socks[i];

		if (!s) {
			if (rt_fd_is_ours(fds[i].fd))
				fds[i].revents = POLLNVAL;
			ready += fds[i].revents != 0;
			continue;
		}
		pthread_mutex_lock(&sock_rt(s)->lock);
		fds[i].revents =
			(short)(rt_sock_poll(s) & ((uint16_t)fds[i].events | POLLERR | POLLHUP | POLLNVAL));
		pthread_mutex_unlock(&sock_rt(s)->lock);
		ready += fds[i].revents != 0;
	}
	return ready;
}

static void waiters_add(struct pwait *w, struct pollfd *fds, nfds_t nfds)
{
	for (nfds_t i = 0; i < nfds; i++) {
		struct rt_sock *s = w->socks[i];
		struct rt_epi *epi = &w->items[i];

		if (!s)
			continue;
		epi->ep = &w->ep;
		epi->s = s;
		epi->events = (uint16_t)fds[i].events | POLLERR | POLLHUP;
		pthread_mutex_lock(&sock_rt(s)->lock);
		if (!s->closed) {
			epi->snext = s->epi;
			s->epi = epi;
		}
		pthread_mutex_unlock(&sock_rt(s)->lock);
	}
}

static void waiters_del(struct pwait *w, nfds_t nfds)
{
	for (nfds_t i = 0; i < nfds; i++) {
		struct rt_sock *s = w->socks[i];
		struct rt_epi **pp;

		if (!s)
			continue;
		pthread_mutex_lock(&sock_rt(s)->lock);
		for (pp = &s->epi; *pp; pp = &(*pp)->snext) {
			if (*pp == &w->items[i]) {
				*pp = w->items[i].snext;
				break;
			}
		}
		pthread_mutex_unlock(&sock_rt(s)->lock);
	}
}

/* Kernel half of the set: ustack entries as fd -1 (ignored by the kernel). */
static void kernel_copy(struct pollfd *k, const struct pollfd *fds, nfds_t nfds,
                        struct rt_sock **socks)
{
	for (nfds_t i = 0; i < nfds; i++) {
		k[i] = fds[i];
		k[i].revents = 0;
		if (socks[i] || rt_fd_is_ours(fds[i].fd))
			k[i].fd = -1;
	}
}

static int remaining(const struct timespec *tmo, uint64_t deadline, struct timespec *left)
{
	uint64_t now, us;

	if (!tmo)
		return 1;
	now = rt_now_us();
	us = deadline > now ? deadline - now : 0;
	left->tv_sec = (time_t)(us / 1000000u);
	left->tv_nsec = (long)(us % 1000000u) * 1000;
	return us > 0;
}

/* The sleep of a poll with ustack fds; k has nfds + 1 entries. */
static int poll_sleep(struct pwait *w, struct pollfd *fds, struct pollfd *k, nfds_t nfds,
                      const struct timespec *tmo, const sigset_t *sigmask)
{
	uint64_t deadline = 0, buf;
	struct timespec left;
	int n, rc;

	if (tmo)
		deadline = rt_now_us() + (uint64_t)tmo->tv_sec * 1000000u +
		           (uint64_t)tmo->tv_nsec / 1000u;
	waiters_add(w, fds, nfds);
	for (;;) {
		atomic_store(&w->ep.signalled, false);
		if (read(w->ep.efd, &buf, sizeof(buf)) < 0)
			buf = 0;  /* EAGAIN: nothing pending */
		/* Re-checked after the waiters are in place: an event between the
		 * first check and now is seen here or signals the eventfd. */
		n = ust_revents(fds, nfds, w->socks);
		if (n)
			break;
		if (!remaining(tmo, deadline, &left))
			break;
		kernel_copy(k, fds, nfds, w->socks);
		k[nfds].fd = w->ep.efd;
		k[nfds].events = POLLIN;
		k[nfds].revents = 0;
		rc = ppoll(k, nfds + 1, tmo ? &left : NULL, sigmask);
		if (rc < 0) {
			n = -1;
			break;
		}
		n = 0;
		for (nfds_t i = 0; i < nfds; i++) {
			if (!w->socks[i] && !rt_fd_is_ours(fds[i].fd)) {
				fds[i].revents = k[i].revents;
				n += k[i].revents != 0;
			}
		}
		n += ust_revents(fds, nfds, w->socks) - n;
		if (n)
			break;
	}
	rc = errno;
	waiters_del(w, nfds);
	errno = rc;
	return n;
}

static int poll_mixed(struct pollfd *fds, nfds_t nfds, const struct timespec *tmo,
                      const sigset_t *sigmask, struct rt_sock **socks, struct rt_epi *items,
                      struct pollfd *k)
{
	struct timespec zero = { 0, 0 };
	struct pwait w;
	int n, kn;

	for (nfds_t i = 0; i < nfds; i++)
		socks[i] = rt_fd_is_ours(fds[i].fd) ? rt_sock_get(fds[i].fd) : NULL;
	/* First look without registering anything: most calls end here. */
	kernel_copy(k, fds, nfds, socks);
	kn = ppoll(k, nfds, &zero, NULL);
	if (kn < 0) {
		n = -1;
		goto out;
	}
	for (nfds_t i = 0; i < nfds; i++)
		fds[i].revents = socks[i] || rt_fd_is_ours(fds[i].fd) ? 0 : k[i].revents;
	n = ust_revents(fds, nfds, socks);
	if (n || (tmo && !tmo->tv_sec && !tmo->tv_nsec))
		goto out;
	memset(&w, 0, sizeof(w));
	w.ep.is_poll = true;
	w.ep.efd = thread_efd();
	w.socks = socks;
	w.items = items;
	memset(items, 0, nfds * sizeof(*items));
	if (w.ep.efd < 0) {
		n = -1;
		goto out;
	}
	n = poll_sleep(&w, fds, k, nfds, tmo, sigmask);
out:
	kn = errno;
	for (nfds_t i = 0; i < nfds; i++)
		if (socks[i])
			rt_sock_put(socks[i]);
	errno = kn;
	return n;
}

int ust_ppoll(struct pollfd *fds, nfds_t nfds, const struct timespec *tmo,
              const sigset_t *sigmask)
{
	struct rt_sock *s_socks[POLL_STACK], **socks = s_socks;
	struct rt_epi s_items[POLL_STACK], *items = s_items;
	struct pollfd s_k[POLL_STACK + 1], *k = s_k;
	bool ours = false;
	int n, err;

	for (nfds_t i = 0; i < nfds && !ours; i++)
		ours = rt_fd_is_ours(fds[i].fd);
	if (!ours)
		return ppoll(fds, nfds, tmo, sigmask);
	if (tmo && (tmo->tv_sec < 0 || tmo->tv_nsec < 0 || tmo->tv_nsec >= 1000000000L))
		return rt_fail(EINVAL);
	if (nfds > POLL_STACK) {
		socks = malloc(nfds * sizeof(*socks));
		items = malloc(nfds * sizeof(*items));
		k = malloc((nfds + 1) * sizeof(*k));
		if (!socks || !items || !k) {
			free(socks);
			free(items);
			free(k);
			return rt_fail(ENOMEM);
		}
	}
	n = poll_mixed(fds, nfds, tmo, sigmask, socks, items, k);
	if (socks != s_socks) {
		err = errno;
		free(socks);
		free(items);
		free(k);
		errno = err;
	}
	return n;
}

int ust_poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
	struct timespec ts;

	if (timeout < 0)
		return ust_ppoll(fds, nfds, NULL, NULL);
	ts.tv_sec = timeout / 1000;
	ts.tv_nsec = (long)(timeout % 1000) * 1000000L;
	return ust_ppoll(fds, nfds, &ts, NULL);
}

/* --- select: sets of nfds bits, turned into a pollfd array --- */

#define WBITS (8 * sizeof(unsigned long))

static bool bit(const fd_set *set, int fd)
{
	const unsigned long *w = (const unsigned long *)(const void *)set;

	return set && (w[(unsigned)fd / WBITS] >> ((unsigned)fd % WBITS)) & 1u;
}

static void bit_set(fd_set *set, int fd)
{
	unsigned long *w = (unsigned long *)(void *)set;

	w[(unsigned)fd / WBITS] |= 1ul << ((unsigned)fd % WBITS);
}

static void sets_clear(fd_set *set, int nfds)
{
	if (set)
		memset(set, 0, ((size_t)nfds + WBITS - 1) / WBITS * sizeof(unsigned long));
}

/* Whether any of the three sets names fd; skips empty words quickly. */
static int next_fd(const fd_set *r, const fd_set *w, const fd_set *e, int fd, int nfds)
{
	const unsigned long *rw = (const void *)r, *ww = (const void *)w, *ew = (const void *)e;

	while (fd < nfds) {
		unsigned i = (unsigned)fd / WBITS;
		unsigned long m = (rw ? rw[i] : 0) | (ww ? ww[i] : 0) | (ew ? ew[i] : 0);

		m >>= (unsigned)fd % WBITS;
		if (m)
			return fd + __builtin_ctzl(m);
		fd = (int)((i + 1) * WBITS);
	}
	return nfds;
}

int ust_pselect(int nfds, fd_set *r, fd_set *w, fd_set *e, const struct timespec *tmo,
                const sigset_t *sigmask)
{
	struct pollfd s_p[POLL_STACK], *p = s_p;
	nfds_t n = 0, cap = POLL_STACK;
	int rc, fd, err, ready = 0;

	if (nfds < 0)
		return rt_fail(EINVAL);
	for (fd = next_fd(r, w, e, 0, nfds); fd < nfds; fd = next_fd(r, w, e, fd + 1, nfds)) {
		if (n == cap) {
			struct pollfd *np = malloc(cap * 2 * sizeof(*np));

			if (!np) {
				if (p != s_p)
					free(p);
				return rt_fail(ENOMEM);
			}
			memcpy(np, p, n * sizeof(*np));
			if (p != s_p)
				free(p);
			p = np;
			cap *= 2;
		}
		p[n].fd = fd;
		p[n].events = (short)((bit(r, fd) ? POLLIN : 0) | (bit(w, fd) ? POLLOUT : 0) |
		                      (bit(e, fd) ? POLLPRI : 0));
		p[n].revents = 0;
		n++;
	}
	rc = ust_ppoll(p, n, tmo, sigmask);
	err = errno;
	for (nfds_t i = 0; rc >= 0 && i < n; i++)
		if (p[i].revents & POLLNVAL)
			rc = -1, err = EBADF;  /* select(2): a closed fd in a set */
	if (rc >= 0) {
		sets_clear(r, nfds);
		sets_clear(w, nfds);
		sets_clear(e, nfds);
		for (nfds_t i = 0; i < n; i++) {
			short ev = p[i].events, re = p[i].revents;

			if ((ev & POLLIN) && (re & SEL_IN))
				bit_set(r, p[i].fd), ready++;
			if ((ev & POLLOUT) && (re & SEL_OUT))
				bit_set(w, p[i].fd), ready++;
			if ((ev & POLLPRI) && (re & SEL_EX))
				bit_set(e, p[i].fd), ready++;
		}
		rc = ready;
	}
	if (p != s_p)
		free(p);
	errno = err;
	return rc;
}

int ust_select(int nfds, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv)
{
	struct timespec ts, *tsp = NULL;
	uint64_t start = 0, used;
	int rc;

	if (tv) {
		if (tv->tv_sec < 0 || tv->tv_usec < 0)
			return rt_fail(EINVAL);
		ts.tv_sec = tv->tv_sec + tv->tv_usec / 1000000;
		ts.tv_nsec = (long)(tv->tv_usec % 1000000) * 1000;
		tsp = &ts;
		start = rt_now_us();
	}
	rc = ust_pselect(nfds, r, w, e, tsp, NULL);
	if (tv) {
		/* Linux writes back the time left. */
		uint64_t total = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;

		used = rt_now_us() - start;
		used = used < total ? total - used : 0;
		tv->tv_sec = (time_t)(used / 1000000u);
		tv->tv_usec = (suseconds_t)(used % 1000000u);
	}
	return rc;
}

/* --- ioctl: the two a socket program uses --- */

/* udp_ioctl SIOCINQ: the payload of the next datagram. A queued datagram
 * is `pieces` buffers in a row (udp.c's UDP_TS); a peeked one a chain. */
static uint32_t dgram_next_len(const struct rt_sock *s)
{
	const struct pkt *p = s->u.udp->peek;
	uint32_t n = 0, pieces;

	if (p) {
		for (; p; p = p->next)
			n += p->len;
		return n;
	}
	p = s->bound ? s->u.udp->pcb.rxq.head : NULL;
	pieces = p ? (uint32_t)(p->ts >> 16) : 0;
	for (; p && pieces; p = p->next, pieces--)
		n += p->len;
	return n;
}

int ust_ioctl(int fd, unsigned long req, ...)
{
	struct rt_sock *s = rt_sock_get(fd);
	va_list ap;
	int *arg, err = 0, v = 0;

	if (!s)
		return -1;
	va_start(ap, req);
	arg = va_arg(ap, int *);
	va_end(ap);
	if (req != FIONREAD && req != FIONBIO)
		return rt_done(s, ENOTTY, 0);
	if (!arg)
		return rt_done(s, EFAULT, 0);
	err = rt_sock_lock(s);
	if (err)
		return rt_done(s, err, 0);
	if (req == FIONBIO) {
		s->nonblock = *arg != 0;
	} else if (s->type == SOCK_DGRAM) {
		v = (int)dgram_next_len(s);
	} else if (s->u.tcb) {
		v = (int)tcp_rx_bytes(s->u.tcb);  /* tcp_ioctl SIOCINQ */
	}
	rt_sock_unlock(s);
	if (req == FIONREAD)
		*arg = v;
	return rt_done(s, 0, 0);
}
