/* TCP timers: one wheel node per TCB, armed for the earliest of its two
 * deadlines, the main one (retransmission, persist, keepalive, TIME_WAIT,
 * orphaned FIN_WAIT_2; one at a time, named by tkind) and the delayed ACK.
 * RTT estimation (RFC 6298) lives here too. */
#include <errno.h>
#include <stddef.h>

#include "core/stack.h"
#include "tcp/tcp_int.h"

#define TCB_OF_TIMER(t) ((struct tcb *)((char *)(t) - offsetof(struct tcb, timer)))

/* Arms the wheel for the earliest deadline. A later deadline than the one
 * armed is left to fire early and re-arm: cheaper than moving the node on
 * every segment. */
void tcp_timer_update(struct ust_stack *stk, struct tcb *tcb)
{
	uint64_t d = tcp_delack_at(tcb, stk->now);
	uint64_t next = tcb->t_main < d ? tcb->t_main : d;

	if (next == TIMER_NEVER) {
		timer_cancel(&stk->tcp_timers, &tcb->timer);
		return;
	}
	if (!timer_armed(&tcb->timer) || tcb->timer.expires > next)
		timer_arm(&stk->tcp_timers, &tcb->timer, next);
}

void tcp_set_main(struct ust_stack *stk, struct tcb *tcb, enum tcp_tkind kind, uint64_t when)
{
	tcb->tkind = (uint8_t)kind;
	tcb->t_main = kind == TK_NONE ? TIMER_NEVER : when;
	tcp_timer_update(stk, tcb);
}

/* RFC 6298 (2.2), (2.3); the floor is added to the variance term as Linux
 * does, so RTO >= SRTT + rto_min. Computed, not stored: four bytes less per
 * TCB, and a change of rto_min applies at once. */
uint32_t tcp_rto(const struct tcb *tcb, const struct tcp_config *cfg)
{
	uint32_t var4 = 4 * tcb->rttvar_us;
	uint64_t rto;

	if (!(tcb->flags & TF_HAVE_RTT))
		return cfg->rto_initial_us;
	rto = (uint64_t)tcb->srtt_us + (var4 > cfg->rto_min_us ? var4 : cfg->rto_min_us);
	return rto > cfg->rto_max_us ? cfg->rto_max_us : (uint32_t)rto;
}

/* RFC 6298 (5.5): the RTO doubles with each consecutive timeout. */
uint32_t tcp_rto_backed(const struct tcb *tcb, const struct tcp_config *cfg)
{
	uint64_t rto = (uint64_t)tcp_rto(tcb, cfg) << (tcb->rexmits < 20 ? tcb->rexmits : 20);

	return rto > cfg->rto_max_us ? cfg->rto_max_us : (uint32_t)rto;
}

/* RFC 6298 (2.2), (2.3): a measurement updates SRTT and RTTVAR. */
void tcp_rtt_sample(struct tcb *tcb, uint32_t r)
{
	if (!(tcb->flags & TF_HAVE_RTT)) {
		tcb->flags |= TF_HAVE_RTT;
		tcb->srtt_us = r;
		tcb->rttvar_us = r / 2;
	} else {
		uint32_t d = tcb->srtt_us > r ? tcb->srtt_us - r : r - tcb->srtt_us;
		tcb->rttvar_us = tcb->rttvar_us - tcb->rttvar_us / 4 + d / 4;
		tcb->srtt_us = tcb->srtt_us - tcb->srtt_us / 8 + r / 8;
	}
	if (tcb->lx)
		tcb->lx->rtt_last_us = r ? r : 1;  /* for HyStart++ (tcp_cc.c) */
}

/* Chooses the main deadline after sends and ACKs (RFC 6298 (5.1), (5.2)):
 * retransmission while anything is unacknowledged, persist when the peer's
 * window is closed with data waiting, keepalive when idle. */
void tcp_rearm_rexmit(struct ust_stack *stk, struct tcb *tcb)
{
	const struct tcp_config *cfg = &stk->tcp->cfg;
	int st = tcb->state;

	if (st == TCPS_TIME_WAIT || st == TCPS_CLOSED || st == TCPS_LISTEN ||
	    tcb->tkind == TK_FIN_WAIT_2)
		return;
	if (st == TCPS_SYN_SENT || st == TCPS_SYN_RCVD || tcb->snd_max != tcb->snd_una) {
		if (tcb->tkind == TK_RACK)
			return;  /* the reordering window runs; the RTO follows it */
		if (tcb->tkind == TK_TLP || (tcb->tkind != TK_REXMIT && tcp_synchronized(st)))
			tcp_rack_arm_pto(stk, tcb);  /* RFC 8985 7.2 */
		else if (tcb->tkind != TK_REXMIT)
			tcp_set_main(stk, tcb, TK_REXMIT, stk->now + tcp_rto_backed(tcb, cfg));
		return;
	}
	if (tcp_ring_len(tcb->sb) && tcb->snd_wnd == 0) {
		if (tcb->tkind != TK_PERSIST) {
			tcb->probes = 0;
			tcp_set_main(stk, tcb, TK_PERSIST, stk->now + tcp_rto_backed(tcb, cfg));
		}
		return;
	}
	if ((tcb->flags & TF_KEEPALIVE) && tcp_synchronized(st)) {
		if (tcb->tkind != TK_KEEPALIVE) {
			tcb->probes = 0;
			tcp_set_main(stk, tcb, TK_KEEPALIVE,
			             stk->now + (uint64_t)tcb->opt->keepidle_s * 1000000u);
		}
		return;
	}
	tcp_set_main(stk, tcb, TK_NONE, 0);
}

/* A probe the peer must answer: an old sequence number, no data (the
 * keepalive of RFC 1122 4.2.3.6 and the zero-window probe Linux sends). */
static void send_probe(struct ust_stack *stk, struct tcb *tcb)
{
	tcp_xmit(stk, tcb, tcb->snd_una - 1, 0, 0);
}

static void on_rexmit(struct ust_stack *stk, struct tcb *tcb, uint64_t now)
{
	const struct tcp_config *cfg = &stk->tcp->cfg;
	uint8_t limit = tcb->state == TCPS_SYN_SENT   ? cfg->syn_retries
	                : tcb->state == TCPS_SYN_RCVD ? cfg->synack_retries
	                                              : cfg->retries;

	if (tcb->rexmits >= limit) {
		stk_count(stk, CNT_tcp_timeouts);
		if (tcb->state == TCPS_SYN_RCVD && (tcb->flags & TF_PASSIVE)) {
			tcp_done(stk, tcb, 0);  /* a half-open child just goes */
			return;
		}
		tcp_done(stk, tcb, tcb->soft_error ? tcb->soft_error : ETIMEDOUT);
		return;
	}
	tcb->rexmits++;
	tcb->flags &= ~(TF_RTT_TIMING | TF_FASTREC | TF_SACKREC);
	tcb->dupacks = 0;
	tcb->tkind = TK_NONE;
	if (tcb->state == TCPS_SYN_SENT || tcb->state == TCPS_SYN_RCVD) {
		stk_count(stk, CNT_tcp_retransmits);
		tcp_count_retrans(tcb);
		tcp_send_syn(stk, tcb);
		tcp_set_main(stk, tcb, TK_REXMIT, now + tcp_rto_backed(tcb, cfg));
		return;
	}
	/* RFC 5681 3.1 (4): loss window of one segment, then go-back-N;
	 * duplicate ACKs for what was outstanding start no fast retransmit
	 * (RFC 6582 3.2 (2)). */
	stk_count(stk, CNT_tcp_rto);
	/* ssthresh is set once per congestion event: not again when the same
	 * segment times out twice (RFC 5681 3.1, eq. (4) note), nor when the
	 * RTO ends a recovery that already reduced it (RFC 6582 `recover`),
	 * or ssthresh and CUBIC's W_max would come from a collapsed cwnd. */
	if (tcb->rexmits == 1 && !tcp_below_recover(tcb, tcb->snd_una)) {
		tcp_undo_save(tcb);
		tcp_cc(tcb)->on_timeout(tcb);
	} else {
		tcb->cwnd = tcp_cc_smss(tcb);
		if (tcb->lx)
			tcb->lx->epoch_us = 0;  /* CUBIC: a new epoch after slow start */
	}
	/* RFC 6675 5.1: SACKed data is kept (go-back-N skips it); the
	 * rest is resent from SND.UNA. */
	if (tcb->lx)
		tcb->lx->high_rxt = tcb->snd_una;
	tcp_mark_recover(tcb);
	tcb->snd_nxt = tcb->snd_una;
	tcp_output(stk, tcb);
	tcp_set_main(stk, tcb, TK_REXMIT, now + tcp_rto_backed(tcb, cfg));
}

static void on_main(struct ust_stack *stk, struct tcb *tcb, uint64_t now)
{
	const struct tcp_config *cfg = &stk->tcp->cfg;

	switch (tcb->tkind) {
	case TK_REXMIT:
		on_rexmit(stk, tcb, now);
		return;
	case TK_PERSIST:
		send_probe(stk, tcb);
		if (tcb->probes < 30)
			tcb->probes++;
		{
			uint64_t iv = (uint64_t)tcp_rto(tcb, cfg) << (tcb->probes < 20 ? tcb->probes : 20);
			if (iv > cfg->rto_max_us)
				iv = cfg->rto_max_us;
			tcp_set_main(stk, tcb, TK_PERSIST, now + iv);
		}
		return;
	case TK_KEEPALIVE:
		/* RFC 1122 4.2.3.6; Linux resets after keepcnt unanswered probes. */
		if (tcb->probes >= tcb->opt->keepcnt) {
			stk_count(stk, CNT_tcp_timeouts);
			tcp_send_rst(stk, tcb);
			tcp_done(stk, tcb, tcb->soft_error ? tcb->soft_error : ETIMEDOUT);
			return;
		}
		send_probe(stk, tcb);
		tcb->probes++;
		tcp_set_main(stk, tcb, TK_KEEPALIVE, now + (uint64_t)tcb->opt->keepintvl_s * 1000000u);
		return;
	case TK_RACK:
		tcp_rack_timeout(stk, tcb);
		return;
	case TK_TLP:
		tcp_tlp_fire(stk, tcb);
		return;
	case TK_TIME_WAIT:
	case TK_FIN_WAIT_2:
		tcp_done(stk, tcb, 0);
		return;
	default:
		tcb->t_main = TIMER_NEVER;
	}
}

void tcp_timer_fire(struct ust_stack *stk, struct timer *t, uint64_t now)
{
	struct tcb *tcb = TCB_OF_TIMER(t);

	stk->now = now > stk->now ? now : stk->now;
	if (tcp_delack_at(tcb, now) <= now) {
		tcb->flags &= ~TF_DELACK;
		tcb->flags |= TF_ACK_NOW;
		tcp_output(stk, tcb);
	}
	if (tcb->t_main <= now) {
		tcb->t_main = TIMER_NEVER;
		on_main(stk, tcb, now);
		return;  /* tcb may be gone */
	}
	tcp_timer_update(stk, tcb);
}
