/* Buffer auto-tuning. The receive window (issue 5), the idea of Linux's
 * dynamic right sizing: the window a receiver advertises should be about
 * twice what the application reads per round trip, so a sender in slow
 * start is never held back by it, and no bigger, so an idle or slow reader
 * does not invite a flight it cannot take. The window starts at the
 * default receive buffer (tcp_config.rcvbuf) and grows, measured once per
 * RTT, up to SO_RCVBUF when the application set it, or up to buf_max. The
 * measurement lives in the side structure (struct tcp_lossx), allocated
 * only once a connection has received more than its first window. The
 * send buffer follows the congestion window (tcp_sndbuf_expand). */
#include "core/stack.h"
#include "tcp/tcp_int.h"

#define RCV_RTT_DEFAULT_US 100000u  /* until the peer's timestamps tell */

/* What the window may reach: SO_RCVBUF when set, else the larger of the
 * default and buf_max. */
static uint32_t rcv_cap(const struct ust_stack *stk, const struct tcb *tcb)
{
	uint32_t max = stk->tcp->cfg.buf_max;

	if ((tcb->flags & TF_RCVBUF_SET) || tcb->opt->rcvbuf >= max)
		return tcb->opt->rcvbuf;
	return max;
}

/* Where the window starts: small, the default buffer (or SO_RCVBUF when
 * that is smaller). */
static uint32_t rcv_init(const struct ust_stack *stk, const struct tcb *tcb)
{
	uint32_t def = stk->tcp->cfg.rcvbuf;

	return tcb->opt->rcvbuf < def ? tcb->opt->rcvbuf : def;
}

uint32_t tcp_rcv_space(const struct ust_stack *stk, const struct tcb *tcb)
{
	if (tcb->lx && tcb->lx->rcv_space)
		return tcb->lx->rcv_space;
	return rcv_init(stk, tcb);
}

/* The receiver's RTT, from the peer's echo of our timestamp on data (RFC
 * 7323 4.3 makes it the time from our ACK to data sent after it): a
 * filter that follows decreases at once and increases slowly. */
void tcp_rcv_rtt_sample(struct ust_stack *stk, struct tcb *tcb, const struct tcp_seg *seg)
{
	struct tcp_lossx *x = tcb->lx;
	uint32_t r;

	if (!x || !x->rcv_space || !seg->len || !seg->has_ts || !seg->tsecr ||
	    !(tcb->flags & TF_TS))
		return;
	r = ((uint32_t)(stk->now / 1000) - seg->tsecr) * 1000u;
	if (r > 60000000u)
		return;  /* an echo from before a wrap, or nonsense */
	if (!x->rcv_rtt_us || r < x->rcv_rtt_us)
		x->rcv_rtt_us = r ? r : 1;
	else
		x->rcv_rtt_us = x->rcv_rtt_us - x->rcv_rtt_us / 8 + r / 8;
}

static uint32_t rcv_rtt(const struct tcb *tcb)
{
	if (tcb->lx->rcv_rtt_us)
		return tcb->lx->rcv_rtt_us;
	return (tcb->flags & TF_HAVE_RTT) ? tcb->srtt_us : RCV_RTT_DEFAULT_US;
}

/* The application read n bytes: once per RTT, the window becomes twice
 * what was read in it, if that is more (never less: RFC 9293 3.8.6.2.1,
 * a window is not shrunk). */
void tcp_rcv_space_adjust(struct ust_stack *stk, struct tcb *tcb, uint32_t n)
{
	uint32_t cap = rcv_cap(stk, tcb), init = rcv_init(stk, tcb);
	struct tcp_lossx *x = tcb->lx;
	uint64_t want;

	if (cap <= init || !tcp_synchronized(tcb->state))
		return;
	if (!x || !x->rcv_space) {
		/* Not before a first window has come in: most connections
		 * never need more than it. */
		if (tcb->rcv_nxt - tcb->irs < init / 2 || !(x = tcp_lossx_get(tcb)))
			return;
		x->rcv_space = init;
		x->rcv_t0 = stk->now;
		x->rcv_copied = 0;
	}
	x->rcv_copied += n;
	if (stk->now - x->rcv_t0 < rcv_rtt(tcb))
		return;
	want = 2 * (uint64_t)x->rcv_copied;
	if (want > cap)
		want = cap;
	if (want > x->rcv_space)
		x->rcv_space = (uint32_t)want;
	x->rcv_t0 = stk->now;
	x->rcv_copied = 0;
}

/* The send buffer grows with the congestion window, as Linux's
 * tcp_sndbuf_expand: room for two windows, so that the application's next
 * writes are in the buffer before the ACKs that let them out, and a
 * sender that keeps the window full is not held to one write per round
 * trip (with the default 64 KB, one TSO frame). Never past buf_max, nor
 * past a size the application set (SO_SNDBUF); never smaller. A grown
 * size is the connection's own option (as getsockopt shows it on Linux),
 * so only connections that grew pay for a copy. The ring itself grows
 * only as data is written and is freed when drained. */
void tcp_sndbuf_expand(const struct ust_stack *stk, struct tcb *tcb)
{
	uint64_t want = 2 * (uint64_t)tcb->cwnd;
	uint32_t max = stk->tcp->cfg.buf_max;
	struct tcp_opts *o;

	if ((tcb->flags & TF_SNDBUF_SET) || want <= tcb->opt->sndbuf || tcb->opt->sndbuf >= max ||
	    !(o = tcp_opts_own(tcb)))
		return;
	o->sndbuf = want < max ? (uint32_t)want : max;
}
