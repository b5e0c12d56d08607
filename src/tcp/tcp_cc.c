/* Congestion control behind a small ops table; Reno (RFC 5681) for now,
 * with NewReno's partial-ACK rule (RFC 6582) applied in tcp_input.c.
 * CUBIC and SACK-based recovery plug in here later. */
#include "tcp/tcp_int.h"

static uint32_t smss(const struct tcb *tcb)
{
	return tcb->mss - ((tcb->flags & TF_TS) ? 12u : 0u);
}

/* RFC 5681 3.1 and RFC 6928: an initial window of ten segments, as Linux. */
static void reno_init(struct tcb *tcb)
{
	tcb->cwnd = 10 * smss(tcb);
	tcb->ssthresh = UINT32_MAX;
}

static void reno_on_ack(struct tcb *tcb, uint32_t acked)
{
	uint32_t mss = smss(tcb);

	if (tcb->cwnd < tcb->ssthresh) {
		/* Slow start (3.1), growth per ACK bounded by 2*SMSS (RFC 3465). */
		tcb->cwnd += acked < 2 * mss ? acked : 2 * mss;
	} else {
		/* Congestion avoidance: about one SMSS per RTT (3.1, eq. 3). */
		uint32_t inc = mss * mss / (tcb->cwnd ? tcb->cwnd : 1);
		tcb->cwnd += inc ? inc : 1;
	}
}

static uint32_t half_flight(const struct tcb *tcb)
{
	uint32_t f = (tcb->snd_max - tcb->snd_una) / 2;
	uint32_t min = 2 * smss(tcb);

	return f > min ? f : min;  /* RFC 5681 eq. (4) */
}

static void reno_on_dupacks(struct tcb *tcb)
{
	tcb->ssthresh = half_flight(tcb);
	tcb->cwnd = tcb->ssthresh + 3 * smss(tcb);  /* 3.2 step 3 */
}

static void reno_on_timeout(struct tcb *tcb)
{
	tcb->ssthresh = half_flight(tcb);
	tcb->cwnd = smss(tcb);  /* loss window, 3.1 */
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
