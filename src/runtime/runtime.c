/* The stack thread and the process's runtime. One mutex per stack protects
 * the core: the stack thread holds it while it moves one burst through
 * link -> core -> link; application threads hold it for a socket call. The
 * thread sleeps in ppoll on the link fd and an eventfd until the earlier of
 * the core's and the link's deadlines: no spinning. Frames a socket call
 * queues leave from the calling thread, and on a memlink the sender's
 * thread also runs the receiving stack's pass when it can (link_rx_hook):
 * the stack thread is left with timers and whatever nobody else took. */
#include "runtime/runtime.h"

#include "tcp/tcp.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* Rounds of rx bursts per wake-up before timers and tx get their turn. */
#define RX_ROUNDS 8

uint64_t rt_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void flush_tx(struct ust_runtime *rt, uint64_t now);
static uint64_t next_deadline(struct ust_runtime *rt);
static void rt_kick_thread(struct ust_runtime *rt);
static bool stack_pass(struct ust_runtime *rt, uint64_t now, unsigned *got);

/* Under rt->lock. Run to completion: frames a socket call queued leave
 * from the calling thread, so a send does not pay a wake-up of the stack
 * thread (about 50 us across CPUs). The thread is woken only when it has
 * something to redo: a timer earlier than its sleep, buffers back after a
 * starved pool, a stop or a drain. */
void rt_kick(struct ust_runtime *rt)
{
	if (rt->in_pass)
		return;  /* the stack thread itself: its pass ends with a flush */
	if (rt->stk && rt->link && rt->stk->txq.count)
		flush_tx(rt, rt_now_us());
	if (rt->stk && rt->link && !rt->stop && !rt->rx_starved && !rt->draining &&
	    next_deadline(rt) >= rt->sleep_dl)
		return;
	rt_kick_thread(rt);
}

/* Wakes the stack thread from its sleep; the flag batches the writes. */
static void rt_kick_thread(struct ust_runtime *rt)
{
	uint64_t one = 1;

	if (rt->kicked)
		return;
	rt->kicked = true;
	/* Cannot fail short of a counter overflow; the flag batches the writes. */
	if (write(rt->evfd, &one, sizeof(one)) < 0)
		rt->kicked = false;
}

/* The runtime whose lock this thread holds for a socket call (between
 * rt_sock_lock and rt_sock_unlock), which settles before it lets go. */
static _Thread_local struct ust_runtime *tl_held;

/* After a pass run by another thread than the stack thread: wake that
 * thread only when it sleeps past a deadline the pass armed, or the pool
 * ran dry (rt_kick's rule). Under rt->lock. */
static void inline_pass(struct ust_runtime *rt)
{
	unsigned got;
	bool starved;

	for (int i = 0; i < RT_INLINE_PASSES; i++) {
		if (!atomic_load_explicit(&rt->rx_hint, memory_order_acquire))
			return;
		if (!rt->stk || !rt->link || rt->stop || rt->in_pass)
			return;
		starved = stack_pass(rt, rt_now_us(), &got);
		if (starved || next_deadline(rt) < rt->sleep_dl)
			rt_kick_thread(rt);
	}
	/* Still more (a long exchange): frames the hook answered for have
	 * no fd signal, so the stack thread is told to go on. */
	if (atomic_load_explicit(&rt->rx_hint, memory_order_acquire))
		rt_kick_thread(rt);
}

void rt_settle(struct ust_runtime *rt)
{
	if (atomic_load_explicit(&rt->rx_hint, memory_order_relaxed))
		inline_pass(rt);
}

void rt_hold(struct ust_runtime *rt)
{
	tl_held = rt;
}

void rt_unhold(struct ust_runtime *rt)
{
	rt_settle(rt);
	tl_held = NULL;
}

/* The link's rx hook (memlink): frames for us were just published by the
 * peer's thread. When our lock is free that thread runs our pass, so the
 * frames reach their socket, and its waiter, without a wake-up of our
 * stack thread (run to completion across the pair). When this very thread
 * holds it for a socket call (our own send ran the peer, which answered),
 * it takes them before it lets go (rt_unhold, rt_wait): no fd signal is
 * needed. When another thread holds it, the link signals the fd; a holder
 * in a socket call takes them first anyway (rt_settle). A try-lock never
 * waits on a peer that may be trying ours. */
static bool link_rx_hook(void *ctx)
{
	struct ust_runtime *rt = ctx;

	atomic_store(&rt->rx_hint, true);
	if (tl_held == rt)
		return true;
	/* Busy polling (USTACK_BUSY_POLL): a polling caller takes them
	 * itself within a loop turn, and our pass would hold the lock it is
	 * about to block on (a futex wake-up, measured: p50 2 us -> 31 us). */
	if (rt->cfg.busy_poll_us || pthread_mutex_trylock(&rt->lock))
		return false;
	inline_pass(rt);
	pthread_mutex_unlock(&rt->lock);
	return false;
}

/* The link's tx hook (memlink): room is back for frames we kept queued.
 * Called from the peer's thread, which must not wait for our lock: the
 * stack thread sends them. Only the eventfd is written (rt->kicked
 * belongs to the lock holder); a spurious wake-up costs one pass. */
static void link_tx_hook(void *ctx)
{
	struct ust_runtime *rt = ctx;
	uint64_t one = 1;

	if (write(rt->evfd, &one, sizeof(one)) < 0)
		return;  /* EAGAIN: the counter is already non-zero */
}

void rt_wake(struct ust_runtime *rt, uint32_t id)
{
	uint32_t b = id % RT_WQ_BUCKETS;

	atomic_fetch_add_explicit(&rt->wake_gen[b], 1, memory_order_release);
	if (rt->in_pass)
		rt->wake_pending[b / 64] |= 1ull << (b % 64);
	else
		pthread_cond_broadcast(&rt->wq[b]);
}

static void flush_wakes(struct ust_runtime *rt)
{
	for (unsigned w = 0; w < RT_WQ_BUCKETS / 64; w++) {
		while (rt->wake_pending[w]) {
			unsigned bit = (unsigned)__builtin_ctzll(rt->wake_pending[w]);

			rt->wake_pending[w] &= rt->wake_pending[w] - 1;
			pthread_cond_broadcast(&rt->wq[w * 64 + bit]);
		}
	}
}

/* USTACK_BUSY_POLL: before sleeping on the condvar a waiter watches its
 * bucket's generation for up to the budget, mostly without the lock; when
 * the lock is free it runs a pass itself, so a frame for it is taken by
 * the thread that wants it (no hand-over between threads at all). Returns
 * whether a wake-up came. */
static bool spin_for_wake(struct ust_runtime *rt, uint32_t b, uint64_t deadline)
{
	uint32_t g = atomic_load_explicit(&rt->wake_gen[b], memory_order_acquire);
	uint64_t end = rt_now_us() + rt->cfg.busy_poll_us;
	bool woke = false;

	if (deadline < end)
		end = deadline;
	/* While a caller polls, the stack thread leaves the link to it: two
	 * pollers on two CPUs would take the CPU the peer needs. */
	rt->app_polling++;
	pthread_mutex_unlock(&rt->lock);
	for (unsigned i = 0;; i++) {
		if (atomic_load_explicit(&rt->wake_gen[b], memory_order_acquire) != g) {
			woke = true;
			break;
		}
		if (pthread_mutex_trylock(&rt->lock) == 0) {
			unsigned got;

			if (rt->stk && rt->link && !rt->stop) {
				stack_pass(rt, rt_now_us(), &got);
				rt_settle(rt);  /* replies its sends drew (tl_held) */
			}
			woke = atomic_load_explicit(&rt->wake_gen[b], memory_order_acquire) != g;
			pthread_mutex_unlock(&rt->lock);
			if (woke)
				break;
		}
		/* Two CPUs: let the thread we wait for run if it shares ours. */
		if (i % 16 == 15) {
			if (rt_now_us() >= end)
				break;
			sched_yield();
		}
	}
	pthread_mutex_lock(&rt->lock);
	/* The last poller gone: the stack thread watches the link again. */
	if (--rt->app_polling == 0 && rt->link_unwatched)
		rt_kick_thread(rt);
	/* A wake-up between the last look and the lock was broadcast to no
	 * one: under the lock the generation tells for sure. */
	return woke || atomic_load_explicit(&rt->wake_gen[b], memory_order_acquire) != g;
}

int rt_wait(struct ust_runtime *rt, uint32_t id, uint64_t deadline)
{
	struct timespec ts;
	uint32_t b = id % RT_WQ_BUCKETS;

	/* Frames that came in while we held the lock may be what we wait for. */
	if (atomic_load_explicit(&rt->rx_hint, memory_order_relaxed)) {
		uint32_t g = atomic_load_explicit(&rt->wake_gen[b], memory_order_acquire);

		inline_pass(rt);
		if (atomic_load_explicit(&rt->wake_gen[b], memory_order_acquire) != g)
			return 0;
	}

	if (rt->cfg.busy_poll_us && spin_for_wake(rt, id % RT_WQ_BUCKETS, deadline))
		return 0;
	if (deadline == UINT64_MAX) {
		pthread_cond_wait(&rt->wq[id % RT_WQ_BUCKETS], &rt->lock);
		return 0;
	}
	/* The condvars wait on CLOCK_MONOTONIC, the clock of rt_now_us. */
	ts.tv_sec = (time_t)(deadline / 1000000u);
	ts.tv_nsec = (long)(deadline % 1000000u) * 1000;
	return pthread_cond_timedwait(&rt->wq[id % RT_WQ_BUCKETS], &rt->lock, &ts);
}

/* Hands the frames the core queued to the link, as many as it has room
 * for: the rest stay queued (bounded by stk_config.txq_max) until the
 * link's tx hook says room is back, and a drop stays what a wire would
 * drop. Under rt->lock: the link frees sent frames into the stack's pool,
 * which is not thread-safe. */
static void flush_tx(struct ust_runtime *rt, uint64_t now)
{
	/* Two rx bursts' worth: a TAP with offloads sends a run of one
	 * connection's segments in one write, the longer the better. */
	struct pkt *v[2 * RT_BURST];
	unsigned n, sent, room;
	bool did = false, resumed = false;

	for (;;) {
		/* Asked even with nothing queued: a wrapper passes on what it
		 * holds (impairment delay). */
		room = link_tx_room(rt->link, rt->stk->txq.count, now);
		n = stk_tx_take(rt->stk, v, room < 2 * RT_BURST ? room : 2 * RT_BURST);
		if (!n)
			break;
		sent = link_tx_burst(rt->link, v, n, now);
		if (sent < n)
			rt->stk->cnt[CNT_drop_link_tx] += n - sent;
		did = true;
		/* Buffers came back: connections that waited for room send,
		 * once a flush, so that a pass stays short (the lock is what
		 * socket calls wait for); the next pass goes on at once
		 * (stk_next_deadline). */
		if (!resumed && rt->stk->txq.count < RT_BURST) {
			stk_tx_resume(rt->stk, now);
			resumed = true;
		}
	}
	if (did) {
		rt->tx_gen++;
		if (rt->txspace_waiters)
			pthread_cond_broadcast(&rt->txspace);
	}
}

/* One pass: receive, run timers, send; *got counts the frames received.
 * Returns whether the pool ran dry (then the link fd is left out of the
 * poll set until buffers come back, else a readable fd we cannot drain
 * would spin the thread). */
static bool stack_pass(struct ust_runtime *rt, uint64_t now, unsigned *got)
{
	struct pkt *v[RT_BURST];
	unsigned n = 0;

	*got = 0;
	rt->in_pass = true;
	/* This pass reads the link: what the hook saw is taken now. */
	atomic_store(&rt->rx_hint, false);
	for (int round = 0; round < RX_ROUNDS; round++) {
		n = link_rx_burst(rt->link, &rt->stk->pool, v, RT_BURST, now);
		if (!n)
			break;
		*got += n;
		stk_rx_burst(rt->stk, v, n, now);
		flush_tx(rt, now);
		if (n < RT_BURST)
			break;
	}
	stk_run_timers(rt->stk, now);
	/* A link with held frames (impairment delay) releases them on a call. */
	if (link_next_deadline(rt->link) <= now)
		link_tx_burst(rt->link, v, 0, now);
	flush_tx(rt, now);
	rt->in_pass = false;
	flush_wakes(rt);
	if (rt->draining)
		pthread_cond_broadcast(&rt->drain_cv);  /* rt_drain rechecks */
	return rt->stk->pool.nfree == 0;
}

static uint64_t next_deadline(struct ust_runtime *rt)
{
	uint64_t a = stk_next_deadline(rt->stk);
	uint64_t b = link_next_deadline(rt->link);

	return a < b ? a : b;
}

/* USTACK_BUSY_POLL: after a pass with work the thread polls its fds
 * without sleeping, and without the lock, until the budget passes with
 * nothing new or dl comes; a frame is then taken without a wake-up.
 * Returns whether an fd became ready. */
static bool busy_poll(struct ust_runtime *rt, struct pollfd *pfd, uint64_t last_work,
                      uint64_t dl)
{
	struct timespec zero = { 0, 0 };
	uint64_t end = last_work + rt->cfg.busy_poll_us, now;

	if (dl < end)
		end = dl;
	for (;;) {
		if (ppoll(pfd, 2, &zero, NULL) > 0)
			return true;
		now = rt_now_us();
		if (now >= end)
			return false;
		sched_yield();  /* two CPUs: the thread we wait for may need ours */
	}
}

/* USTACK_CPU: the stack thread stays on one CPU, so its caches and the
 * link's queue stay warm. Failure (a CPU outside the process's set) only
 * costs the pinning. */
static void pin_thread(struct ust_runtime *rt)
{
	cpu_set_t set;

	if (!rt->cfg.pin)
		return;
	CPU_ZERO(&set);
	CPU_SET(rt->cfg.cpu, &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set))
		fprintf(stderr, "ustack: USTACK_CPU=%d: cannot pin the stack thread there\n",
		        rt->cfg.cpu);
}

static void *stack_thread(void *arg)
{
	struct ust_runtime *rt = arg;
	struct pollfd pfd[2];
	struct timespec ts, *tsp;
	uint64_t now, dl, buf, last_work = 0, tx_gen = 0;
	unsigned idle_zero = 0, got;
	bool starved, ready;

	pin_thread(rt);
	pthread_mutex_lock(&rt->lock);
	while (!rt->stop) {
		now = rt_now_us();
		starved = stack_pass(rt, now, &got);
		dl = next_deadline(rt);
		now = rt_now_us();
		/* Work: frames in, or frames out from a socket call since. */
		if (got || rt->tx_gen != tx_gen)
			last_work = now;
		tx_gen = rt->tx_gen;
		rt->link_unwatched = starved || rt->app_polling;
		pfd[0].fd = rt->link_unwatched ? -1 : link_fd(rt->link);
		pfd[0].events = POLLIN;
		pfd[1].fd = rt->evfd;
		pfd[1].events = POLLIN;
		pfd[0].revents = pfd[1].revents = 0;
		rt->rx_starved = starved;
		tsp = NULL;
		if (dl != UINT64_MAX) {
			uint64_t wait = dl > now ? dl - now : 0;
			/* A deadline that stays in the past while passes find
			 * nothing to do would spin us: after two such passes
			 * sleep one timer tick. */
			idle_zero = wait || got ? 0 : idle_zero + 1;
			if (idle_zero > 2)
				wait = TIMER_TICK_US;
			ts.tv_sec = (time_t)(wait / 1000000u);
			ts.tv_nsec = (long)(wait % 1000000u) * 1000;
			tsp = &ts;
		}
		rt->sleep_dl = tsp ? now + (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u
		                   : UINT64_MAX;
		pthread_mutex_unlock(&rt->lock);
		ready = rt->cfg.busy_poll_us && !rt->link_unwatched &&
		        now - last_work < rt->cfg.busy_poll_us && busy_poll(rt, pfd, last_work, dl);
		if (!ready && tsp && rt->cfg.busy_poll_us) {
			/* The poll took some of the sleep: only the rest is left. */
			uint64_t t = rt_now_us(), end = now + (uint64_t)ts.tv_sec * 1000000u +
			                                (uint64_t)ts.tv_nsec / 1000u;
			uint64_t left = end > t ? end - t : 0;

			ts.tv_sec = (time_t)(left / 1000000u);
			ts.tv_nsec = (long)(left % 1000000u) * 1000;
		}
		if ((ready || ppoll(pfd, 2, tsp, NULL) > 0) && (pfd[1].revents & POLLIN)) {
			if (read(rt->evfd, &buf, sizeof(buf)) < 0)
				buf = 0;
		}
		pthread_mutex_lock(&rt->lock);
		if (pfd[1].revents & POLLIN)
			rt->kicked = false;
	}
	pthread_mutex_unlock(&rt->lock);
	return NULL;
}

/* Threads of the runtime take no signals: they belong to the application. */
int rt_spawn(pthread_t *t, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

static int rt_alloc_sync(struct ust_runtime *rt)
{
	pthread_condattr_t ca;

	if (pthread_mutex_init(&rt->lock, NULL))
		return ENOMEM;
	pthread_condattr_init(&ca);
	/* SO_RCVTIMEO and friends will wait with pthread_cond_timedwait. */
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	for (unsigned i = 0; i < RT_WQ_BUCKETS; i++)
		pthread_cond_init(&rt->wq[i], &ca);
	pthread_cond_init(&rt->txspace, &ca);
	pthread_cond_init(&rt->drain_cv, &ca);
	pthread_condattr_destroy(&ca);
	return 0;
}

_Atomic(struct ust_runtime *) rt_ids[RT_IDS];
static pthread_mutex_t rt_ids_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t rt_ids_next;

/* A free slot, searched from where the last search ended. */
static int rt_id_take(struct ust_runtime *rt)
{
	int rc = ENFILE;

	pthread_mutex_lock(&rt_ids_lock);
	for (uint32_t n = 0; n < RT_IDS; n++) {
		uint32_t i = (rt_ids_next + n) % RT_IDS;
		if (!atomic_load_explicit(&rt_ids[i], memory_order_relaxed)) {
			rt->id = (uint16_t)i;
			atomic_store_explicit(&rt_ids[i], rt, memory_order_release);
			rt_ids_next = i + 1;
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&rt_ids_lock);
	return rc;
}

static void rt_free(struct ust_runtime *rt)
{
	if (rt_by_id(rt->id) == rt)
		atomic_store_explicit(&rt_ids[rt->id], NULL, memory_order_release);
	for (unsigned i = 0; i < RT_WQ_BUCKETS; i++)
		pthread_cond_destroy(&rt->wq[i]);
	pthread_cond_destroy(&rt->txspace);
	pthread_cond_destroy(&rt->drain_cv);
	pthread_mutex_destroy(&rt->lock);
	free(rt);
}

struct ust_runtime *rt_start(const struct rt_config *rcfg, struct link *link, int *err)
{
	struct ust_runtime *rt = calloc(1, sizeof(*rt));
	const char *why_tcp;
	int e = 0;

	if (!rt || rt_alloc_sync(rt)) {
		free(rt);
		link_close(link);
		*err = ENOMEM;
		return NULL;
	}
	e = rt_id_take(rt);
	if (e) {
		link_close(link);
		rt_free(rt);
		*err = e;
		return NULL;
	}
	rt->cfg = *rcfg;
	rt->link = link;
	rt->refs = 1;
	rt->ctl_fd = -1;
	rt->ctl_evfd = -1;
	rt->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (rt->evfd < 0) {
		e = errno;
		goto fail;
	}
	/* A link that completes TCP checksums spares the core a pass. */
	rt->cfg.stk.tx_csum_offload = link->tx_csum_offload;
	rt->stk = stk_create(&rt->cfg.stk, rt_now_us(), &e);
	if (!rt->stk) {
		e = e < 0 ? -e : (e ? e : ENOMEM);
		goto fail;
	}
	/* RFC 6528: the ISN key is random and private to this stack; the core
	 * has no syscalls, so the runtime draws it. */
	if (getrandom(&tcp_conf(rt->stk)->secret, sizeof(tcp_conf(rt->stk)->secret), 0) !=
	    (ssize_t)sizeof(tcp_conf(rt->stk)->secret)) {
		e = errno ? errno : EIO;
		goto fail;
	}
	/* USTACK_TCP was checked by rt_config_load: applying it cannot fail. */
	if (rcfg->tcp_opts[0] && rt_parse_tcp_opts(rcfg->tcp_opts, tcp_conf(rt->stk), &why_tcp) < 0) {
		e = EINVAL;
		goto fail;
	}
	rt->stk->hooks.sock_event = rt_sock_event;
	rt->stk->hooks.ctx = rt;
	link_set_rx_hook(link, link_rx_hook, rt);
	link_set_tx_hook(link, link_tx_hook, rt);
	e = rt_spawn(&rt->thread, stack_thread, rt);
	if (e)
		goto fail;
	rt->thread_started = true;
	return rt;
fail:
	if (rt->stk)
		stk_destroy(rt->stk);
	if (rt->evfd >= 0)
		close(rt->evfd);
	link_close(link);
	rt_free(rt);
	*err = e;
	return NULL;
}

void rt_stop(struct ust_runtime *rt)
{
	rt_ctl_stop(rt);
	rt_close_all(rt);
	pthread_mutex_lock(&rt->lock);
	rt->stop = true;
	rt_kick(rt);
	pthread_mutex_unlock(&rt->lock);
	if (rt->thread_started)
		pthread_join(rt->thread, NULL);
	rt->thread_started = false;
	pthread_mutex_lock(&rt->lock);
	/* Frames still queued (a last datagram) get their chance to leave. */
	flush_tx(rt, rt_now_us());
	link_close(rt->link);
	rt->link = NULL;
	stk_destroy(rt->stk);
	rt->stk = NULL;
	/* Senders waiting for buffers see stk == NULL and give up. */
	pthread_cond_broadcast(&rt->txspace);
	close(rt->evfd);
	rt->evfd = -1;
	pthread_mutex_unlock(&rt->lock);
}

void rt_put(struct ust_runtime *rt)
{
	unsigned left;

	pthread_mutex_lock(&rt->lock);
	left = --rt->refs;
	pthread_mutex_unlock(&rt->lock);
	if (!left)
		rt_free(rt);
}

/* --- the process's runtime --- */

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(struct ust_runtime *) g_rt;  /* atomic for ust_fini from atexit */
static bool g_tried;        /* the implicit init ran (or ust_init did) */
static int g_err;           /* its error, kept for every later call */
static bool g_atexit;

/* A fork child has none of the stack's threads, and its copy of the stack
 * must not be used or stopped: ust_fini from its atexit would join threads
 * that do not exist and remove the parent's TAP. Its ust_* calls fail with
 * ENETDOWN (the preload library answers EBADF for inherited sockets first). */
static void forget_in_child(void)
{
	pthread_mutex_init(&g_lock, NULL);  /* another thread may have held it */
	atomic_store(&g_rt, NULL);
	g_tried = true;
	g_err = ENETDOWN;
}

static struct link *open_link(const struct rt_config *c, int *err)
{
	struct tap_params tp = {
		.name = c->tap,
		.host_ip = c->host_ip,
		.host_prefix = c->host_prefix,
		.mtu = c->stk.mtu,
		.offload = c->offload,
	};
	char msg[512] = "";
	struct link *l, *w;

	l = link_tap_open(&tp, err, msg, sizeof(msg));
	if (!l && *err == -EBUSY) {
		/* Another fd drives the TAP: a stack whose control socket we
		 * could not see, or another program. One owner per TAP. */
		rt_owner_msg(msg, sizeof(msg), c->tap, rt_tap_holder(c->tap),
		             "TUNSETIFF: device busy");
		fprintf(stderr, "%s\n", msg);
		*err = -EADDRINUSE;
		return NULL;
	}
	if (!l) {
		fprintf(stderr, "ustack: TAP %s: %s\n", c->tap, msg[0] ? msg : strerror(-*err));
		return NULL;
	}
	/* pcap sits next to the TAP so the capture shows the wire, after any
	 * impairment of what we send and before impairment of what we receive.
	 * A wrapper that fails leaves the inner link to us. */
	if (c->has_pcap) {
		msg[0] = '\0';
		w = link_pcap_wrap(l, c->pcap, err, msg, sizeof(msg));
		if (!w) {
			fprintf(stderr, "ustack: USTACK_PCAP=\"%s\": %s\n", c->pcap,
			        msg[0] ? msg : strerror(-*err));
			link_close(l);
			return NULL;
		}
		l = w;
	}
	if (c->has_impair) {
		w = link_impair_wrap(l, &c->impair, err);
		if (!w) {
			fprintf(stderr, "ustack: USTACK_IMPAIR: %s\n", strerror(-*err));
			link_close(l);
			return NULL;
		}
		l = w;
	}
	return l;
}

static int global_start(const struct ust_config *cfg)
{
	struct rt_config c;
	struct ust_runtime *rt;
	struct link *l;
	char msg[PATH_MAX + 200];
	char path[sizeof(rt->ctl_path)];
	int rc, err = 0, ctl_fd = -1;

	rc = rt_config_load(cfg, &c, msg, sizeof(msg));
	if (rc < 0) {
		fprintf(stderr, "%s\n", msg);
		return -rc;
	}
	rc = rt_ctl_open(c.tap, &ctl_fd, path, sizeof(path), msg, sizeof(msg));
	if (rc == -EADDRINUSE) {
		fprintf(stderr, "%s\n", msg);
		return EADDRINUSE;
	}
	if (rc < 0)
		fprintf(stderr, "%s\n", msg);  /* the stack runs without `ustack stat` */
	l = open_link(&c, &err);
	if (!l) {
		if (ctl_fd >= 0) {
			close(ctl_fd);
			unlink(path);
		}
		return err < 0 ? -err : (err ? err : EIO);
	}
	rt = rt_start(&c, l, &err);
	if (!rt) {
		fprintf(stderr, "ustack: cannot start the stack: %s\n", strerror(err));
		if (ctl_fd >= 0) {
			close(ctl_fd);
			unlink(path);
		}
		return err;
	}
	if (ctl_fd >= 0 && rt_ctl_start(rt, ctl_fd, path) < 0)
		fprintf(stderr, "ustack: control socket %s: no thread for it\n", path);
	atomic_store(&g_rt, rt);
	if (!g_atexit) {
		g_atexit = true;
		atexit(ust_fini);
		pthread_atfork(NULL, NULL, forget_in_child);  /* fork: see forget_in_child */
	}
	return 0;
}

struct ust_runtime *rt_global_get(void)
{
	struct ust_runtime *rt;
	int err;

	pthread_mutex_lock(&g_lock);
	if (!g_tried) {
		g_tried = true;
		g_err = global_start(NULL);
	}
	rt = atomic_load(&g_rt);
	/* After ust_fini the stack stays down until an explicit ust_init. */
	err = g_err ? g_err : ENETDOWN;
	if (rt) {
		pthread_mutex_lock(&rt->lock);
		rt->refs++;
		pthread_mutex_unlock(&rt->lock);
	}
	pthread_mutex_unlock(&g_lock);
	if (!rt)
		errno = err;
	return rt;
}

int ust_init(const struct ust_config *cfg)
{
	int err = 0;

	pthread_mutex_lock(&g_lock);
	if (atomic_load(&g_rt)) {
		err = EALREADY;
	} else {
		g_tried = true;
		err = g_err = global_start(cfg);
	}
	pthread_mutex_unlock(&g_lock);
	if (err) {
		errno = err;
		return -1;
	}
	return 0;
}

void ust_fini(void)
{
	struct ust_runtime *rt;
	unsigned left;

	pthread_mutex_lock(&g_lock);
	rt = atomic_exchange(&g_rt, NULL);
	if (rt) {
		/* Exit drains (lifecycle.c): the control socket stays up meanwhile,
		 * so the TAP keeps its owner until the last FIN is acknowledged. */
		left = rt_drain(rt, rt->cfg.exit_linger_us);
		if (left)
			fprintf(stderr, "ustack: exit: %u connection%s still had data or a FIN "
			        "unacknowledged at the bound (USTACK_EXIT_LINGER %llu ms, or "
			        "SO_LINGER); dropped\n", left, left == 1 ? "" : "s",
			        (unsigned long long)(rt->cfg.exit_linger_us / 1000u));
		rt_stop(rt);
		rt_put(rt);
	}
	pthread_mutex_unlock(&g_lock);
}
