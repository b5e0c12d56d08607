/* memlink: frames cross intact both ways, a full ring drops and counts, the
 * eventfd tells the receiver when to look, and two threads can drive the
 * two ends with order kept. */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/pkt.h"
#include "link/link.h"

#define MTU 1500u

/* No cmocka asserts: the producer thread calls it too. */
static struct pkt *make_frame(struct pkt_pool *pool, uint32_t seq, uint32_t len)
{
	struct pkt *p = pkt_alloc(pool);
	uint8_t *d = p ? pkt_put(p, len) : NULL;
	if (!d) {
		pkt_free(p);
		return NULL;
	}
	for (uint32_t i = 0; i < len; i++)
		d[i] = (uint8_t)(i * 7 + seq);
	memcpy(d + 14, &seq, sizeof(seq));
	return p;
}

static struct pkt *frame(struct pkt_pool *pool, uint32_t seq, uint32_t len)
{
	struct pkt *p = make_frame(pool, seq, len);
	assert_non_null(p);
	return p;
}

static uint32_t seq_of(const struct pkt *p)
{
	uint32_t s;
	memcpy(&s, p->data + 14, sizeof(s));
	return s;
}

static bool readable(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN);
}

static void test_both_ways_intact(void **state)
{
	struct pkt_pool pa, pb;
	struct link *a, *b;
	struct pkt *in[4], *out[8];
	(void)state;

	assert_int_equal(pkt_pool_init(&pa, 64), 0);
	assert_int_equal(pkt_pool_init(&pb, 64), 0);
	assert_int_equal(link_memlink_pair(MTU, 16, &a, &b), 0);
	assert_int_equal(a->mtu, MTU);

	uint32_t lens[4] = { 60, 14 + MTU, 15, 1000 };
	for (unsigned i = 0; i < 4; i++)
		in[i] = frame(&pa, i, lens[i]);
	struct pkt *ref[4];
	for (unsigned i = 0; i < 4; i++)
		ref[i] = pkt_clone(&pb, in[i]);
	assert_int_equal(link_tx_burst(a, in, 4, 0), 4);
	assert_int_equal(pa.nfree, 64); /* copies went: a's buffers are back */
	assert_int_equal(a->tx_frames, 4);

	assert_int_equal(link_rx_burst(a, &pa, out, 8, 0), 0); /* nothing came to a */
	assert_int_equal(link_rx_burst(b, &pb, out, 8, 0), 4);
	for (unsigned i = 0; i < 4; i++) {
		assert_ptr_equal(out[i]->pool, &pb);
		assert_int_equal(out[i]->len, lens[i]);
		assert_memory_equal(out[i]->data, ref[i]->data, lens[i]);
		assert_true(pkt_headroom(out[i]) >= PKT_HEADROOM);
		pkt_free(out[i]);
		pkt_free(ref[i]);
	}
	assert_int_equal(b->rx_frames, 4);

	/* And back. */
	in[0] = frame(&pb, 99, 200);
	assert_int_equal(link_tx_burst(b, in, 1, 0), 1);
	assert_int_equal(link_rx_burst(a, &pa, out, 8, 0), 1);
	assert_int_equal(seq_of(out[0]), 99);
	assert_int_equal(out[0]->len, 200);
	pkt_free(out[0]);

	link_close(a);
	link_close(b);
	assert_int_equal(pa.nfree, 64);
	assert_int_equal(pb.nfree, 64);
	pkt_pool_fini(&pa);
	pkt_pool_fini(&pb);
}

static void test_full_ring_drops(void **state)
{
	struct pkt_pool pool;
	struct link *a, *b;
	struct pkt *in[10], *out[10];
	(void)state;

	assert_int_equal(pkt_pool_init(&pool, 64), 0);
	assert_int_equal(link_memlink_pair(MTU, 4, &a, &b), 0);
	for (unsigned i = 0; i < 10; i++)
		in[i] = frame(&pool, i, 64);
	assert_int_equal(link_tx_burst(a, in, 10, 0), 4);
	assert_int_equal(a->tx_drops, 6);
	assert_int_equal(a->tx_frames, 4);
	assert_int_equal(pool.nfree, 64);

	/* The first four made it, in order. */
	assert_int_equal(link_rx_burst(b, &pool, out, 10, 0), 4);
	for (unsigned i = 0; i < 4; i++) {
		assert_int_equal(seq_of(out[i]), i);
		pkt_free(out[i]);
	}
	/* Room again after the receiver drained. */
	in[0] = frame(&pool, 42, 64);
	assert_int_equal(link_tx_burst(a, in, 1, 0), 1);
	assert_int_equal(a->tx_drops, 6);

	/* A frame bigger than the link's MTU does not fit a slot. */
	in[0] = frame(&pool, 43, 14 + MTU + 4 + 1);
	assert_int_equal(link_tx_burst(a, in, 1, 0), 0);
	assert_int_equal(a->tx_drops, 7);

	link_close(b); /* a's peer gone: a cable to nowhere drops */
	in[0] = frame(&pool, 44, 64);
	assert_int_equal(link_tx_burst(a, in, 1, 0), 0);
	assert_int_equal(a->tx_drops, 8);
	link_close(a);
	assert_int_equal(pool.nfree, 64);
	pkt_pool_fini(&pool);
}

static void test_eventfd(void **state)
{
	struct pkt_pool pool;
	struct link *a, *b;
	struct pkt *in[8], *out[8];
	(void)state;

	assert_int_equal(pkt_pool_init(&pool, 64), 0);
	assert_int_equal(link_memlink_pair(MTU, 16, &a, &b), 0);
	int fd = link_fd(b);
	assert_true(fd >= 0);
	assert_int_not_equal(fd, link_fd(a));
	assert_false(readable(fd));

	for (unsigned i = 0; i < 5; i++)
		in[i] = frame(&pool, i, 64);
	assert_int_equal(link_tx_burst(a, in, 5, 0), 5);
	assert_true(readable(fd));
	assert_false(readable(link_fd(a)));

	/* A partial read leaves frames: the fd must stay readable. */
	assert_int_equal(link_rx_burst(b, &pool, out, 2, 0), 2);
	assert_true(readable(fd));
	assert_int_equal(link_rx_burst(b, &pool, out + 2, 8, 0), 3);
	for (unsigned i = 0; i < 5; i++) {
		assert_int_equal(seq_of(out[i]), i);
		pkt_free(out[i]);
	}
	assert_false(readable(fd));
	assert_int_equal(link_rx_burst(b, &pool, out, 8, 0), 0);

	/* Again non-empty: readable again. */
	in[0] = frame(&pool, 7, 64);
	assert_int_equal(link_tx_burst(a, in, 1, 0), 1);
	assert_true(readable(fd));
	assert_int_equal(link_rx_burst(b, &pool, out, 8, 0), 1);
	pkt_free(out[0]);
	assert_false(readable(fd));

	link_close(a);
	link_close(b);
	pkt_pool_fini(&pool);
}

#define THREAD_FRAMES 100000u

struct producer {
	struct link *l;
	uint64_t drops_seen;
};

/* The producer retries what a full ring dropped, so every sequence number
 * crosses exactly once and the consumer can check order. */
static void *produce(void *arg)
{
	struct producer *pr = arg;
	struct pkt_pool pool;
	uint32_t next = 0;

	if (pkt_pool_init(&pool, 64))
		return NULL;
	while (next < THREAD_FRAMES) {
		struct pkt *p[16];
		unsigned n = 0;
		while (n < 16 && next + n < THREAD_FRAMES) {
			p[n] = make_frame(&pool, next + n, 60 + (next + n) % 200);
			if (!p[n])
				return NULL;
			n++;
		}
		uint64_t before = pr->l->tx_drops;
		unsigned sent = link_tx_burst(pr->l, p, n, 0);
		/* What got in is a prefix of the burst. */
		next += sent;
		pr->drops_seen += pr->l->tx_drops - before;
		if (!sent)
			sched_yield();
	}
	pkt_pool_fini(&pool);
	return pr;
}

static void test_two_threads_in_order(void **state)
{
	struct pkt_pool pool;
	struct link *a, *b;
	struct producer pr;
	pthread_t th;
	uint32_t expect = 0;
	bool ok = true;
	(void)state;

	assert_int_equal(pkt_pool_init(&pool, 256), 0);
	assert_int_equal(link_memlink_pair(MTU, 256, &a, &b), 0);
	pr.l = a;
	pr.drops_seen = 0;
	assert_int_equal(pthread_create(&th, NULL, produce, &pr), 0);
	struct pollfd pfd = { .fd = link_fd(b), .events = POLLIN };
	while (expect < THREAD_FRAMES && ok) {
		struct pkt *out[64];
		/* Sleeping on the fd is the point: a lost wake-up hangs here. */
		int rc = poll(&pfd, 1, 5000);
		if (rc != 1) {
			ok = false;
			break;
		}
		unsigned n = link_rx_burst(b, &pool, out, 64, 0);
		for (unsigned i = 0; i < n; i++) {
			if (seq_of(out[i]) != expect || out[i]->len != 60 + expect % 200)
				ok = false;
			expect++;
			pkt_free(out[i]);
		}
	}
	void *res;
	assert_int_equal(pthread_join(th, &res), 0);
	assert_ptr_equal(res, &pr);
	assert_true(ok);
	assert_int_equal(expect, THREAD_FRAMES);
	assert_int_equal(b->rx_frames, THREAD_FRAMES);
	assert_int_equal(a->tx_frames, THREAD_FRAMES);
	assert_int_equal(a->tx_drops, pr.drops_seen);
	link_close(a);
	link_close(b);
	assert_int_equal(pool.nfree, 256);
	pkt_pool_fini(&pool);
}

static void test_bad_args(void **state)
{
	struct link *a, *b;
	(void)state;
	assert_int_equal(link_memlink_pair(MTU, 0, &a, &b), -EINVAL);
	assert_int_equal(link_memlink_pair(0, 8, &a, &b), -EINVAL);
	assert_int_equal(link_memlink_pair(PKT_DATA_MAX, 8, &a, &b), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_both_ways_intact),
		cmocka_unit_test(test_full_ring_drops),
		cmocka_unit_test(test_eventfd),
		cmocka_unit_test(test_two_threads_in_order),
		cmocka_unit_test(test_bad_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
