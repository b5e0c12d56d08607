/* Backpressure on a memlink: a ring of four frames between two runtimes,
 * many connections sending at once while the receiver cannot take a
 * frame (the test holds its lock). Every byte arrives, nothing is dropped
 * at the link and nothing is sent twice: frames the ring cannot take wait
 * on the sender's queue, connections that find the queue full wait for
 * room, and the receiver freeing ring slots wakes the sender (the link's
 * tx hook). Before, a full ring dropped them "as a wire does" and each
 * came back an RTO later (the conns benchmark's lost epoll round). Once
 * on the bare memlink, once with the impairment wrapper between. */
#include "rt_test.h"

#include <sys/time.h>

#include "link/link.h"
#include "runtime/sock.h"

#define PORT 9100
#define NCONN 200u
#define DEPTH 4u      /* frames the ring holds each way */
#define POOL 256u     /* packet buffers each: the send queue bound is half */
#define BYTES 100u    /* sent by each client connection */

static int setup(void **state)
{
	(void)state;
	return rt_test_setup(POOL, DEPTH);
}

/* The same ring under the impairment wrapper (a delay, both ways): the
 * wrapper holds due frames while the ring is full instead of dropping
 * them, and says so to the stack (tx_room 0). */
static int setup_impair(void **state)
{
	struct rt_config ca, cb;
	struct impair_spec spec;
	struct link *ma, *mb, *la, *lb;
	char why[64];
	int err = 0;

	(void)state;
	rt_test_cfg(&ca, IP_A, 1, 24, POOL);
	rt_test_cfg(&cb, IP_B, 2, 24, POOL);
	if (impair_parse("delay=2ms", &spec, why, sizeof(why)) < 0 ||
	    link_memlink_pair(RT_TEST_MTU, DEPTH, &ma, &mb) < 0)
		return -1;
	la = link_impair_wrap(ma, &spec, &err);
	lb = link_impair_wrap(mb, &spec, &err);
	if (!la || !lb)
		return -1;
	ra = rt_start(&ca, la, &err);
	rb = rt_start(&cb, lb, &err);
	return ra && rb ? 0 : -1;
}

static int cfds[NCONN], sfds[NCONN];

static void open_all(void)
{
	struct sockaddr_in b = sin_of(IP_B, PORT);
	/* A bound on each read: a lost segment would otherwise hang the
	 * test for the RTO backoff instead of failing it. */
	struct timeval tv = { .tv_sec = 10 };
	int l = rt_test_listener(rb, PORT, (int)NCONN);

	for (unsigned i = 0; i < NCONN; i++) {
		cfds[i] = rt_socket(ra, AF_INET, SOCK_STREAM, 0);
		assert_true(cfds[i] >= 0);
		assert_int_equal(ust_connect(cfds[i], SA(&b), sizeof(b)), 0);
		sfds[i] = ust_accept(l, NULL, NULL);
		assert_true(sfds[i] >= 0);
		assert_int_equal(ust_setsockopt(sfds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)),
		                 0);
	}
	ust_close(l);
}

static uint64_t cnt(struct ust_runtime *rt, enum stk_counter c)
{
	uint64_t v;

	pthread_mutex_lock(&rt->lock);
	v = rt->stk->cnt[c];
	pthread_mutex_unlock(&rt->lock);
	return v;
}

/* expect_waits: more segments than the send queue holds were sent at
 * once; with the wrapper they wait in its queue (delayed) instead. */
static void send_all_at_once(bool expect_waits)
{
	char buf[BYTES];
	uint64_t waits0 = cnt(ra, CNT_tcp_tx_waits);

	open_all();
	memset(buf, 'x', sizeof(buf));
	/* B takes no frame while its lock is held (neither its thread nor
	 * A's sending thread through the rx hook): the ring fills at once. */
	pthread_mutex_lock(&rb->lock);
	for (unsigned i = 0; i < NCONN; i++)
		assert_int_equal(ust_send(cfds[i], buf, BYTES, 0), (ssize_t)BYTES);
	pthread_mutex_unlock(&rb->lock);

	for (unsigned i = 0; i < NCONN; i++) {
		size_t got = 0;

		while (got < BYTES) {
			ssize_t n = ust_recv(sfds[i], buf, BYTES - got, 0);

			if (n <= 0)
				fail_msg("connection %u: %zu of %u bytes, then %zd (%s)", i, got,
				         BYTES, n, strerror(errno));
			got += (size_t)n;
		}
	}
	assert_int_equal(cnt(ra, CNT_drop_link_tx), 0);
	assert_int_equal(cnt(rb, CNT_drop_link_tx), 0);
	assert_int_equal(cnt(ra, CNT_drop_txq_full), 0);
	assert_int_equal(cnt(ra, CNT_tcp_retransmits), 0);
	assert_int_equal(cnt(rb, CNT_tcp_retransmits), 0);
	pthread_mutex_lock(&ra->lock);
	assert_int_equal(ra->link->tx_drops, 0);
	pthread_mutex_unlock(&ra->lock);
	if (expect_waits)
		assert_true(cnt(ra, CNT_tcp_tx_waits) > waits0);
	for (unsigned i = 0; i < NCONN; i++) {
		ust_close(cfds[i]);
		ust_close(sfds[i]);
	}
}

static void test_full_ring_loses_nothing(void **state)
{
	(void)state;
	send_all_at_once(true);
}

static void test_full_ring_under_impair(void **state)
{
	(void)state;
	send_all_at_once(false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_full_ring_loses_nothing, setup, rt_test_teardown),
		cmocka_unit_test_setup_teardown(test_full_ring_under_impair, setup_impair,
		                                rt_test_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
