/* epoll over ustack sockets and kernel fds (epoll(7) semantics as Linux's
 * fs/eventpoll.c gives them): level-triggered unless EPOLLET; EPOLLONESHOT
 * disables the item after one report until EPOLL_CTL_MOD; EPOLLERR and
 * EPOLLHUP are always reported; EPOLLEXCLUSIVE is accepted (one waiter per
 * instance wakes here anyway).
 *
 * Lock order: ep->mu, then the sockets' runtime lock. The stack thread
 * (rt_epoll_notify) holds only the runtime lock and touches an instance
 * through its ready list (runtime lock) and its atomic `signalled` flag, so
 * it never waits for an application thread. Every ustack socket of one
 * instance lives on one runtime (a process has one; the memlink tests pick
 * one), which lets one lock cover the whole ready list. */
#include "runtime/epoll.h"
#include "runtime/sock.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* Bits that steer delivery rather than name events (Linux EP_PRIVATE_BITS). */
#define EP_PRIVATE (EPOLLWAKEUP | EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE)
/* What EPOLLEXCLUSIVE may be combined with (Linux EPOLLEXCLUSIVE_OK_BITS). */
#define EP_EXCL_OK (EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET | \
                    EPOLLEXCLUSIVE)
/* Tags of the outer epoll's two members. */
#define TAG_EFD 1u
#define TAG_KIN 2u

/* --- the table of instances, by the kernel fd the caller holds --- */

static pthread_mutex_t ept_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rt_ep **ept;
static unsigned ept_cap;

static struct rt_ep *ep_get(int fd)
{
	struct rt_ep *ep = NULL;

	pthread_mutex_lock(&ept_lock);
	if (fd >= 0 && (unsigned)fd < ept_cap && ept[fd]) {
		ep = ept[fd];
		atomic_fetch_add(&ep->refs, 1);
	}
	pthread_mutex_unlock(&ept_lock);
	return ep;
}

static void ep_put(struct rt_ep *ep)
{
	if (atomic_fetch_sub(&ep->refs, 1) != 1)
		return;
	close(ep->fd);
	close(ep->kin);
	close(ep->efd);
	if (ep->rt)
		rt_put(ep->rt);
	pthread_mutex_destroy(&ep->mu);
	free(ep);
}

static int ept_insert(struct rt_ep *ep)
{
	unsigned cap;
	struct rt_ep **n;
	int rc = 0;

	pthread_mutex_lock(&ept_lock);
	if ((unsigned)ep->fd >= ept_cap) {
		cap = ept_cap ? ept_cap : 64;
		while (cap <= (unsigned)ep->fd)
			cap *= 2;
		n = realloc(ept, cap * sizeof(*n));
		if (!n) {
			rc = ENOMEM;
		} else {
			memset(n + ept_cap, 0, (cap - ept_cap) * sizeof(*n));
			ept = n;
			ept_cap = cap;
		}
	}
	if (!rc)
		ept[ep->fd] = ep;
	pthread_mutex_unlock(&ept_lock);
	return rc;
}

bool rt_epoll_is_ours(int fd)
{
	struct rt_ep *ep = ep_get(fd);

	if (ep)
		ep_put(ep);
	return ep != NULL;
}

long long rt_epoll_examined(int epfd)
{
	struct rt_ep *ep = ep_get(epfd);
	long long n;

	if (!ep)
		return -1;
	n = atomic_load(&ep->examined);
	ep_put(ep);
	return n;
}

/* --- the ready list (under the runtime lock) --- */

static void ep_signal(struct rt_ep *ep)
{
	uint64_t one = 1;

	/* One eventfd write per batch of events: the waiter clears the flag
	 * before it looks at the ready list, so nothing is missed. */
	if (!atomic_exchange(&ep->signalled, true) && write(ep->efd, &one, sizeof(one)) < 0)
		atomic_store(&ep->signalled, false);
}

static void rd_push(struct rt_ep *ep, struct rt_epi *epi)
{
	epi->ready = true;
	epi->rnext = NULL;
	epi->rprev = ep->rd_tail;
	if (ep->rd_tail)
		ep->rd_tail->rnext = epi;
	else
		ep->rd_head = epi;
	ep->rd_tail = epi;
}

static void rd_unlink(struct rt_ep *ep, struct rt_epi *epi)
{
	if (!epi->ready)
		return;
	if (epi->rprev)
		epi->rprev->rnext = epi->rnext;
	else
		ep->rd_head = epi->rnext;
	if (epi->rnext)
		epi->rnext->rprev = epi->rprev;
	else
		ep->rd_tail = epi->rprev;
	epi->ready = false;
	epi->rprev = epi->rnext = NULL;
}

static void items_unlink(struct rt_ep *ep, struct rt_epi *epi)
{
	if (epi->iprev)
		epi->iprev->inext = epi->inext;
	else
		ep->items = epi->inext;
	if (epi->inext)
		epi->inext->iprev = epi->iprev;
}

static void sock_unlink(struct rt_epi *epi)
{
	struct rt_epi **pp = &epi->s->epi;

	while (*pp && *pp != epi)
		pp = &(*pp)->snext;
	if (*pp)
		*pp = epi->snext;
}

static struct rt_epi *sock_find(struct rt_sock *s, struct rt_ep *ep)
{
	struct rt_epi *epi;

	for (epi = s->epi; epi; epi = epi->snext)
		if (epi->ep == ep)
			return epi;
	return NULL;
}

/* The events among `events` that epi wants now. ERR and HUP are part of
 * every item's mask from ctl on (as do_epoll_ctl adds them); a fired
 * EPOLLONESHOT item keeps only its private bits and so wants nothing. */
static uint32_t epi_match(const struct rt_epi *epi, uint32_t events)
{
	return events & epi->events & ~(uint32_t)EP_PRIVATE;
}

void rt_epoll_notify(struct rt_sock *s, uint32_t events)
{
	struct rt_epi *epi;

	for (epi = s->epi; epi; epi = epi->snext) {
		if (!epi_match(epi, events))
			continue;
		if (!epi->ep->is_poll && !epi->ready)
			rd_push(epi->ep, epi);
		ep_signal(epi->ep);
	}
}

void rt_epoll_sock_closed(struct rt_sock *s)
{
	struct rt_epi *epi, *next;

	for (epi = s->epi; epi; epi = next) {
		next = epi->snext;
		epi->snext = NULL;
		if (epi->ep->is_poll) {
			/* The poller owns the item; it wakes to find POLLNVAL. */
			ep_signal(epi->ep);
			continue;
		}
		rd_unlink(epi->ep, epi);
		items_unlink(epi->ep, epi);
		free(epi);
	}
	s->epi = NULL;
}

/* --- create and close --- */

static int ep_add_kernel(int epfd, int fd, uint32_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

int ust_epoll_create1(int flags)
{
	struct rt_ep *ep;
	int err;

	if (flags & ~EPOLL_CLOEXEC)
		return rt_fail(EINVAL);
	ep = calloc(1, sizeof(*ep));
	if (!ep)
		return rt_fail(ENOMEM);
	ep->fd = ep->kin = ep->efd = -1;
	atomic_init(&ep->refs, 1);
	atomic_init(&ep->signalled, false);
	atomic_init(&ep->examined, 0);
	pthread_mutex_init(&ep->mu, NULL);
	ep->fd = epoll_create1(flags);
	ep->kin = epoll_create1(EPOLL_CLOEXEC);
	ep->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (ep->fd < 0 || ep->kin < 0 || ep->efd < 0 || ep_add_kernel(ep->fd, ep->efd, TAG_EFD) < 0 ||
	    ep_add_kernel(ep->fd, ep->kin, TAG_KIN) < 0) {
		err = errno;
		ep_put(ep);
		return rt_fail(err);
	}
	err = ept_insert(ep);
	if (err) {
		ep_put(ep);
		return rt_fail(err);
	}
	return ep->fd;
}

int ust_epoll_create(int size)
{
	if (size <= 0)
		return rt_fail(EINVAL);  /* epoll_create(2): size is ignored but must be > 0 */
	return ust_epoll_create1(0);
}

/* Drops every ustack item of ep. */
static void ep_clear(struct rt_ep *ep)
{
	struct rt_epi *epi, *next;

	pthread_mutex_lock(&ep->mu);
	if (ep->rt) {
		pthread_mutex_lock(&ep->rt->lock);
		for (epi = ep->items; epi; epi = next) {
			next = epi->inext;
			sock_unlink(epi);
			free(epi);
		}
		ep->items = ep->rd_head = ep->rd_tail = NULL;
		pthread_mutex_unlock(&ep->rt->lock);
	}
	pthread_mutex_unlock(&ep->mu);
}

int rt_epoll_close(int epfd)
{
	struct rt_ep *ep = NULL;

	pthread_mutex_lock(&ept_lock);
	if (epfd >= 0 && (unsigned)epfd < ept_cap && ept[epfd]) {
		ep = ept[epfd];
		ept[epfd] = NULL;
	}
	pthread_mutex_unlock(&ept_lock);
	if (!ep)
		return -EBADF;
	ep_clear(ep);
	ep_put(ep);  /* the table's reference; the fd closes with the last one */
	return 0;
}

/* --- ctl --- */

/* The runtime of ep, bound to s's on first use. Under ep->mu. EINVAL when
 * ep already serves another live runtime. */
static int ep_bind_rt(struct rt_ep *ep, struct rt_sock *s)
{
	struct ust_runtime *old = ep->rt;

	if (old == sock_rt(s))
		return 0;
	if (old) {
		bool live;

		pthread_mutex_lock(&old->lock);
		live = old->stk != NULL || ep->items;
		pthread_mutex_unlock(&old->lock);
		if (live)
			return EINVAL;
	}
	pthread_mutex_lock(&sock_rt(s)->lock);
	sock_rt(s)->refs++;
	pthread_mutex_unlock(&sock_rt(s)->lock);
	ep->rt = sock_rt(s);
	if (old)
		rt_put(old);
	return 0;
}

/* Under ep->mu and the runtime lock. */
static int ctl_sock_locked(struct rt_ep *ep, struct rt_sock *s, int op,
                           const struct epoll_event *ev)
{
	struct rt_epi *epi = sock_find(s, ep);

	switch (op) {
	case EPOLL_CTL_ADD:
		if (epi)
			return EEXIST;
		epi = calloc(1, sizeof(*epi));
		if (!epi)
			return ENOMEM;
		epi->ep = ep;
		epi->s = s;
		epi->snext = s->epi;
		s->epi = epi;
		epi->inext = ep->items;
		if (ep->items)
			ep->items->iprev = epi;
		ep->items = epi;
		break;
	case EPOLL_CTL_MOD:
		if (!epi)
			return ENOENT;
		break;
	default:
		if (!epi)
			return ENOENT;
		rd_unlink(ep, epi);
		items_unlink(ep, epi);
		sock_unlink(epi);
		free(epi);
		return 0;
	}
	epi->events = ev->events | EPOLLERR | EPOLLHUP;
	epi->data = ev->data.u64;
	/* A socket that is ready already is reported at once (ep_insert and
	 * ep_modify poll the file). */
	if (epi_match(epi, rt_sock_poll(s))) {
		if (!epi->ready)
			rd_push(ep, epi);
		ep_signal(ep);
	}
	return 0;
}

static int ctl_sock(struct rt_ep *ep, int op, int fd, const struct epoll_event *ev)
{
	struct rt_sock *s = rt_sock_get(fd);
	int err;

	if (!s)
		return EBADF;
	pthread_mutex_lock(&ep->mu);
	err = ep_bind_rt(ep, s);
	if (!err)
		err = rt_sock_lock(s);
	if (!err) {
		err = ctl_sock_locked(ep, s, op, ev);
		rt_sock_unlock(s);
	}
	pthread_mutex_unlock(&ep->mu);
	rt_sock_put(s);
	return err;
}

static int ctl_kernel(struct rt_ep *ep, int op, int fd, struct epoll_event *ev)
{
	if (epoll_ctl(ep->kin, op, fd, ev) < 0)
		return errno;
	pthread_mutex_lock(&ep->mu);
	if (op == EPOLL_CTL_ADD)
		ep->nkern++;
	else if (op == EPOLL_CTL_DEL && ep->nkern)
		ep->nkern--;
	pthread_mutex_unlock(&ep->mu);
	return 0;
}

/* epoll_ctl(2) on an fd that is no epoll instance: EINVAL when it is an
 * open fd (a socket), EBADF when nothing is open there. */
static int not_ep_err(int fd)
{
	struct rt_sock *s = rt_sock_get(fd);

	if (!s)
		return EBADF;
	rt_sock_put(s);
	return EINVAL;
}

int ust_epoll_ctl(int epfd, int op, int fd, struct epoll_event *event)
{
	struct rt_ep *ep;
	int err;

	ep = ep_get(epfd);
	if (!ep) {
		/* A kernel epoll fd with a kernel fd is the kernel's business. */
		if (!rt_fd_is_ours(epfd) && !rt_fd_is_ours(fd))
			return epoll_ctl(epfd, op, fd, event);
		return rt_fail(not_ep_err(epfd));
	}
	if (op != EPOLL_CTL_ADD && op != EPOLL_CTL_MOD && op != EPOLL_CTL_DEL)
		err = EINVAL;
	else if (op != EPOLL_CTL_DEL && !event)
		err = EFAULT;
	else if (fd == epfd)
		err = EINVAL;
	else if (op != EPOLL_CTL_DEL && (event->events & EPOLLEXCLUSIVE) &&
	         (op == EPOLL_CTL_MOD || (event->events & ~(uint32_t)EP_EXCL_OK)))
		err = EINVAL;
	else if (rt_fd_is_ours(fd))
		err = ctl_sock(ep, op, fd, event);
	else
		err = ctl_kernel(ep, op, fd, event);
	ep_put(ep);
	return err ? rt_fail(err) : 0;
}

/* --- wait --- */

/* Moves up to max ready items into evs: O(items looked at), never O(items
 * registered). Level-triggered items still ready go back to the tail, as
 * ep_send_events does, so a busy socket cannot starve the others. */
static int harvest(struct rt_ep *ep, struct epoll_event *evs, int max)
{
	struct rt_epi *head, *tail, *epi, *rq = NULL, **rqt = &rq;
	long long looked = 0;
	uint32_t ev;
	int n = 0;

	pthread_mutex_lock(&ep->rt->lock);
	head = ep->rd_head;
	tail = ep->rd_tail;
	ep->rd_head = ep->rd_tail = NULL;
	while (head && n < max) {
		epi = head;
		head = epi->rnext;
		if (head)
			head->rprev = NULL;
		epi->ready = false;
		epi->rnext = epi->rprev = NULL;
		looked++;
		ev = epi_match(epi, rt_sock_poll(epi->s));
		if (!ev)
			continue;  /* no longer ready: off the list until the next event */
		evs[n].events = ev;
		evs[n].data.u64 = epi->data;
		n++;
		if (epi->events & EPOLLONESHOT) {
			epi->events &= EP_PRIVATE;
		} else if (!(epi->events & EPOLLET)) {
			*rqt = epi;
			rqt = &epi->rnext;
		}
	}
	if (head) {
		ep->rd_head = head;
		ep->rd_tail = tail;
	}
	while (rq) {
		epi = rq;
		rq = epi->rnext;
		rd_push(ep, epi);
	}
	pthread_mutex_unlock(&ep->rt->lock);
	atomic_fetch_add(&ep->examined, looked);
	return n;
}

/* Empties the eventfd, then clears the flag, and the caller reads the
 * ready list next. An event before the clear is on the list already; one
 * after it writes the eventfd again. (Clearing first would let an event
 * between the clear and the read set the flag, lose its write to the read,
 * and leave the flag set with nothing to wake the next sleep.) */
static void ep_consume(struct rt_ep *ep)
{
	uint64_t buf;

	if (read(ep->efd, &buf, sizeof(buf)) < 0)
		buf = 0;  /* EAGAIN: drained already */
	atomic_store(&ep->signalled, false);
}

static int collect(struct rt_ep *ep, struct epoll_event *evs, int max)
{
	int n = 0, k;
	bool kern_first;

	if (atomic_load(&ep->signalled))
		ep_consume(ep);
	pthread_mutex_lock(&ep->mu);
	/* Alternate which side fills the array first, so neither starves. */
	kern_first = ep->nkern && (ep->turn++ & 1);
	if (kern_first) {
		k = epoll_wait(ep->kin, evs, max, 0);
		n = k > 0 ? k : 0;
	}
	if (ep->rt && n < max)
		n += harvest(ep, evs + n, max - n);
	if (!kern_first && ep->nkern && n < max) {
		k = epoll_wait(ep->kin, evs + n, max - n, 0);
		n += k > 0 ? k : 0;
	}
	pthread_mutex_unlock(&ep->mu);
	return n;
}

int ust_epoll_pwait(int epfd, struct epoll_event *events, int maxevents, int timeout,
                    const sigset_t *sigmask)
{
	struct epoll_event tmp[2];
	uint64_t deadline = 0, now;
	struct rt_ep *ep;
	int n, rc, ms = timeout;

	ep = ep_get(epfd);
	if (!ep) {
		if (!rt_fd_is_ours(epfd))
			return epoll_pwait(epfd, events, maxevents, timeout, sigmask);
		return rt_fail(not_ep_err(epfd));
	}
	if (maxevents <= 0) {
		ep_put(ep);
		return rt_fail(EINVAL);
	}
	if (!events) {
		ep_put(ep);
		return rt_fail(EFAULT);
	}
	if (timeout > 0)
		deadline = rt_now_us() + (uint64_t)timeout * 1000u;
	for (;;) {
		n = collect(ep, events, maxevents);
		if (n || timeout == 0)
			break;
		if (timeout > 0) {
			now = rt_now_us();
			if (now >= deadline)
				break;
			ms = (int)((deadline - now + 999) / 1000);
		}
		/* Sleeps until the eventfd or a kernel fd is ready. */
		rc = epoll_pwait(ep->fd, tmp, 2, ms, sigmask);
		if (rc < 0) {
			n = -1;
			break;
		}
		/* Woken by the eventfd: consume it here too, or a write that
		 * came after collect's check would keep it readable and every
		 * later sleep would return at once. */
		for (int i = 0; i < rc; i++)
			if (tmp[i].data.u32 == TAG_EFD)
				ep_consume(ep);
	}
	rc = errno;
	ep_put(ep);
	errno = rc;
	return n;
}

int ust_epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout)
{
	return ust_epoll_pwait(epfd, events, maxevents, timeout, NULL);
}
