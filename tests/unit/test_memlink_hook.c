/* memlink rx hook (run to completion): the receiver's hook runs on the
 * sender's thread after each published burst; frames it takes or claims
 * leave the receiver's fd quiet, frames it leaves keep it readable;
 * removing the hook (or closing the end) stops the calls. */
#include <poll.h>
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

struct hook_state {
	struct link *l;         /* the end the hook belongs to */
	struct pkt_pool *pool;
	bool take;              /* receive in the hook, as a runtime would */
	bool answer;            /* claim the frames (their taker holds b) */
	unsigned calls, taken;
};

static bool hook(void *ctx)
{
	struct hook_state *h = ctx;
	struct pkt *v[16];
	unsigned n;

	h->calls++;
	if (h->answer)
		return true;
	if (!h->take)
		return false;
	while ((n = link_rx_burst(h->l, h->pool, v, 16, 0)) > 0) {
		h->taken += n;
		for (unsigned i = 0; i < n; i++)
			pkt_free(v[i]);
	}
	return false;
}

static bool readable(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN);
}

static void send_n(struct link *l, struct pkt_pool *pool, unsigned n)
{
	struct pkt *v[16];

	assert_true(n <= 16);
	for (unsigned i = 0; i < n; i++) {
		v[i] = pkt_alloc(pool);
		assert_non_null(v[i]);
		assert_non_null(pkt_put(v[i], 60));
		memset(v[i]->data, (int)i, 60);
	}
	assert_int_equal(link_tx_burst(l, v, n, 0), n);
}

static void test_hook_takes_frames(void **state)
{
	struct pkt_pool pa, pb;
	struct link *a, *b;
	struct hook_state h = { 0 };
	(void)state;

	assert_int_equal(pkt_pool_init(&pa, 64), 0);
	assert_int_equal(pkt_pool_init(&pb, 64), 0);
	assert_int_equal(link_memlink_pair(MTU, 32, &a, &b), 0);
	h = (struct hook_state){ .l = b, .pool = &pb, .take = true };
	link_set_rx_hook(b, hook, &h);

	send_n(a, &pa, 5);
	assert_int_equal(h.calls, 1);
	assert_int_equal(h.taken, 5);
	/* Taken on the sender's thread: no wake-up is owed to b. */
	assert_false(readable(link_fd(b)));
	assert_int_equal(pb.nfree, 64);

	/* The other direction has no hook: the fd alone tells a. */
	send_n(b, &pb, 2);
	assert_int_equal(h.calls, 1);
	assert_true(readable(link_fd(a)));

	link_close(a);
	link_close(b);
	pkt_pool_fini(&pa);
	pkt_pool_fini(&pb);
}

static void test_hook_leaves_frames(void **state)
{
	struct pkt_pool pa, pb;
	struct link *a, *b;
	struct pkt *v[16];
	struct hook_state h = { 0 };
	(void)state;

	assert_int_equal(pkt_pool_init(&pa, 64), 0);
	assert_int_equal(pkt_pool_init(&pb, 64), 0);
	assert_int_equal(link_memlink_pair(MTU, 32, &a, &b), 0);
	h = (struct hook_state){ .l = b, .pool = &pb, .take = false };
	link_set_rx_hook(b, hook, &h);

	/* A hook that could not take them (its lock was held): the fd must
	 * wake b's own thread. */
	send_n(a, &pa, 3);
	assert_int_equal(h.calls, 1);
	assert_true(readable(link_fd(b)));
	assert_int_equal(link_rx_burst(b, &pb, v, 16, 0), 3);
	for (unsigned i = 0; i < 3; i++)
		pkt_free(v[i]);
	assert_false(readable(link_fd(b)));

	/* Removed: no more calls, the fd still works. */
	link_set_rx_hook(b, NULL, NULL);
	send_n(a, &pa, 1);
	assert_int_equal(h.calls, 1);
	assert_true(readable(link_fd(b)));
	assert_int_equal(link_rx_burst(b, &pb, v, 16, 0), 1);
	pkt_free(v[0]);

	/* Closing b drops the hook too: a's sends to nowhere call nothing. */
	link_set_rx_hook(b, hook, &h);
	link_close(b);
	v[0] = pkt_alloc(&pa);
	assert_non_null(pkt_put(v[0], 60));
	assert_int_equal(link_tx_burst(a, v, 1, 0), 0);
	assert_int_equal(h.calls, 1);
	assert_int_equal(pa.nfree, 64);
	link_close(a);
	pkt_pool_fini(&pa);
	pkt_pool_fini(&pb);
}

static void test_hook_claims_frames(void **state)
{
	struct pkt_pool pa, pb;
	struct link *a, *b;
	struct pkt *v[16];
	struct hook_state h = { 0 };
	(void)state;

	assert_int_equal(pkt_pool_init(&pa, 64), 0);
	assert_int_equal(pkt_pool_init(&pb, 64), 0);
	assert_int_equal(link_memlink_pair(MTU, 32, &a, &b), 0);
	h = (struct hook_state){ .l = b, .pool = &pb, .answer = true };
	link_set_rx_hook(b, hook, &h);

	/* Claimed: no eventfd write, the frames wait for their taker. */
	send_n(a, &pa, 4);
	assert_int_equal(h.calls, 1);
	assert_false(readable(link_fd(b)));
	assert_int_equal(link_rx_burst(b, &pb, v, 16, 0), 4);
	for (unsigned i = 0; i < 4; i++)
		pkt_free(v[i]);

	link_close(a);
	link_close(b);
	pkt_pool_fini(&pa);
	pkt_pool_fini(&pb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hook_takes_frames),
		cmocka_unit_test(test_hook_leaves_frames),
		cmocka_unit_test(test_hook_claims_frames),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
