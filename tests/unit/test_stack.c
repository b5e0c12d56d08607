/* The stack object: defaults, counter names, creation errors, frame and
 * byte counters, the transmit queue. */
#include "core_test.h"

static void defaults(void **state)
{
	struct stk_config c;
	(void)state;
	stk_config_default(&c);
	assert_int_equal(c.ip, 0x0a4d0002);
	assert_int_equal(c.netmask, 0xffffff00);
	assert_int_equal(c.gateway, 0x0a4d0001);
	assert_int_equal(c.mtu, 1500);
	assert_int_equal(c.pkt_pool_size, 8192);
	assert_int_equal(c.arp_table_size, 1024);
	assert_int_equal(c.arp_reachable_us, 60 * SEC);
	assert_int_equal(c.arp_retry_us, SEC);
	assert_int_equal(c.arp_max_retries, 3);
	assert_int_equal(c.arp_queue_max, 8);
	assert_int_equal(c.frag_max_datagrams, 64);
	assert_int_equal(c.frag_mem_max, 1 << 20);
	assert_int_equal(c.frag_timeout_us, 30 * SEC);
	assert_int_equal(c.udp_rcvbuf, 212992);
	assert_int_equal(c.ttl, 64);
	assert_false(c.mac[0] & 1);
}

static void counter_names(void **state)
{
	(void)state;
	for (int i = 0; i < CNT__COUNT; i++) {
		assert_non_null(stk_counter_names[i]);
		assert_true(strlen(stk_counter_names[i]) > 0);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(stk_counter_names[i], stk_counter_names[j]);
	}
	assert_string_equal(stk_counter_names[CNT_rx_frames], "rx_frames");
	assert_string_equal(stk_counter_names[CNT_drop_udp_rcvbuf], "drop_udp_rcvbuf");
	assert_string_equal(stk_counter_names[CNT_rx_icmp_echo_reply], "rx_icmp_echo_reply");
}

static void bad_config(void **state)
{
	struct stk_config c;
	int err = 0;
	(void)state;
	stk_config_default(&c);
	c.mtu = 67;
	assert_null(stk_create(&c, 0, &err));
	assert_int_equal(err, -EINVAL);
	stk_config_default(&c);
	c.mtu = 2040;
	assert_null(stk_create(&c, 0, &err));
	stk_config_default(&c);
	c.mac[0] = 0x01;
	assert_null(stk_create(&c, 0, &err));
	stk_config_default(&c);
	c.pkt_pool_size = 0;
	assert_null(stk_create(&c, 0, &err));
	stk_destroy(NULL);
}

static void counts_and_txq(void **state)
{
	uint8_t f[128];
	struct pkt *out[4];
	struct ust_stack *stk = mkstack(0);
	size_t n;
	(void)state;
	/* The gratuitous ARP is queued and counted as sent. */
	assert_int_equal(CNT(stk, tx_frames), 1);
	assert_int_equal(CNT(stk, tx_bytes), 42);
	assert_int_equal(stk_tx_take(stk, out, 4), 1);
	assert_memory_equal(out[0]->data + 6, us_mac, 6);
	pkt_free(out[0]);
	assert_int_equal(stk_tx_take(stk, out, 4), 0);
	n = mk_echo(f, 8, 1, 1, 10, PEER_IP, US_IP);
	feed(stk, f, n, 5);
	assert_int_equal(stk->now, 5);
	assert_int_equal(CNT(stk, rx_frames), 1);
	assert_int_equal(CNT(stk, rx_bytes), n);
	assert_int_equal(CNT(stk, rx_ipv4), 1);
	/* The reply waits for ARP: one request out, tx counted. */
	assert_int_equal(stk_tx_take(stk, out, 4), 1);
	assert_int_equal(get16(out[0]->data + 12), 0x0806);
	pkt_free(out[0]);
	assert_int_equal(CNT(stk, tx_frames), 2);
	/* No hook set: events are dropped quietly. */
	stk_sock_event(stk, NULL, SOCK_EV_IN);
	stk_destroy(stk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults),
		cmocka_unit_test(counter_names),
		cmocka_unit_test(bad_config),
		cmocka_unit_test(counts_and_txq),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
