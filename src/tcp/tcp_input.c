/* TCP input: the one parser (bytes -> struct tcp_seg) and the RFC 9293
 * state machine, in the order of section 3.10.7 "SEGMENT ARRIVES":
 * CLOSED (3.10.7.1), LISTEN (3.10.7.2), SYN-SENT (3.10.7.3), and the other
 * states (3.10.7.4: sequence check, RST, SYN, ACK, text, FIN). A reader
 * looking for "a FIN in FIN_WAIT_2" finds it in on_fin() below. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/checksum.h"
#include "core/siphash.h"
#include "core/stack.h"
#include "core/wire.h"
#include "tcp/tcp_int.h"

/* --- parsing (RFC 9293 3.1, 3.2; RFC 7323 2, 3) --- */

static int parse_options(const uint8_t *o, size_t n, struct tcp_seg *seg)
{
	size_t i = 0;

	while (i < n) {
		uint8_t kind = o[i], len;
		if (kind == 0)
			break;
		if (kind == 1) {
			i++;
			continue;
		}
		if (i + 1 >= n || (len = o[i + 1]) < 2 || i + len > n)
			return -1;
		switch (kind) {
		case 2:
			if (len != 4)
				return -1;
			seg->mss = rd16(o + i + 2);
			break;
		case 3:
			if (len != 3)
				return -1;
			seg->wscale = o[i + 2] > 14 ? 14 : o[i + 2];  /* RFC 7323 2.3 */
			break;
		case 4:
			if (len != 2)
				return -1;
			seg->sack_ok = 1;
			break;
		case 5:
			/* RFC 2018 3: SACK blocks; the 4 a header can hold. */
			if (len < 10 || (len - 2) % 8)
				return -1;
			for (size_t b = i + 2; b < i + len && seg->nsack < 4; b += 8) {
				seg->sack[seg->nsack][0] = rd32(o + b);
				seg->sack[seg->nsack][1] = rd32(o + b + 4);
				seg->nsack++;
			}
			break;
		case 8:
			if (len != 10)
				return -1;
			seg->has_ts = 1;
			seg->tsval = rd32(o + i + 2);
			seg->tsecr = rd32(o + i + 6);
			break;
		default:
			break;  /* unknown options are skipped by their length */
		}
		i += len;
	}
	return 0;
}

int tcp_parse(const uint8_t *buf, size_t len, uint32_t src, uint32_t dst, int csum_ok,
              struct tcp_seg *seg)
{
	uint32_t sum;

	memset(seg, 0, sizeof(*seg));
	seg->wscale = 0xff;
	if (len < TCP_HDR_LEN)
		return CNT_drop_tcp_short;
	seg->hdr_len = (uint8_t)((buf[12] >> 4) * 4);
	if (seg->hdr_len < TCP_HDR_LEN || seg->hdr_len > len)
		return CNT_drop_tcp_hdr_len;
	sum = csum_pseudo(src, dst, IP_PROTO_TCP, (uint16_t)len);
	if (!csum_ok && csum_fold(csum_partial(buf, len, sum)) != 0)
		return CNT_drop_tcp_checksum;
	seg->src = src;
	seg->dst = dst;
	seg->sport = rd16(buf);
	seg->dport = rd16(buf + 2);
	seg->seq = rd32(buf + 4);
	seg->ack = rd32(buf + 8);
	seg->flags = buf[13];
	seg->wnd = rd16(buf + 14);
	if (seg->sport == 0 || seg->dport == 0)
		return CNT_drop_tcp_flags;
	/* SYN with FIN or RST is nonsense; so is a segment with no flag. */
	if (((seg->flags & TH_SYN) && (seg->flags & (TH_FIN | TH_RST))) ||
	    !(seg->flags & (TH_SYN | TH_ACK | TH_RST | TH_FIN)))
		return CNT_drop_tcp_flags;
	if (parse_options(buf + TCP_HDR_LEN, seg->hdr_len - TCP_HDR_LEN, seg))
		return CNT_drop_tcp_options;
	seg->data = buf + seg->hdr_len;
	seg->len = (uint32_t)(len - seg->hdr_len);
	return 0;
}

static uint32_t seg_len(const struct tcp_seg *seg)
{
	return seg->len + !!(seg->flags & TH_SYN) + !!(seg->flags & TH_FIN);
}

/* --- helpers --- */

static void ack_now(struct tcb *tcb)
{
	tcb->flags |= TF_ACK_NOW;
}

/* RFC 5961 7: the ACKs an off-path sender can provoke (challenge ACKs, and
 * ACKs to out-of-window or PAWS-failed segments without data, as Linux's
 * tcp_oow_rate_limited) share a per-stack budget of challenge_ack_limit a
 * second. As Linux since CVE-2016-5696 (commit 75ff39ccc1bd), each second's
 * budget is drawn in [limit/2, 3*limit/2): a fixed count is a side channel
 * that tells an attacker how many challenges someone else provoked. */
static int oow_ack_allowed(struct ust_stack *stk)
{
	struct tcp_state *ts = stk->tcp;
	uint32_t lim = ts->cfg.challenge_ack_limit;
	uint64_t sec = stk->now / 1000000u;

	if (lim == 0)
		return 1;
	if (ts->chack_sec != sec + 1) {
		ts->chack_sec = sec + 1;
		ts->chack_left = (lim + 1) / 2 +
		                 (uint32_t)(siphash_secret(ts->cfg.secret ^ 0xcac, &sec, 1) % lim);
	}
	if (ts->chack_left == 0) {
		stk_count(stk, CNT_tcp_challenge_ack_limited);
		return 0;
	}
	ts->chack_left--;
	return 1;
}

static void challenge_ack(struct ust_stack *stk, struct tcb *tcb)
{
	if (oow_ack_allowed(stk)) {
		stk_count(stk, CNT_tcp_challenge_acks);
		ack_now(tcb);
	}
}

/* An RST for a segment that finds no connection: anyone can ask for one,
 * so they are rate-limited (FreeBSD's icmplim covers RSTs the same way). */
static void reply_rst_limited(struct ust_stack *stk, const struct tcp_seg *seg)
{
	const struct tcp_config *cfg = &stk->tcp->cfg;

	if (seg->flags & TH_RST)
		return;
	if (!ratelimit_allow(&stk->tcp->rst_rl, cfg->rst_rate, cfg->rst_burst, stk->now)) {
		stk_count(stk, CNT_tcp_rst_limited);
		return;
	}
	tcp_reply_rst(stk, seg);
}

static void ts_recent_set(struct ust_stack *stk, struct tcb *tcb, uint32_t tsval)
{
	tcb->ts_recent = tsval;
	tcb->ts_recent_age = (uint32_t)(stk->now / 1000000u);
}

/* Options of the peer's SYN: MSS (RFC 9293 3.7.1), window scale and
 * timestamps (RFC 7323), each used only when both sides offered it. */
static void take_syn_options(struct ust_stack *stk, struct tcb *tcb, const struct tcp_seg *seg)
{
	const struct tcp_config *cfg = &stk->tcp->cfg;
	uint16_t peer = seg->mss ? seg->mss : TCP_DEFAULT_MSS;
	uint16_t ours = tcp_mss_for_mtu(stk);

	if (tcb->opt->user_mss && tcb->opt->user_mss < ours)
		ours = tcb->opt->user_mss;
	tcb->rcv_mss = ours;
	tcb->mss = peer < ours ? peer : ours;
	if (tcb->mss < 64)
		tcb->mss = 64;
	if (seg->wscale != 0xff && cfg->wscale) {
		tcb->flags |= TF_WSCALE;
		tcb->snd_wscale = seg->wscale;
	} else {
		tcb->flags &= ~TF_WSCALE;
		tcb->snd_wscale = 0;
		tcb->rcv_wscale = 0;
	}
	if (seg->has_ts && cfg->timestamps) {
		tcb->flags |= TF_TS;
		ts_recent_set(stk, tcb, seg->tsval);
	} else {
		tcb->flags &= ~TF_TS;
	}
	if (seg->sack_ok && cfg->sack)
		tcb->flags |= TF_SACK;  /* RFC 2018 2 */
	else
		tcb->flags &= ~TF_SACK;
}

static uint32_t now_ms(const struct ust_stack *stk)
{
	return (uint32_t)(stk->now / 1000);
}

/* The handshake is complete: windows, RTT, congestion state. */
static void established(struct ust_stack *stk, struct tcb *tcb, const struct tcp_seg *seg)
{
	tcb->snd_una = seg->ack;
	if (seq_lt(tcb->snd_nxt, tcb->snd_una))
		tcb->snd_nxt = tcb->snd_una;
	/* RFC 7323 2.2: the window of a SYN is never scaled; this one is
	 * scaled unless it carries SYN. */
	tcb->snd_wnd = (seg->flags & TH_SYN) ? seg->wnd
	                                      : (uint32_t)seg->wnd << tcb->snd_wscale;
	tcb->max_wnd = tcb->snd_wnd;
	tcb->snd_wl1 = seg->seq;
	if (tcb->rexmits == 0) {
		/* Karn: a handshake without retransmission gives a sample. */
		uint32_t ms = (tcb->flags & TF_TS) && seg->tsecr ? now_ms(stk) - seg->tsecr
		                                                : now_ms(stk) - tcb->rtt_start_ms;
		tcp_rtt_sample(tcb, ms * 1000u);
	}
	tcb->rexmits = 0;
	if (tcb->lx)
		tcb->lx->recover = tcb->snd_una;  /* RFC 6582 3.2 (1): no event yet */
	tcp_cc(tcb)->init(tcb);
	tcp_set_state(stk, tcb, TCPS_ESTABLISHED);
	tcb->tkind = TK_NONE;
	tcb->t_main = TIMER_NEVER;
}

/* --- LISTEN (3.10.7.2) --- */

/* 0, or -1 when the listener's own options cannot be copied. */
static int child_inherit(struct tcb *c, const struct tcb *l)
{
	c->flags |= l->flags & (TF_NODELAY | TF_KEEPALIVE | TF_REUSEADDR | TF_LINGER | TF_RCVBUF_SET |
	                        TF_SNDBUF_SET);
	c->cc_id = l->cc_id;
	c->opt = l->opt;
	return (l->flags & TF_OWN_OPTS) && !tcp_opts_own(c) ? -1 : 0;
}

/* A SYN_RCVD child of l for the SYN seg, on l's SYN queue and in the
 * connection table; NULL (counted) when memory is short. */
static struct tcb *child_new(struct ust_stack *stk, struct tcb *l, const struct tcp_seg *seg)
{
	struct tcp_listen *lq = l->lq;
	struct tcb *c = tcp_tcb_alloc(stk);

	if (c && child_inherit(c, l)) {
		free(c);  /* nothing of its own yet */
		c = NULL;
	}
	if (!c) {
		stk_count(stk, CNT_drop_nobuf);
		return NULL;
	}
	c->laddr = seg->dst;
	c->lport = seg->dport;
	c->raddr = seg->src;
	c->rport = seg->sport;
	c->flags |= TF_PASSIVE | TF_ORPHAN;
	if (tcp_ct_insert(stk, c)) {
		c->lport = 0;
		tcp_done(stk, c, 0);
		return NULL;
	}
	tcp_port_ref(stk, c->lport);
	c->parent = l;
	c->qnext = lq->syn_head;
	if (c->qnext)
		c->qnext->qprev = c;
	lq->syn_head = c;
	lq->syn_len++;
	c->irs = seg->seq;
	c->rcv_nxt = seg->seq + 1;
	c->rcv_adv = c->rcv_nxt;
	take_syn_options(stk, c, seg);
	c->snd_wnd = seg->wnd;
	c->snd_wl1 = seg->seq;
	tcp_set_state(stk, c, TCPS_SYN_RCVD);
	stk_count(stk, CNT_tcp_passive_opens);
	return c;
}

/* RFC 4987 3.6: an ACK to a listener that carries one of our cookies
 * becomes the connection its SYN would have made; the segment then goes
 * through the SYN_RCVD path like any handshake's third segment (*out).
 * 0 when the segment is not such an ACK; 1 when it is. When the accept
 * queue is over its backlog the ACK is dropped (*out stays NULL) but the
 * child is kept in SYN_RCVD, as after a normal handshake: its SYN-ACK
 * retransmission draws the client's ACK again later (a client that sends
 * nothing would otherwise wait forever). Such children are few: only a
 * client that received the cookie can make one. */
#define COOKIE_CHILDREN_OVER 128u  /* SYN_RCVD children beyond the backlog */

static int cookie_child(struct ust_stack *stk, struct tcb *l, const struct tcp_seg *seg,
                        struct tcb **out)
{
	struct tcp_listen *lq = l->lq;
	struct tcp_seg syn;
	struct tcb *c;

	/* Only while cookies were sent lately (their lifetime: 3 minutes). */
	if (!lq->cookie_us || stk->now - (lq->cookie_us - 1) > 180000000u ||
	    (seg->flags & (TH_SYN | TH_RST | TH_ACK)) != TH_ACK)
		return 0;
	if (tcp_cookie_check(stk, seg, &syn))
		return 0;
	if (lq->acc_len > lq->backlog && lq->syn_len > lq->backlog + COOKIE_CHILDREN_OVER) {
		lq->acc_overflows++;
		stk_count(stk, CNT_drop_tcp_accept_queue_full);
		return 1;
	}
	c = child_new(stk, l, &syn);
	if (!c)
		return 1;
	c->snd_una = seg->ack - 1;  /* the cookie was our ISS */
	c->snd_nxt = c->snd_max = seg->ack;
	if (c->flags & TF_WSCALE)
		c->rcv_wscale = tcp_wscale_for(c->opt->rcvbuf > stk->tcp->cfg.buf_max ? c->opt->rcvbuf
		                                                               : stk->tcp->cfg.buf_max);
	c->rcv_adv = c->rcv_nxt + (c->opt->rcvbuf > 65535 ? 65535 : c->opt->rcvbuf);
	c->rexmits = 1;  /* the cookie SYN-ACK was not timed: no RTT sample */
	if (lq->acc_len > lq->backlog) {
		lq->acc_overflows++;
		stk_count(stk, CNT_drop_tcp_accept_queue_full);
		tcp_rearm_rexmit(stk, c);
		return 1;
	}
	*out = c;
	return 1;
}

static void listen_input(struct ust_stack *stk, struct tcb *l, const struct tcp_seg *seg)
{
	struct tcp_listen *lq = l->lq;
	struct tcb *c;

	if (seg->flags & TH_RST)
		return;  /* first: an RST to a listener is ignored */
	if (seg->flags & TH_ACK) {
		reply_rst_limited(stk, seg);  /* second: no ACK is acceptable yet */
		return;
	}
	if (!(seg->flags & TH_SYN)) {
		stk_count(stk, CNT_drop_tcp_flags);
		return;
	}
	/* Linux: a SYN is dropped while the accept queue is over its backlog;
	 * the client's retransmission comes back later. */
	if (lq->acc_len > lq->backlog) {
		lq->acc_overflows++;
		stk_count(stk, CNT_drop_tcp_accept_queue_full);
		return;
	}
	/* A full SYN queue: a cookie instead of a child (RFC 4987 3.6), so a
	 * flood of spoofed SYNs costs no memory and real clients still get
	 * in; without cookies the SYN is dropped. */
	if (lq->syn_len >= (lq->backlog ? lq->backlog : 1)) {
		lq->syn_overflows++;
		if (stk->tcp->cfg.syncookies) {
			lq->cookie_us = stk->now + 1;
			tcp_cookie_send(stk, l, seg);
			return;
		}
		stk_count(stk, CNT_drop_tcp_syn_queue_full);
		return;
	}
	c = child_new(stk, l, seg);
	if (!c)
		return;
	c->snd_una = c->snd_nxt = c->snd_max = tcp_isn(stk, c, stk->now);
	tcp_send_syn(stk, c);
	tcp_rearm_rexmit(stk, c);
}

/* --- SYN-SENT (3.10.7.3) --- */

static void syn_sent_input(struct ust_stack *stk, struct tcb *tcb, const struct tcp_seg *seg)
{
	int ack_ok = 0;

	if (seg->flags & TH_ACK) {
		if (seq_le(seg->ack, tcb->snd_una) || seq_gt(seg->ack, tcb->snd_max)) {
			reply_rst_limited(stk, seg);  /* not for our SYN */
			return;
		}
		ack_ok = 1;
	}
	if (seg->flags & TH_RST) {
		if (ack_ok) {
			stk_count(stk, CNT_tcp_rst_rcvd);
			tcp_done(stk, tcb, ECONNREFUSED);
		}
		return;
	}
	if (!(seg->flags & TH_SYN))
		return;
	tcb->irs = seg->seq;
	tcb->rcv_nxt = seg->seq + 1;
	tcb->rcv_adv = tcb->rcv_nxt;
	take_syn_options(stk, tcb, seg);
	if (ack_ok) {
		established(stk, tcb, seg);
		ack_now(tcb);
		tcp_output(stk, tcb);
		tcp_notify(stk, tcb);
		return;
	}
	/* Simultaneous open: SYN-SENT -> SYN-RECEIVED, answer with SYN,ACK
	 * on our own ISS. */
	tcb->snd_wnd = seg->wnd;
	tcb->snd_wl1 = seg->seq;
	tcp_set_state(stk, tcb, TCPS_SYN_RCVD);
	tcp_send_syn(stk, tcb);
}

/* --- the synchronized states (3.10.7.4) --- */

/* First: is the segment acceptable (the table of 3.10.7.4)? */
static int acceptable(const struct tcb *tcb, const struct tcp_seg *seg)
{
	uint32_t wnd = seq_gt(tcb->rcv_adv, tcb->rcv_nxt) ? tcb->rcv_adv - tcb->rcv_nxt : 0;
	uint32_t len = seg_len(seg);

	if (len == 0) {
		if (wnd == 0)
			return seg->seq == tcb->rcv_nxt;
		return seq_in(seg->seq, tcb->rcv_nxt, tcb->rcv_nxt + wnd);
	}
	if (wnd == 0)
		return 0;
	return seq_in(seg->seq, tcb->rcv_nxt, tcb->rcv_nxt + wnd) ||
	       seq_in(seg->seq + len - 1, tcb->rcv_nxt, tcb->rcv_nxt + wnd);
}

/* Second: RST. RFC 5961 3.2: only an exact sequence number resets; one
 * elsewhere in the window earns a challenge ACK. */
static int on_rst(struct ust_stack *stk, struct tcb *tcb, const struct tcp_seg *seg)
{
	if (seg->seq != tcb->rcv_nxt) {
		stk_count(stk, CNT_drop_tcp_rst_seq);
		challenge_ack(stk, tcb);
		return 0;
	}
	stk_count(stk, CNT_tcp_rst_rcvd);
	switch (tcb->state) {
	case TCPS_SYN_RCVD:
		/* A passive child goes back to LISTEN, i.e. vanishes; an active
		 * one (simultaneous open) is refused. */
		tcp_done(stk, tcb, (tcb->flags & TF_PASSIVE) ? 0 : ECONNREFUSED);
		return 1;
	case TCPS_ESTABLISHED:
	case TCPS_FIN_WAIT_1:
	case TCPS_FIN_WAIT_2:
	case TCPS_CLOSE_WAIT:
		tcp_done(stk, tcb, ECONNRESET);
		return 1;
	default:  /* CLOSING, LAST_ACK, TIME_WAIT */
		tcp_done(stk, tcb, 0);
		return 1;
	}
}

/* SYN_RCVD -> ESTABLISHED for a passive child: onto the accept queue, or,
 * when it is over the backlog, the ACK is dropped and counted as Linux does;
 * our SYN-ACK retransmission will draw the ACK again. */
static int child_complete(struct ust_stack *stk, struct tcb *c)
{
	struct tcb *l = c->parent;
	struct tcp_listen *lq = l->lq;

	if (lq->acc_len > lq->backlog) {
		lq->acc_overflows++;
		stk_count(stk, CNT_drop_tcp_accept_queue_full);
		return -1;
	}
	if (c->qprev)
		c->qprev->qnext = c->qnext;
	else
		lq->syn_head = c->qnext;
	if (c->qnext)
		c->qnext->qprev = c->qprev;
	lq->syn_len--;
	c->qnext = NULL;
	c->qprev = lq->acc_tail;
	if (lq->acc_tail)
		lq->acc_tail->qnext = c;
	else
		lq->acc_head = c;
	lq->acc_tail = c;
	lq->acc_len++;
	c->flags |= TF_ACCEPTQ;
	c->flags &= ~TF_ORPHAN;  /* the listener holds it now */
	tcp_notify(stk, l);
	return 0;
}

/* Fifth, for SYN_RCVD: our SYN acknowledged? */
static int syn_rcvd_ack(struct ust_stack *stk, struct tcb *tcb, const struct tcp_seg *seg)
{
	if (!seq_gt(seg->ack, tcb->snd_una) || seq_gt(seg->ack, tcb->snd_max)) {
		reply_rst_limited(stk, seg);
		return -1;
	}
	if ((tcb->flags & TF_PASSIVE) && tcb->parent && child_complete(stk, tcb))
		return -1;
	established(stk, tcb, seg);
	tcb->snd_wnd = (uint32_t)seg->wnd << tcb->snd_wscale;
	tcb->max_wnd = tcb->snd_wnd;
	/* A close() during the handshake (simultaneous open) sends its FIN now. */
	if (tcb->flags & TF_FIN_QUEUED)
		tcp_set_state(stk, tcb, TCPS_FIN_WAIT_1);
	tcp_notify(stk, tcb);
	return 0;
}

/* New data (or our FIN) acknowledged: RFC 9293 3.10.7.4 fifth, RFC 6298
 * (5.2, 5.3) for the timer, RFC 5681 for the window. */
static void ack_advance(struct ust_stack *stk, struct tcb *tcb, const struct tcp_seg *seg)
{
	uint32_t acked = seg->ack - tcb->snd_una;
	uint32_t data = acked > tcp_ring_len(tcb->sb) ? tcp_ring_len(tcb->sb) : acked;
	/* Grow cwnd only while it limits the sender (RFC 7661 spirit, as
	 * Linux's tcp_is_cwnd_limited): an idle or app-limited flow must not
	 * build a window it never tested. */
	int cwnd_limited = 2 * (tcb->snd_max - tcb->snd_una) >= tcb->cwnd;

	if (acked > data)
		tcb->flags |= TF_FIN_ACKED;  /* the sequence number past the data */
	tcp_sb_consume(tcb, data);
	tcb->snd_una = seg->ack;
	tcb->soft_error = 0;  /* the path works again (tcp_icmp.c) */
	if (seq_lt(tcb->snd_nxt, tcb->snd_una))
		tcb->snd_nxt = tcb->snd_una;
	/* RTT: timestamps when in use (RFC 7323 4), else the timed sequence
	 * number, never a retransmitted one (Karn). */
	if ((tcb->flags & TF_TS) && seg->has_ts && seg->tsecr) {
		/* Not after a timeout: a receiver that drops the go-back-N
		 * duplicates as unacceptable echoes the first retransmission's
		 * timestamp, and the sample would hold the whole backoff. */
		if (tcb->rexmits == 0)
			tcp_rtt_sample(tcb, (now_ms(stk) - seg->tsecr) * 1000u);
	} else if ((tcb->flags & TF_RTT_TIMING) && seq_gt(seg->ack, tcb->rtt_seq)) {
		tcp_rtt_sample(tcb, (now_ms(stk) - tcb->rtt_start_ms) * 1000u);
		tcb->flags &= ~TF_RTT_TIMING;
	}
	tcb->rexmits = 0;
	tcp_sack_trim(tcb);
	if ((tcb->flags & TF_SACKREC) && tcp_below_recover(tcb, seg->ack)) {
		/* RFC 6675 5 (C): a partial ACK in SACK recovery; the
		 * scoreboard says what to resend (tcp_output). A head the
		 * scoreboard cannot call lost yet is resent as NewReno would,
		 * rather than waiting for the RTO at the tail of a window. */
		if (!tcp_sack_lost_head(tcb) && seq_le(tcb->lx->high_rxt, tcb->snd_una))
			tcp_sack_send_lost(stk, tcb, 1);
	} else if ((tcb->flags & TF_FASTREC) && tcp_below_recover(tcb, seg->ack)) {
		/* RFC 6582 3.2 (5): a partial ACK; the next hole is lost too.
		 * Retransmit it at once, deflate by what was acked, stay. */
		uint32_t mss = tcb->mss;
		tcb->cwnd = tcb->cwnd > acked ? tcb->cwnd - acked : 0;
		if (acked >= mss)
			tcb->cwnd += mss;
		if (tcb->cwnd < mss)
			tcb->cwnd = mss;
		tcp_retransmit_head(stk, tcb);
	} else if (tcb->flags & TF_FASTREC) {
		tcb->flags &= ~(TF_FASTREC | TF_SACKREC);
		tcp_cc(tcb)->on_recovery_end(tcb);  /* full ACK: RFC 6582 (3.2 step 3) */
		tcb->dupacks = 0;
	} else {
		if (cwnd_limited) {
			tcp_cc(tcb)->on_ack(tcb, acked, stk->now);
			tcp_sndbuf_expand(stk, tcb);
		}
		tcb->dupacks = 0;
	}
	/* Restart the retransmission timer for what remains (5.3). */
	tcb->tkind = TK_NONE;
	tcb->t_main = TIMER_NEVER;
}

/* Three duplicate ACKs: fast retransmit and recovery (RFC 5681 3.2), once
 * per window: not again for losses below `recover` (RFC 6582 3.2 (2)). */
/* Loss recovery by the scoreboard (RFC 6675 5): entered on the third
 * duplicate ACK or when IsLost(SND.UNA) holds, once per window like
 * NewReno. cwnd becomes ssthresh at once; pipe, not inflation, then says
 * how much may be out. The first lost segment goes out regardless of
 * cwnd (step 4.3). 0 when the connection has no scoreboard. */
int tcp_sack_enter(struct ust_stack *stk, struct tcb *tcb)
{
	if (!(tcb->flags & TF_SACK) || !tcb->lx || (tcb->flags & TF_FASTREC))
		return 0;
	/* After an RTO, go-back-N resends everything not SACKed first. */
	if (seq_lt(tcb->snd_nxt, tcb->snd_max))
		return 0;
	/* `recover` is one past RFC 6582's (the highest byte sent): a loss
	 * at or above it is a new congestion event and halves the window;
	 * one below it (a retransmission lost again) was paid for already
	 * and is only repaired. */
	if (!tcp_below_recover(tcb, tcb->snd_una)) {
		tcp_undo_save(tcb);
		tcp_cc(tcb)->on_dupacks(tcb);
		tcb->cwnd = tcb->ssthresh;
	}
	tcb->flags |= TF_FASTREC | TF_SACKREC;
	tcp_mark_recover(tcb);
	tcb->lx->high_rxt = tcb->snd_una;
	tcb->lx->prr_delivered = tcb->lx->prr_out = 0;  /* RFC 6937 3.1 */
	tcb->lx->recover_fs = tcb->snd_max - tcb->snd_una;
	stk_count(stk, CNT_tcp_sack_recovery);
	tcp_sack_send_lost(stk, tcb, 1);
	return 1;
}

static void on_dupack(struct ust_stack *stk, struct tcb *tcb)
{
	if (tcb->flags & TF_SACKREC)
		return;  /* RFC 6675: pipe counts what left the network */
	if (++tcb->dupacks == 3 && !(tcb->flags & TF_FASTREC) && (tcb->flags & TF_SACK) &&
	    tcb->lx) {
		if (!tcb->lx->by_time)
			tcp_sack_enter(stk, tcb);  /* else RACK decides, by time */
	} else if (tcb->dupacks == 3 && !(tcb->flags & TF_FASTREC) &&
	           !tcp_below_recover(tcb, tcb->snd_una)) {
		stk_count(stk, CNT_tcp_fast_recovery);
		tcp_cc(tcb)->on_dupacks(tcb);
		tcb->flags |= TF_FASTREC;
		tcp_mark_recover(tcb);
		tcp_retransmit_head(stk, tcb);
	} else if (tcb->dupacks > 3 && (tcb->flags & TF_FASTREC)) {
		tcb->cwnd += tcb->mss;  /* step 4: inflate */
	}
}

/* Fifth: the ACK field. Returns -1 when the segment is finished with, -2
 * when the TCB is done (and perhaps freed). */
static int on_ack(struct ust_stack *stk, struct tcb *tcb, const struct tcp_seg *seg)
{
	uint32_t wnd, una0 = tcb->snd_una, sacked0 = tcp_sack_bytes(tcb);
	int sack_news;

	if (tcb->state == TCPS_SYN_RCVD && syn_rcvd_ack(stk, tcb, seg))
		return -1;
	/* RFC 5961 5.2: acceptable is SND.UNA - MAX.SND.WND <= SEG.ACK <=
	 * SND.NXT (our SND.MAX); beyond it, a challenge ACK and the segment is
	 * dropped: it acknowledges what we never sent, or is far too old to
	 * come from the peer (a blind injection guessing sequence numbers). */
	if (seq_gt(seg->ack, tcb->snd_max) ||
	    seq_lt(seg->ack, tcb->snd_una - tcb->max_wnd)) {
		stk_count(stk, CNT_drop_tcp_bad_ack);
		challenge_ack(stk, tcb);
		return -1;
	}
	wnd = (uint32_t)seg->wnd << ((tcb->flags & TF_WSCALE) ? tcb->snd_wscale : 0);
	/* RFC 6675 2: an ACK bringing new SACK information counts as a
	 * duplicate even when it carries data or a window change. */
	sack_news = tcp_sack_update(tcb, seg);
	if (seq_gt(seg->ack, tcb->snd_una)) {
		ack_advance(stk, tcb, seg);
	} else if (seg->ack == tcb->snd_una && tcb->snd_max != tcb->snd_una &&
	           (sack_news || (seg->len == 0 && !(seg->flags & (TH_SYN | TH_FIN)) &&
	                          wnd == tcb->snd_wnd))) {
		on_dupack(stk, tcb);
	}
	if (sack_news && !(tcb->flags & TF_FASTREC) && tcp_sack_lost_head(tcb))
		tcp_sack_enter(stk, tcb);  /* RFC 6675 5 (a): IsLost(HighACK + 1) */
	/* RFC 8985 6.2: newly SACKed data starts a reordering window even in
	 * recovery: that is how a lost retransmission is found without the
	 * RTO (the head hole is "lost" already, so the rule above is mute). */
	if (tcb->lx && tcb->lx->nsb &&
	    (!(tcb->flags & TF_FASTREC) || seq_gt(tcb->lx->fack, tcb->lx->rack_hi)))
		tcp_rack_arm(stk, tcb);
	if (tcb->lx && tcb->lx->undo_on)
		tcp_undo_check(tcb);
	if (tcb->flags & TF_SACKREC) {
		/* RFC 6937 DeliveredData: SND.UNA's advance plus the change
		 * in SACKed bytes (negative when SND.UNA swallowed them). */
		uint64_t d = (uint64_t)(tcb->snd_una - una0) + tcp_sack_bytes(tcb);
		tcp_prr_ack(tcb, d > sacked0 ? (uint32_t)(d - sacked0) : 0);
	}
	/* Window update, when the segment is newer than the last one that
	 * set it (RFC 9293 3.10.7.4: SND.WL1 < SEG.SEQ, or SND.WL1 = SEG.SEQ
	 * and SND.WL2 =< SEG.ACK). SND.WL2 was an ACK already taken, so it
	 * is at most SND.UNA as it stood before this one: an ACK not older
	 * than that satisfies the rule; an older one (reordered) brings an
	 * older window, and is not used. */
	if (seq_lt(tcb->snd_wl1, seg->seq) ||
	    (tcb->snd_wl1 == seg->seq && seq_ge(seg->ack, una0))) {
		tcb->snd_wnd = wnd;
		tcb->snd_wl1 = seg->seq;
		if (wnd > tcb->max_wnd)
			tcb->max_wnd = wnd;
	}
	if (!(tcb->flags & TF_FIN_ACKED))
		return 0;
	/* Our FIN is acknowledged. */
	switch (tcb->state) {
	case TCPS_FIN_WAIT_1:
		tcp_set_state(stk, tcb, TCPS_FIN_WAIT_2);
		if (tcb->flags & TF_ORPHAN)
			tcp_set_main(stk, tcb, TK_FIN_WAIT_2,
			             stk->now + stk->tcp->cfg.fin_wait2_us);
		break;
	case TCPS_CLOSING:
		tcp_set_state(stk, tcb, TCPS_TIME_WAIT);
		tcp_set_main(stk, tcb, TK_TIME_WAIT, stk->now + stk->tcp->cfg.time_wait_us);
		break;
	case TCPS_LAST_ACK:
		tcp_done(stk, tcb, 0);
		return -2;
	default:
		break;
	}
	return 0;
}

/* --- receiving data (seventh) and FIN (eighth) --- */

#define TCP_RB_MIN 512u  /* first receive ring: small messages stay small */
/* First ring for a segment of a TSO run (PKT_F_SEG_MORE): at least this,
 * and room for the window the peer may fill before our next ACK. The rest
 * of a 64 KB frame is right behind the segment; growing from TCP_RB_MIN by
 * doubling would copy what the ring holds at each step, and a bulk ring is
 * freed whenever the reader catches up. Pages are touched only as bytes
 * are written, and the ring lives only while it holds unread data. */
#define TCP_RB_RUN 65536u

/* Appends in-order bytes to the receive ring; the packet buffer goes back
 * to the pool at once, so unread data costs its bytes, not a 2 KB buffer.
 * 0, or -1 when memory is short: the bytes stay unacknowledged and the
 * peer sends them again. */
static int rq_put(struct ust_stack *stk, struct tcb *tcb, const uint8_t *d, uint32_t n, int run)
{
	uint32_t min = TCP_RB_MIN, space = tcp_rcv_space(stk, tcb);
	uint32_t wnd = seq_gt(tcb->rcv_adv, tcb->rcv_nxt) ? tcb->rcv_adv - tcb->rcv_nxt : 0;

	if (run && space >= TCP_RB_RUN)
		for (min = TCP_RB_RUN; min < wnd && min < space;)
			min *= 2;
	if (tcp_ring_put(&tcb->rb, d, n, min)) {
		stk_count(stk, CNT_drop_tcp_rcv_mem);
		return -1;
	}
	return 0;
}

/* Eighth: the FIN, once everything before it has arrived. */
static void on_fin(struct ust_stack *stk, struct tcb *tcb)
{
	tcb->rcv_nxt++;
	tcb->flags |= TF_FIN_RCVD;
	ack_now(tcb);
	switch (tcb->state) {
	case TCPS_SYN_RCVD:
	case TCPS_ESTABLISHED:
		/* Held until the application closes (RFC 9293 3.10.4). */
		tcp_set_state(stk, tcb, TCPS_CLOSE_WAIT);
		break;
	case TCPS_FIN_WAIT_1:
		/* Both closed at once: our FIN is not acknowledged yet. */
		tcp_set_state(stk, tcb, TCPS_CLOSING);
		break;
	case TCPS_FIN_WAIT_2:
		tcp_set_state(stk, tcb, TCPS_TIME_WAIT);
		tcp_set_main(stk, tcb, TK_TIME_WAIT, stk->now + stk->tcp->cfg.time_wait_us);
		break;
	default:
		break;
	}
}

/* Memory pressure: out-of-order payload is held in packet buffers, which
 * the link also needs for every frame in. When the pool runs low, such a
 * segment is dropped (the peer retransmits it later), so that ACKs, FINs
 * and RSTs still get through instead of the stack stalling. */
static int rcv_mem_low(const struct ust_stack *stk)
{
	const struct pkt_pool *pool = &stk->pool;

	return (uint64_t)pool->nfree * 100 < (uint64_t)pool->size * stk->tcp->cfg.rcv_pool_reserve_pct;
}

/* Segments the out-of-order queue may hold (a pool buffer each): a receive
 * window's worth of full segments (at least OOO_MIN_SEGS), so one hole
 * does not make the rest of the window be dropped and sent again; never
 * more than ooo_max_segs. Tiny segments reach the bound sooner and are
 * dropped, counted (drop_tcp_ooo_mem). */
#define OOO_MIN_SEGS 64u

static uint32_t ooo_limit(const struct ust_stack *stk, const struct tcb *tcb)
{
	uint32_t n = tcp_rcv_space(stk, tcb) / (tcb->rcv_mss ? tcb->rcv_mss : TCP_DEFAULT_MSS) + 1;

	if (n < OOO_MIN_SEGS)
		n = OOO_MIN_SEGS;
	if (n > stk->tcp->cfg.ooo_max_segs)
		n = stk->tcp->cfg.ooo_max_segs;
	return n < UINT16_MAX ? n : UINT16_MAX;  /* lx->ooo_count */
}

/* Out-of-order segments wait, sorted by sequence number and bounded; the
 * FIN bit is kept with them (ts bit 0). */
static int ooo_insert(struct ust_stack *stk, struct tcb *tcb, struct pkt *p, uint32_t seq,
                      int fin)
{
	struct tcp_lossx *x = tcp_lossx_get(tcb);
	struct pkt **pp;

	if (!x || x->ooo_count >= ooo_limit(stk, tcb)) {
		stk_count(stk, CNT_drop_tcp_ooo_mem);
		return -1;
	}
	pp = &x->ooo;
	while (*pp && seq_lt((*pp)->meta, seq))
		pp = &(*pp)->next;
	if (*pp && (*pp)->meta == seq && (*pp)->len >= p->len && ((*pp)->ts & 1) >= (uint64_t)fin)
		return -1;  /* a duplicate of what is held */
	p->meta = seq;
	p->ts = (uint64_t)fin;
	p->next = *pp;
	*pp = p;
	x->ooo_count++;
	return 0;
}

/* Moves held segments that now touch rcv_nxt into the receive ring. */
static void ooo_drain(struct ust_stack *stk, struct tcb *tcb)
{
	struct tcp_lossx *x = tcb->lx;

	while (x && x->ooo && seq_le(x->ooo->meta, tcb->rcv_nxt)) {
		struct pkt *p = x->ooo;
		uint32_t end = p->meta + p->len;
		int fin = (int)(p->ts & 1);

		x->ooo = p->next;
		p->next = NULL;
		x->ooo_count--;
		if (seq_lt(end, tcb->rcv_nxt) || (end == tcb->rcv_nxt && !fin)) {
			pkt_free(p);
			continue;
		}
		pkt_pull(p, tcb->rcv_nxt - p->meta);
		if (p->len && rq_put(stk, tcb, p->data, p->len, 0)) {
			pkt_free(p);
			break;
		}
		tcb->rcv_nxt = end;
		pkt_free(p);
		if (fin) {
			on_fin(stk, tcb);
			break;
		}
	}
}

/* Seventh and eighth: text and FIN, for the states that take them. The
 * segment's bytes are already trimmed to the window. Consumes p. Returns 1
 * when the TCB is done. */
static int on_text(struct ust_stack *stk, struct tcb *tcb, const struct tcp_seg *seg,
                    struct pkt *p)
{
	int fin = !!(seg->flags & TH_FIN);
	int more = !!(p->flags & PKT_F_SEG_MORE);
	int takes_data = tcb->state == TCPS_ESTABLISHED || tcb->state == TCPS_FIN_WAIT_1 ||
	                 tcb->state == TCPS_FIN_WAIT_2;

	if (tcb->flags & TF_FIN_RCVD) {
		/* CLOSE_WAIT, CLOSING, LAST_ACK, TIME_WAIT: text and a second FIN
		 * are ignored; a retransmitted FIN is ACKed again. */
		if (fin || seg->len)
			ack_now(tcb);
		if (tcb->state == TCPS_TIME_WAIT && fin)
			tcp_set_main(stk, tcb, TK_TIME_WAIT, stk->now + stk->tcp->cfg.time_wait_us);
		pkt_free(p);
		return 0;
	}
	if (!takes_data || (!seg->len && !fin)) {
		pkt_free(p);
		return 0;
	}
	if (seg->len && (tcb->flags & TF_ORPHAN)) {
		/* Nobody will read it (RFC 9293 3.10.7.4 seventh leaves this
		 * open): Linux resets, and so do we, rather than hold it. */
		pkt_free(p);
		tcp_send_rst(stk, tcb);
		tcp_done(stk, tcb, 0);
		return 1;
	}
	if (seg->seq != tcb->rcv_nxt) {
		/* A hole before it: keep it and send a duplicate ACK at once
		 * (RFC 5681 4.2) so the sender can fast-retransmit. */
		ack_now(tcb);
		if (seg->len && rcv_mem_low(stk)) {
			stk_count(stk, CNT_drop_tcp_rcv_mem);
			pkt_free(p);
			return 0;
		}
		/* p holds exactly the payload from here on. */
		p->data = (uint8_t *)seg->data;
		p->len = seg->len;
		if (ooo_insert(stk, tcb, p, seg->seq, fin))
			pkt_free(p);
		else
			tcp_sack_rcv_ooo(tcb, seg->seq);  /* RFC 2018 4: report it first */
		return 0;
	}
	if (seg->len && rq_put(stk, tcb, seg->data, seg->len, more)) {
		pkt_free(p);
		return 0;
	}
	tcb->rcv_nxt += seg->len;
	pkt_free(p);
	if (tcp_ooo_head(tcb)) {
		ooo_drain(stk, tcb);
		ack_now(tcb);  /* a hole filled: ACK at once (RFC 5681 4.2) */
	}
	if (fin && !(tcb->flags & TF_FIN_RCVD))
		on_fin(stk, tcb);
	/* Delayed ACK (RFC 9293 3.8.6.3, RFC 5681 4.2): every second full
	 * segment at once, otherwise within delack_us. The segments of one
	 * TSO frame the link split (PKT_F_SEG_MORE on all but the last) were
	 * one send of the peer: they are ACKed together at the last, as Linux
	 * ACKs a GRO packet, which spares the sender most of its ACK work. */
	if (seg->len && !(tcb->flags & TF_ACK_NOW)) {
		if (tcb->segs_unacked < UINT8_MAX)
			tcb->segs_unacked++;
		if (tcb->segs_unacked >= 2 && !more) {
			ack_now(tcb);
		} else if (!(tcb->flags & TF_DELACK)) {
			tcp_delack_set(tcb, stk->now + stk->tcp->cfg.delack_us);
			tcp_timer_update(stk, tcb);
		}
	}
	return 0;
}

/* Trims what lies outside the window: bytes already received at the front
 * (an old SYN bit counts as one), bytes beyond the window at the back. */
static void trim_to_window(const struct tcb *tcb, struct tcp_seg *seg)
{
	uint32_t wnd = seq_gt(tcb->rcv_adv, tcb->rcv_nxt) ? tcb->rcv_adv - tcb->rcv_nxt : 0;

	if (seq_lt(seg->seq, tcb->rcv_nxt)) {
		uint32_t d = tcb->rcv_nxt - seg->seq;
		if (seg->flags & TH_SYN) {
			seg->flags &= (uint8_t)~TH_SYN;
			seg->seq++;
			d--;
		}
		if (d > seg->len) {
			/* All old, the FIN included (it lies before RCV.NXT). */
			seg->flags &= (uint8_t)~TH_FIN;
			d = seg->len;
		}
		seg->data += d;
		seg->len -= d;
		seg->seq += d;
	}
	if (seq_gt(seg->seq + seg->len, tcb->rcv_nxt + wnd)) {
		uint32_t keep = seq_gt(tcb->rcv_nxt + wnd, seg->seq) ? tcb->rcv_nxt + wnd - seg->seq : 0;
		seg->len = keep;
		seg->flags &= (uint8_t)~TH_FIN;
	}
}

/* RFC 7323 5.3 R1: a segment whose TSval is older than TS.Recent is an old
 * duplicate, unless the connection was idle for 24 days (5.5): then
 * TS.Recent is too old to compare with and is dropped instead. */
#define PAWS_IDLE_S (24u * 24 * 3600)

static int paws_reject(struct ust_stack *stk, struct tcb *tcb, const struct tcp_seg *seg)
{
	if (!(tcb->flags & TF_TS) || !seg->has_ts || (seg->flags & TH_RST) ||
	    !seq_lt(seg->tsval, tcb->ts_recent))
		return 0;
	if ((uint32_t)(stk->now / 1000000u) - tcb->ts_recent_age > PAWS_IDLE_S) {
		ts_recent_set(stk, tcb, seg->tsval);
		return 0;
	}
	return 1;
}

/* Returns 1 when the TCB is done (and perhaps freed). Consumes p. */
static int sync_input(struct ust_stack *stk, struct tcb *tcb, struct tcp_seg *seg,
                      struct pkt *p)
{
	int rc;

	if (tcb->state == TCPS_SYN_RCVD && (seg->flags & TH_SYN) && seg->seq == tcb->irs) {
		if (!(seg->flags & TH_ACK)) {
			/* A retransmitted SYN: our SYN-ACK was lost, again. */
			tcp_send_syn(stk, tcb);
			pkt_free(p);
			return 0;
		}
		/* Simultaneous open: the peer's SYN,ACK repeats the SYN we
		 * already hold; what is new is its ACK (RFC 9293 fig. 8). */
		seg->flags &= (uint8_t)~TH_SYN;
		seg->seq++;
	}
	/* RFC 7323 5.3 R1: PAWS, before the sequence check. An RST is not
	 * subject to it (as Linux: the peer may have lost its clock). */
	if (paws_reject(stk, tcb, seg)) {
		stk_count(stk, CNT_drop_tcp_paws);
		if (seg->flags & TH_SYN)
			challenge_ack(stk, tcb);
		else if (seg->len || oow_ack_allowed(stk))
			ack_now(tcb);
		pkt_free(p);
		return 0;
	}
	/* RFC 5961 4.2: a SYN in a synchronized state, in the window or not,
	 * earns a challenge ACK and nothing else (RFC 9293 3.10.7.4 fourth). */
	if (seg->flags & TH_SYN) {
		stk_count(stk, CNT_drop_tcp_syn_in_sync);
		challenge_ack(stk, tcb);
		if (tcb->state == TCPS_TIME_WAIT)
			tcp_set_main(stk, tcb, TK_TIME_WAIT, stk->now + stk->tcp->cfg.time_wait_us);
		pkt_free(p);
		return 0;
	}
	/* RFC 2883 4: data we hold already is reported in a D-SACK block. */
	if (seg->len && seq_lt(seg->seq, tcb->rcv_nxt) && !(seg->flags & TH_RST))
		tcp_sack_rcv_dup(tcb, seg->seq,
		                 seq_lt(seg->seq + seg->len, tcb->rcv_nxt) ? seg->seq + seg->len
		                                                          : tcb->rcv_nxt);
	/* First: sequence number. An RST is judged by on_rst (RFC 5961). */
	if (!acceptable(tcb, seg)) {
		/* Special allowance (3.10.7.4): with a zero window the ACK,
		 * URG and RST of a segment at RCV.NXT are still processed. */
		if (!(seg->seq == tcb->rcv_nxt && seg->len)) {
			stk_count(stk, CNT_drop_tcp_unacceptable);
			/* The duplicate ACK RFC 9293 asks for; for segments
			 * without data it is rate-limited as Linux does, so a
			 * flood of them cannot turn into a flood of ACKs. */
			if (!(seg->flags & TH_RST) && (seg->len || oow_ack_allowed(stk)))
				ack_now(tcb);
			/* TIME_WAIT: the peer's FIN again; 2*MSL restarts. */
			if (tcb->state == TCPS_TIME_WAIT && (seg->flags & TH_FIN))
				tcp_set_main(stk, tcb, TK_TIME_WAIT,
				             stk->now + stk->tcp->cfg.time_wait_us);
			pkt_free(p);
			return 0;
		}
		seg->len = 0;
		seg->flags &= (uint8_t)~TH_FIN;
	}
	trim_to_window(tcb, seg);
	/* RFC 7323 4.3: remember the timestamp to echo. */
	if ((tcb->flags & TF_TS) && seg->has_ts && seq_le(seg->seq, tcb->rcv_nxt) &&
	    seq_ge(seg->tsval, tcb->ts_recent))
		ts_recent_set(stk, tcb, seg->tsval);
	tcp_rcv_rtt_sample(stk, tcb, seg);  /* receive window auto-tuning */
	/* Second: RST. */
	if (seg->flags & TH_RST) {
		pkt_free(p);
		return on_rst(stk, tcb, seg);
	}
	/* Fifth: without ACK the segment is dropped. */
	rc = (seg->flags & TH_ACK) ? on_ack(stk, tcb, seg) : -1;
	if (rc) {
		pkt_free(p);
		return rc == -2;
	}
	if (tcb->tkind == TK_KEEPALIVE) {
		tcb->probes = 0;  /* the peer is alive: idle time starts again */
		tcb->t_main = stk->now + (uint64_t)tcb->opt->keepidle_s * 1000000u;
	}
	return on_text(stk, tcb, seg, p);
}

/* TIME_WAIT assassination avoided the Linux way: a new SYN with a higher
 * sequence number than the old connection's end may reuse the 4-tuple. */
static int time_wait_reuse(struct ust_stack *stk, struct tcb *tcb, const struct tcp_seg *seg)
{
	if (tcb->state != TCPS_TIME_WAIT || (seg->flags & (TH_SYN | TH_ACK | TH_RST)) != TH_SYN ||
	    !seq_gt(seg->seq, tcb->rcv_nxt) || !tcp_listener_lookup(stk, seg->dst, seg->dport))
		return 0;
	tcp_done(stk, tcb, 0);
	return 1;
}

void tcp_input(struct ust_stack *stk, struct pkt *p, const struct ipv4_repr *ip)
{
	struct tcp_seg seg;
	struct tcb *tcb;
	uint32_t before, rq_before;
	uint8_t st_before;
	int rc = tcp_parse(p->data, p->len, ip->src, ip->dst, !!(p->flags & PKT_F_CSUM_OK), &seg);

	if (rc) {
		stk_drop(stk, p, (enum stk_counter)rc);
		return;
	}
	stk_count(stk, CNT_tcp_segs_in);
	tcb = tcp_ct_lookup(stk, ip->dst, seg.dport, ip->src, seg.sport);
	if (tcb && time_wait_reuse(stk, tcb, &seg))
		tcb = NULL;
	if (!tcb) {
		struct tcb *l = tcp_listener_lookup(stk, ip->dst, seg.dport);
		int cookie = l ? cookie_child(stk, l, &seg, &tcb) : 0;
		if (l && !cookie) {
			listen_input(stk, l, &seg);
		} else if (!l) {
			/* CLOSED (3.10.7.1): everything but an RST gets one. */
			stk_count(stk, CNT_drop_tcp_no_socket);
			reply_rst_limited(stk, &seg);
		}
		if (!tcb) {
			pkt_free(p);
			return;
		}
	}
	if (tcb->state == TCPS_SYN_SENT) {
		syn_sent_input(stk, tcb, &seg);
		pkt_free(p);
		return;
	}
	before = tcp_poll(tcb);
	rq_before = tcp_ring_len(tcb->rb);
	st_before = tcb->state;
	if (sync_input(stk, tcb, &seg, p))
		return;  /* tcp_done has told the application */
	tcp_output(stk, tcb);
	if (tcp_ring_len(tcb->rb) != rq_before || tcb->state != st_before || (tcp_poll(tcb) & ~before))
		tcp_notify(stk, tcb);
}
