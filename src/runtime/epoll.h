/* Readiness: epoll instances, poll and select over ustack sockets and kernel
 * fds together. Internal to the runtime (epoll.c, poll.c); the socket calls
 * reach it through three hooks in socket.c (event, shutdown, close).
 *
 * Shape: an epoll instance is a kernel epoll fd (what the caller holds) that
 * watches two things: an inner kernel epoll fd with the caller's kernel fds,
 * and an eventfd the stack thread signals when one of the instance's ustack
 * sockets may have become ready. ustack sockets of the instance are items
 * (struct rt_epi) hung off the socket; an event puts the item on the
 * instance's ready list, and a wait looks only at that list (never at every
 * registered socket), which keeps epoll_wait O(ready), as Linux's rdllist. */
#ifndef USTACK_RUNTIME_EPOLL_H
#define USTACK_RUNTIME_EPOLL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <pthread.h>

struct rt_sock;
struct ust_runtime;
struct rt_epi;

/* An epoll instance, or (is_poll) the waiter of one poll()/select() call,
 * which needs only the wake-up. */
struct rt_ep {
	int fd;                  /* outer kernel epoll fd: the caller's handle */
	int kin;                 /* inner kernel epoll fd: the caller's kernel fds */
	int efd;                 /* eventfd: a ustack socket may be ready */
	atomic_bool signalled;   /* efd written and not drained yet */
	atomic_uint refs;
	bool is_poll;
	pthread_mutex_t mu;      /* ctl and waits; guards rt and nkern */
	struct ust_runtime *rt;  /* the runtime of its ustack sockets (a ref) */
	unsigned nkern;          /* kernel fds added (an upper bound) */
	unsigned turn;           /* which side a wait serves first */
	/* Under rt->lock: */
	struct rt_epi *items;
	struct rt_epi *rd_head, *rd_tail;
	atomic_llong examined;
};

/* One registration of a socket with an epoll instance, or with a poll()
 * call in progress (ep->is_poll: no ready list, only the wake-up). Linked
 * on the socket and, for epoll, on the instance; all under the socket's
 * runtime lock. */
struct rt_epi {
	struct rt_ep *ep;
	struct rt_sock *s;
	struct rt_epi *snext;            /* the socket's registrations */
	struct rt_epi *iprev, *inext;    /* the instance's items */
	struct rt_epi *rprev, *rnext;    /* the instance's ready list */
	uint32_t events;                 /* EPOLL* asked for, EPOLLET/ONESHOT included */
	bool ready;                      /* on the ready list */
	uint64_t data;
};

/* Current readiness of s as poll(2) reports it (POLLIN|POLLRDNORM, POLLOUT|
 * POLLWRNORM|POLLWRBAND, POLLERR, POLLHUP, POLLRDHUP). Under s->rt->lock. */
uint32_t rt_sock_poll(struct rt_sock *s);

/* Hooks from the socket code, each under s->rt->lock:
 * the core reported `events` on s (a superset of what changed is fine: the
 * wait re-polls the socket); s is being closed (its registrations go, as
 * Linux drops a closed file from every epoll set). */
void rt_epoll_notify(struct rt_sock *s, uint32_t events);
void rt_epoll_sock_closed(struct rt_sock *s);

/* Closes an epoll instance given its fd: 0, or -EBADF when fd is none. */
int rt_epoll_close(int epfd);
/* Whether fd is an epoll instance of ours. */
bool rt_epoll_is_ours(int fd);
/* Ready-list entries the instance's waits have looked at since it was made
 * (the unit test counts work with it); -1 for a bad fd. */
long long rt_epoll_examined(int epfd);

#endif
