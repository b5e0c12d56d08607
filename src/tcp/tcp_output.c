/* TCP output: building segments (header, options, checksum), deciding what
 * may be sent now (windows, Nagle, silly-window avoidance, FIN placement),
 * ACKs and RSTs, and the connections waiting for room to send. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/checksum.h"
#include "core/stack.h"
#include "core/wire.h"
#include "tcp/tcp_int.h"

#define TCPOPT_EOL 0
#define TCPOPT_NOP 1
#define TCPOPT_MSS 2
#define TCPOPT_WS 3
#define TCPOPT_SACK_OK 4
#define TCPOPT_TS 8

/* IP MTU less the IP and TCP headers (RFC 9293 3.7.1), and what a buffer
 * of the pool can carry. */
uint16_t tcp_mss_for_mtu(const struct ust_stack *stk)
{
	uint32_t mss = stk->cfg.mtu > 40 ? stk->cfg.mtu - 40u : TCP_DEFAULT_MSS;
	uint32_t cap = PKT_DATA_MAX - ETH_HDR_LEN - IPV4_HDR_LEN - 60;

	return (uint16_t)(mss < cap ? mss : cap);
}

static uint32_t now_ms(const struct ust_stack *stk)
{
	return (uint32_t)(stk->now / 1000);
}

/* Window scale we announce: the smallest shift that lets the largest
 * buffer be offered (RFC 7323 2.3). */
static uint8_t wscale_for(uint32_t buf)
{
	uint8_t s = 0;

	while (s < 14 && (buf >> s) > 65535)
		s++;
	return s;
}

uint32_t tcp_rcv_window(const struct ust_stack *stk, const struct tcb *tcb)
{
	uint32_t space = tcp_rcv_space(stk, tcb);  /* auto-tuned (tcp_rcvbuf.c) */

	return space > tcp_ring_len(tcb->rb) ? space - tcp_ring_len(tcb->rb) : 0;
}

/* The window field of the next segment, and the right edge it announces.
 * Never shrinks the window (RFC 9293 3.8.6.2.1) and moves the edge only by
 * a full segment or half the buffer (receiver SWS avoidance, 3.8.6.2.2). */
static uint16_t window_field(const struct ust_stack *stk, struct tcb *tcb, int syn)
{
	uint32_t shift = (!syn && (tcb->flags & TF_WSCALE)) ? tcb->rcv_wscale : 0;
	uint32_t room = tcp_rcv_window(stk, tcb), space = room;
	uint32_t cur = seq_gt(tcb->rcv_adv, tcb->rcv_nxt) ? tcb->rcv_adv - tcb->rcv_nxt : 0;
	uint32_t half = tcp_rcv_space(stk, tcb) / 2;
	uint32_t step = tcb->rcv_mss < half ? tcb->rcv_mss : half;
	uint32_t field;

	if (space <= cur || space - cur < step)
		space = cur;
	if (space > (65535u << shift))
		space = 65535u << shift;
	field = space >> shift;
	/* Scaling truncates: round up rather than shrink (as Linux), but only
	 * within the buffer's room; otherwise the edge recedes by less than
	 * one scaling unit, which RFC 7323 2.4 lets a receiver do. */
	if ((field << shift) < cur && field < 65535 && ((field + 1) << shift) <= room)
		field++;
	if (seq_gt(tcb->rcv_nxt + (field << shift), tcb->rcv_adv) || syn)
		tcb->rcv_adv = tcb->rcv_nxt + (field << shift);
	return (uint16_t)field;
}

static size_t put_ts(uint8_t *o, uint32_t tsval, uint32_t tsecr)
{
	o[0] = TCPOPT_NOP;
	o[1] = TCPOPT_NOP;
	o[2] = TCPOPT_TS;
	o[3] = 10;
	wr32(o + 4, tsval);
	wr32(o + 8, tsecr);
	return 12;
}

/* Options of a SYN or SYN-ACK: MSS, timestamps, window scale. */
static size_t syn_options(const struct ust_stack *stk, struct tcb *tcb, uint8_t *o, int offer_ws,
                          int offer_ts, int offer_sack)
{
	size_t n = 0;

	o[n++] = TCPOPT_MSS;
	o[n++] = 4;
	wr16(o + n, tcb->rcv_mss);
	n += 2;
	if (offer_ts)
		n += put_ts(o + n, now_ms(stk), tcb->state == TCPS_SYN_RCVD ? tcb->ts_recent : 0);
	if (offer_sack) {
		/* RFC 2018 2: SACK-permitted, in the two NOPs before the
		 * timestamps when there are some (Linux's layout). */
		uint8_t *at = offer_ts ? o + n - 12 : o + n;
		if (!offer_ts) {
			n += 4;
			at[2] = TCPOPT_NOP;
			at[3] = TCPOPT_NOP;
		}
		at[0] = TCPOPT_SACK_OK;
		at[1] = 2;
	}
	if (offer_ws) {
		o[n++] = TCPOPT_NOP;
		o[n++] = TCPOPT_WS;
		o[n++] = 3;
		o[n++] = tcb->rcv_wscale;
	}
	return n;
}

struct seg_out {
	uint32_t src, dst;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t wnd;
	const uint8_t *opt;
	size_t optlen;
	const struct tcp_ring *sb;  /* payload source, or NULL */
	uint32_t off, len;          /* payload bytes from sb */
};

/* Builds the segment into p, checksums it with the pseudo-header and hands
 * it to IP. Returns 0 or a negative errno. */
static int emit_into(struct ust_stack *stk, struct pkt *p, const struct seg_out *s)
{
	size_t hl = TCP_HDR_LEN + ((s->optlen + 3) & ~(size_t)3);
	uint8_t *h;
	uint32_t sum;

	h = pkt_put(p, hl + s->len);
	if (!h) {
		stk_drop(stk, p, CNT_drop_nobuf);
		return -EMSGSIZE;
	}
	wr16(h, s->sport);
	wr16(h + 2, s->dport);
	wr32(h + 4, s->seq);
	wr32(h + 8, s->ack);
	h[12] = (uint8_t)((hl / 4) << 4);
	h[13] = s->flags;
	wr16(h + 14, s->wnd);
	wr16(h + 16, 0);
	wr16(h + 18, 0);
	memset(h + TCP_HDR_LEN, TCPOPT_EOL, hl - TCP_HDR_LEN);
	if (s->optlen)
		memcpy(h + TCP_HDR_LEN, s->opt, s->optlen);
	tcp_ring_copy(s->sb, s->off, h + hl, s->len);
	sum = csum_pseudo(s->src, s->dst, IP_PROTO_TCP, (uint16_t)(hl + s->len));
	/* The link completes the checksum (offload) unless IP must fragment
	 * the segment, which the MSS prevents but a tiny MTU would not. */
	if (stk->cfg.tx_csum_offload && IPV4_HDR_LEN + hl + s->len <= stk->cfg.mtu) {
		wr16(h + 16, (uint16_t)~csum_fold(sum));
		p->flags |= PKT_F_CSUM_PARTIAL;
	} else {
		wr16(h + 16, csum_fold(csum_partial(h, hl + s->len, sum)));
	}
	stk_count(stk, CNT_tcp_segs_out);
	return ip_output(stk, p, s->src, s->dst, IP_PROTO_TCP);
}

/* A segment no connection waits to resend (a reset): when there is no
 * room it is lost, as on a wire. */
static int emit(struct ust_stack *stk, const struct seg_out *s)
{
	struct pkt *p = stk_tx_ok(stk) ? pkt_alloc(&stk->pool) : NULL;

	if (!p) {
		stk_count(stk, CNT_drop_nobuf);
		return -ENOBUFS;
	}
	return emit_into(stk, p, s);
}

static void seg_from_tcb(struct ust_stack *stk, struct tcb *tcb, struct seg_out *s, uint8_t *opt)
{
	memset(s, 0, sizeof(*s));
	s->src = tcb->laddr;
	s->dst = tcb->raddr;
	s->sport = tcb->lport;
	s->dport = tcb->rport;
	s->opt = opt;
	if (tcb->flags & TF_TS)
		s->optlen = put_ts(opt, now_ms(stk), tcb->ts_recent);
}

/* An ACK rides on every segment we send: the delayed ACK is paid. */
static void ack_sent(struct tcb *tcb)
{
	tcb->segs_unacked = 0;
	tcb->flags &= ~(TF_ACK_NOW | TF_DELACK);
}

int tcp_xmit(struct ust_stack *stk, struct tcb *tcb, uint32_t seq, uint32_t len, uint8_t flags)
{
	uint8_t opt[40];
	struct seg_out s;
	struct pkt *p;
	uint32_t end;

	/* No room for the frame: nothing is changed (SND.NXT, the owed ACK),
	 * and the connection sends it when room comes back (tcp_tx_resume),
	 * not an RTO later. */
	if (!stk_tx_ok(stk)) {
		tcp_tx_wait(stk, tcb);
		return -ENOBUFS;
	}
	p = pkt_alloc(&stk->pool);
	seg_from_tcb(stk, tcb, &s, opt);
	s.seq = seq;
	s.ack = tcb->rcv_nxt;
	s.flags = flags | TH_ACK;
	s.wnd = window_field(stk, tcb, 0);
	if (tcb->lx) {
		/* Options and payload share the MSS (RFC 6691): a full data
		 * segment has no room for blocks; ACKs always do. */
		size_t n, room = sizeof(opt) - s.optlen;
		if (len && (size_t)tcb->mss < len + s.optlen + room)
			room = (size_t)tcb->mss > len + s.optlen ? tcb->mss - len - s.optlen : 0;
		if (tcb->lx->dsack && (tcb->flags & TF_SACK) && room >= 12)
			stk_count(stk, CNT_tcp_dsack_sent);
		n = tcp_sack_option(tcb, opt + s.optlen, room);
		if (n)
			stk_count(stk, CNT_tcp_sack_blocks_sent);
		s.optlen += n;
	}
	if (len) {
		s.sb = tcb->sb;
		s.off = seq - tcb->snd_una;
		s.len = len;
	}
	ack_sent(tcb);
	if (len && (tcb->flags & TF_SACKREC))
		tcb->lx->prr_out += len;  /* RFC 6937: prr_out */
	if (len && tcb->lx && tcb->lx->undo_on && seq_lt(seq, tcb->snd_max))
		tcb->lx->undo_retrans++;  /* a retransmission: undo waits for its D-SACK */
	if (len)
		tcb->last_send_ms = now_ms(stk);
	end = seq + len + ((flags & TH_FIN) ? 1 : 0);
	if (seq_gt(end, tcb->snd_max))
		tcb->snd_max = end;
	emit_into(stk, p, &s);
	return 0;
}

/* A pure ACK carries the highest sequence number sent, not SND.NXT: after
 * an RTO rewinds SND.NXT for go-back-N, the old value would fall before
 * the peer's RCV.NXT, the peer would find the segment unacceptable and
 * drop its ACK with it (RFC 9293 3.10.7.4), and two sides retransmitting
 * at once would never hear each other. */
void tcp_send_ack(struct ust_stack *stk, struct tcb *tcb)
{
	tcp_xmit(stk, tcb, tcb->snd_max, 0, 0);
}

void tcp_send_syn(struct ust_stack *stk, struct tcb *tcb)
{
	uint8_t opt[40];
	struct seg_out s;
	int synrcvd = tcb->state == TCPS_SYN_RCVD;
	struct tcp_config *cfg = &stk->tcp->cfg;
	int ws = synrcvd ? !!(tcb->flags & TF_WSCALE) : cfg->wscale;
	int ts = synrcvd ? !!(tcb->flags & TF_TS) : cfg->timestamps;

	if (!stk_tx_ok(stk)) {
		tcp_tx_wait(stk, tcb);  /* sent by tcp_tx_resume */
		return;
	}
	memset(&s, 0, sizeof(s));
	tcb->rcv_wscale = ws ? wscale_for(tcb->opt->rcvbuf > cfg->buf_max ? tcb->opt->rcvbuf : cfg->buf_max) : 0;
	s.src = tcb->laddr;
	s.dst = tcb->raddr;
	s.sport = tcb->lport;
	s.dport = tcb->rport;
	s.seq = tcb->snd_una;  /* ISS: nothing is acknowledged before the SYN */
	s.flags = TH_SYN;
	if (synrcvd) {
		s.flags |= TH_ACK;
		s.ack = tcb->rcv_nxt;
		ack_sent(tcb);
	}
	s.wnd = window_field(stk, tcb, 1);
	s.opt = opt;
	s.optlen = syn_options(stk, tcb, opt, ws, ts,
	                       synrcvd ? !!(tcb->flags & TF_SACK) : cfg->sack);
	tcb->snd_nxt = tcb->snd_una + 1;
	if (!tcb->rexmits)
		tcb->rtt_start_ms = now_ms(stk);  /* the handshake is timed too */
	if (seq_gt(tcb->snd_nxt, tcb->snd_max))
		tcb->snd_max = tcb->snd_nxt;
	emit(stk, &s);
}

void tcp_send_rst(struct ust_stack *stk, struct tcb *tcb)
{
	uint8_t opt[40];
	struct seg_out s;

	seg_from_tcb(stk, tcb, &s, opt);
	s.seq = tcb->snd_max;  /* as tcp_send_ack: never behind the peer */
	s.ack = tcb->rcv_nxt;
	s.flags = TH_RST | TH_ACK;
	stk_count(stk, CNT_tcp_rst_sent);
	emit(stk, &s);
}

/* RFC 9293 3.10.7.1: a segment for no connection. An ACK's number becomes
 * our sequence number; otherwise we acknowledge what it occupied. */
void tcp_reply_rst(struct ust_stack *stk, const struct tcp_seg *seg)
{
	struct seg_out s;

	if (seg->flags & TH_RST)
		return;
	memset(&s, 0, sizeof(s));
	s.src = seg->dst;
	s.dst = seg->src;
	s.sport = seg->dport;
	s.dport = seg->sport;
	if (seg->flags & TH_ACK) {
		s.seq = seg->ack;
		s.flags = TH_RST;
	} else {
		s.seq = 0;
		s.ack = seg->seq + seg->len + !!(seg->flags & TH_SYN) + !!(seg->flags & TH_FIN);
		s.flags = TH_RST | TH_ACK;
	}
	stk_count(stk, CNT_tcp_rst_sent);
	emit(stk, &s);
}

/* Payload bytes per segment: the MSS less the options every segment carries. */
static uint32_t eff_mss(const struct tcb *tcb)
{
	return tcb->mss - ((tcb->flags & TF_TS) ? 12u : 0u);
}

/* RFC 3042 Limited Transmit: the first two duplicate ACKs each let one new
 * segment out beyond cwnd (cwnd itself unchanged), so a small window still
 * gathers the three duplicates fast retransmit needs. */
static uint32_t limited_transmit(const struct tcb *tcb)
{
	if (tcb->dupacks == 0 || tcb->dupacks > 2 || (tcb->flags & TF_FASTREC))
		return 0;
	return tcb->dupacks * eff_mss(tcb);
}

/* Whether the FIN (queued by close or SHUT_WR) belongs right after seq. */
static int fin_due(const struct tcb *tcb, uint32_t seq)
{
	return (tcb->flags & (TF_FIN_QUEUED | TF_FIN_ACKED)) == TF_FIN_QUEUED &&
	       seq == tcb->snd_una + tcp_ring_len(tcb->sb);
}

/* Restart after idle (RFC 5681 4.1, as Linux's tcp_cwnd_restart): a
 * sender silent for more than an RTO no longer knows the path; it starts
 * again from at most the initial window, remembering 3/4 of the old one in
 * ssthresh so slow start climbs back quickly. */
static void restart_after_idle(struct ust_stack *stk, struct tcb *tcb)
{
	uint32_t iw = 10 * eff_mss(tcb);

	if (tcb->snd_max != tcb->snd_una || !tcp_ring_len(tcb->sb) || !tcb->last_send_ms ||
	    tcb->cwnd <= iw || now_ms(stk) - tcb->last_send_ms <= tcp_rto(tcb, &stk->tcp->cfg) / 1000u)
		return;
	if (tcb->ssthresh < tcb->cwnd / 4 * 3)
		tcb->ssthresh = tcb->cwnd / 4 * 3;
	tcb->cwnd = iw;
}

/* RFC 6675 5 (C.1): NextSeg rule 1, lost holes first, while pipe leaves
 * room in cwnd; `force` sends one segment regardless (entering recovery,
 * 4.3), the head when the scoreboard knows of no loss. */
void tcp_sack_send_lost(struct ust_stack *stk, struct tcb *tcb, int force)
{
	struct tcp_lossx *x = tcb->lx;
	uint32_t mss = eff_mss(tcb), seq, len, off;

	while (x && (force || tcp_sack_pipe(tcb) + mss <= tcb->cwnd)) {
		if (!tcp_sack_next_lost(tcb, mss, &seq, &len)) {
			if (!force || seq_gt(x->high_rxt, tcb->snd_una))
				return;
			seq = tcb->snd_una;
			len = mss;
			if (x->nsb && x->sb[0][0] - seq < len)
				len = x->sb[0][0] - seq;
		}
		off = seq - tcb->snd_una;
		if (off >= tcp_ring_len(tcb->sb))
			return;  /* only the FIN is missing: the RTO resends it */
		if (len > tcp_ring_len(tcb->sb) - off)
			len = tcp_ring_len(tcb->sb) - off;
		if (tcp_xmit(stk, tcb, seq, len, 0) < 0)
			return;  /* tcp_tx_resume calls tcp_output, which comes back here */
		stk_count(stk, CNT_tcp_retransmits);
		tcp_count_retrans(tcb);
		tcb->flags &= ~TF_RTT_TIMING;  /* Karn */
		x->high_rxt = seq + len;
		x->rxt_mark = tcb->snd_max;
		force = 0;
	}
}

/* Sends new (or go-back-N re-sent) data while the windows allow: RFC 9293
 * 3.8.6.2.1 sender SWS avoidance, RFC 896 Nagle unless TCP_NODELAY, RFC
 * 5681 cwnd. The FIN rides on the last data segment. */
void tcp_output(struct ust_stack *stk, struct tcb *tcb)
{
	int sent = 0;

	switch (tcb->state) {
	case TCPS_ESTABLISHED:
	case TCPS_CLOSE_WAIT:
	case TCPS_FIN_WAIT_1:
	case TCPS_CLOSING:
	case TCPS_LAST_ACK:
		break;
	default:
		if ((tcb->flags & TF_ACK_NOW) && tcb->state != TCPS_CLOSED &&
		    tcb->state != TCPS_LISTEN && tcb->state != TCPS_SYN_SENT)
			tcp_send_ack(stk, tcb);
		return;
	}
	restart_after_idle(stk, tcb);
	if (tcb->flags & TF_SACKREC)
		tcp_sack_send_lost(stk, tcb, 0);
	for (;;) {
		uint32_t lim = tcb->snd_max;
		uint32_t off, avail, cwnd, flight, usable, rwnd, len;
		uint32_t mss = eff_mss(tcb);
		uint8_t flags = 0;
		int rexmit;

		/* Go-back-N after an RTO skips what the peer SACKed. */
		if (tcb->lx && seq_lt(tcb->snd_nxt, tcb->snd_max))
			tcb->snd_nxt = tcp_sack_skip(tcb, tcb->snd_nxt, &lim);
		off = tcb->snd_nxt - tcb->snd_una;
		avail = tcp_ring_len(tcb->sb) > off ? tcp_ring_len(tcb->sb) - off : 0;
		if (seq_lt(tcb->snd_nxt, lim) && lim - tcb->snd_nxt < avail)
			avail = lim - tcb->snd_nxt;
		cwnd = tcb->cwnd + limited_transmit(tcb);
		/* In SACK recovery cwnd bounds pipe (RFC 6675 5 (C)); the
		 * peer's window always bounds what lies past SND.UNA. */
		flight = (tcb->flags & TF_SACKREC) ? tcp_sack_pipe(tcb) : tcp_sack_flight(tcb);
		usable = cwnd > flight ? cwnd - flight : 0;
		rwnd = tcb->snd_wnd > tcp_flight(tcb) ? tcb->snd_wnd - tcp_flight(tcb) : 0;
		if (usable > rwnd)
			usable = rwnd;
		len = avail;
		if (off > tcp_ring_len(tcb->sb))
			break;  /* the FIN is already out */
		if (len > usable)
			len = usable;
		if (len > mss)
			len = mss;
		if (len == avail && fin_due(tcb, tcb->snd_nxt + len))
			flags |= TH_FIN;
		if (len == 0 && !(flags & TH_FIN))
			break;
		if (len < mss && !(flags & TH_FIN)) {
			/* Window-limited small segment: wait for the window to
			 * open unless it is half the largest ever offered, or
			 * nothing is in flight to bring an ACK (the override of
			 * RFC 9293 3.8.6.2.1, without its timer). */
			if (len < avail && len < tcb->max_wnd / 2 && flight)
				break;
			/* Nagle: one small segment in flight at most. */
			if (len == avail && flight && !(tcb->flags & TF_NODELAY))
				break;
			/* MSG_MORE: the rest of this segment is on its way. */
			if (len == avail && (tcb->flags & TF_MORE))
				break;
		}
		if (len == avail && len)
			flags |= TH_PSH;
		rexmit = seq_lt(tcb->snd_nxt, tcb->snd_max);
		/* No room: SND.NXT stays, the segment goes when room comes. */
		if (tcp_xmit(stk, tcb, tcb->snd_nxt, len, flags) < 0)
			break;
		if (!(tcb->flags & (TF_RTT_TIMING | TF_TS)) && !rexmit && len) {
			tcb->rtt_seq = tcb->snd_nxt;
			tcb->rtt_start_ms = now_ms(stk);
			tcb->flags |= TF_RTT_TIMING;
		}
		if (rexmit) {
			stk_count(stk, CNT_tcp_retransmits);
			tcp_count_retrans(tcb);
		}
		tcb->snd_nxt += len + ((flags & TH_FIN) ? 1 : 0);
		sent = 1;
		if (flags & TH_FIN)
			break;
	}
	if (!sent && (tcb->flags & TF_ACK_NOW))
		tcp_send_ack(stk, tcb);
	tcp_rearm_rexmit(stk, tcb);
}

/* Fast retransmit (RFC 5681 3.2) and the first step after an RTO: the
 * oldest unacknowledged segment, again. */
void tcp_retransmit_head(struct ust_stack *stk, struct tcb *tcb)
{
	uint32_t len = tcp_ring_len(tcb->sb) < eff_mss(tcb) ? tcp_ring_len(tcb->sb) : eff_mss(tcb);
	uint8_t flags = 0;

	if (len == tcp_ring_len(tcb->sb) && fin_due(tcb, tcb->snd_una + len) &&
	    seq_gt(tcb->snd_max, tcb->snd_una + len))
		flags |= TH_FIN;
	if (!len && !flags)
		return;
	/* Without room the connection waits (tcp_xmit) and resumes through
	 * tcp_output: SACK recovery resends the head from there, NewReno
	 * at the next partial ACK or the RTO. */
	if (tcp_xmit(stk, tcb, tcb->snd_una, len, flags) < 0)
		return;
	stk_count(stk, CNT_tcp_retransmits);
	tcp_count_retrans(tcb);
	tcb->flags &= ~TF_RTT_TIMING;  /* Karn: never time a retransmission */
}

void tcp_sb_consume(struct tcb *tcb, uint32_t n)
{
	tcp_ring_consume(&tcb->sb, n);
}

/* --- waiting for room (stk_tx_ok) ---
 * A full link queue or an empty pool is no loss on the wire: a connection
 * that meets one keeps what it would have sent and waits in a FIFO; when
 * frames leave, the stack resumes the oldest first. The queue lives in
 * tcp_state (a ring of pointers, grown on demand), so an idle connection
 * pays nothing for it. A connection freed while queued keeps its memory
 * until the queue reaches it (TF_TXDEAD): no search, at any scale. */

#define TX_WAIT_MIN 64u
/* Without memory for the queue (realloc failed), the connection tries
 * again from its delayed-ACK timer after this. */
#define TX_WAIT_RETRY_US 10000u

static int wait_grow(struct tcp_state *ts)
{
	uint32_t cap = ts->wait_cap ? ts->wait_cap * 2 : TX_WAIT_MIN;
	struct tcb **w = malloc((size_t)cap * sizeof(*w));

	if (!w || cap < ts->wait_cap) {
		free(w);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < ts->wait_len; i++)
		w[i] = ts->wait[(ts->wait_head + i) & (ts->wait_cap - 1)];
	free(ts->wait);
	ts->wait = w;
	ts->wait_cap = cap;
	ts->wait_head = 0;
	return 0;
}

void tcp_tx_wait(struct ust_stack *stk, struct tcb *tcb)
{
	struct tcp_state *ts = stk->tcp;

	if (tcb->flags & TF_TXWAIT)
		return;
	stk_count(stk, CNT_tcp_tx_waits);
	if (ts->wait_len == ts->wait_cap && wait_grow(ts) < 0) {
		if (tcp_delack_at(tcb, stk->now) > stk->now + TX_WAIT_RETRY_US) {
			tcp_delack_set(tcb, stk->now + TX_WAIT_RETRY_US);
			tcp_timer_update(stk, tcb);
		}
		return;
	}
	ts->wait[(ts->wait_head + ts->wait_len) & (ts->wait_cap - 1)] = tcb;
	ts->wait_len++;
	tcb->flags |= TF_TXWAIT;
}

/* The stack goes: freed connections still queued go with the queue; the
 * others lose their mark, so that tcp_fini frees them at once. */
void tcp_tx_wait_fini(struct ust_stack *stk)
{
	struct tcp_state *ts = stk->tcp;

	for (uint32_t i = 0; i < ts->wait_len; i++) {
		struct tcb *tcb = ts->wait[(ts->wait_head + i) & (ts->wait_cap - 1)];

		if (tcb->flags & TF_TXDEAD)
			free(tcb);
		else
			tcb->flags &= ~TF_TXWAIT;
	}
	ts->wait_len = 0;
	free(ts->wait);
	ts->wait = NULL;
	ts->wait_cap = 0;
}

int tcp_tx_waiting(const struct ust_stack *stk)
{
	return stk->tcp && stk->tcp->wait_len;
}

void tcp_tx_resume(struct ust_stack *stk)
{
	struct tcp_state *ts = stk->tcp;
	/* Those waiting now, once: one that runs out of room again goes to
	 * the back of the queue. */
	uint32_t n = ts->wait_len;

	while (n-- && stk_tx_ok(stk)) {
		struct tcb *tcb = ts->wait[ts->wait_head];

		ts->wait_head = (ts->wait_head + 1) & (ts->wait_cap - 1);
		ts->wait_len--;
		if (tcb->flags & TF_TXDEAD) {
			free(tcb);  /* freed while it waited (tcb_free_mem) */
			continue;
		}
		tcb->flags &= ~TF_TXWAIT;
		if (tcb->state == TCPS_SYN_SENT || tcb->state == TCPS_SYN_RCVD)
			tcp_send_syn(stk, tcb);  /* a repeated SYN is harmless */
		else
			tcp_output(stk, tcb);
	}
}
