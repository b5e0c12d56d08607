/* poll, ppoll, select, pselect and epoll in the preload library. A set with
 * no placeholder goes to the kernel as it is; one with placeholders is
 * translated to ustack fds and waited on by ust_ppoll, which sleeps on the
 * kernel fds and the ustack sockets together. Every epoll instance the
 * program makes is ustack's (a kernel epoll fd underneath, see
 * src/runtime/epoll.h), since sockets may be added to it later. */
#include "preload/preload.h"
#include "runtime/epoll.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>

static DEFINE_REAL(int, poll, struct pollfd *, nfds_t, int);
static DEFINE_REAL(int, ppoll, struct pollfd *, nfds_t, const struct timespec *, const sigset_t *);
static DEFINE_REAL(int, select, int, fd_set *, fd_set *, fd_set *, struct timeval *);
static DEFINE_REAL(int, pselect, int, fd_set *, fd_set *, fd_set *, const struct timespec *,
                   const sigset_t *);
static DEFINE_REAL(int, epoll_create, int);
static DEFINE_REAL(int, epoll_create1, int);
static DEFINE_REAL(int, epoll_ctl, int, int, int, struct epoll_event *);
static DEFINE_REAL(int, epoll_wait, int, struct epoll_event *, int, int);
static DEFINE_REAL(int, epoll_pwait, int, struct epoll_event *, int, int, const sigset_t *);
static DEFINE_REAL(int, epoll_pwait2, int, struct epoll_event *, int, const struct timespec *,
                   const sigset_t *);

#define STACK_FDS 64

/* --- poll --- */

/* ppoll over a set with placeholders: copies it with ustack fds. */
static int poll_ours(struct pollfd *fds, nfds_t nfds, const struct timespec *tmo,
                     const sigset_t *sigmask)
{
	struct pollfd s_c[STACK_FDS], *c = s_c;
	int rc, err;

	if (nfds > STACK_FDS) {
		c = malloc(nfds * sizeof(*c));
		if (!c) {
			errno = ENOMEM;
			return -1;
		}
	}
	for (nfds_t i = 0; i < nfds; i++) {
		int u = pl_lookup(fds[i].fd);

		c[i] = fds[i];
		if (u == PL_DEAD)
			c[i].fd = -1;  /* reported POLLNVAL below */
		else if (u >= 0)
			c[i].fd = u;
	}
	rc = UST(ust_ppoll(c, nfds, tmo, sigmask));
	err = errno;
	for (nfds_t i = 0; rc >= 0 && i < nfds; i++) {
		fds[i].revents = c[i].revents;
		if (fds[i].fd >= 0 && pl_lookup(fds[i].fd) == PL_DEAD) {
			fds[i].revents = POLLNVAL;
			rc++;
		}
	}
	if (c != s_c)
		free(c);
	errno = err;
	return rc;
}

static bool any_ours(const struct pollfd *fds, nfds_t nfds)
{
	for (nfds_t i = 0; i < nfds; i++)
		if (fds[i].fd >= 0 && pl_lookup(fds[i].fd) != PL_KERNEL)
			return true;
	return false;
}

int ppoll(struct pollfd *fds, nfds_t nfds, const struct timespec *tmo, const sigset_t *sigmask)
{
	if (pl_inside || !any_ours(fds, nfds))
		return REAL(ppoll)(fds, nfds, tmo, sigmask);
	return poll_ours(fds, nfds, tmo, sigmask);
}

int poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
	struct timespec ts;

	if (pl_inside || !any_ours(fds, nfds))
		return REAL(poll)(fds, nfds, timeout);
	ts.tv_sec = timeout / 1000;
	ts.tv_nsec = (long)(timeout % 1000) * 1000000L;
	return poll_ours(fds, nfds, timeout < 0 ? NULL : &ts, NULL);
}

int __poll_chk(struct pollfd *fds, nfds_t nfds, int timeout, size_t fdslen)
{
	if (fdslen / sizeof(*fds) < nfds)
		abort();  /* glibc's __chk_fail */
	return poll(fds, nfds, timeout);
}

int __ppoll_chk(struct pollfd *fds, nfds_t nfds, const struct timespec *tmo,
                const sigset_t *sigmask, size_t fdslen)
{
	if (fdslen / sizeof(*fds) < nfds)
		abort();
	return ppoll(fds, nfds, tmo, sigmask);
}

/* --- select: the sets' placeholders become ustack fds in a pollfd array --- */

static bool in_set(const fd_set *s, int fd)
{
	return s && (s->fds_bits[fd / NFDBITS] & ((__fd_mask)1 << (fd % NFDBITS)));
}

static bool sets_have_ours(int nfds, const fd_set *r, const fd_set *w, const fd_set *e)
{
	for (int fd = 0; fd < nfds; fd++)
		if ((in_set(r, fd) || in_set(w, fd) || in_set(e, fd)) && pl_lookup(fd) != PL_KERNEL)
			return true;
	return false;
}

static int select_ours(int nfds, fd_set *r, fd_set *w, fd_set *e, const struct timespec *tmo,
                       const sigset_t *sigmask)
{
	struct pollfd s_p[STACK_FDS], *p = s_p;
	int n = 0, rc, ready = 0;

	if (nfds > STACK_FDS && !(p = malloc((size_t)nfds * sizeof(*p)))) {
		errno = ENOMEM;
		return -1;
	}
	for (int fd = 0; fd < nfds; fd++) {
		short ev = (short)((in_set(r, fd) ? POLLIN : 0) | (in_set(w, fd) ? POLLOUT : 0) |
		                   (in_set(e, fd) ? POLLPRI : 0));

		if (!ev)
			continue;
		p[n].fd = fd;
		p[n].events = ev;
		p[n++].revents = 0;
	}
	rc = poll_ours(p, (nfds_t)n, tmo, sigmask);
	for (int i = 0; rc >= 0 && i < n; i++)
		if (p[i].revents & POLLNVAL) {
			rc = -1;
			errno = EBADF;
		}
	if (rc >= 0) {
		for (int i = 0; i < n; i++) {
			int fd = p[i].fd;
			short re = p[i].revents;

			if (r && FD_ISSET(fd, r) && !(re & (POLLIN | POLLHUP | POLLERR)))
				FD_CLR(fd, r);
			if (w && FD_ISSET(fd, w) && !(re & (POLLOUT | POLLERR)))
				FD_CLR(fd, w);
			if (e && FD_ISSET(fd, e) && !(re & POLLPRI))
				FD_CLR(fd, e);
			ready += (r && FD_ISSET(fd, r)) + (w && FD_ISSET(fd, w)) + (e && FD_ISSET(fd, e));
		}
		rc = ready;
	}
	if (p != s_p)
		free(p);
	return rc;
}

int pselect(int nfds, fd_set *r, fd_set *w, fd_set *e, const struct timespec *tmo,
            const sigset_t *sigmask)
{
	if (pl_inside || nfds < 0 || nfds > FD_SETSIZE || !sets_have_ours(nfds, r, w, e))
		return REAL(pselect)(nfds, r, w, e, tmo, sigmask);
	return select_ours(nfds, r, w, e, tmo, sigmask);
}

int select(int nfds, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv)
{
	struct timespec ts;
	int rc;

	if (pl_inside || nfds < 0 || nfds > FD_SETSIZE || !sets_have_ours(nfds, r, w, e))
		return REAL(select)(nfds, r, w, e, tv);
	if (tv) {
		ts.tv_sec = tv->tv_sec + tv->tv_usec / 1000000;
		ts.tv_nsec = (long)(tv->tv_usec % 1000000) * 1000;
	}
	rc = select_ours(nfds, r, w, e, tv ? &ts : NULL, NULL);
	if (tv && rc == 0)
		tv->tv_sec = tv->tv_usec = 0;  /* Linux: the time left, none after a timeout */
	return rc;
}

/* --- epoll --- */

int epoll_create1(int flags)
{
	if (pl_inside)
		return REAL(epoll_create1)(flags);
	return UST(ust_epoll_create1(flags));
}

int epoll_create(int size)
{
	if (pl_inside)
		return REAL(epoll_create)(size);
	return UST(ust_epoll_create(size));
}

int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	int u;

	if (pl_inside || !UST(rt_epoll_is_ours(epfd)))
		return REAL(epoll_ctl)(epfd, op, fd, ev);
	u = pl_lookup(fd);
	if (u == PL_DEAD)
		return pl_dead(fd, "epoll_ctl");
	return UST(ust_epoll_ctl(epfd, op, u == PL_KERNEL ? fd : u, ev));
}

int epoll_pwait(int epfd, struct epoll_event *evs, int max, int timeout, const sigset_t *sigmask)
{
	if (pl_inside || !UST(rt_epoll_is_ours(epfd)))
		return REAL(epoll_pwait)(epfd, evs, max, timeout, sigmask);
	return UST(ust_epoll_pwait(epfd, evs, max, timeout, sigmask));
}

int epoll_wait(int epfd, struct epoll_event *evs, int max, int timeout)
{
	if (pl_inside || !UST(rt_epoll_is_ours(epfd)))
		return REAL(epoll_wait)(epfd, evs, max, timeout);
	return UST(ust_epoll_pwait(epfd, evs, max, timeout, NULL));
}

int epoll_pwait2(int epfd, struct epoll_event *evs, int max, const struct timespec *tmo,
                 const sigset_t *sigmask)
{
	long long ms;

	if (pl_inside || !UST(rt_epoll_is_ours(epfd)))
		return REAL(epoll_pwait2)(epfd, evs, max, tmo, sigmask);
	if (tmo && (tmo->tv_sec < 0 || tmo->tv_nsec < 0 || tmo->tv_nsec >= 1000000000L)) {
		errno = EINVAL;
		return -1;
	}
	/* Rounded up to the millisecond our wait sleeps in. */
	ms = !tmo ? -1 : (long long)tmo->tv_sec * 1000 + (tmo->tv_nsec + 999999) / 1000000;
	return UST(ust_epoll_pwait(epfd, evs, max, ms > INT_MAX ? INT_MAX : (int)ms, sigmask));
}
