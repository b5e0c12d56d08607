/* ICMP: echo replies byte for byte (small and 1472-byte payloads), echo
 * replies counted, errors in, malformed messages counted. */
#include "core_test.h"

#include "core/icmp.h"

/* The reply the stack must send for mk_echo(..., n, PEER_IP, US_IP): same
 * id, seq and data, type 0, our addresses, the IP id the stack chose. */
static size_t expected_reply(uint8_t *b, uint16_t id, uint16_t seq, size_t n, uint16_t ip_id)
{
	size_t len = mk_echo(b, 0, id, seq, n, US_IP, PEER_IP);
	mk_eth(b, peer_mac, us_mac, 0x0800);
	mk_ip(b + 14, (uint16_t)(20 + 8 + n), ip_id, 0, 64, 1, US_IP, PEER_IP);
	return len;
}

static void echo_exact(size_t n)
{
	static uint8_t in[1600], out[1600], want[1600];
	struct ust_stack *stk = mkstack(0);
	long got;
	learn_peer(stk, 0);
	drain(stk);
	feed(stk, in, mk_echo(in, 8, 0xbeef, 42, n, PEER_IP, US_IP), 1000);
	got = take(stk, out, sizeof(out));
	assert_int_equal(got, (long)expected_reply(want, 0xbeef, 42, n, get16(out + 18)));
	assert_memory_equal(out, want, (size_t)got);
	/* The reply's checksums verify on their own too. */
	assert_int_equal(ref_csum(out + 14, 20, 0), 0);
	assert_int_equal(ref_csum(out + 34, 8 + n, 0), 0);
	assert_int_equal(take(stk, out, sizeof(out)), -1);
	assert_int_equal(CNT(stk, rx_icmp), 1);
	assert_int_equal(CNT(stk, tx_icmp_echo_reply), 1);
	stk_destroy(stk);
}

static void echo_small(void **state) { (void)state; echo_exact(56); }
static void echo_empty(void **state) { (void)state; echo_exact(0); }
static void echo_odd(void **state) { (void)state; echo_exact(57); }
static void echo_1472(void **state) { (void)state; echo_exact(1472); }

static void echo_padded_frame(void **state)
{
	uint8_t in[128], out[128], want[128];
	struct ust_stack *stk = mkstack(0);
	size_t n;
	long got;
	(void)state;
	learn_peer(stk, 0);
	/* A 14+28-byte frame padded to 60 by Ethernet: the padding is not
	 * part of the datagram and must not be echoed. */
	n = mk_echo(in, 8, 1, 1, 0, PEER_IP, US_IP);
	memset(in + n, 0xee, 60 - n);
	feed(stk, in, 60, 0);
	got = take(stk, out, sizeof(out));
	assert_int_equal(got, (long)expected_reply(want, 1, 1, 0, get16(out + 18)));
	assert_memory_equal(out, want, n);
	stk_destroy(stk);
}

static void echo_reply_counted(void **state)
{
	uint8_t in[128];
	struct ust_stack *stk = mkstack(0);
	(void)state;
	learn_peer(stk, 0);
	feed(stk, in, mk_echo(in, 0, 5, 6, 10, PEER_IP, US_IP), 0);
	assert_int_equal(CNT(stk, rx_icmp_echo_reply), 1);
	assert_int_equal(drain(stk), 0);
	stk_destroy(stk);
}

static void echo_request_out(void **state)
{
	uint8_t out[256], want[256];
	struct ust_stack *stk = mkstack(0);
	long n;
	(void)state;
	learn_peer(stk, 0);
	assert_int_equal(icmp_echo_request(stk, PEER_IP, 0x1111, 7, "\x00\x01\x02\x03\x04", 5), 0);
	n = take(stk, out, sizeof(out));
	mk_echo(want, 8, 0x1111, 7, 5, US_IP, PEER_IP);
	mk_eth(want, peer_mac, us_mac, 0x0800);
	mk_ip(want + 14, 33, get16(out + 18), 0, 64, 1, US_IP, PEER_IP);
	assert_int_equal(n, 47);
	assert_memory_equal(out, want, 47);
	assert_int_equal(CNT(stk, tx_icmp_echo_request), 1);
	assert_int_equal(icmp_echo_request(stk, PEER_IP, 1, 1, NULL, 65508), -EMSGSIZE);
	stk_destroy(stk);
}

static void malformed(void **state)
{
	uint8_t in[128];
	struct ust_stack *stk = mkstack(0);
	size_t n;
	(void)state;
	learn_peer(stk, 0);
	n = mk_echo(in, 8, 1, 1, 8, PEER_IP, US_IP);
	in[n - 1] ^= 1;
	feed(stk, in, n, 0);
	assert_int_equal(CNT(stk, drop_icmp_checksum), 1);
	/* 4 bytes of ICMP in a valid IP datagram. */
	mk_echo(in, 8, 1, 1, 0, PEER_IP, US_IP);
	mk_ip(in + 14, 24, 1, 0, 64, 1, PEER_IP, US_IP);
	feed(stk, in, 38, 0);
	assert_int_equal(CNT(stk, drop_icmp_short), 1);
	/* Type 13 (timestamp) is not served. */
	n = mk_echo(in, 13, 1, 1, 12, PEER_IP, US_IP);
	feed(stk, in, n, 0);
	assert_int_equal(CNT(stk, drop_icmp_type), 1);
	/* An echo to the subnet broadcast is not answered. */
	n = mk_echo(in, 8, 1, 1, 8, PEER_IP, 0x0a4d00ff);
	feed(stk, in, n, 0);
	assert_int_equal(CNT(stk, drop_ip_not_for_us), 1);
	assert_int_equal(drain(stk), 0);
	stk_destroy(stk);
}

static void error_in(void **state)
{
	uint8_t in[128];
	uint8_t *ic = in + 34;
	struct ust_stack *stk = mkstack(0);
	(void)state;
	learn_peer(stk, 0);
	/* Port unreachable quoting a UDP datagram we sent. */
	mk_eth(in, us_mac, peer_mac, 0x0800);
	mk_ip(in + 14, 20 + 8 + 28, 9, 0, 64, 1, PEER_IP, US_IP);
	memset(ic, 0, 8);
	ic[0] = 3;
	ic[1] = 3;
	mk_ip(ic + 8, 40, 77, 0, 64, 17, US_IP, PEER_IP);
	memset(ic + 28, 0x11, 8);
	put16(ic + 2, ref_csum(ic, 36, 0));
	feed(stk, in, 14 + 56, 0);
	assert_int_equal(CNT(stk, rx_icmp_error), 1);
	/* A quote of somebody else's datagram is not ours to act on. */
	mk_ip(ic + 8, 40, 77, 0, 64, 17, PEER_IP, US_IP);
	put16(ic + 2, 0);
	put16(ic + 2, ref_csum(ic, 36, 0));
	feed(stk, in, 14 + 56, 0);
	assert_int_equal(CNT(stk, drop_icmp_quote), 1);
	/* A quote too short to hold a header and 8 bytes. */
	mk_ip(in + 14, 20 + 8 + 20, 9, 0, 64, 1, PEER_IP, US_IP);
	mk_ip(ic + 8, 40, 77, 0, 64, 17, US_IP, PEER_IP);
	put16(ic + 2, 0);
	put16(ic + 2, ref_csum(ic, 28, 0));
	feed(stk, in, 14 + 48, 0);
	assert_int_equal(CNT(stk, drop_icmp_quote), 2);
	assert_int_equal(CNT(stk, rx_icmp_error), 1);
	assert_int_equal(drain(stk), 0);
	stk_destroy(stk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(echo_small),
		cmocka_unit_test(echo_empty),
		cmocka_unit_test(echo_odd),
		cmocka_unit_test(echo_1472),
		cmocka_unit_test(echo_padded_frame),
		cmocka_unit_test(echo_reply_counted),
		cmocka_unit_test(echo_request_out),
		cmocka_unit_test(malformed),
		cmocka_unit_test(error_in),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
