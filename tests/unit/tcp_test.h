/* Helpers of the TCP tests: segments built by hand (Ethernet + IPv4 + TCP
 * with options, checksummed by the reference sum of core_test.h), segments
 * taken from a stack and decoded independently of the code under test, and
 * two stacks joined by a frame-passing loop on virtual time. */
#ifndef USTACK_TESTS_TCP_TEST_H
#define USTACK_TESTS_TCP_TEST_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "core_test.h"
#include "tcp/tcp.h"

enum { F_FIN = 1, F_SYN = 2, F_RST = 4, F_PSH = 8, F_ACK = 16 };

struct tseg {
	uint32_t src, dst;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t wnd;
	/* options: to send (when set) and as decoded */
	uint16_t mss;       /* 0: none */
	int wscale;         /* -1: none */
	int has_ts;
	uint32_t tsval, tsecr;
	int sack_ok;
	uint32_t len;
	uint8_t data[2048];
};

static inline void tseg_init(struct tseg *s, uint32_t seq, uint32_t ack, uint8_t flags)
{
	memset(s, 0, sizeof(*s));
	s->src = PEER_IP;
	s->dst = US_IP;
	s->sport = 40000;
	s->dport = 80;
	s->seq = seq;
	s->ack = ack;
	s->flags = flags;
	s->wnd = 65535;
	s->wscale = -1;
}

/* Ethernet + IPv4 + TCP from s; returns the frame length. */
static inline size_t mk_tcp(uint8_t *b, const struct tseg *s)
{
	size_t o = mk_eth(b, us_mac, peer_mac, 0x0800);
	uint8_t *t = b + o + 20;
	size_t ol = 0, hl;
	uint8_t opt[40];

	if (s->mss) {
		opt[ol++] = 2;
		opt[ol++] = 4;
		put16(opt + ol, s->mss);
		ol += 2;
	}
	if (s->sack_ok) {
		opt[ol++] = 4;
		opt[ol++] = 2;
	}
	if (s->has_ts) {
		opt[ol++] = 1;
		opt[ol++] = 1;
		opt[ol++] = 8;
		opt[ol++] = 10;
		put32(opt + ol, s->tsval);
		put32(opt + ol + 4, s->tsecr);
		ol += 8;
	}
	if (s->wscale >= 0) {
		opt[ol++] = 1;
		opt[ol++] = 3;
		opt[ol++] = 3;
		opt[ol++] = (uint8_t)s->wscale;
	}
	while (ol % 4)
		opt[ol++] = 0;
	hl = 20 + ol;
	mk_ip(b + o, (uint16_t)(20 + hl + s->len), 0x1111, 0x4000, 64, 6, s->src, s->dst);
	put16(t, s->sport);
	put16(t + 2, s->dport);
	put32(t + 4, s->seq);
	put32(t + 8, s->ack);
	t[12] = (uint8_t)((hl / 4) << 4);
	t[13] = s->flags;
	put16(t + 14, s->wnd);
	put16(t + 16, 0);
	put16(t + 18, 0);
	memcpy(t + 20, opt, ol);
	memcpy(t + hl, s->data, s->len);
	put16(t + 16, ref_csum(t, hl + s->len, pseudo_sum(s->src, s->dst, 6, (uint16_t)(hl + s->len))));
	return o + 20 + hl + s->len;
}

static inline void send_seg(struct ust_stack *stk, const struct tseg *s, uint64_t now)
{
	uint8_t f[2200];
	feed(stk, f, mk_tcp(f, s), now);
}

/* Decodes a frame the stack sent; asserts it is IPv4/TCP with correct
 * checksums. */
static inline void decode_tcp(const uint8_t *f, size_t n, struct tseg *s)
{
	const uint8_t *ip = f + 14, *t;
	size_t ihl, total, hl, i;

	memset(s, 0, sizeof(*s));
	s->wscale = -1;
	assert_true(n >= 14 + 20 + 20);
	assert_int_equal(get16(f + 12), 0x0800);
	ihl = (size_t)(ip[0] & 15) * 4;
	total = get16(ip + 2);
	assert_int_equal(ip[9], 6);
	assert_int_equal(ref_csum(ip, ihl, 0), 0);
	s->src = get32(ip + 12);
	s->dst = get32(ip + 16);
	t = ip + ihl;
	hl = (size_t)(t[12] >> 4) * 4;
	assert_int_equal(ref_csum(t, total - ihl, pseudo_sum(s->src, s->dst, 6, (uint16_t)(total - ihl))), 0);
	s->sport = get16(t);
	s->dport = get16(t + 2);
	s->seq = get32(t + 4);
	s->ack = get32(t + 8);
	s->flags = t[13];
	s->wnd = get16(t + 14);
	for (i = 20; i < hl;) {
		uint8_t k = t[i];
		if (k == 0)
			break;
		if (k == 1) {
			i++;
			continue;
		}
		if (k == 2)
			s->mss = get16(t + i + 2);
		if (k == 3)
			s->wscale = t[i + 2];
		if (k == 4)
			s->sack_ok = 1;
		if (k == 8) {
			s->has_ts = 1;
			s->tsval = get32(t + i + 2);
			s->tsecr = get32(t + i + 6);
		}
		i += t[i + 1];
	}
	s->len = (uint32_t)(total - ihl - hl);
	memcpy(s->data, t + hl, s->len);
}

/* The next TCP segment the stack sent (ARP and others are skipped): 0, or
 * -1 when none is queued. */
static inline int take_seg(struct ust_stack *stk, struct tseg *s)
{
	uint8_t f[2200];
	long n;

	while ((n = take(stk, f, sizeof(f))) >= 0) {
		if (n >= 34 && get16(f + 12) == 0x0800 && f[14 + 9] == 6) {
			decode_tcp(f, (size_t)n, s);
			return 0;
		}
		/* The ARP entry expired on a long virtual wait: answer it. */
		if (n >= 42 && get16(f + 12) == 0x0806 && get16(f + 20) == 1 &&
		    get32(f + 38) == PEER_IP) {
			uint8_t r[64];
			feed(stk, r, mk_arp(r, us_mac, 2, peer_mac, PEER_IP, us_mac, US_IP), stk->now);
		}
	}
	return -1;
}

static inline void expect_none(struct ust_stack *stk)
{
	struct tseg s;
	assert_int_equal(take_seg(stk, &s), -1);
}

#define expect_seg(s, fl, sq, ak)                  \
	do {                                           \
		assert_int_equal((s)->flags, (fl));    \
		assert_int_equal((s)->seq, (uint32_t)(sq)); \
		assert_int_equal((s)->ack, (uint32_t)(ak)); \
	} while (0)

/* --- one stack facing the test as its peer --- */

/* A stack at US_IP that already knows the peer's MAC (no ARP first). */
static inline struct ust_stack *stack(void)
{
	struct ust_stack *stk = mkstack(0);
	learn_peer(stk, 0);
	return stk;
}

static inline struct tcb *listener(struct ust_stack *stk, uint16_t port, int backlog)
{
	struct tcb *l = tcp_tcb_new(stk, NULL);
	assert_non_null(l);
	assert_int_equal(tcp_bind(stk, l, 0, port), 0);
	assert_int_equal(tcp_listen(stk, l, backlog), 0);
	assert_int_equal(tcp_state(l), TCPS_LISTEN);
	return l;
}

/* --- a pair of stacks: A is 10.77.0.2, B is 10.77.0.1 --- */

struct pair {
	struct ust_stack *a, *b;
	uint64_t now;
	/* Drop filter: return 1 to lose the frame. dir 0: a->b, 1: b->a. */
	int (*drop)(struct pair *pr, int dir, const struct tseg *seg, void *arg);
	void *arg;
	uint64_t moved[2], dropped[2];
	uint32_t events;  /* OR of every event the stacks reported */
};

static inline void pair_event(void *ctx, void *app, uint32_t ev)
{
	struct pair *pr = ctx;
	(void)app;
	pr->events |= ev;
}

static inline struct ust_stack *pair_stack(int which, uint64_t now, struct pair *pr)
{
	struct stk_config cfg;
	struct ust_stack *stk;

	stk_config_default(&cfg);
	cfg.pkt_pool_size = 4096;
	if (which) {
		cfg.ip = PEER_IP;
		memcpy(cfg.mac, peer_mac, 6);
		cfg.gateway = US_IP;
	}
	stk = mkstack_cfg(&cfg, now);
	stk->hooks.sock_event = pair_event;
	stk->hooks.ctx = pr;
	tcp_conf(stk)->secret = which ? 0x1234567 : 0x7654321;
	return stk;
}

static inline void pair_init(struct pair *pr)
{
	memset(pr, 0, sizeof(*pr));
	pr->a = pair_stack(0, 0, pr);
	pr->b = pair_stack(1, 0, pr);
}

static inline void pair_fini(struct pair *pr)
{
	stk_destroy(pr->a);
	stk_destroy(pr->b);
}

/* Moves every queued frame once in each direction; how many moved. */
static inline unsigned pair_shuttle(struct pair *pr)
{
	unsigned moved = 0;

	for (int dir = 0; dir < 2; dir++) {
		struct ust_stack *from = dir ? pr->b : pr->a, *to = dir ? pr->a : pr->b;
		struct pkt *p[64];
		unsigned n = stk_tx_take(from, p, 64);

		for (unsigned i = 0; i < n; i++) {
			struct tseg s;
			int lose = 0;
			if (pr->drop && get16(p[i]->data + 12) == 0x0800 && p[i]->data[23] == 6) {
				decode_tcp(p[i]->data, p[i]->len, &s);
				lose = pr->drop(pr, dir, &s, pr->arg);
			}
			if (lose) {
				pr->dropped[dir]++;
				pkt_free(p[i]);
				continue;
			}
			/* Frames cross into the other stack's pool. */
			struct pkt *q = pkt_alloc(&to->pool);
			assert_non_null(q);
			memcpy(pkt_put(q, p[i]->len), p[i]->data, p[i]->len);
			pkt_free(p[i]);
			stk_rx_burst(to, &q, 1, pr->now);
			pr->moved[dir]++;
		}
		moved += n;
	}
	return moved;
}

/* Runs frames until both sides are quiet, without advancing time. */
static inline void pair_settle(struct pair *pr)
{
	for (int i = 0; i < 100000 && pair_shuttle(pr); i++)
		;
}

/* Advances virtual time to the next timer (at most `until`), runs it, and
 * settles. Returns 0 when nothing is due before `until`. */
static inline int pair_step(struct pair *pr, uint64_t until)
{
	uint64_t da = stk_next_deadline(pr->a), db = stk_next_deadline(pr->b);
	uint64_t d = da < db ? da : db;

	pair_settle(pr);
	if (d == TIMER_NEVER || d > until)
		return 0;
	if (d > pr->now)
		pr->now = d;
	stk_run_timers(pr->a, pr->now);
	stk_run_timers(pr->b, pr->now);
	pair_settle(pr);
	return 1;
}

/* Runs until cond(arg) holds or virtual time passes `until`; 1 if it held. */
static inline int pair_run_until(struct pair *pr, int (*cond)(void *), void *arg, uint64_t until)
{
	pair_settle(pr);
	while (!cond(arg)) {
		if (!pair_step(pr, until))
			return cond(arg);
	}
	return 1;
}

static inline void pair_advance(struct pair *pr, uint64_t until)
{
	while (pair_step(pr, until))
		;
	if (pr->now < until)
		pr->now = until;
	stk_run_timers(pr->a, pr->now);
	stk_run_timers(pr->b, pr->now);
	pair_settle(pr);
}

#endif
