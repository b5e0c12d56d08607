/* IPv4 reassembly: in order, out of order, duplicates, overlaps, the memory
 * and count bounds, the timeout; an 8000-byte ping answered in fragments. */
#include "core_test.h"

#include "core/icmp.h"

#define BIG 8000

static uint8_t msg[BIG + 8];      /* the ICMP echo request being fragmented */
static uint8_t frame[2048];

static void mk_msg(size_t n, uint16_t seq)
{
	memset(msg, 0, 8);
	msg[0] = 8;
	put16(msg + 4, 0x4242);
	put16(msg + 6, seq);
	for (size_t i = 0; i < n; i++)
		msg[8 + i] = (uint8_t)(i * 31 + 7);
	put16(msg + 2, ref_csum(msg, 8 + n, 0));
}

static void send_frag(struct ust_stack *stk, uint16_t id, size_t off, size_t n, size_t total,
                      uint64_t now)
{
	feed(stk, frame, mk_frag(frame, id, 1, off, off + n < total, msg, n), now);
}

/* Collects the reply fragments and checks them against the request with
 * type 0 and a fixed checksum. */
static void check_reply(struct ust_stack *stk, size_t total)
{
	static uint8_t got[BIG + 8], want[BIG + 8];
	uint8_t out[2048];
	size_t next = 0;
	long n;
	uint16_t id = 0;
	int last = 0;

	memcpy(want, msg, total);
	want[0] = 0;
	put16(want + 2, 0);
	put16(want + 2, ref_csum(want, total, 0));
	while ((n = take(stk, out, sizeof(out))) > 0) {
		uint16_t fo = get16(out + 20);
		size_t len = get16(out + 16) - 20u;
		assert_false(last);
		assert_true(n <= 1514);
		assert_int_equal(ref_csum(out + 14, 20, 0), 0);
		assert_int_equal(get32(out + 26), US_IP);
		assert_int_equal(get32(out + 30), PEER_IP);
		assert_int_equal(fo & 0x4000, 0); /* DF off */
		if (next == 0)
			id = get16(out + 18);
		assert_int_equal(get16(out + 18), id);
		assert_int_equal((size_t)(fo & 0x1fff) * 8, next);
		memcpy(got + next, out + 34, len);
		next += len;
		last = !(fo & 0x2000);
		if (!last)
			assert_int_equal(len % 8, 0);
	}
	assert_true(last);
	assert_int_equal(next, total);
	assert_memory_equal(got, want, total);
}

static struct ust_stack *fresh(void)
{
	struct ust_stack *stk = mkstack(0);
	learn_peer(stk, 0);
	return stk;
}

static void in_order_8000(void **state)
{
	struct ust_stack *stk = fresh();
	size_t total = BIG + 8;
	(void)state;
	mk_msg(BIG, 1);
	for (size_t off = 0; off < total; off += 1480)
		send_frag(stk, 100, off, total - off < 1480 ? total - off : 1480, total, 1000);
	assert_int_equal(CNT(stk, ip_frags_in), 6);
	assert_int_equal(CNT(stk, ip_reassembled), 1);
	assert_int_equal(CNT(stk, tx_icmp_echo_reply), 1);
	assert_int_equal(stk->ip.frag_count, 0);
	assert_int_equal(stk->ip.frag_mem, 0);
	check_reply(stk, total);
	assert_int_equal(stk_next_deadline(stk) > 30 * SEC, 1); /* frag timer gone, ARP remains */
	assert_pool_full(stk);
	stk_destroy(stk);
}

static void out_of_order(void **state)
{
	struct ust_stack *stk = fresh();
	size_t total = 3000 + 8;
	static const size_t order[] = {2, 0, 3, 1}; /* 8-byte aligned cuts of 800 */
	(void)state;
	mk_msg(3000, 2);
	for (int i = 0; i < 4; i++) {
		size_t off = order[i] * 800;
		send_frag(stk, 7, off, total - off < 800 ? total - off : 800, total, 0);
		if (i < 3)
			assert_int_equal(stk->ip.frag_count, 1);
	}
	assert_int_equal(CNT(stk, ip_reassembled), 1);
	check_reply(stk, total);
	assert_pool_full(stk);
	stk_destroy(stk);
}

static void small_datagram_in_fragments(void **state)
{
	struct ust_stack *stk = fresh();
	(void)state;
	/* 1472 bytes cut in 3: reassembled into one buffer, answered unfragmented. */
	mk_msg(1464, 3);
	send_frag(stk, 9, 1000, 472, 1472, 0);
	send_frag(stk, 9, 0, 496, 1472, 0);
	send_frag(stk, 9, 496, 504, 1472, 0);
	assert_int_equal(CNT(stk, ip_reassembled), 1);
	check_reply(stk, 1472);
	assert_pool_full(stk);
	stk_destroy(stk);
}

static void duplicate_kept_once(void **state)
{
	struct ust_stack *stk = fresh();
	(void)state;
	mk_msg(100, 4);
	send_frag(stk, 5, 0, 56, 108, 0);
	send_frag(stk, 5, 0, 56, 108, 0);
	assert_int_equal(CNT(stk, drop_frag_dup), 1);
	send_frag(stk, 5, 56, 52, 108, 0);
	assert_int_equal(CNT(stk, ip_reassembled), 1);
	check_reply(stk, 108);
	assert_pool_full(stk);
	stk_destroy(stk);
}

static void overlap_drops_datagram(void **state)
{
	struct ust_stack *stk = fresh();
	(void)state;
	mk_msg(100, 5);
	/* [0,56) then [48,108): overlapping bytes 48..55 */
	send_frag(stk, 6, 0, 56, 108, 0);
	send_frag(stk, 6, 48, 60, 108, 0);
	assert_int_equal(CNT(stk, drop_frag_overlap), 1);
	assert_int_equal(stk->ip.frag_count, 0);
	/* The rest starts a new reassembly that never completes. */
	send_frag(stk, 6, 56, 52, 108, 0);
	assert_int_equal(CNT(stk, ip_reassembled), 0);
	assert_int_equal(drain(stk), 0);
	/* Overlap from before: a fragment ending inside the one held. */
	send_frag(stk, 6, 48, 16, 108, 0);
	assert_int_equal(CNT(stk, drop_frag_overlap), 2);
	assert_int_equal(stk->ip.frag_count, 0);
	/* A second "last" fragment with another length is inconsistent. */
	send_frag(stk, 8, 56, 52, 108, 0);
	feed(stk, frame, mk_frag(frame, 8, 1, 64, 0, msg, 8), 0);
	assert_int_equal(CNT(stk, drop_frag_bad), 1);
	assert_int_equal(stk->ip.frag_count, 0);
	assert_pool_full(stk);
	stk_destroy(stk);
}

static void memory_bound(void **state)
{
	struct stk_config cfg;
	struct ust_stack *stk;
	size_t total = BIG + 8;
	(void)state;
	stk_config_default(&cfg);
	cfg.pkt_pool_size = 256;
	cfg.frag_mem_max = 3 * sizeof(struct pkt);
	stk = mkstack_cfg(&cfg, 0);
	learn_peer(stk, 0);
	mk_msg(BIG, 6);
	for (size_t off = 0; off < 4 * 1480; off += 1480)
		send_frag(stk, 11, off, 1480, total, 0);
	assert_int_equal(CNT(stk, drop_frag_mem), 1);
	assert_int_equal(stk->ip.frag_count, 0);
	assert_int_equal(stk->ip.frag_mem, 0);
	assert_int_equal(drain(stk), 0);
	assert_pool_full(stk);
	stk_destroy(stk);
}

static void count_bound(void **state)
{
	struct stk_config cfg;
	struct ust_stack *stk;
	(void)state;
	stk_config_default(&cfg);
	cfg.pkt_pool_size = 256;
	cfg.frag_max_datagrams = 2;
	stk = mkstack_cfg(&cfg, 0);
	learn_peer(stk, 0);
	mk_msg(100, 7);
	send_frag(stk, 1, 0, 56, 108, 0);
	send_frag(stk, 2, 0, 56, 108, 0);
	send_frag(stk, 3, 0, 56, 108, 0);
	assert_int_equal(CNT(stk, drop_frag_table_full), 1);
	assert_int_equal(stk->ip.frag_count, 2);
	/* The ones held still complete. */
	send_frag(stk, 2, 56, 52, 108, 0);
	assert_int_equal(CNT(stk, ip_reassembled), 1);
	drain(stk);
	stk_destroy(stk);
}

static void timeout(void **state)
{
	struct ust_stack *stk = fresh();
	(void)state;
	mk_msg(100, 8);
	send_frag(stk, 12, 0, 56, 108, 1 * SEC);
	assert_int_equal(stk->ip.frag_count, 1);
	assert_true(stk_next_deadline(stk) <= 31 * SEC);
	stk_run_timers(stk, 31 * SEC - 1000);
	assert_int_equal(stk->ip.frag_count, 1);
	stk_run_timers(stk, 31 * SEC);
	assert_int_equal(stk->ip.frag_count, 0);
	assert_int_equal(CNT(stk, ip_frag_timeouts), 1);
	/* The late second half starts anew and waits in its turn. */
	send_frag(stk, 12, 56, 52, 108, 32 * SEC);
	assert_int_equal(CNT(stk, ip_reassembled), 0);
	stk_run_timers(stk, 62 * SEC);
	assert_int_equal(CNT(stk, ip_frag_timeouts), 2);
	assert_int_equal(drain(stk), 0);
	assert_pool_full(stk);
	stk_destroy(stk);
}

static void fifty_in_flight_at_destroy(void **state)
{
	struct ust_stack *stk = fresh();
	(void)state;
	mk_msg(100, 9);
	for (uint16_t id = 0; id < 50; id++)
		send_frag(stk, id, 0, 56, 108, 0);
	assert_int_equal(stk->ip.frag_count, 50);
	stk_destroy(stk); /* ASan: nothing may leak */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(in_order_8000),
		cmocka_unit_test(out_of_order),
		cmocka_unit_test(small_datagram_in_fragments),
		cmocka_unit_test(duplicate_kept_once),
		cmocka_unit_test(overlap_drops_datagram),
		cmocka_unit_test(memory_bound),
		cmocka_unit_test(count_bound),
		cmocka_unit_test(timeout),
		cmocka_unit_test(fifty_in_flight_at_destroy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
