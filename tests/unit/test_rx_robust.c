/* The receive path against hostile input: valid frames of every kind with
 * random bytes flipped, random truncation and random fragments, seeded.
 * Nothing may crash (run it under ASan), every buffer must come back to the
 * pool, and the stack must still answer a ping afterwards. */
#include "core_test.h"

#include "core/icmp.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
	/* xorshift64*: reproducible, no libc state. */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 2685821657736338717ull) >> 32);
}

static size_t mk_any(uint8_t *f)
{
	static const uint8_t zero[6];
	uint8_t payload[1500];

	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)rnd();
	switch (rnd() % 5) {
	case 0:
		return mk_arp(f, rnd() & 1 ? bcast_mac : us_mac, (uint16_t)(1 + rnd() % 2), peer_mac,
		              PEER_IP + rnd() % 4, zero, US_IP - 1 + rnd() % 3);
	case 1:
		return mk_echo(f, (uint8_t)(rnd() % 2 ? 8 : rnd() % 20), 1, 2, rnd() % 1400,
		               PEER_IP, US_IP);
	case 2:
		return mk_udp(f, PEER_IP, rnd() % 4 ? US_IP : 0x0a4d00ff, 1000, (uint16_t)(rnd() % 8),
		              payload, rnd() % 1400);
	default: {
		size_t off = (rnd() % 16) * 8, n = 8 * (1 + rnd() % 100);
		return mk_frag(f, (uint16_t)(rnd() % 8), rnd() % 2 ? 1 : 17, off, rnd() % 3 != 0,
		               payload, n);
	}
	}
}

static void hostile_frames(void **state)
{
	static uint8_t f[2048];
	struct stk_config cfg;
	struct ust_stack *stk;
	struct udp_pcb pcb = {0};
	uint64_t now = 0;
	(void)state;
	stk_config_default(&cfg);
	cfg.pkt_pool_size = 1024;
	cfg.frag_max_datagrams = 8;
	cfg.frag_mem_max = 64 * sizeof(struct pkt);
	stk = mkstack_cfg(&cfg, 0);
	pcb.rcvbuf = 4096;
	assert_int_equal(udp_bind(stk, &pcb, 0, 3), 0);
	for (int i = 0; i < 50000; i++) {
		size_t n = mk_any(f);
		unsigned flips = rnd() % 4;
		for (unsigned k = 0; k < flips; k++)
			f[rnd() % n] ^= (uint8_t)(1u << (rnd() % 8));
		if (rnd() % 8 == 0)
			n = rnd() % (n + 1);
		feed(stk, f, n, now);
		now += rnd() % 2000;
		stk_run_timers(stk, now);
		drain(stk);
		if (pcb.rxq.count > 4) {
			uint32_t src;
			uint16_t sport;
			pkt_free_chain(udp_recv(&pcb, &src, &sport));
		}
	}
	print_message("after 50000 hostile frames: %llu replies, %llu reassembled, %llu overlaps,"
	              " %llu checksum drops\n",
	              (unsigned long long)CNT(stk, tx_icmp_echo_reply),
	              (unsigned long long)CNT(stk, ip_reassembled),
	              (unsigned long long)CNT(stk, drop_frag_overlap),
	              (unsigned long long)CNT(stk, drop_ip_checksum));
	assert_true(CNT(stk, tx_icmp_echo_reply) > 0);
	assert_true(CNT(stk, drop_ip_checksum) > 0);
	/* Still answering; then everything returns to the pool. */
	learn_peer(stk, now);
	feed(stk, f, mk_echo(f, 8, 1, 1, 56, PEER_IP, US_IP), now);
	assert_int_equal(drain(stk), 1);
	udp_unbind(stk, &pcb);
	stk_run_timers(stk, now + 120 * SEC);
	stk_run_timers(stk, now + 240 * SEC);
	assert_int_equal(stk->ip.frag_count, 0);
	assert_pool_full(stk);
	stk_destroy(stk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hostile_frames),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
