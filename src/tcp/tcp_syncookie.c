/* SYN cookies (RFC 4987 3.6): when a listener's SYN queue is full, the
 * SYN-ACK's sequence number carries what the half-open connection would
 * have stored, and nothing is kept; the client's ACK brings it back.
 *
 * Cookie layout (the scheme of Linux's syncookies, our own code):
 *   ISS = H1(4-tuple) + SEG.SEQ + (t << 24) + ((H2(4-tuple, t) + mssidx) mod 2^24)
 * with t a 60-second counter, H1/H2 SipHash-2-4 under the stack's secret.
 * A cookie is accepted for up to 2 ticks (2-3 minutes) and when its 24 bits
 * decode to one of the four MSS values: a blind guess of a whole cookie
 * passes with probability about 3 * 4 / 2^24 per try.
 * When the peer offered timestamps, the low 6 bits of our TSval carry the
 * peer's window scale (4 bits, 0xf: none) and SACK-permitted (1 bit): the
 * ACK echoes them in TSecr. Without timestamps the cookie SYN-ACK offers
 * neither window scaling nor SACK (there is nowhere to remember them). */
#include <string.h>

#include "core/checksum.h"
#include "core/siphash.h"
#include "core/stack.h"
#include "core/wire.h"
#include "tcp/tcp_int.h"

#define COOKIE_TICK_US 60000000ull  /* t advances every 60 s */
#define COOKIE_MAX_AGE 2             /* ticks a cookie stays valid */
#define COOKIE_MASK 0xffffffu
#define TS_OPT_MASK 0x3fu            /* TSval bits that carry options */
#define TS_NO_WSCALE 0xfu
#define TS_SACK_BIT 0x10u

/* The MSS values a cookie can name (Linux's table: the common ones). */
static const uint16_t cookie_mss[] = { 536, 1300, 1440, 1460 };

uint8_t tcp_wscale_for(uint32_t buf)
{
	uint8_t s = 0;

	while (s < 14 && (buf >> s) > 65535)
		s++;
	return s;
}

static uint32_t cookie_hash(const struct ust_stack *stk, const struct tcp_seg *seg, uint64_t t,
                            uint64_t which)
{
	uint64_t m[3] = {
		(uint64_t)seg->dst << 32 | seg->src,
		(uint64_t)seg->dport << 16 | seg->sport,
		which << 56 | (t & 0xffffffffffffffull),
	};

	return (uint32_t)siphash_secret(stk->tcp->cfg.secret ^ 0xc00c1e5ull, m, 3);
}

static uint32_t cookie_make(const struct ust_stack *stk, const struct tcp_seg *seg, uint32_t mssidx)
{
	uint64_t t = stk->now / COOKIE_TICK_US;

	return cookie_hash(stk, seg, 0, 1) + seg->seq + (uint32_t)(t << 24) +
	       ((cookie_hash(stk, seg, t, 2) + mssidx) & COOKIE_MASK);
}

/* The MSS index a valid cookie holds, or -1. isn is the cookie, seq the
 * client's ISN (both as in the SYN). */
static int cookie_decode(const struct ust_stack *stk, const struct tcp_seg *seg, uint32_t isn,
                         uint32_t seq)
{
	uint64_t t = stk->now / COOKIE_TICK_US, then;
	uint32_t v = isn - cookie_hash(stk, seg, 0, 1) - seq;
	uint32_t age = (uint32_t)((t - (v >> 24)) & 0xff);
	uint32_t idx;

	if (age > COOKIE_MAX_AGE || age > t)
		return -1;
	then = t - age;
	idx = (v - cookie_hash(stk, seg, then, 2)) & COOKIE_MASK;
	return idx < sizeof(cookie_mss) / sizeof(cookie_mss[0]) ? (int)idx : -1;
}

static uint32_t mss_index(uint16_t mss)
{
	uint32_t i = sizeof(cookie_mss) / sizeof(cookie_mss[0]) - 1;

	if (mss == 0)
		mss = TCP_DEFAULT_MSS;  /* RFC 9293 3.7.1 */
	while (i > 0 && cookie_mss[i] > mss)
		i--;
	return i;
}

void tcp_cookie_send(struct ust_stack *stk, const struct tcb *l, const struct tcp_seg *seg)
{
	const struct tcp_config *cfg = &stk->tcp->cfg;
	uint32_t mssidx = mss_index(seg->mss);
	int ts = seg->has_ts && cfg->timestamps;
	int ws = ts && seg->wscale != 0xff && cfg->wscale;
	int sack = ts && seg->sack_ok && cfg->sack;  /* RFC 2018, when we do SACK */
	uint16_t ours = tcp_mss_for_mtu(stk);
	uint32_t buf = l->opt->rcvbuf > cfg->buf_max ? l->opt->rcvbuf : cfg->buf_max;
	struct pkt *p = pkt_alloc(&stk->pool);
	uint8_t *h;
	size_t hl = TCP_HDR_LEN + 4 + (ts ? 12 : 0) + (ws ? 4 : 0) + (sack ? 4 : 0), o = TCP_HDR_LEN;

	if (!p) {
		stk_count(stk, CNT_drop_nobuf);
		return;
	}
	h = pkt_put(p, hl);
	if (!h) {
		stk_drop(stk, p, CNT_drop_nobuf);
		return;
	}
	if (l->opt->user_mss && l->opt->user_mss < ours)
		ours = l->opt->user_mss;
	memset(h, 0, hl);
	wr16(h, seg->dport);
	wr16(h + 2, seg->sport);
	wr32(h + 4, cookie_make(stk, seg, mssidx));
	wr32(h + 8, seg->seq + 1);
	h[12] = (uint8_t)((hl / 4) << 4);
	h[13] = TH_SYN | TH_ACK;
	wr16(h + 14, (uint16_t)(l->opt->rcvbuf > 65535 ? 65535 : l->opt->rcvbuf));
	h[o++] = 2;
	h[o++] = 4;
	wr16(h + o, ours);
	o += 2;
	if (ts) {
		uint32_t now_ms = (uint32_t)(stk->now / 1000);
		uint32_t opts = (ws ? seg->wscale : TS_NO_WSCALE) | (sack ? TS_SACK_BIT : 0);
		uint32_t tsval = (now_ms & ~TS_OPT_MASK) | opts;

		if (seq_gt(tsval, now_ms))
			tsval -= TS_OPT_MASK + 1;  /* never ahead of our clock */
		h[o++] = 1;
		h[o++] = 1;
		h[o++] = 8;
		h[o++] = 10;
		wr32(h + o, tsval);
		wr32(h + o + 4, seg->tsval);
		o += 8;
	}
	if (sack) {
		h[o++] = 1;
		h[o++] = 1;
		h[o++] = 4;
		h[o++] = 2;
	}
	if (ws) {
		h[o++] = 1;
		h[o++] = 3;
		h[o++] = 3;
		h[o++] = tcp_wscale_for(buf);
	}
	wr16(h + 16, csum_fold(csum_partial(h, hl, csum_pseudo(seg->dst, seg->src, IP_PROTO_TCP,
	                                                        (uint16_t)hl))));
	stk_count(stk, CNT_tcp_syncookies_sent);
	stk_count(stk, CNT_tcp_segs_out);
	ip_output(stk, p, seg->dst, seg->src, IP_PROTO_TCP);
}

int tcp_cookie_check(struct ust_stack *stk, const struct tcp_seg *seg, struct tcp_seg *syn)
{
	int idx;

	if ((seg->flags & (TH_SYN | TH_RST | TH_ACK)) != TH_ACK)
		return -1;
	idx = cookie_decode(stk, seg, seg->ack - 1, seg->seq - 1);
	if (idx < 0) {
		stk_count(stk, CNT_tcp_syncookies_failed);
		return -1;
	}
	memset(syn, 0, sizeof(*syn));
	syn->src = seg->src;
	syn->dst = seg->dst;
	syn->sport = seg->sport;
	syn->dport = seg->dport;
	syn->seq = seg->seq - 1;
	syn->flags = TH_SYN;
	syn->wnd = seg->wnd;
	syn->mss = cookie_mss[idx];
	syn->wscale = 0xff;
	if (seg->has_ts && stk->tcp->cfg.timestamps) {
		uint32_t opts = seg->tsecr & TS_OPT_MASK;
		syn->has_ts = 1;
		syn->tsval = seg->tsval;
		syn->tsecr = seg->tsecr;
		if ((opts & TS_NO_WSCALE) != TS_NO_WSCALE && stk->tcp->cfg.wscale)
			syn->wscale = (uint8_t)(opts & TS_NO_WSCALE);
		syn->sack_ok = !!(opts & TS_SACK_BIT);
	}
	stk_count(stk, CNT_tcp_syncookies_recv);
	return 0;
}
