/* TCP without room to send (the pool empty, or the link's queue at its
 * bound): what a connection would have sent waits, and goes as soon as
 * room is back, at the same virtual time; it is neither counted as sent
 * nor left to an RTO. Two stacks joined by the frame-passing loop of
 * tcp_test.h; A = 10.77.0.2 sends, B = 10.77.0.1 receives. */
#include "tcp_test.h"

#include "tcp/tcp_int.h"

#define NCONN 50u
#define ROOM 10u      /* buffers A has left when the connections send */

struct conns {
	struct tcb *c[NCONN], *s[NCONN];
	struct pair *pr;
};

static int all_established(void *arg)
{
	struct conns *k = arg;

	for (unsigned i = 0; i < NCONN; i++)
		if (tcp_state(k->c[i]) != TCPS_ESTABLISHED)
			return 0;
	return 1;
}

static int all_arrived(void *arg)
{
	struct conns *k = arg;

	for (unsigned i = 0; i < NCONN; i++)
		if (tcp_rx_bytes(k->s[i]) != 1)
			return 0;
	return 1;
}

static int first_established(void *arg)
{
	return tcp_state(((struct conns *)arg)->c[0]) == TCPS_ESTABLISHED;
}

/* NCONN connections A -> B:80, s[i] the peer of c[i]; then quiet (no
 * delayed ACK or retransmission pending anywhere). */
static void open_all(struct pair *pr, struct conns *k)
{
	struct tcb *l = tcp_tcb_new(pr->b, NULL), *s[NCONN];

	k->pr = pr;
	assert_int_equal(tcp_bind(pr->b, l, 0, 80), 0);
	assert_int_equal(tcp_listen(pr->b, l, (int)NCONN), 0);
	for (unsigned i = 0; i < NCONN; i++) {
		k->c[i] = tcp_tcb_new(pr->a, NULL);
		assert_int_equal(tcp_connect(pr->a, k->c[i], PEER_IP, 80), 0);
		/* The first resolves B's address: ARP holds a few SYNs only. */
		if (i == 0)
			assert_true(pair_run_until(pr, first_established, k, pr->now + SEC));
	}
	assert_true(pair_run_until(pr, all_established, k, pr->now + SEC));
	for (unsigned i = 0; i < NCONN; i++) {
		s[i] = tcp_accept(pr->b, l);
		assert_non_null(s[i]);
	}
	for (unsigned i = 0; i < NCONN; i++) {
		uint32_t ip;
		uint16_t cport, sport;

		k->s[i] = NULL;
		tcp_local_addr(k->c[i], &ip, &cport);
		for (unsigned j = 0; j < NCONN; j++) {
			tcp_peer_addr(s[j], &ip, &sport);
			if (sport == cport)
				k->s[i] = s[j];
		}
		assert_non_null(k->s[i]);
	}
	pair_advance(pr, pr->now + SEC);
}

/* The pool is down to ROOM buffers when all NCONN connections send one
 * byte: the first ROOM frames are queued, the other connections wait.
 * Once the buffers are back every byte arrives before any timer could
 * have fired (a delayed ACK is 40 ms, the RTO at least 200 ms). */
static void test_empty_pool_waits(void **state)
{
	struct pair pr;
	struct conns k;
	struct pkt_queue held = { 0 };
	uint64_t t0;

	(void)state;
	pair_init(&pr);
	open_all(&pr, &k);
	while (pr.a->pool.nfree > ROOM)
		pktq_push(&held, pkt_alloc(&pr.a->pool));
	t0 = pr.now;
	pr.a->now = pr.b->now = pr.now;
	for (unsigned i = 0; i < NCONN; i++)
		assert_int_equal(tcp_send(pr.a, k.c[i], "x", 1, 0), 1);
	assert_int_equal(pr.a->txq.count, ROOM);
	assert_int_equal(pr.a->cnt[CNT_drop_nobuf], 0);
	assert_int_equal(pr.a->cnt[CNT_tcp_tx_waits], NCONN - ROOM);
	/* Nothing of a waiting connection counts as sent: SND.NXT stays. */
	assert_int_equal(tcp_tx_bytes(k.c[NCONN - 1]), 1);
	assert_int_equal(k.c[NCONN - 1]->snd_nxt, k.c[NCONN - 1]->snd_una);

	pktq_free(&held);
	assert_true(pair_run_until(&pr, all_arrived, &k, t0 + 1000));
	assert_int_equal(pr.a->cnt[CNT_tcp_retransmits], 0);
	assert_int_equal(pr.a->cnt[CNT_drop_nobuf], 0);
	pair_fini(&pr);
}

/* The link's queue at its bound (txq_max) has the same effect as an empty
 * pool, and a connection freed while it waits is no trouble. */
static void test_txq_bound_waits(void **state)
{
	struct pair pr;
	struct conns k;
	uint64_t t0;

	(void)state;
	pair_init(&pr);
	open_all(&pr, &k);
	pr.a->cfg.txq_max = ROOM;
	t0 = pr.now;
	pr.a->now = pr.b->now = pr.now;
	for (unsigned i = 0; i < NCONN; i++)
		assert_int_equal(tcp_send(pr.a, k.c[i], "x", 1, 0), 1);
	assert_int_equal(pr.a->txq.count, ROOM);
	/* The last one goes away while it waits: reset and freed. */
	tcp_setopt(pr.a, k.c[NCONN - 1], TCP_OPT_LINGER, 0);
	tcp_close(pr.a, k.c[NCONN - 1]);
	for (unsigned i = 0; i < NCONN - 1; i++) {
		/* Frames leave ROOM at a time, as a small link would take them. */
		while (tcp_rx_bytes(k.s[i]) != 1)
			assert_true(pair_shuttle(&pr) || pair_step(&pr, t0 + 1000));
	}
	assert_int_equal(pr.a->cnt[CNT_tcp_retransmits], 0);
	assert_int_equal(pr.a->cnt[CNT_drop_txq_full], 0);
	assert_true(pr.a->txq.count <= ROOM);
	pair_fini(&pr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_pool_waits),
		cmocka_unit_test(test_txq_bound_waits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
