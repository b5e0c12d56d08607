/* memlink: two link ends joined in memory, each driven by its own thread.
 * One bounded single-producer/single-consumer ring per direction holds
 * copies of frames, so a buffer never leaves the pool it came from. Each
 * direction has an eventfd the receiving end polls; it is written when the
 * ring may have gone from empty to non-empty and drained by rx_burst. A
 * receiving end may set an rx hook the sender calls after each burst, so
 * both stacks run to completion on one thread (link.h). A sender that asks
 * for room (tx_room) and finds too little leaves how much it wants in the
 * ring; the receiver calls the sender's tx hook once that much is free. */
#include "link/link.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define ETH_HDR_LEN 14u
#define VLAN_TAG_LEN 4u
#define CACHE_LINE 64u

struct ml_ring {
	/* Producer side: its own cursor and a stale copy of the consumer's,
	 * refreshed only when the ring looks full (saves a shared-line read). */
	_Alignas(CACHE_LINE) _Atomic uint64_t tail;
	uint64_t head_cache;
	/* Free slots the producer waits for (0: none); read by the consumer
	 * with tail, on the same line. */
	_Atomic uint32_t room_want;
	/* Consumer side, on its own cache line against false sharing. */
	_Alignas(CACHE_LINE) _Atomic uint64_t head;
	_Alignas(CACHE_LINE) int efd;
	uint8_t *slots;       /* depth slots of stride bytes: u32 length, frame */
};

typedef bool (*ml_hook_fn)(void *ctx);
typedef void (*ml_room_fn)(void *ctx);

struct ml_end {
	struct link l;
	struct ml_shared *sh;
	unsigned idx;         /* sends on ring[idx], receives on ring[!idx] */
	/* The receiver's rx hook, called by the other end's sender, and the
	 * sender's tx hook, called by the other end's receiver; busy counts
	 * calls of either in progress so close can wait them out. */
	_Atomic ml_hook_fn hook;
	void *hook_ctx;
	_Atomic ml_room_fn tx_hook;
	void *tx_hook_ctx;
	_Atomic int hook_busy;
};

struct ml_shared {
	struct ml_ring ring[2];
	struct ml_end end[2];
	_Atomic bool closed[2];
	_Atomic int refs;
	uint32_t depth;
	uint32_t frame_max;
	uint32_t stride;
};

static uint8_t *slot(const struct ml_shared *sh, const struct ml_ring *r, uint64_t i)
{
	return r->slots + (size_t)(i % sh->depth) * sh->stride;
}

static void efd_signal(int efd)
{
	uint64_t one = 1;
	/* Cannot block (EFD_NONBLOCK); EAGAIN means the counter is already
	 * non-zero, which is all the reader needs. */
	if (write(efd, &one, sizeof(one)) < 0)
		return;
}

static void efd_drain(int efd)
{
	uint64_t v;
	if (read(efd, &v, sizeof(v)) < 0)
		return; /* EAGAIN: nothing was signalled */
}

/* Lets the receiving end take what was just published, on this thread;
 * true when it answers for them without the fd. */
static bool call_hook(struct ml_end *peer)
{
	ml_hook_fn fn;
	bool done = false;

	atomic_fetch_add(&peer->hook_busy, 1);
	fn = atomic_load(&peer->hook);
	if (fn)
		done = fn(peer->hook_ctx);
	atomic_fetch_sub(&peer->hook_busy, 1);
	return done;
}

static void ml_set_rx_hook(struct link *l, ml_hook_fn fn, void *ctx)
{
	struct ml_end *e = (struct ml_end *)l;

	atomic_store(&e->hook, NULL);
	while (atomic_load(&e->hook_busy))
		sched_yield();  /* a sender is inside the old hook */
	e->hook_ctx = ctx;
	atomic_store(&e->hook, fn);
}

/* Tells the sending end that the room it waits for is there. */
static void call_tx_hook(struct ml_end *sender)
{
	ml_room_fn fn;

	atomic_fetch_add(&sender->hook_busy, 1);
	fn = atomic_load(&sender->tx_hook);
	if (fn)
		fn(sender->tx_hook_ctx);
	atomic_fetch_sub(&sender->hook_busy, 1);
}

static void ml_set_tx_hook(struct link *l, ml_room_fn fn, void *ctx)
{
	struct ml_end *e = (struct ml_end *)l;

	atomic_store(&e->tx_hook, NULL);
	while (atomic_load(&e->hook_busy))
		sched_yield();  /* a receiver is inside the old hook */
	e->tx_hook_ctx = ctx;
	atomic_store(&e->tx_hook, fn);
}

/* Free slots now. With fewer than wanted (at most half the ring: more
 * cannot be waited for), the consumer is asked to call the tx hook once
 * that many are free. Pairs with the fence in ml_rx_burst: either we see
 * its head or it sees our room_want. */
static unsigned ml_tx_room(struct link *l, unsigned want, uint64_t now)
{
	struct ml_end *e = (struct ml_end *)l;
	struct ml_shared *sh = e->sh;
	struct ml_ring *r = &sh->ring[e->idx];
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint32_t half = sh->depth / 2 ? sh->depth / 2 : 1;
	uint32_t wait = want < half ? want : half;
	uint64_t room = sh->depth - (tail - r->head_cache);
	(void)now;

	/* A cable to nowhere takes everything (and drops it). */
	if (atomic_load_explicit(&sh->closed[!e->idx], memory_order_relaxed))
		return UINT_MAX;
	if (room < want) {
		r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
		room = sh->depth - (tail - r->head_cache);
	}
	if (room >= wait)
		return (unsigned)room;  /* enough to go on with: the caller asks again */
	atomic_store(&r->room_want, wait);
	atomic_thread_fence(memory_order_seq_cst);
	r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
	room = sh->depth - (tail - r->head_cache);
	if (room >= wait)
		atomic_store(&r->room_want, 0);  /* a hook call already under way is harmless */
	return (unsigned)room;
}

static unsigned ml_tx_burst(struct link *l, struct pkt **pkts, unsigned n, uint64_t now)
{
	struct ml_end *e = (struct ml_end *)l;
	struct ml_shared *sh = e->sh;
	struct ml_ring *r = &sh->ring[e->idx];
	uint64_t start = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint64_t tail = start;
	bool peer_gone = atomic_load_explicit(&sh->closed[!e->idx], memory_order_relaxed);
	(void)now;

	bool full = false;

	for (unsigned i = 0; i < n; i++) {
		struct pkt *p = pkts[i];
		if (!full && tail - r->head_cache >= sh->depth) {
			r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
			/* Once full, the rest of the burst drops too: what got
			 * through is always a prefix of the burst. */
			full = tail - r->head_cache >= sh->depth;
		}
		/* A full ring drops, as a wire does (a sender that asks
		 * tx_room first never meets one); so does a cable to nowhere. */
		if (peer_gone || full || p->len > sh->frame_max) {
			l->tx_drops++;
			pkt_free(p);
			continue;
		}
		uint8_t *s = slot(sh, r, tail);
		memcpy(s, &p->len, sizeof(uint32_t));
		memcpy(s + sizeof(uint32_t), p->data, p->len);
		tail++;
		pkt_free(p);
	}
	if (tail == start)
		return 0;
	atomic_store_explicit(&r->tail, tail, memory_order_release);
	l->tx_frames += tail - start;
	if (call_hook(&sh->end[!e->idx]))
		return (unsigned)(tail - start);
	/* The consumer may be asleep only if it had taken everything before
	 * this burst, and need not be woken when it (or its hook) took this
	 * burst too. Pairs with the fence in ml_rx_burst: either we see its
	 * head or it sees our tail. */
	atomic_thread_fence(memory_order_seq_cst);
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	if (head >= start && head != tail)
		efd_signal(r->efd);
	return (unsigned)(tail - start);
}

static unsigned ml_rx_burst(struct link *l, struct pkt_pool *pool, struct pkt **pkts,
                            unsigned max, uint64_t now)
{
	struct ml_end *e = (struct ml_end *)l;
	struct ml_shared *sh = e->sh;
	struct ml_ring *r = &sh->ring[!e->idx];
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint64_t tail;
	unsigned n = 0;
	(void)now;

	efd_drain(r->efd);
	tail = atomic_load_explicit(&r->tail, memory_order_acquire);
	while (n < max && head != tail) {
		struct pkt *p = pkt_alloc(pool);
		if (!p)
			break;
		const uint8_t *s = slot(sh, r, head);
		uint32_t len;
		memcpy(&len, s, sizeof(len));
		memcpy(p->data, s + sizeof(uint32_t), len);
		p->len = len;
		pkts[n++] = p;
		head++;
	}
	if (n)
		atomic_store_explicit(&r->head, head, memory_order_release);
	/* Frames left behind (burst full, pool empty, or just published) keep
	 * the fd readable: we drained it above. */
	atomic_thread_fence(memory_order_seq_cst);
	tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	if (tail != head)
		efd_signal(r->efd);
	/* The sender waits for room (ml_tx_room): call it when there is. */
	uint32_t want = atomic_load_explicit(&r->room_want, memory_order_relaxed);
	if (want && sh->depth - (tail - head) >= want && atomic_exchange(&r->room_want, 0))
		call_tx_hook(&sh->end[!e->idx]);
	l->rx_frames += n;
	return n;
}

static int ml_fd(struct link *l)
{
	struct ml_end *e = (struct ml_end *)l;
	return e->sh->ring[!e->idx].efd;
}

static void ml_free(struct ml_shared *sh)
{
	for (unsigned i = 0; i < 2; i++) {
		if (sh->ring[i].efd >= 0)
			close(sh->ring[i].efd);
		free(sh->ring[i].slots);
	}
	free(sh);
}

/* The shared state lives until both ends are closed: the other end's thread
 * may be inside tx_burst writing to our eventfd right now. */
static void ml_close(struct link *l)
{
	struct ml_end *e = (struct ml_end *)l;
	struct ml_shared *sh = e->sh;
	ml_set_rx_hook(l, NULL, NULL);
	ml_set_tx_hook(l, NULL, NULL);
	atomic_store(&sh->closed[e->idx], true);
	if (atomic_fetch_sub(&sh->refs, 1) == 1)
		ml_free(sh);
}

static const struct link_ops ml_ops = {
	.rx_burst = ml_rx_burst,
	.tx_burst = ml_tx_burst,
	.tx_room = ml_tx_room,
	.set_tx_hook = ml_set_tx_hook,
	.fd = ml_fd,
	.close = ml_close,
	.set_rx_hook = ml_set_rx_hook,
};

int link_memlink_pair(uint16_t mtu, unsigned depth, struct link **a, struct link **b)
{
	struct ml_shared *sh;
	size_t sz = (sizeof(*sh) + CACHE_LINE - 1) / CACHE_LINE * CACHE_LINE;

	if (!a || !b || !mtu || !depth || mtu + ETH_HDR_LEN > PKT_DATA_MAX)
		return -EINVAL;
	sh = aligned_alloc(CACHE_LINE, sz);
	if (!sh)
		return -ENOMEM;
	memset(sh, 0, sz);
	sh->depth = depth;
	sh->frame_max = mtu + ETH_HDR_LEN + VLAN_TAG_LEN;
	if (sh->frame_max > PKT_DATA_MAX)
		sh->frame_max = PKT_DATA_MAX;
	sh->stride = (uint32_t)((sizeof(uint32_t) + sh->frame_max + 7) & ~7u);
	atomic_init(&sh->refs, 2);
	for (unsigned i = 0; i < 2; i++) {
		struct ml_ring *r = &sh->ring[i];
		struct ml_end *e = &sh->end[i];
		atomic_init(&r->head, 0);
		atomic_init(&r->tail, 0);
		atomic_init(&sh->closed[i], false);
		atomic_init(&r->room_want, 0);
		atomic_init(&e->hook, NULL);
		atomic_init(&e->tx_hook, NULL);
		atomic_init(&e->hook_busy, 0);
		r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		r->slots = calloc(depth, sh->stride);
		if (r->efd < 0 || !r->slots) {
			int rc = r->efd < 0 ? -errno : -ENOMEM;
			if (i == 0)
				sh->ring[1].efd = -1;
			ml_free(sh);
			return rc;
		}
		e->sh = sh;
		e->idx = i;
		e->l.ops = &ml_ops;
		e->l.mtu = mtu;
		snprintf(e->l.name, sizeof(e->l.name), "memlink-%c", 'a' + i);
	}
	*a = &sh->end[0].l;
	*b = &sh->end[1].l;
	return 0;
}
