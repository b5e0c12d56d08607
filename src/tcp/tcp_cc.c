/* Congestion control behind a small ops table, chosen per socket with
 * TCP_CONGESTION: "reno" is NewReno (RFC 5681, with the partial-ACK rule
 * of RFC 6582 applied in tcp_input.c), "cubic" is RFC 9438 and the default,
 * as in Linux. Both share slow start with appropriate byte counting (RFC
 * 3465, L = 2) and the initial window of RFC 6928. Fast recovery itself
 * (NewReno's or the SACK-based one of RFC 6675) is tcp_input.c's; the ops
 * only say how the window reacts. */
#include <errno.h>
#include <string.h>

#include "tcp/tcp_int.h"

uint32_t tcp_cc_smss(const struct tcb *tcb)
{
	return tcb->mss - ((tcb->flags & TF_TS) ? 12u : 0u);
}

/* RFC 5681 3.1 and RFC 6928: an initial window of ten segments, as Linux. */
static void reno_init(struct tcb *tcb)
{
	tcb->cwnd = 10 * tcp_cc_smss(tcb);
	tcb->ssthresh = UINT32_MAX;
}

/* Slow start (RFC 5681 3.1), growth per ACK bounded by 2*SMSS (RFC 3465
 * 2.2, L = 2). */
static void slow_start(struct tcb *tcb, uint32_t acked)
{
	uint32_t mss = tcp_cc_smss(tcb);

	tcb->cwnd += acked < 2 * mss ? acked : 2 * mss;
}

static void reno_on_ack(struct tcb *tcb, uint32_t acked, uint64_t now)
{
	uint32_t mss = tcp_cc_smss(tcb);

	(void)now;
	if (tcb->cwnd < tcb->ssthresh) {
		slow_start(tcb, acked);
	} else {
		/* Congestion avoidance: one SMSS per cwnd of bytes acknowledged
		 * (RFC 3465 2.1, byte counting), so delayed ACKs, which
		 * acknowledge two segments each, do not halve the growth that
		 * eq. 3 of RFC 5681 3.1 gives per ACK. */
		uint64_t inc = (uint64_t)mss * acked / (tcb->cwnd ? tcb->cwnd : 1);
		tcb->cwnd += inc ? (uint32_t)inc : 1;
	}
}

static uint32_t half_flight(const struct tcb *tcb)
{
	uint32_t f = (tcb->snd_max - tcb->snd_una) / 2;
	uint32_t min = 2 * tcp_cc_smss(tcb);

	return f > min ? f : min;  /* RFC 5681 eq. (4) */
}

static void reno_on_dupacks(struct tcb *tcb)
{
	tcb->ssthresh = half_flight(tcb);
	tcb->cwnd = tcb->ssthresh + 3 * tcp_cc_smss(tcb);  /* 3.2 step 3 */
}

static void reno_on_timeout(struct tcb *tcb)
{
	tcb->ssthresh = half_flight(tcb);
	tcb->cwnd = tcp_cc_smss(tcb);  /* loss window, 3.1 */
}

static void reno_on_recovery_end(struct tcb *tcb)
{
	tcb->cwnd = tcb->ssthresh;  /* 3.2 step 6: deflate */
}

const struct tcp_cc_ops tcp_cc_reno = {
	.name = "reno",
	.init = reno_init,
	.on_ack = reno_on_ack,
	.on_dupacks = reno_on_dupacks,
	.on_timeout = reno_on_timeout,
	.on_recovery_end = reno_on_recovery_end,
};

/* --- CUBIC (RFC 9438) --- */

#define CUBIC_C 0.4     /* 5.1 */
#define CUBIC_BETA 0.7  /* 4.6 */

/* Cube root by Newton's method: the core links no libm. */
static double cbrt_pos(double v)
{
	double x = v > 1.0 ? v / 3.0 : 1.0;

	if (v <= 0.0)
		return 0.0;
	for (int i = 0; i < 60; i++) {
		double nx = x - (x * x * x - v) / (3.0 * x * x);
		if (nx == x)
			break;
		x = nx;
	}
	return x;
}

/* A congestion event (4.6, 4.7): W_max with fast convergence, the new
 * ssthresh, and the epoch reset. Without memory for the state CUBIC
 * degrades to Reno's halving. */
static void cubic_loss(struct tcb *tcb)
{
	struct tcp_lossx *x = tcp_lossx_get(tcb);
	uint32_t mss = tcp_cc_smss(tcb);
	double w = (double)tcb->cwnd / mss;
	uint32_t ss;

	if (!x) {
		tcb->ssthresh = half_flight(tcb);
		return;
	}
	if (w < x->w_max)
		x->w_max = w * (1.0 + CUBIC_BETA) / 2.0;  /* fast convergence */
	else
		x->w_max = w;
	x->epoch_us = 0;
	ss = (uint32_t)((double)tcb->cwnd * CUBIC_BETA);
	tcb->ssthresh = ss > 2 * mss ? ss : 2 * mss;
}

static void cubic_on_dupacks(struct tcb *tcb)
{
	cubic_loss(tcb);
	tcb->cwnd = tcb->ssthresh + 3 * tcp_cc_smss(tcb);
}

static void cubic_on_timeout(struct tcb *tcb)
{
	cubic_loss(tcb);
	tcb->cwnd = tcp_cc_smss(tcb);
}

/* Congestion avoidance (4.2-4.4): the window follows W_cubic(t) = C (t -
 * K)^3 + W_max, never below the Reno-friendly estimate W_est. */
static void cubic_avoid(struct tcb *tcb, struct tcp_lossx *x, uint32_t acked, uint64_t now)
{
	uint32_t mss = tcp_cc_smss(tcb);
	double cwnd = (double)tcb->cwnd / mss, segs = (double)acked / mss;
	double t, rtt, target, wc, d;
	const double alpha = 3.0 * (1.0 - CUBIC_BETA) / (1.0 + CUBIC_BETA);

	if (!x->epoch_us) {
		x->epoch_us = now ? now : 1;
		x->cwnd_epoch = cwnd;
		x->w_est = cwnd;
		x->k_s = x->w_max > cwnd ? cbrt_pos((x->w_max - cwnd) / CUBIC_C) : 0.0;
		if (x->w_max < cwnd)
			x->w_max = cwnd;
	}
	t = (double)(now - x->epoch_us) / 1e6;
	rtt = (double)(tcb->srtt_us ? tcb->srtt_us : 100000u) / 1e6;
	d = t - x->k_s;
	wc = CUBIC_C * d * d * d + x->w_max;
	d = t + rtt - x->k_s;
	target = CUBIC_C * d * d * d + x->w_max;
	if (target < cwnd)
		target = cwnd;
	if (target > 1.5 * cwnd)
		target = 1.5 * cwnd;  /* 4.2: at most 50% per RTT */
	x->w_est += alpha * segs / cwnd;  /* 4.3 */
	if (wc < x->w_est) {
		if (x->w_est > cwnd)
			cwnd += (x->w_est - cwnd) < segs ? (x->w_est - cwnd) : segs;
	} else {
		cwnd += (target - cwnd) / cwnd * segs;
	}
	tcb->cwnd = (uint32_t)(cwnd * mss);
}

static void cubic_on_ack(struct tcb *tcb, uint32_t acked, uint64_t now)
{
	struct tcp_lossx *x = tcb->lx;

	if (tcb->cwnd < tcb->ssthresh) {
		slow_start(tcb, acked);  /* 4.10: as Reno's (HyStart not used) */
		return;
	}
	if (!x) {
		reno_on_ack(tcb, acked, now);
		return;
	}
	cubic_avoid(tcb, x, acked, now);
}

static void cubic_on_recovery_end(struct tcb *tcb)
{
	tcb->cwnd = tcb->ssthresh;
}

const struct tcp_cc_ops tcp_cc_cubic = {
	.name = "cubic",
	.init = reno_init,
	.on_ack = cubic_on_ack,
	.on_dupacks = cubic_on_dupacks,
	.on_timeout = cubic_on_timeout,
	.on_recovery_end = cubic_on_recovery_end,
};

const struct tcp_cc_ops *const tcp_cc_table[TCP_CC_COUNT] = {&tcp_cc_cubic, &tcp_cc_reno};

/* TCP_CONGESTION (tcp.h). Linux answers ENOENT for a name it does not know. */
int tcp_set_congestion(struct tcb *tcb, const char *name)
{
	for (uint8_t i = 0; name && i < TCP_CC_COUNT; i++) {
		if (!strcmp(name, tcp_cc_table[i]->name)) {
			tcb->cc_id = i;
			return 0;
		}
	}
	return -ENOENT;
}

const char *tcp_get_congestion(const struct tcb *tcb)
{
	return tcp_cc(tcb)->name;
}
