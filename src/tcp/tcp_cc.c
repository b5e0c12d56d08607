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

/* FlightSize for a reduction (RFC 5681 eq. (4), RFC 9438 4.6), but never
 * above cwnd: while a lost retransmission holds SND.UNA, SACKed data piles
 * up above it, and a FlightSize that counts it would raise ssthresh at
 * every congestion event instead of lowering it. */
static uint32_t loss_flight(const struct tcb *tcb)
{
	uint32_t f = tcb->snd_max - tcb->snd_una;

	return f < tcb->cwnd ? f : tcb->cwnd;
}

static uint32_t half_flight(const struct tcb *tcb)
{
	uint32_t f = loss_flight(tcb) / 2;
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
	x->cwnd_prior = w;
	x->hs_on = 0;  /* RFC 9406 4.2: a loss ends HyStart++ */
	if (w < x->w_max)
		x->w_max = w * (1.0 + CUBIC_BETA) / 2.0;  /* fast convergence */
	else
		x->w_max = w;
	x->epoch_us = 0;
	/* 4.6: ssthresh = flight_size * beta_cubic, the FlightSize Reno
	 * halves (RFC 5681 eq. (4)), so CUBIC never cuts deeper than Reno. */
	ss = (uint32_t)((double)loss_flight(tcb) * CUBIC_BETA);
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
	/* 4.3: alpha_cubic until W_est reaches cwnd_prior, then 1,
	 * Reno's own increase. */
	double alpha = 3.0 * (1.0 - CUBIC_BETA) / (1.0 + CUBIC_BETA);

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
	if (x->w_est >= x->cwnd_prior)
		alpha = 1.0;
	x->w_est += alpha * segs / cwnd;  /* 4.3 */
	if (wc < x->w_est) {
		if (x->w_est > cwnd)
			cwnd += (x->w_est - cwnd) < segs ? (x->w_est - cwnd) : segs;
	} else {
		cwnd += (target - cwnd) / cwnd * segs;
	}
	tcb->cwnd = (uint32_t)(cwnd * mss);
}

/* HyStart++ (RFC 9406 4.2), delay increase only: a slow start that fills
 * the bottleneck queue shows it in the RTT a round before the queue
 * overflows, so slow start ends there (ssthresh = cwnd, as Linux's HyStart
 * does) instead of losing a window's worth of segments at once. RFC 9406's
 * conservative slow start is left out: in netsim its extra rounds of
 * growth overshot the queue again. From 16 segments on, as Linux, so a
 * short connection never allocates the side structure for it. */
#define HS_LOW_WINDOW 16u
#define HS_N_RTT_SAMPLE 8u
#define HS_MIN_ETA_US 4000u
#define HS_MAX_ETA_US 16000u

static void hystart(struct tcb *tcb)
{
	struct tcp_lossx *x;
	uint32_t r, eta;

	if (tcb->cwnd < HS_LOW_WINDOW * tcp_cc_smss(tcb) || !(x = tcp_lossx_get(tcb)))
		return;
	if (!x->hs_on || seq_ge(tcb->snd_una, x->hs_end)) {
		/* a new round: SND.UNA passed what was sent when the last began */
		x->hs_last_min = x->hs_on ? x->hs_cur_min : UINT32_MAX;
		x->hs_cur_min = UINT32_MAX;
		x->hs_samples = 0;
		x->hs_end = tcb->snd_max;
		x->hs_on = 1;
	}
	r = x->rtt_last_us;
	x->rtt_last_us = 0;
	if (!r)
		return;
	if (r < x->hs_cur_min)
		x->hs_cur_min = r;
	if (x->hs_samples < UINT8_MAX)
		x->hs_samples++;
	if (x->hs_samples < HS_N_RTT_SAMPLE || x->hs_last_min == UINT32_MAX)
		return;
	eta = x->hs_last_min / 8;
	eta = eta < HS_MIN_ETA_US ? HS_MIN_ETA_US : eta > HS_MAX_ETA_US ? HS_MAX_ETA_US : eta;
	if (x->hs_cur_min >= x->hs_last_min + eta)
		tcb->ssthresh = tcb->cwnd;  /* the queue is building: leave */
}

static void cubic_on_ack(struct tcb *tcb, uint32_t acked, uint64_t now)
{
	struct tcp_lossx *x;

	if (tcb->cwnd < tcb->ssthresh) {
		hystart(tcb);
		if (tcb->cwnd < tcb->ssthresh) {
			slow_start(tcb, acked);  /* 4.10: as Reno's, with HyStart++ */
			return;
		}
	}
	x = tcb->lx;
	if (!x) {
		reno_on_ack(tcb, acked, now);
		return;
	}
	cubic_avoid(tcb, x, acked, now);
}

const struct tcp_cc_ops tcp_cc_cubic = {
	.name = "cubic",
	.init = reno_init,
	.on_ack = cubic_on_ack,
	.on_dupacks = cubic_on_dupacks,
	.on_timeout = cubic_on_timeout,
	.on_recovery_end = reno_on_recovery_end,  /* deflate to ssthresh, as Reno */
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
