/* SACK (RFC 2018, 2883, 6675), congestion control selection and the tail
 * loss probe (RFC 8985), segment by segment against one stack: the peer is
 * played by hand-made segments, what the stack sends is decoded here,
 * independently of the code under test. */
#include "tcp_test.h"

#include "tcp/tcp_int.h"

#define PEER_ISS 5000u

/* The SACK blocks of a frame the stack sent (kind 5), in order; how many. */
static int frame_sack(const uint8_t *f, uint32_t blk[][2])
{
	const uint8_t *t = f + 14 + (size_t)(f[14] & 15) * 4;
	size_t hl = (size_t)(t[12] >> 4) * 4;
	int n = 0;

	for (size_t i = 20; i < hl;) {
		if (t[i] == 0)
			break;
		if (t[i] == 1) {
			i++;
			continue;
		}
		if (t[i] == 5)
			for (size_t b = i + 2; b < i + t[i + 1]; b += 8, n++) {
				blk[n][0] = get32(t + b);
				blk[n][1] = get32(t + b + 4);
			}
		i += t[i + 1];
	}
	return n;
}

/* The last TCP frame the stack queued (others are dropped); its SACK
 * blocks in blk; -1 when none was queued. */
static int last_sack(struct ust_stack *stk, struct tseg *s, uint32_t blk[][2])
{
	uint8_t f[2200], last[2200];
	long n, have = -1;

	while ((n = take(stk, f, sizeof(f))) >= 0) {
		if (n >= 54 && get16(f + 12) == 0x0800 && f[23] == 6) {
			memcpy(last, f, (size_t)n);
			have = n;
		}
	}
	if (have < 0)
		return -1;
	decode_tcp(last, (size_t)have, s);
	return frame_sack(last, blk);
}

/* Passive open with the options Linux offers (MSS, SACK, TS, WS). */
static struct tcb *open_sack(struct ust_stack *stk, struct tcb **lp, uint32_t *iss, int ts)
{
	struct tseg in, out;
	struct tcb *l = tcp_tcb_new(stk, NULL), *c;

	assert_int_equal(tcp_bind(stk, l, 0, 80), 0);
	assert_int_equal(tcp_listen(stk, l, 8), 0);
	tseg_init(&in, PEER_ISS, 0, F_SYN);
	in.mss = 1460;
	in.sack_ok = 1;
	in.wscale = 7;
	in.has_ts = ts;
	in.tsval = 100;
	send_seg(stk, &in, 0);
	assert_int_equal(take_seg(stk, &out), 0);
	assert_int_equal(out.flags, F_SYN | F_ACK);
	assert_true(out.sack_ok);  /* RFC 2018 2: offered back */
	*iss = out.seq;
	tseg_init(&in, PEER_ISS + 1, *iss + 1, F_ACK);
	in.wnd = 1000;
	in.has_ts = ts;
	in.tsval = 101;
	in.tsecr = out.tsval;
	send_seg(stk, &in, 0);
	c = tcp_accept(stk, l);
	assert_non_null(c);
	assert_true(c->flags & TF_SACK);
	*lp = l;
	return c;
}

static void data_seg(struct ust_stack *stk, uint32_t iss, uint32_t off, uint32_t len, int ts,
                     uint64_t now)
{
	struct tseg in;

	tseg_init(&in, PEER_ISS + 1 + off, iss + 1, F_ACK);
	in.wnd = 1000;
	in.len = len;
	memset(in.data, 'a' + (int)(off / 1000) % 26, len);
	in.has_ts = ts;
	in.tsval = 200 + (uint32_t)(now / 1000);
	send_seg(stk, &in, now);
}

static void no_sack_without_offer(void **state)
{
	struct ust_stack *stk = stack();
	struct tseg in, out;
	struct tcb *l = tcp_tcb_new(stk, NULL);
	(void)state;
	assert_int_equal(tcp_bind(stk, l, 0, 80), 0);
	assert_int_equal(tcp_listen(stk, l, 8), 0);
	tseg_init(&in, PEER_ISS, 0, F_SYN);
	in.mss = 1460;
	send_seg(stk, &in, 0);
	assert_int_equal(take_seg(stk, &out), 0);
	assert_false(out.sack_ok);  /* never offered unasked */
	tcp_close(stk, l);
	stk_destroy(stk);
}

/* RFC 2018 4: the first block holds the most recent segment; with
 * timestamps 3 blocks fit, without them 4. */
static void blocks_most_recent_first(void **state)
{
	for (int ts = 1; ts >= 0; ts--) {
		struct ust_stack *stk = stack();
		struct tcb *l, *c;
		struct tseg out;
		uint32_t iss, blk[8][2], b = PEER_ISS + 1;
		(void)state;
		c = open_sack(stk, &l, &iss, ts);
		drain(stk);
		data_seg(stk, iss, 1000, 100, ts, 1000);
		assert_int_equal(last_sack(stk, &out, blk), 1);
		assert_int_equal(out.ack, b);
		assert_int_equal(blk[0][0], b + 1000);
		assert_int_equal(blk[0][1], b + 1100);
		data_seg(stk, iss, 3000, 100, ts, 2000);
		data_seg(stk, iss, 5000, 100, ts, 3000);
		data_seg(stk, iss, 7000, 100, ts, 4000);
		data_seg(stk, iss, 2000, 100, ts, 5000);
		assert_int_equal(last_sack(stk, &out, blk), ts ? 3 : 4);
		assert_int_equal(blk[0][0], b + 2000);  /* the latest */
		assert_int_equal(blk[1][0], b + 7000);  /* then the most recently reported */
		assert_int_equal(blk[2][0], b + 5000);
		if (!ts)
			assert_int_equal(blk[3][0], b + 3000);
		/* Adjacent segments merge into one block. */
		data_seg(stk, iss, 1100, 900, ts, 6000);
		assert_true(last_sack(stk, &out, blk) >= 1);
		assert_int_equal(blk[0][0], b + 1000);
		assert_int_equal(blk[0][1], b + 2100);
		/* The first hole filled: ACKed up to the next one; the blocks
		 * still held, most recently reported first. */
		data_seg(stk, iss, 0, 1000, ts, 7000);
		assert_int_equal(last_sack(stk, &out, blk), 3);
		assert_int_equal(out.ack, b + 2100);
		assert_int_equal(blk[0][0], b + 7000);
		assert_int_equal(blk[1][0], b + 5000);
		assert_int_equal(blk[2][0], b + 3000);
		tcp_close(stk, c);
		tcp_close(stk, l);
		stk_destroy(stk);
	}
}

/* RFC 2883 4: a duplicate is reported in a first block below the ACK. */
static void dsack_for_duplicate(void **state)
{
	struct ust_stack *stk = stack();
	struct tcb *l, *c;
	struct tseg out;
	uint32_t iss, blk[8][2], b = PEER_ISS + 1;
	(void)state;
	c = open_sack(stk, &l, &iss, 1);
	data_seg(stk, iss, 0, 500, 1, 1000);
	drain(stk);
	data_seg(stk, iss, 0, 500, 1, 2000);  /* again */
	assert_int_equal(last_sack(stk, &out, blk), 1);
	assert_int_equal(out.ack, b + 500);
	assert_int_equal(blk[0][0], b);
	assert_int_equal(blk[0][1], b + 500);
	assert_int_equal(CNT(stk, tcp_dsack_sent), 1);
	/* Reported once: the next ACK has no block. */
	data_seg(stk, iss, 500, 100, 1, 3000);
	tcp_get_info(stk, c, &(struct tcp_info_lite){0});
	stk_run_timers(stk, 3000 + 100000);
	assert_int_equal(last_sack(stk, &out, blk), 0);
	tcp_close(stk, c);
	tcp_close(stk, l);
	stk_destroy(stk);
}

/* The sender: a SACK block above SND.UNA makes the hole below it lost
 * once a reordering window (SRTT/4, at least 1 ms) has passed without it
 * filling (RFC 8985 6.2), without waiting for three duplicate ACKs; the
 * retransmission is the hole only, and the SACKed segments are never sent
 * again. */
static void sender_recovers_from_sack(void **state)
{
	struct ust_stack *stk = stack();
	struct tcb *l, *c;
	struct tseg in, out;
	static uint8_t data[8 * 1448];
	uint32_t iss, seg = 1448;
	(void)state;
	c = open_sack(stk, &l, &iss, 1);
	drain(stk);
	assert_int_equal(tcp_send(stk, c, data, sizeof(data), 0), (long)sizeof(data));
	for (int i = 0; i < 8; i++) {
		assert_int_equal(take_seg(stk, &out), 0);
		assert_int_equal(out.len, seg);
	}
	/* Segment 0 lost; 1..3 arrive: one ACK with one block. */
	tseg_init(&in, PEER_ISS + 1, iss + 1, F_ACK);
	in.wnd = 1000;
	in.has_ts = 1;
	in.tsval = 300;
	{
		uint8_t f[2200];
		size_t n = mk_tcp(f, &in);
		/* append NOP NOP SACK(10) [iss+1+seg, iss+1+4seg) to the options */
		uint8_t *t = f + 14 + 20;
		size_t hl = (size_t)(t[12] >> 4) * 4;
		uint8_t opt[12] = {1, 1, 5, 10};
		put32(opt + 4, iss + 1 + seg);
		put32(opt + 8, iss + 1 + 4 * seg);
		memmove(t + hl + 12, t + hl, n - 34 - hl);
		memcpy(t + hl, opt, 12);
		t[12] = (uint8_t)(((hl + 12) / 4) << 4);
		n += 12;
		put16(f + 14 + 2, (uint16_t)(n - 14));
		put16(f + 14 + 10, 0);
		put16(f + 14 + 10, ref_csum(f + 14, 20, 0));
		put16(t + 16, 0);
		put16(t + 16, ref_csum(t, n - 34, pseudo_sum(PEER_IP, US_IP, 6, (uint16_t)(n - 34))));
		feed(stk, f, n, 1000);
	}
	assert_int_equal(CNT(stk, tcp_sack_recovery), 0);  /* reordering, perhaps */
	assert_int_equal(c->tkind, TK_RACK);
	expect_none(stk);
	stk_run_timers(stk, c->t_main);
	assert_int_equal(CNT(stk, tcp_sack_recovery), 1);
	assert_int_equal(take_seg(stk, &out), 0);
	assert_int_equal(out.seq, iss + 1);  /* the hole */
	assert_int_equal(out.len, seg);
	assert_int_equal(CNT(stk, tcp_retransmits), 1);
	assert_true(c->flags & TF_SACKREC);
	/* pipe: 4 unSACKed segments above the block, plus the resent one */
	assert_int_equal(tcp_sack_pipe(c), 5 * seg);
	while (take_seg(stk, &out) == 0)
		assert_true(seq_ge(out.seq, iss + 1 + 8 * seg));  /* only new data */
	tcp_close(stk, c);
	tcp_close(stk, l);
	stk_destroy(stk);
}

/* TCP_CONGESTION: Linux's names; the default is cubic. */
static void congestion_names(void **state)
{
	struct ust_stack *stk = stack();
	struct tcb *t = tcp_tcb_new(stk, NULL);
	(void)state;
	assert_string_equal(tcp_get_congestion(t), "cubic");
	assert_int_equal(tcp_set_congestion(t, "reno"), 0);
	assert_string_equal(tcp_get_congestion(t), "reno");
	assert_int_equal(tcp_set_congestion(t, "bbr"), -ENOENT);
	assert_string_equal(tcp_get_congestion(t), "reno");
	assert_int_equal(tcp_set_congestion(t, "cubic"), 0);
	assert_string_equal(tcp_get_congestion(t), "cubic");
	tcp_close(stk, t);
	stk_destroy(stk);
}

/* RFC 8985 7: with the whole tail unanswered, a probe (the last segment
 * again) goes out after the PTO, well before the RTO. */
static void tail_loss_probe(void **state)
{
	struct ust_stack *stk = stack();
	struct tcb *l, *c;
	struct tseg out;
	static uint8_t data[4 * 1448];
	uint32_t iss;
	uint64_t pto;
	(void)state;
	c = open_sack(stk, &l, &iss, 1);
	drain(stk);
	assert_int_equal(tcp_send(stk, c, data, sizeof(data), 0), (long)sizeof(data));
	assert_int_equal(drain(stk), 4);
	assert_int_equal(c->tkind, TK_TLP);
	pto = c->t_main;
	assert_true(pto < stk->now + tcp_rto(c, tcp_conf(stk)));
	stk_run_timers(stk, pto);
	assert_int_equal(take_seg(stk, &out), 0);
	assert_int_equal(out.seq, iss + 1 + 3 * 1448);
	assert_int_equal(out.len, 1448);
	assert_int_equal(CNT(stk, tcp_tlp), 1);
	assert_int_equal(c->tkind, TK_REXMIT);  /* one probe, then the RTO */
	tcp_close(stk, c);
	tcp_close(stk, l);
	stk_destroy(stk);
}

/* A second timeout of the same segment keeps the ssthresh and CUBIC's
 * W_max of the first (RFC 5681 3.1, RFC 9438 4.6): computed again from
 * the one-segment loss window, they would collapse to their minimum. */
static void rto_twice_keeps_ssthresh(void **state)
{
	struct ust_stack *stk = stack();
	struct tcb *l, *c;
	static uint8_t data[8 * 1448];
	uint32_t iss, smss, ss;
	double w_max;
	(void)state;
	c = open_sack(stk, &l, &iss, 1);
	drain(stk);
	smss = tcp_cc_smss(c);
	assert_string_equal(tcp_get_congestion(c), "cubic");
	assert_int_equal(tcp_send(stk, c, data, sizeof(data), 0), (long)sizeof(data));
	assert_int_equal(drain(stk), 8);
	while (CNT(stk, tcp_rto) == 0) {  /* the probe, then the RTO */
		stk_run_timers(stk, c->t_main);
		drain(stk);
	}
	ss = c->ssthresh;
	assert_non_null(c->lx);
	w_max = c->lx->w_max;
	assert_int_equal(c->cwnd, smss);
	assert_true(ss >= 5 * smss);  /* 0.7 of the 8 segments in flight */
	assert_true(w_max >= 8.0);
	stk_run_timers(stk, c->t_main);
	drain(stk);
	assert_int_equal(CNT(stk, tcp_rto), 2);
	assert_int_equal(c->cwnd, smss);
	assert_int_equal(c->ssthresh, ss);
	assert_true(c->lx->w_max == w_max);
	tcp_close(stk, c);
	tcp_close(stk, l);
	stk_destroy(stk);
}

/* The side structure is only there once loss or reordering was seen. */
static void lossx_lazy(void **state)
{
	struct ust_stack *stk = stack();
	struct tcb *l, *c;
	uint32_t iss;
	(void)state;
	c = open_sack(stk, &l, &iss, 1);
	data_seg(stk, iss, 0, 500, 1, 1000);
	assert_null(c->lx);
	data_seg(stk, iss, 1000, 500, 1, 2000);
	assert_non_null(c->lx);
	printf("sizeof(struct tcb) = %zu, side structure %zu bytes\n", sizeof(struct tcb),
	       sizeof(struct tcp_lossx));
	tcp_close(stk, c);
	tcp_close(stk, l);
	stk_destroy(stk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(no_sack_without_offer),
		cmocka_unit_test(blocks_most_recent_first),
		cmocka_unit_test(dsack_for_duplicate),
		cmocka_unit_test(sender_recovers_from_sack),
		cmocka_unit_test(congestion_names),
		cmocka_unit_test(tail_loss_probe),
		cmocka_unit_test(lossx_lazy),
		cmocka_unit_test(rto_twice_keeps_ssthresh),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
