/* Pure pieces of TCP: sequence-space comparisons, the segment parser, and
 * the connection table growing by incremental migration while it stays
 * correct for every entry at every step. */
#include "tcp_test.h"

#include "tcp/tcp_int.h"

static void seq_math(void **state)
{
	(void)state;
	assert_true(seq_lt(1, 2));
	assert_true(seq_lt(0xfffffff0u, 5));   /* wraps */
	assert_false(seq_lt(5, 0xfffffff0u));
	assert_true(seq_le(7, 7));
	assert_true(seq_gt(0x10, 0xffffff00u));
	assert_true(seq_ge(3, 3));
	assert_true(seq_in(0xffffffffu, 0xfffffff0u, 0x10));
	assert_false(seq_in(0x10, 0xfffffff0u, 0x10));
}

static void parser(void **state)
{
	uint8_t f[200];
	struct tseg s;
	struct tcp_seg seg;
	size_t n;
	(void)state;
	tseg_init(&s, 0x01020304, 0x05060708, F_SYN);
	s.mss = 1400;
	s.wscale = 9;
	s.has_ts = 1;
	s.tsval = 77;
	s.tsecr = 88;
	s.sack_ok = 1;
	n = mk_tcp(f, &s);
	assert_int_equal(tcp_parse(f + 34, n - 34, PEER_IP, US_IP, 0, &seg), 0);
	assert_int_equal(seg.seq, 0x01020304);
	assert_int_equal(seg.ack, 0x05060708);
	assert_int_equal(seg.flags, TH_SYN);
	assert_int_equal(seg.mss, 1400);
	assert_int_equal(seg.wscale, 9);
	assert_int_equal(seg.sack_ok, 1);
	assert_int_equal(seg.has_ts, 1);
	assert_int_equal(seg.tsval, 77);
	assert_int_equal(seg.tsecr, 88);
	assert_int_equal(seg.len, 0);
	/* A wrong pseudo-header address is a checksum failure. */
	assert_int_equal(tcp_parse(f + 34, n - 34, PEER_IP + 1, US_IP, 0, &seg), CNT_drop_tcp_checksum);
	/* Too short, and an option running past the header. */
	assert_int_equal(tcp_parse(f + 34, 19, PEER_IP, US_IP, 0, &seg), CNT_drop_tcp_short);
	tseg_init(&s, 1, 0, F_SYN);
	s.mss = 1;
	n = mk_tcp(f, &s);
	f[34 + 21] = 9;  /* MSS option length 9 > header */
	put16(f + 34 + 16, 0);
	put16(f + 34 + 16, ref_csum(f + 34, n - 34, pseudo_sum(PEER_IP, US_IP, 6, (uint16_t)(n - 34))));
	assert_int_equal(tcp_parse(f + 34, n - 34, PEER_IP, US_IP, 0, &seg), CNT_drop_tcp_options);
	/* Window scale above 14 is taken as 14 (RFC 7323 2.3). */
	tseg_init(&s, 1, 0, F_SYN);
	s.wscale = 20;
	n = mk_tcp(f, &s);
	assert_int_equal(tcp_parse(f + 34, n - 34, PEER_IP, US_IP, 0, &seg), 0);
	assert_int_equal(seg.wscale, 14);
}

/* 300k connections into a table that starts at 1024 buckets: it doubles
 * nine times, a few buckets moved per insert; every entry is found
 * throughout, and removals leave the rest intact. */
static void table_grows_incrementally(void **state)
{
	struct ust_stack *stk = mkstack(0);
	const uint32_t n = 300000;
	struct tcb **t = calloc(n, sizeof(*t));
	unsigned migrations_seen = 0;
	(void)state;
	assert_non_null(t);
	for (uint32_t i = 0; i < n; i++) {
		t[i] = tcp_tcb_alloc(stk);
		assert_non_null(t[i]);
		t[i]->laddr = US_IP;
		t[i]->lport = 80;
		t[i]->raddr = 0x0b000000u + (i >> 10);
		t[i]->rport = (uint16_t)(1024 + (i & 1023));
		assert_int_equal(tcp_ct_insert(stk, t[i]), 0);
		if (stk->tcp->ct.old)
			migrations_seen++;
		/* Spot checks while old and new tables coexist. */
		if ((i & 1023) == 0)
			for (uint32_t j = 0; j <= i; j += 97)
				assert_ptr_equal(tcp_ct_lookup(stk, US_IP, 80, t[j]->raddr, t[j]->rport), t[j]);
	}
	assert_true(migrations_seen > 0);
	assert_int_equal(tcp_conn_count(stk), n);
	assert_int_equal(tcp_ct_insert(stk, t[5]), -EADDRINUSE);
	printf("table: %u entries, %u buckets, incremental migration during %u inserts\n", n,
	       stk->tcp->ct.cur_mask + 1, migrations_seen);
	for (uint32_t i = 0; i < n; i += 2)
		tcp_ct_remove(stk, t[i]);
	for (uint32_t i = 0; i < n; i++) {
		struct tcb *f = tcp_ct_lookup(stk, US_IP, 80, t[i]->raddr, t[i]->rport);
		assert_ptr_equal(f, (i & 1) ? t[i] : NULL);
	}
	assert_null(tcp_ct_lookup(stk, US_IP, 81, t[1]->raddr, t[1]->rport));
	for (uint32_t i = 1; i < n; i += 2)
		tcp_ct_remove(stk, t[i]);
	assert_int_equal(tcp_conn_count(stk), 0);
	for (uint32_t i = 0; i < n; i++)
		free(t[i]);
	free(t);
	stk_destroy(stk);
}

/* An idle established connection holds no buffer: only its TCB. */
static void idle_holds_no_buffers(void **state)
{
	struct pair pr;
	struct tcb *l, *c, *s;
	char buf[4];
	(void)state;
	pair_init(&pr);
	l = tcp_tcb_new(pr.b, NULL);
	tcp_bind(pr.b, l, 0, 80);
	tcp_listen(pr.b, l, 4);
	c = tcp_tcb_new(pr.a, NULL);
	tcp_connect(pr.a, c, PEER_IP, 80);
	pair_advance(&pr, SEC);
	s = tcp_accept(pr.b, l);
	assert_non_null(s);
	pr.a->now = pr.now;
	assert_int_equal(tcp_send(pr.a, c, "abc", 3, 0), 3);
	assert_non_null(c->sb);
	pair_advance(&pr, 2 * SEC);
	pr.b->now = pr.now;
	assert_int_equal(tcp_recv(pr.b, s, buf, sizeof(buf), 0), 3);
	assert_null(c->sb);      /* acknowledged: send buffer freed */
	assert_null(s->rb);      /* read: receive buffer freed */
	assert_null(tcp_ooo_head(s));
	printf("idle established connection: %zu bytes (TCB) + its hash bucket share\n",
	       tcp_tcb_size());
	tcp_close(pr.a, c);
	tcp_close(pr.b, s);
	tcp_close(pr.b, l);
	pair_fini(&pr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(seq_math),
		cmocka_unit_test(parser),
		cmocka_unit_test(table_grows_incrementally),
		cmocka_unit_test(idle_holds_no_buffers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
