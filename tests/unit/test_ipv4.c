/* IPv4 through the stack's receive path: each malformed datagram dropped
 * under its counter and nothing sent; options skipped; routing and
 * fragmentation on output. */
#include "core_test.h"

#include "core/icmp.h"

static struct ust_stack *stk;
static uint8_t f[2048];

static int setup(void **state)
{
	(void)state;
	stk = mkstack(0);
	learn_peer(stk, 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	assert_pool_full(stk);
	stk_destroy(stk);
	return 0;
}

static void refix(uint8_t *ip)
{
	put16(ip + 10, 0);
	put16(ip + 10, ref_csum(ip, (size_t)(ip[0] & 0xf) * 4, 0));
}

/* Feeds an echo request edited by `edit` and checks the named counter moved
 * and nothing was sent. */
#define EXPECT_DROP(counter, ...)                                               \
	do {                                                                    \
		size_t n = mk_echo(f, 8, 1, 1, 16, PEER_IP, US_IP);             \
		uint8_t *ip = f + 14;                                           \
		uint64_t before = CNT(stk, counter);                            \
		(void)ip;                                                       \
		__VA_ARGS__;                                                    \
		feed(stk, f, n, 0);                                             \
		assert_int_equal(CNT(stk, counter), before + 1);                \
		assert_int_equal(drain(stk), 0);                                \
	} while (0)

static void malformed_dropped(void **state)
{
	(void)state;
	EXPECT_DROP(drop_ip_checksum, ip[10] ^= 0xff);
	EXPECT_DROP(drop_ip_version, ip[0] = 0x65; refix(ip));
	EXPECT_DROP(drop_ip_total_len, put16(ip + 2, 1400); refix(ip));
	EXPECT_DROP(drop_ip_short, n = 14 + 12);
	EXPECT_DROP(drop_ip_hdr_len, ip[0] = 0x44);
	EXPECT_DROP(drop_ip_ttl, ip[8] = 0; refix(ip));
	EXPECT_DROP(drop_ip_bad_src, put32(ip + 12, 0); refix(ip));
	EXPECT_DROP(drop_ip_bad_src, put32(ip + 12, 0xe0000005); refix(ip));
	EXPECT_DROP(drop_ip_bad_src, put32(ip + 12, 0x0a4d00ff); refix(ip));
	EXPECT_DROP(drop_ip_bad_src, put32(ip + 12, US_IP); refix(ip));
	EXPECT_DROP(drop_ip_not_for_us, put32(ip + 16, 0x0a4d0003); refix(ip));
	EXPECT_DROP(drop_ip_not_for_us, put32(ip + 16, 0xffffffff); refix(ip));
	EXPECT_DROP(drop_ip_proto, ip[9] = 99; refix(ip));
	EXPECT_DROP(drop_eth_type, put16(f + 12, 0x86dd));
	EXPECT_DROP(drop_eth_short, n = 13);
	EXPECT_DROP(drop_eth_not_for_us, f[0] = 0x03);
	EXPECT_DROP(drop_frag_bad, put16(ip + 6, 0x8000); refix(ip));
	/* The stack still answers afterwards. */
	feed(stk, f, mk_echo(f, 8, 1, 1, 16, PEER_IP, US_IP), 0);
	assert_int_equal(drain(stk), 1);
	assert_int_equal(CNT(stk, rx_frames), 19); /* learn_peer's ARP + 18 */
}

static void options_skipped(void **state)
{
	uint8_t out[256];
	uint8_t *ip = f + 14;
	size_t n = mk_echo(f, 8, 3, 4, 16, PEER_IP, US_IP);
	(void)state;
	/* Insert 8 option bytes (NOPs, then EOL) between header and ICMP. */
	memmove(ip + 28, ip + 20, n - 34);
	memset(ip + 20, 1, 7);
	ip[27] = 0;
	ip[0] = 0x47;
	put16(ip + 2, (uint16_t)(get16(ip + 2) + 8));
	refix(ip);
	feed(stk, f, n + 8, 0);
	/* The reply has a plain 20-byte header and the same ICMP message. */
	assert_int_equal(take(stk, out, sizeof(out)), (long)n);
	assert_int_equal(out[14], 0x45);
	assert_int_equal(out[34], 0);
	assert_memory_equal(out + 38, ip + 32, 4 + 16);
}

static void routing(void **state)
{
	uint8_t out[256];
	long n;
	(void)state;
	/* Off-link goes to the gateway's MAC (the peer is the gateway). */
	assert_int_equal(icmp_echo_request(stk, 0x08080808, 1, 1, NULL, 0), 0);
	n = take(stk, out, sizeof(out));
	assert_int_equal(n, 42);
	assert_memory_equal(out, peer_mac, 6);
	assert_int_equal(get32(out + 30), 0x08080808);
	/* On-link: ARP for the destination itself. */
	assert_int_equal(icmp_echo_request(stk, 0x0a4d0005, 1, 1, NULL, 0), 0);
	n = take(stk, out, sizeof(out));
	assert_int_equal(get16(out + 12), 0x0806);
	assert_int_equal(get32(out + 14 + 24), 0x0a4d0005);
	/* Subnet broadcast: to the broadcast MAC, no ARP. */
	assert_int_equal(icmp_echo_request(stk, 0x0a4d00ff, 1, 1, NULL, 0), 0);
	n = take(stk, out, sizeof(out));
	assert_memory_equal(out, bcast_mac, 6);
	assert_int_equal(get16(out + 12), 0x0800);
	/* No gateway: unreachable, counted. */
	stk->cfg.gateway = 0;
	assert_int_equal(icmp_echo_request(stk, 0x08080808, 1, 1, NULL, 0), -EHOSTUNREACH);
	assert_int_equal(CNT(stk, drop_ip_no_route), 1);
	stk->cfg.gateway = PEER_IP;
	/* The pending entry for .5 holds one packet until it gives up. */
	for (uint64_t t = SEC; t <= 10 * SEC; t += SEC / 2)
		stk_run_timers(stk, t);
	assert_int_equal(CNT(stk, drop_arp_unresolved), 1);
}

static void ids_and_fields(void **state)
{
	uint8_t a[128], b[128];
	(void)state;
	icmp_echo_request(stk, PEER_IP, 1, 1, NULL, 0);
	icmp_echo_request(stk, PEER_IP, 1, 2, NULL, 0);
	assert_int_equal(take(stk, a, sizeof(a)), 42);
	assert_int_equal(take(stk, b, sizeof(b)), 42);
	assert_int_not_equal(get16(a + 18), get16(b + 18));
	assert_int_equal(get16(a + 20), 0); /* DF off, not a fragment */
	assert_int_equal(a[22], 64);
	assert_int_equal(ref_csum(a + 14, 20, 0), 0);
}

static void fragments_at_small_mtu(void **state)
{
	static uint8_t payload[1000];
	uint8_t out[2048];
	size_t next = 0;
	long n;
	(void)state;
	stk->cfg.mtu = 576;
	assert_int_equal(icmp_echo_request(stk, PEER_IP, 9, 9, payload, sizeof(payload)), 0);
	/* 1008 bytes of ICMP in 552-byte pieces: 552 + 456. */
	while ((n = take(stk, out, sizeof(out))) > 0) {
		uint16_t fo = get16(out + 20);
		assert_true(n <= 14 + 576);
		assert_int_equal((size_t)(fo & 0x1fff) * 8, next);
		next += get16(out + 16) - 20u;
		assert_int_equal(!!(fo & 0x2000), next < 1008);
	}
	assert_int_equal(next, 1008);
	assert_int_equal(CNT(stk, ip_frags_out), 2);
	stk->cfg.mtu = 1500;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(malformed_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(options_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(routing, setup, teardown),
		cmocka_unit_test_setup_teardown(ids_and_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(fragments_at_small_mtu, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
