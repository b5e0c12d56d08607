/* Hardening on virtual time (issue 7): RFC 5961 challenge ACKs and their
 * rate limit, RFC 6528 ISNs, RFC 6056 ephemeral ports, PAWS (RFC 7323 5),
 * SYN cookies (RFC 4987), RST and ICMP rate limits. The peer is the test
 * at 10.77.0.1:40000; we are 10.77.0.2. */
#include "tcp_test.h"

#include "core/udp.h"
#include "tcp/tcp_int.h"

#define PEER_ISS 1000u

/* Handshake from the peer; ts: offer timestamps (TSval ts_base). */
static struct tcb *open_conn(struct ust_stack *stk, struct tcb *l, uint32_t *iss, int ts,
                             uint64_t now)
{
	struct tseg in, out;
	struct tcb *c;

	tseg_init(&in, PEER_ISS, 0, F_SYN);
	in.mss = 1460;
	in.has_ts = ts;
	in.tsval = 100;
	send_seg(stk, &in, now);
	assert_int_equal(take_seg(stk, &out), 0);
	assert_int_equal(out.flags, F_SYN | F_ACK);
	*iss = out.seq;
	tseg_init(&in, PEER_ISS + 1, *iss + 1, F_ACK);
	in.has_ts = ts;
	in.tsval = 101;
	in.tsecr = out.tsval;
	send_seg(stk, &in, now);
	expect_none(stk);
	c = tcp_accept(stk, l);
	assert_non_null(c);
	assert_int_equal(tcp_state(c), TCPS_ESTABLISHED);
	return c;
}

/* RFC 5961 3.2: an RST in the window but not at RCV.NXT draws a challenge
 * ACK and changes nothing; at RCV.NXT it resets. */
static void rst_challenge(void **state)
{
	struct ust_stack *stk = stack();
	struct tcb *l = listener(stk, 80, 8), *c;
	struct tseg in, out;
	uint32_t iss;
	(void)state;
	c = open_conn(stk, l, &iss, 0, 0);
	tseg_init(&in, PEER_ISS + 1 + 500, 0, F_RST);
	send_seg(stk, &in, 10);
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_ACK, iss + 1, PEER_ISS + 1);
	assert_int_equal(tcp_state(c), TCPS_ESTABLISHED);
	assert_int_equal(CNT(stk, drop_tcp_rst_seq), 1);
	assert_int_equal(CNT(stk, tcp_challenge_acks), 1);
	/* Outside the window: dropped silently. */
	tseg_init(&in, PEER_ISS + 1 + 10000000, 0, F_RST);
	send_seg(stk, &in, 10);
	expect_none(stk);
	assert_int_equal(tcp_state(c), TCPS_ESTABLISHED);
	/* Exactly at RCV.NXT: reset. */
	tseg_init(&in, PEER_ISS + 1, 0, F_RST);
	send_seg(stk, &in, 10);
	assert_int_equal(tcp_state(c), TCPS_CLOSED);
	assert_int_equal(tcp_take_error(c), ECONNRESET);
	tcp_close(stk, c);
	tcp_close(stk, l);
	stk_destroy(stk);
}

/* RFC 5961 4.2 (SYN, any sequence number) and 5.2 (ACK outside
 * [SND.UNA - MAX.SND.WND, SND.NXT]): challenge ACK, segment dropped. */
static void syn_and_ack_challenge(void **state)
{
	struct ust_stack *stk = stack();
	struct tcb *l = listener(stk, 80, 8), *c;
	struct tseg in, out;
	uint32_t iss;
	(void)state;
	c = open_conn(stk, l, &iss, 0, 0);
	for (uint32_t seq = 0; seq < 3; seq++) {
		tseg_init(&in, PEER_ISS + 1 + seq * 0x40000000u, 0, F_SYN);
		send_seg(stk, &in, 10);
		assert_int_equal(take_seg(stk, &out), 0);
		expect_seg(&out, F_ACK, iss + 1, PEER_ISS + 1);
		assert_int_equal(tcp_state(c), TCPS_ESTABLISHED);
	}
	assert_int_equal(CNT(stk, drop_tcp_syn_in_sync), 3);
	/* Data with an ACK of bytes never sent: challenge, data not taken. */
	tseg_init(&in, PEER_ISS + 1, iss + 5000, F_ACK);
	in.len = 10;
	send_seg(stk, &in, 10);
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_ACK, iss + 1, PEER_ISS + 1);
	assert_int_equal(tcp_rx_bytes(c), 0);
	/* Far too old an ACK (before SND.UNA - MAX.SND.WND): the same. */
	tseg_init(&in, PEER_ISS + 1, iss + 1 - 70000 - 65535, F_ACK);
	in.len = 10;
	send_seg(stk, &in, 10);
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_ACK, iss + 1, PEER_ISS + 1);
	assert_int_equal(tcp_rx_bytes(c), 0);
	assert_int_equal(CNT(stk, drop_tcp_bad_ack), 2);
	/* A merely old ACK (within MAX.SND.WND) is fine: data taken. */
	tseg_init(&in, PEER_ISS + 1, iss + 1 - 1000, F_ACK);
	in.len = 10;
	send_seg(stk, &in, 10);
	assert_int_equal(tcp_rx_bytes(c), 10);
	drain(stk);
	tcp_close(stk, c);
	tcp_close(stk, l);
	stk_destroy(stk);
}

/* RFC 5961 7: at most challenge_ack_limit a second (drawn in [L/2, 3L/2)
 * as Linux), and the budget comes back the next second. */
static void challenge_ack_rate_limit(void **state)
{
	struct ust_stack *stk = stack();
	struct tcb *l = listener(stk, 80, 8), *c;
	struct tseg in;
	uint32_t iss;
	unsigned sent;
	(void)state;
	assert_int_equal(tcp_conf(stk)->challenge_ack_limit, 1000);
	tcp_conf(stk)->challenge_ack_limit = 100;
	c = open_conn(stk, l, &iss, 0, 0);
	for (int i = 0; i < 1000; i++) {
		tseg_init(&in, PEER_ISS + 2 + (uint32_t)i, 0, F_RST);
		send_seg(stk, &in, 5 * SEC + (uint64_t)i);
	}
	sent = drain(stk);
	printf("1000 in-window RSTs in one second: %u challenge ACKs, %llu limited\n", sent,
	       (unsigned long long)CNT(stk, tcp_challenge_ack_limited));
	assert_true(sent >= 50 && sent < 150);
	assert_int_equal(CNT(stk, tcp_challenge_acks), sent);
	assert_int_equal(CNT(stk, tcp_challenge_ack_limited), 1000 - sent);
	tseg_init(&in, PEER_ISS + 2, 0, F_RST);
	send_seg(stk, &in, 6 * SEC);
	assert_int_equal(drain(stk), 1);
	assert_int_equal(tcp_state(c), TCPS_ESTABLISHED);
	tcp_close(stk, c);
	drain(stk);
	tcp_close(stk, l);
	stk_destroy(stk);
}

/* RFC 6528: the 4-tuple hashed under the secret, plus 4 us ticks. */
static void isn_keyed_and_increasing(void **state)
{
	struct ust_stack *stk = stack();
	struct tcb t;
	uint32_t a, b, d;
	(void)state;
	memset(&t, 0, sizeof(t));
	t.laddr = US_IP;
	t.raddr = PEER_IP;
	t.lport = 80;
	t.rport = 40000;
	a = tcp_isn(stk, &t, 1000000);
	b = tcp_isn(stk, &t, 2000000);
	assert_int_equal(b - a, 250000);  /* one second is 250000 ticks */
	t.rport = 40001;
	d = tcp_isn(stk, &t, 1000000);
	/* a neighbouring tuple tells nothing: not a small offset away */
	assert_true(d - a > 1000000u && a - d > 1000000u);
	t.rport = 40000;
	tcp_conf(stk)->secret ^= 1;
	assert_true(tcp_isn(stk, &t, 1000000) != a);
	stk_destroy(stk);
}

static int cmp_u16(const void *x, const void *y)
{
	return (int)*(const uint16_t *)x - (int)*(const uint16_t *)y;
}

/* RFC 6056: ephemeral ports are neither sequential nor repeated, for TCP
 * connect and bind and for UDP. */
static void ephemeral_ports_random(void **state)
{
	struct ust_stack *stk = stack();
	enum { N = 200 };
	uint16_t ports[N];
	struct tcb *c[N];
	struct udp_pcb *u = calloc(N, sizeof(*u));
	int seq_steps = 0;
	(void)state;
	assert_non_null(u);
	for (int i = 0; i < N; i++) {
		uint32_t a;
		c[i] = tcp_tcb_new(stk, NULL);
		if (i % 2)
			assert_int_equal(tcp_connect(stk, c[i], PEER_IP, 80), 0);
		else
			assert_int_equal(tcp_bind(stk, c[i], 0, 0), 0);
		tcp_local_addr(c[i], &a, &ports[i]);
		assert_true(ports[i] >= 32768 && ports[i] <= 60999);
		if (i && (uint16_t)(ports[i] - ports[i - 1]) == 1)
			seq_steps++;
	}
	drain(stk);
	assert_true(seq_steps < 5);
	qsort(ports, N, sizeof(ports[0]), cmp_u16);
	for (int i = 1; i < N; i++)
		assert_true(ports[i] != ports[i - 1]);
	seq_steps = 0;
	for (int i = 0; i < N; i++) {
		assert_int_equal(udp_bind(stk, &u[i], 0, 0), 0);
		ports[i] = u[i].lport;
		if (i && (uint16_t)(ports[i] - ports[i - 1]) == 1)
			seq_steps++;
	}
	assert_true(seq_steps < 5);
	for (int i = 0; i < N; i++) {
		udp_unbind(stk, &u[i]);
		tcp_close(stk, c[i]);
	}
	drain(stk);
	free(u);
	stk_destroy(stk);
}

/* RFC 7323 5.3: a segment whose TSval is older than TS.Recent is dropped
 * with an ACK; after 24 days idle (5.5) it is accepted. */
static void paws(void **state)
{
	struct ust_stack *stk = stack();
	struct tcb *l = listener(stk, 80, 8), *c;
	struct tseg in, out;
	uint32_t iss;
	char buf[16];
	(void)state;
	c = open_conn(stk, l, &iss, 1, 0);
	tseg_init(&in, PEER_ISS + 1, iss + 1, F_ACK | F_PSH);
	in.has_ts = 1;
	in.tsval = 5000;
	in.len = 4;
	memcpy(in.data, "new!", 4);
	send_seg(stk, &in, 1000);
	assert_int_equal(tcp_recv(stk, c, buf, sizeof(buf), 0), 4);
	drain(stk);
	/* An old duplicate: next sequence number, stale timestamp. */
	tseg_init(&in, PEER_ISS + 5, iss + 1, F_ACK | F_PSH);
	in.has_ts = 1;
	in.tsval = 4000;
	in.len = 3;
	memcpy(in.data, "old", 3);
	send_seg(stk, &in, 2000);
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_ACK, iss + 1, PEER_ISS + 5);
	assert_int_equal(tcp_rx_bytes(c), 0);
	assert_int_equal(CNT(stk, drop_tcp_paws), 1);
	/* An RST is not subject to PAWS, but this one is not at RCV.NXT. */
	/* 25 days later the same stale TSval is taken (TS.Recent expired). */
	send_seg(stk, &in, 25ull * 86400 * SEC);
	assert_int_equal(tcp_rx_bytes(c), 3);
	assert_int_equal(CNT(stk, drop_tcp_paws), 1);
	drain(stk);
	tcp_close(stk, c);
	drain(stk);
	tcp_close(stk, l);
	stk_destroy(stk);
}

/* Fills the listener's SYN queue (backlog 1) with a SYN from port 39999. */
static void fill_synq(struct ust_stack *stk, uint64_t now)
{
	struct tseg in;

	tseg_init(&in, 77, 0, F_SYN);
	in.sport = 39999;
	send_seg(stk, &in, now);
	drain(stk);
}

/* RFC 4987: with the SYN queue full the SYN-ACK carries a cookie; the
 * ACK that returns it makes the connection with MSS, window scale, SACK
 * and timestamps intact; forged or stale cookies fail. */
static void syncookie_with_ts(void **state)
{
	struct ust_stack *stk = stack();
	struct tcb *l = listener(stk, 80, 1), *c;
	struct tseg in, out, sa;
	struct tcp_info_lite ti;
	struct tcp_listen_info li;
	char buf[8];
	(void)state;
	fill_synq(stk, 10 * SEC);
	tseg_init(&in, 5000, 0, F_SYN);
	in.mss = 1440;
	in.wscale = 5;
	in.sack_ok = 1;
	in.has_ts = 1;
	in.tsval = 777;
	send_seg(stk, &in, 10 * SEC + 3000);
	assert_int_equal(take_seg(stk, &sa), 0);
	assert_int_equal(sa.flags, F_SYN | F_ACK);
	assert_int_equal(sa.ack, 5001);
	assert_int_equal(sa.has_ts, 1);
	assert_int_equal(sa.tsecr, 777);
	assert_true(sa.tsval <= 10003);  /* never ahead of our clock */
	assert_int_equal(sa.wscale, 7);
	assert_int_equal(sa.sack_ok, 1);
	assert_int_equal(CNT(stk, tcp_syncookies_sent), 1);
	tcp_listen_info(l, &li);
	assert_int_equal(li.syn_queue, 1);  /* nothing stored */
	assert_int_equal(tcp_conn_count(stk), 1);
	/* A forged cookie (the hash bits wrong): RST, counted. (One off
	 * would only name another MSS, as with Linux's encoding.) */
	tseg_init(&in, 5001, sa.seq + 1 + 0x10000, F_ACK);
	in.has_ts = 1;
	in.tsval = 778;
	in.tsecr = sa.tsval;
	send_seg(stk, &in, 10 * SEC + 4000);
	assert_int_equal(take_seg(stk, &out), 0);
	assert_int_equal(out.flags, F_RST);
	assert_int_equal(CNT(stk, tcp_syncookies_failed), 1);
	/* The right one, with data: a connection in the accept queue. */
	tseg_init(&in, 5001, sa.seq + 1, F_ACK | F_PSH);
	in.has_ts = 1;
	in.tsval = 778;
	in.tsecr = sa.tsval;
	in.wnd = 100;
	in.len = 5;
	memcpy(in.data, "hello", 5);
	send_seg(stk, &in, 10 * SEC + 5000);
	assert_int_equal(CNT(stk, tcp_syncookies_recv), 1);
	c = tcp_accept(stk, l);
	assert_non_null(c);
	assert_int_equal(tcp_state(c), TCPS_ESTABLISHED);
	tcp_get_info(stk, c, &ti);
	assert_int_equal(ti.snd_mss, 1440);
	assert_int_equal(ti.snd_wscale, 5);
	assert_int_equal(ti.rcv_wscale, 7);
	assert_int_equal(ti.snd_wnd, 100u << 5);
	assert_true(ti.options & 1);  /* timestamps */
	assert_true(c->flags & TF_SACK);  /* SACK-permitted came back in TSecr */
	assert_int_equal(tcp_recv(stk, c, buf, sizeof(buf), 0), 5);
	assert_memory_equal(buf, "hello", 5);
	drain(stk);
	/* A cookie older than its lifetime fails. */
	tseg_init(&in, 9000, 0, F_SYN);
	in.sport = 40002;
	send_seg(stk, &in, 20 * SEC);
	assert_int_equal(take_seg(stk, &sa), 0);
	tseg_init(&in, 9001, sa.seq + 1, F_ACK);
	in.sport = 40002;
	send_seg(stk, &in, 20 * SEC + 170 * SEC);  /* 3 ticks of 60 s later */
	assert_int_equal(CNT(stk, tcp_syncookies_failed), 2);
	drain(stk);
	tcp_close(stk, c);
	drain(stk);
	tcp_close(stk, l);
	stk_destroy(stk);
}

/* Without timestamps a cookie keeps only the MSS (rounded down to its
 * table), and the SYN-ACK offers no window scaling. */
static void syncookie_without_ts(void **state)
{
	struct ust_stack *stk = stack();
	struct tcb *l = listener(stk, 80, 1), *c;
	struct tseg in, sa;
	struct tcp_info_lite ti;
	(void)state;
	fill_synq(stk, SEC);
	tseg_init(&in, 5000, 0, F_SYN);
	in.mss = 1400;
	in.wscale = 5;
	send_seg(stk, &in, SEC);
	assert_int_equal(take_seg(stk, &sa), 0);
	assert_int_equal(sa.has_ts, 0);
	assert_int_equal(sa.wscale, -1);
	tseg_init(&in, 5001, sa.seq + 1, F_ACK);
	send_seg(stk, &in, SEC + 1000);
	c = tcp_accept(stk, l);
	assert_non_null(c);
	tcp_get_info(stk, c, &ti);
	assert_int_equal(ti.snd_mss, 1300);
	assert_int_equal(ti.snd_wscale, 0);
	assert_int_equal(ti.options & 5, 0);
	tcp_close(stk, c);
	drain(stk);
	tcp_close(stk, l);
	stk_destroy(stk);
}

/* RSTs for closed ports and ICMP port unreachables are rate-limited. */
static void rst_and_icmp_rate_limits(void **state)
{
	struct ust_stack *stk = stack();
	struct tseg in;
	uint8_t f[200];
	unsigned n;
	(void)state;
	for (int i = 0; i < 1000; i++) {
		tseg_init(&in, (uint32_t)i, 0, F_SYN);
		in.dport = 81;
		send_seg(stk, &in, SEC + (uint64_t)i);
	}
	n = drain(stk);
	printf("1000 SYNs to a closed port in 1 ms: %u RSTs\n", n);
	assert_int_equal(n, tcp_conf(stk)->rst_burst);
	assert_int_equal(CNT(stk, tcp_rst_limited), 1000 - n);
	/* A second later the bucket has refilled. */
	send_seg(stk, &in, 2 * SEC + 1000);
	assert_int_equal(drain(stk), 1);
	for (int i = 0; i < 1000; i++)
		feed(stk, f, mk_udp(f, PEER_IP, US_IP, 5000, 9, "x", 1), 3 * SEC + (uint64_t)i);
	n = drain(stk);
	printf("1000 datagrams to a closed port in 1 ms: %u unreachables\n", n);
	assert_int_equal(n, stk->cfg.icmp_burst);
	assert_int_equal(CNT(stk, tx_icmp_limited), 1000 - n);
	stk_destroy(stk);
}

/* --- input validation: every malformed frame is dropped and counted --- */

/* Ethernet + IPv4 + a TCP header with raw options opt[optlen], data
 * offset doff (words; 0: the right one), flags, and dlen payload bytes;
 * checksums right unless bad_sum. Returns the frame length. */
static size_t mk_tcp_raw(uint8_t *b, const uint8_t *opt, size_t optlen, unsigned doff,
                         uint8_t flags, size_t dlen, int bad_sum)
{
	size_t o = mk_eth(b, us_mac, peer_mac, 0x0800);
	uint8_t *t = b + o + 20;
	size_t hl = 20 + optlen, seglen = hl + dlen;

	mk_ip(b + o, (uint16_t)(20 + seglen), 0x99, 0x4000, 64, 6, PEER_IP, US_IP);
	memset(t, 0, seglen);
	put16(t, 40000);
	put16(t + 2, 80);
	put32(t + 4, 1000);
	t[12] = (uint8_t)((doff ? doff : hl / 4) << 4);
	t[13] = flags;
	put16(t + 14, 1000);
	if (optlen)
		memcpy(t + 20, opt, optlen);
	put16(t + 16, ref_csum(t, seglen, pseudo_sum(PEER_IP, US_IP, 6, (uint16_t)seglen)));
	if (bad_sum)
		t[16] ^= 0x40;
	return o + 20 + seglen;
}

struct bad_frame {
	const char *what;
	enum stk_counter cnt;
	size_t len;
	uint8_t f[128];
};

static void malformed_each_counted(void **state)
{
	struct ust_stack *stk = stack();
	struct tcb *l = listener(stk, 80, 8);
	static struct bad_frame bf[32];
	/* SYNs with one bad option each (4 bytes of options) */
	static const struct {
		const char *what;
		uint8_t opt[4];
	} bad_opt[] = {
		{ "option length 1", {2, 1, 0, 0} },            /* MSS, length 1 */
		{ "zero-length option", {5, 0, 0, 0} },
		{ "option past the header", {1, 1, 8, 10} },    /* TS running past the header */
		{ "MSS option length 3", {2, 3, 5, 1} },
		{ "WS option length 4", {3, 4, 7, 0} },         /* window scale, length 4 */
		{ "option kind without length", {1, 1, 1, 2} }, /* kind without its length byte */
	};
	int n = 0;
	(void)state;
#define BAD(w, c) (bf[n].what = (w), bf[n].cnt = CNT_##c, &bf[n])
	{ struct bad_frame *x = BAD("short Ethernet", drop_eth_short); x->len = 10; memcpy(x->f, us_mac, 6); n++; }
	{ struct bad_frame *x = BAD("short IPv4", drop_ip_short);
	  x->len = mk_eth(x->f, us_mac, peer_mac, 0x0800) + 12; n++; }
	{ struct bad_frame *x = BAD("IP version 6", drop_ip_version);
	  x->len = mk_tcp_raw(x->f, NULL, 0, 0, F_SYN, 0, 0); x->f[14] = 0x65; n++; }
	{ struct bad_frame *x = BAD("IP header length 16", drop_ip_hdr_len);
	  x->len = mk_tcp_raw(x->f, NULL, 0, 0, F_SYN, 0, 0); x->f[14] = 0x44; n++; }
	{ struct bad_frame *x = BAD("IP total length > frame", drop_ip_total_len);
	  x->len = mk_tcp_raw(x->f, NULL, 0, 0, F_SYN, 0, 0);
	  put16(x->f + 16, 200); put16(x->f + 24, 0); put16(x->f + 24, ref_csum(x->f + 14, 20, 0)); n++; }
	{ struct bad_frame *x = BAD("IP checksum", drop_ip_checksum);
	  x->len = mk_tcp_raw(x->f, NULL, 0, 0, F_SYN, 0, 0); x->f[24] ^= 1; n++; }
	{ struct bad_frame *x = BAD("TCP shorter than 20", drop_tcp_short);
	  x->len = mk_tcp_raw(x->f, NULL, 0, 0, F_SYN, 0, 0) - 8;
	  put16(x->f + 16, 32); put16(x->f + 24, 0); put16(x->f + 24, ref_csum(x->f + 14, 20, 0)); n++; }
	{ struct bad_frame *x = BAD("TCP data offset 4", drop_tcp_hdr_len);
	  x->len = mk_tcp_raw(x->f, NULL, 0, 4, F_SYN, 0, 0); n++; }
	{ struct bad_frame *x = BAD("TCP data offset past segment", drop_tcp_hdr_len);
	  x->len = mk_tcp_raw(x->f, NULL, 0, 15, F_SYN, 8, 0); n++; }
	{ struct bad_frame *x = BAD("TCP checksum", drop_tcp_checksum);
	  x->len = mk_tcp_raw(x->f, NULL, 0, 0, F_SYN, 4, 1); n++; }
	for (size_t i = 0; i < sizeof(bad_opt) / sizeof(bad_opt[0]); i++) {
		struct bad_frame *x = BAD(bad_opt[i].what, drop_tcp_options);
		x->len = mk_tcp_raw(x->f, bad_opt[i].opt, sizeof(bad_opt[i].opt), 0, F_SYN, 0, 0);
		n++;
	}
	{ struct bad_frame *x = BAD("SYN+FIN", drop_tcp_flags);
	  x->len = mk_tcp_raw(x->f, NULL, 0, 0, F_SYN | F_FIN, 0, 0); n++; }
	{ struct bad_frame *x = BAD("SYN+RST", drop_tcp_flags);
	  x->len = mk_tcp_raw(x->f, NULL, 0, 0, F_SYN | F_RST, 0, 0); n++; }
	{ struct bad_frame *x = BAD("no flags", drop_tcp_flags);
	  x->len = mk_tcp_raw(x->f, NULL, 0, 0, 0, 4, 0); n++; }
	{ struct bad_frame *x = BAD("UDP length > datagram", drop_udp_len);
	  x->len = mk_udp(x->f, PEER_IP, US_IP, 5, 9, "abcd", 4); put16(x->f + 38, 40);
	  put16(x->f + 40, 0); n++; }
	{ struct bad_frame *x = BAD("UDP checksum", drop_udp_checksum);
	  x->len = mk_udp(x->f, PEER_IP, US_IP, 5, 9, "abcd", 4); x->f[42] ^= 1; n++; }
	{ struct bad_frame *x = BAD("ICMP checksum", drop_icmp_checksum);
	  x->len = mk_echo(x->f, 8, 1, 1, 16, PEER_IP, US_IP); x->f[40] ^= 1; n++; }
#undef BAD
	for (int i = 0; i < n; i++) {
		uint64_t before = stk->cnt[bf[i].cnt];
		feed(stk, bf[i].f, bf[i].len, SEC);
		if (stk->cnt[bf[i].cnt] != before + 1)
			fail_msg("%s: counter %s not counted", bf[i].what, stk_counter_names[bf[i].cnt]);
	}
	expect_none(stk);
	assert_int_equal(tcp_conn_count(stk), 0);
	assert_pool_full(stk);
	tcp_close(stk, l);
	stk_destroy(stk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rst_challenge),
		cmocka_unit_test(syn_and_ack_challenge),
		cmocka_unit_test(challenge_ack_rate_limit),
		cmocka_unit_test(isn_keyed_and_increasing),
		cmocka_unit_test(ephemeral_ports_random),
		cmocka_unit_test(paws),
		cmocka_unit_test(syncookie_with_ts),
		cmocka_unit_test(syncookie_without_ts),
		cmocka_unit_test(rst_and_icmp_rate_limits),
		cmocka_unit_test(malformed_each_counted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
