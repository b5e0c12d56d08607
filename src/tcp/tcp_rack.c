/* RACK-TLP (RFC 8985), in the form this stack can afford: the send buffer
 * is a byte ring without per-segment records, so RACK's "a segment sent
 * before one that was delivered, and more than a reordering window ago"
 * is applied to the scoreboard's holes. Holes are never-retransmitted
 * bytes sent before the SACKed bytes above them (sequence order is send
 * order for first transmissions), so once the peer SACKs data above a
 * hole and a reordering window (SRTT/4, RFC 8985 6.2.1) passes without
 * the hole being filled, every hole below the highest SACKed byte is
 * lost. That catches losses the three-duplicate rule of RFC 6675 cannot:
 * small windows and the last segments of a burst.
 *
 * The tail loss probe (RFC 8985 7) makes the peer send that SACK when the
 * whole tail of a flight is lost: PTO = 2 * SRTT (plus the peer's delayed
 * ACK when one segment is out), then the last segment is sent again,
 * and the RTO follows. */
#include "core/stack.h"
#include "tcp/tcp_int.h"

#define RACK_MIN_REO_US 1000u     /* a window at least this wide */
#define TLP_MIN_US 10000u         /* RFC 8985 7.2: PTO at least 10 ms */
#define TLP_DELACK_US 200000u     /* WCDelAckT: the peer's worst delayed ACK */

static uint32_t reo_wnd(const struct tcb *tcb)
{
	uint32_t w = tcb->srtt_us / 4;

	return w > RACK_MIN_REO_US ? w : RACK_MIN_REO_US;
}

void tcp_rack_arm(struct ust_stack *stk, struct tcb *tcb)
{
	if (tcb->tkind == TK_RACK || !tcb->lx || !tcp_synchronized(tcb->state))
		return;
	tcb->lx->rack_pend = tcb->lx->fack;
	tcp_set_main(stk, tcb, TK_RACK, stk->now + reo_wnd(tcb));
}

void tcp_rack_timeout(struct ust_stack *stk, struct tcb *tcb)
{
	struct tcp_lossx *x = tcb->lx;

	tcb->tkind = TK_NONE;
	tcb->t_main = TIMER_NEVER;
	if (x && x->nsb && tcb->snd_max != tcb->snd_una) {
		/* Only holes that were holes when the window started are
		 * old enough; newer ones get a window of their own. */
		if (!x->rack_on || seq_gt(x->rack_pend, x->rack_hi))
			x->rack_hi = x->rack_pend;
		x->rack_on = 1;
		/* RFC 8985 6.2 for retransmissions: data sent after the last
		 * one was SACKed a reordering window ago, yet the holes it
		 * went into are still there: it was lost too; resend them. */
		if ((tcb->flags & TF_SACKREC) && seq_gt(x->rack_pend, x->rxt_mark) &&
		    seq_gt(x->high_rxt, tcb->snd_una)) {
			x->high_rxt = tcb->snd_una;
			x->rxt_mark = tcb->snd_max;
		}
		if (!(tcb->flags & TF_FASTREC))
			tcp_sack_enter(stk, tcb);
		/* Holes just marked lost left pipe, but nothing was
		 * delivered: PRR (RFC 6937) allows no burst for that. */
		if (tcb->flags & TF_SACKREC)
			tcp_prr_ack(tcb, 0);
	}
	tcp_output(stk, tcb);  /* sends what is lost; re-arms the RTO */
	if (x && x->nsb && seq_gt(x->fack, x->rack_hi) && tcb->tkind != TK_RACK) {
		x->rack_pend = x->fack;
		tcp_set_main(stk, tcb, TK_RACK, stk->now + reo_wnd(tcb));
		return;
	}
	tcp_rearm_rexmit(stk, tcb);
}

void tcp_rack_arm_pto(struct ust_stack *stk, struct tcb *tcb)
{
	const struct tcp_config *cfg = &stk->tcp->cfg;
	uint32_t rto = tcp_rto_backed(tcb, cfg), pto;
	int data_state = tcb->state == TCPS_ESTABLISHED || tcb->state == TCPS_CLOSE_WAIT;

	if (!(tcb->flags & TF_SACK) || !(tcb->flags & TF_HAVE_RTT) || (tcb->flags & TF_FASTREC) ||
	    tcb->rexmits || !data_state || !tcp_ring_len(tcb->sb)) {
		tcp_set_main(stk, tcb, TK_REXMIT, stk->now + rto);
		return;
	}
	pto = 2 * tcb->srtt_us;
	if (tcp_flight(tcb) <= tcp_cc_smss(tcb) && pto < tcb->srtt_us + TLP_DELACK_US)
		pto = tcb->srtt_us + TLP_DELACK_US;  /* 7.2: one segment may wait */
	if (pto < TLP_MIN_US)
		pto = TLP_MIN_US;
	if (pto >= rto) {
		tcp_set_main(stk, tcb, TK_REXMIT, stk->now + rto);
		return;
	}
	tcp_set_main(stk, tcb, TK_TLP, stk->now + pto);
}

/* RFC 8985 7.3: the probe is the last segment sent, again (new data would
 * do as well; resending keeps the probe free of window checks). */
void tcp_tlp_fire(struct ust_stack *stk, struct tcb *tcb)
{
	const struct tcp_config *cfg = &stk->tcp->cfg;
	uint32_t mss = tcp_cc_smss(tcb);
	uint32_t data_end = tcb->snd_una + tcp_ring_len(tcb->sb);
	uint32_t end = seq_lt(data_end, tcb->snd_max) ? data_end : tcb->snd_max;
	uint32_t len = end - tcb->snd_una < mss ? end - tcb->snd_una : mss;

	if (len && tcp_xmit(stk, tcb, end - len, len, 0) == 0) {
		stk_count(stk, CNT_tcp_tlp);
		stk_count(stk, CNT_tcp_retransmits);
		tcp_count_retrans(tcb);
		tcb->flags &= ~TF_RTT_TIMING;
	}
	tcp_set_main(stk, tcb, TK_REXMIT, stk->now + tcp_rto_backed(tcb, cfg));
}
