/* ARP on virtual time: the gratuitous ARP, answering requests, learning,
 * packets held while resolving (bounded), retries then counted drops, cache
 * expiry. Real frames in through stk_rx_burst, exact frames out. */
#include "core_test.h"

#include "core/icmp.h"

static const uint8_t zero_mac[6];

static void gratuitous_at_start(void **state)
{
	uint8_t out[128], want[64];
	struct ust_stack *stk = mkstack(0);
	long n;
	(void)state;
	n = take(stk, out, sizeof(out));
	/* Request, sender = target = our address, broadcast. */
	assert_int_equal(n, mk_arp(want, bcast_mac, 1, us_mac, US_IP, zero_mac, US_IP));
	assert_memory_equal(out, want, 42);
	assert_int_equal(take(stk, out, sizeof(out)), -1);
	assert_int_equal(CNT(stk, tx_arp_request), 1);
	stk_destroy(stk);
}

static void answers_request_and_learns(void **state)
{
	uint8_t in[64], out[128], want[64];
	struct ust_stack *stk = mkstack(0);
	const struct arp_entry *e;
	size_t n;
	(void)state;
	drain(stk);
	n = mk_arp(in, bcast_mac, 1, peer_mac, PEER_IP, zero_mac, US_IP);
	memset(in + n, 0, 18); /* Ethernet padding to 60 bytes */
	feed(stk, in, 60, 1000);
	assert_int_equal(take(stk, out, sizeof(out)),
	                 mk_arp(want, peer_mac, 2, us_mac, US_IP, peer_mac, PEER_IP));
	assert_memory_equal(out, want, 42);
	assert_int_equal(CNT(stk, tx_arp_reply), 1);
	assert_int_equal(CNT(stk, rx_arp), 1);
	e = arp_lookup(stk, PEER_IP);
	assert_non_null(e);
	assert_int_equal(e->state, ARP_REACHABLE);
	assert_memory_equal(e->mac, peer_mac, 6);
	stk_destroy(stk);
}

static void ignores_others(void **state)
{
	uint8_t in[64];
	uint8_t other_mac[6] = {0x02, 0, 0, 0, 0, 0x99};
	struct ust_stack *stk = mkstack(0);
	(void)state;
	drain(stk);
	/* A request for another host: no reply, nothing learned. */
	feed(stk, in, mk_arp(in, bcast_mac, 1, peer_mac, PEER_IP, zero_mac, 0x0a4d0009), 0);
	assert_int_equal(drain(stk), 0);
	assert_null(arp_lookup(stk, PEER_IP));
	assert_int_equal(CNT(stk, drop_arp_not_for_us), 1);
	/* A frame to another MAC never reaches ARP. */
	feed(stk, in, mk_arp(in, other_mac, 1, peer_mac, PEER_IP, zero_mac, US_IP), 0);
	assert_int_equal(CNT(stk, drop_eth_not_for_us), 1);
	assert_int_equal(drain(stk), 0);
	/* A malformed one is counted. */
	mk_arp(in, bcast_mac, 1, peer_mac, PEER_IP, zero_mac, US_IP);
	in[14 + 4] = 8;
	feed(stk, in, 42, 0);
	assert_int_equal(CNT(stk, drop_arp_malformed), 1);
	feed(stk, in, 30, 0);
	assert_int_equal(CNT(stk, drop_arp_malformed), 2);
	assert_int_equal(drain(stk), 0);
	stk_destroy(stk);
}

/* An echo request from us to the peer: resolution, queueing, flush. */
static void queue_then_flush_on_reply(void **state)
{
	uint8_t in[64], out[256], want[64];
	struct ust_stack *stk = mkstack(0);
	const struct arp_entry *e;
	(void)state;
	drain(stk);
	for (int i = 0; i < 3; i++)
		assert_int_equal(icmp_echo_request(stk, PEER_IP, 1, (uint16_t)i, "ab", 2), 0);
	/* One request only, broadcast, for the peer. */
	assert_int_equal(take(stk, out, sizeof(out)),
	                 mk_arp(want, bcast_mac, 1, us_mac, US_IP, zero_mac, PEER_IP));
	assert_memory_equal(out, want, 42);
	assert_int_equal(take(stk, out, sizeof(out)), -1);
	e = arp_lookup(stk, PEER_IP);
	assert_int_equal(e->state, ARP_INCOMPLETE);
	assert_int_equal(e->pending.count, 3);
	/* The reply releases the three, in order, to the peer's MAC. */
	feed(stk, in, mk_arp(in, us_mac, 2, peer_mac, PEER_IP, us_mac, US_IP), 5000);
	for (int i = 0; i < 3; i++) {
		long n = take(stk, out, sizeof(out));
		assert_int_equal(n, 14 + 20 + 8 + 2);
		assert_memory_equal(out, peer_mac, 6);
		assert_memory_equal(out + 6, us_mac, 6);
		assert_int_equal(get16(out + 12), 0x0800);
		assert_int_equal(get16(out + 14 + 20 + 6), i);
	}
	assert_int_equal(take(stk, out, sizeof(out)), -1);
	assert_int_equal(e->state, ARP_REACHABLE);
	/* Resolved: the next one goes at once. */
	assert_int_equal(icmp_echo_request(stk, PEER_IP, 1, 3, "ab", 2), 0);
	assert_int_equal(take(stk, out, sizeof(out)), 44);
	assert_memory_equal(out, peer_mac, 6);
	stk_destroy(stk);
}

static void queue_bound(void **state)
{
	struct ust_stack *stk = mkstack(0);
	(void)state;
	drain(stk);
	for (int i = 0; i < 12; i++)
		icmp_echo_request(stk, PEER_IP, 1, (uint16_t)i, NULL, 0);
	assert_int_equal(arp_lookup(stk, PEER_IP)->pending.count, stk->cfg.arp_queue_max);
	assert_int_equal(CNT(stk, drop_arp_queue_full), 12 - stk->cfg.arp_queue_max);
	stk_destroy(stk);
}

static void queue_counts_datagrams(void **state)
{
	static uint8_t big[3000];
	struct ust_stack *stk = mkstack(0);
	const struct arp_entry *e;
	(void)state;
	drain(stk);
	/* Eight 3000-byte echoes (3 fragments each) are held whole ... */
	for (int i = 0; i < 8; i++)
		assert_int_equal(icmp_echo_request(stk, PEER_IP, 1, (uint16_t)i, big, sizeof(big)), 0);
	e = arp_lookup(stk, PEER_IP);
	assert_int_equal(e->pending.count, 24);
	assert_int_equal(e->pending_dgrams, 8);
	/* ... the ninth is refused whole, then a small one still is. */
	icmp_echo_request(stk, PEER_IP, 1, 8, big, sizeof(big));
	icmp_echo_request(stk, PEER_IP, 1, 9, NULL, 0);
	assert_int_equal(CNT(stk, drop_arp_queue_full), 4);
	assert_int_equal(e->pending.count, 24);
	stk_destroy(stk);
}

static void retries_then_drop(void **state)
{
	uint8_t out[128], want[64];
	struct ust_stack *stk = mkstack(0);
	uint64_t t;
	unsigned requests = 0;
	(void)state;
	drain(stk);
	mk_arp(want, bcast_mac, 1, us_mac, US_IP, zero_mac, PEER_IP);
	icmp_echo_request(stk, PEER_IP, 1, 1, NULL, 0);
	icmp_echo_request(stk, PEER_IP, 1, 2, NULL, 0);
	for (t = 0; t <= 10 * SEC; t += 1000) {
		long n;
		stk_run_timers(stk, t);
		while ((n = take(stk, out, sizeof(out))) > 0) {
			assert_int_equal(n, 42);
			assert_memory_equal(out, want, 42);
			requests++;
		}
		if (t < 4 * SEC)
			assert_int_equal(CNT(stk, drop_arp_unresolved), 0);
	}
	/* One request, then arp_max_retries more a second apart, then the two
	 * queued packets are dropped and the entry is gone. */
	assert_int_equal(requests, 1 + stk->cfg.arp_max_retries);
	assert_int_equal(CNT(stk, drop_arp_unresolved), 2);
	assert_null(arp_lookup(stk, PEER_IP));
	assert_int_equal(stk_next_deadline(stk), TIMER_NEVER);
	stk_destroy(stk);
}

static void expiry(void **state)
{
	struct ust_stack *stk = mkstack(0);
	(void)state;
	drain(stk);
	learn_peer(stk, 1000);
	assert_non_null(arp_lookup(stk, PEER_IP));
	assert_true(stk_next_deadline(stk) <= 1000 + 60 * SEC);
	stk_run_timers(stk, 1000 + 60 * SEC - 1000);
	assert_non_null(arp_lookup(stk, PEER_IP));
	/* A fresh confirmation extends the life. */
	learn_peer(stk, 30 * SEC);
	stk_run_timers(stk, 1000 + 60 * SEC);
	assert_non_null(arp_lookup(stk, PEER_IP));
	stk_run_timers(stk, 90 * SEC);
	assert_null(arp_lookup(stk, PEER_IP));
	/* Expired: the next packet resolves again. */
	icmp_echo_request(stk, PEER_IP, 1, 1, NULL, 0);
	assert_int_equal(CNT(stk, tx_arp_request), 2);
	stk_destroy(stk);
}

static void table_full(void **state)
{
	struct stk_config cfg;
	struct ust_stack *stk;
	(void)state;
	stk_config_default(&cfg);
	cfg.pkt_pool_size = 256;
	cfg.arp_table_size = 4;
	stk = mkstack_cfg(&cfg, 0);
	for (uint32_t i = 0; i < 6; i++)
		icmp_echo_request(stk, PEER_IP + 10 + i, 1, 1, NULL, 0);
	assert_int_equal(stk->arp.used, 4);
	assert_int_equal(CNT(stk, drop_arp_table_full), 2);
	for (uint32_t i = 0; i < 4; i++)
		assert_non_null(arp_lookup(stk, PEER_IP + 10 + i));
	stk_destroy(stk);
}

static void thousand_entries(void **state)
{
	struct stk_config cfg;
	struct ust_stack *stk;
	uint32_t base = 0x0a4d0000;
	(void)state;
	stk_config_default(&cfg);
	cfg.netmask = 0xffff0000;
	cfg.pkt_pool_size = 4096;
	stk = mkstack_cfg(&cfg, 0);
	for (uint32_t i = 0; i < 1024; i++)
		icmp_echo_request(stk, base + 10 + i, 1, 1, NULL, 0);
	assert_int_equal(stk->arp.used, 1024);
	for (uint32_t i = 0; i < 1024; i++) {
		const struct arp_entry *e = arp_lookup(stk, base + 10 + i);
		assert_non_null(e);
		assert_int_equal(e->ip, base + 10 + i);
		assert_int_equal(e->pending.count, 1);
	}
	assert_int_equal(CNT(stk, drop_arp_table_full), 0);
	assert_null(arp_lookup(stk, base + 5));
	/* The 1025th finds the table full. */
	icmp_echo_request(stk, base + 5, 1, 1, NULL, 0);
	assert_int_equal(CNT(stk, drop_arp_table_full), 1);
	assert_int_equal(drain(stk), 1025); /* gratuitous + 1024 requests */
	stk_destroy(stk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(gratuitous_at_start),
		cmocka_unit_test(answers_request_and_learns),
		cmocka_unit_test(ignores_others),
		cmocka_unit_test(queue_then_flush_on_reply),
		cmocka_unit_test(queue_bound),
		cmocka_unit_test(queue_counts_datagrams),
		cmocka_unit_test(retries_then_drop),
		cmocka_unit_test(expiry),
		cmocka_unit_test(table_full),
		cmocka_unit_test(thousand_entries),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
