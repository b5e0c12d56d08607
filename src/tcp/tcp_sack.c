/* Selective acknowledgment: the blocks a receiver reports (RFC 2018 4,
 * D-SACK of RFC 2883 4), the sender's scoreboard of the peer's blocks, and
 * what SACK-based loss recovery (RFC 6675) asks of it: IsLost, pipe,
 * NextSeg. Everything lives in the TCB's side structure (struct
 * tcp_lossx), allocated the first time a connection needs it: a clean
 * connection never pays for a scoreboard. The scoreboard keeps at most
 * TCP_SB_MAX ranges; when more arrive the highest is forgotten, which only
 * makes the sender more conservative (data not known SACKed is resent). */
#include <stdlib.h>
#include <string.h>

#include "core/wire.h"
#include "tcp/tcp_int.h"

#define DUPTHRESH 3u  /* RFC 6675 2 */

struct tcp_lossx *tcp_lossx_get(struct tcb *tcb)
{
	if (!tcb->lx && (tcb->lx = calloc(1, sizeof(*tcb->lx))))
		tcb->lx->recover = tcb->snd_una;
	return tcb->lx;
}

/* Without the structure (no memory) the event is not remembered: the next
 * loss in the same window reduces again, which is safe. */
void tcp_mark_recover(struct tcb *tcb)
{
	struct tcp_lossx *x = tcp_lossx_get(tcb);

	if (x)
		x->recover = tcb->snd_max;
}

void tcp_lossx_free(struct tcb *tcb)
{
	if (tcb->lx)
		pkt_free_chain(tcb->lx->ooo);
	free(tcb->lx);
	tcb->lx = NULL;
}

/* --- sender: the scoreboard --- */

static void sb_remove(struct tcp_lossx *x, unsigned i)
{
	memmove(x->sb[i], x->sb[i + 1], (x->nsb - i - 1) * sizeof(x->sb[0]));
	x->nsb--;
}

/* Adds [lo, hi) keeping the ranges sorted and disjoint; 1 when it covered
 * bytes not SACKed before. */
static int sb_add(struct tcp_lossx *x, uint32_t lo, uint32_t hi)
{
	unsigned i = 0;
	int news = 1;

	while (i < x->nsb && seq_lt(x->sb[i][1], lo))
		i++;
	if (i < x->nsb && seq_le(x->sb[i][0], lo) && seq_ge(x->sb[i][1], hi))
		return 0;  /* nothing new */
	if (i == x->nsb || seq_lt(hi, x->sb[i][0])) {
		if (x->nsb == TCP_SB_MAX) {
			if (i == TCP_SB_MAX)
				return 0;  /* above everything kept: forget it */
			x->nsb--;  /* forget the highest range */
		}
		memmove(x->sb[i + 1], x->sb[i], (x->nsb - i) * sizeof(x->sb[0]));
		x->sb[i][0] = lo;
		x->sb[i][1] = hi;
		x->nsb++;
		return news;
	}
	/* overlaps or touches range i: widen it, then swallow followers */
	if (seq_lt(lo, x->sb[i][0]))
		x->sb[i][0] = lo;
	if (seq_gt(hi, x->sb[i][1]))
		x->sb[i][1] = hi;
	while (i + 1 < x->nsb && seq_ge(x->sb[i][1], x->sb[i + 1][0])) {
		if (seq_gt(x->sb[i + 1][1], x->sb[i][1]))
			x->sb[i][1] = x->sb[i + 1][1];
		sb_remove(x, i + 1);
	}
	return news;
}

void tcp_sack_trim(struct tcb *tcb)
{
	struct tcp_lossx *x = tcb->lx;

	if (!x)
		return;
	while (x->nsb && seq_le(x->sb[0][1], tcb->snd_una))
		sb_remove(x, 0);
	if (x->nsb && seq_lt(x->sb[0][0], tcb->snd_una))
		x->sb[0][0] = tcb->snd_una;
	if (seq_lt(x->high_rxt, tcb->snd_una))
		x->high_rxt = tcb->snd_una;
	/* `recover` follows SND.UNA once passed, so it never falls 2^31
	 * behind and reads as ahead (a long clean transfer). */
	if (seq_lt(x->recover, tcb->snd_una))
		x->recover = tcb->snd_una;
	if (x->rack_on && seq_le(x->rack_hi, tcb->snd_una))
		x->rack_on = 0;
}

int tcp_sack_update(struct tcb *tcb, const struct tcp_seg *seg)
{
	struct tcp_lossx *x;
	int news = 0;

	if (!(tcb->flags & TF_SACK) || !seg->nsack || !(x = tcp_lossx_get(tcb)))
		return 0;
	x->by_time = !!(tcb->flags & TF_HAVE_RTT);
	for (unsigned i = 0; i < seg->nsack; i++) {
		uint32_t lo = seg->sack[i][0], hi = seg->sack[i][1];

		/* RFC 2883 4: a block below the cumulative ACK (or the first
		 * one inside the second) is a D-SACK: a report of a duplicate,
		 * not of a hole. Blocks outside what we sent are bogus. */
		if (i == 0 && seq_lt(lo, hi) && x->undo_on &&
		    (seq_le(hi, seg->ack) ||
		     (seg->nsack > 1 && seq_ge(lo, seg->sack[1][0]) &&
		      seq_le(hi, seg->sack[1][1])))) {
			/* A D-SACK: that many retransmissions were not needed. */
			uint32_t mss = tcp_cc_smss(tcb);
			x->undo_retrans -= (int32_t)((hi - lo + mss - 1) / mss);
		}
		if (!seq_lt(lo, hi) || seq_le(hi, seg->ack) || seq_gt(hi, tcb->snd_max))
			continue;
		if (seq_lt(lo, seg->ack))
			lo = seg->ack;
		news |= sb_add(x, lo, hi);
		if (!x->nsb || seq_gt(hi, x->fack) || seq_lt(x->fack, tcb->snd_una))
			x->fack = hi;
	}
	tcp_sack_trim(tcb);
	return news;
}

/* RFC 6675 IsLost for the hole that starts at index i (the hole below
 * sb[i]): DupThresh SACKed ranges above it, or more than
 * (DupThresh - 1) * SMSS SACKed bytes above it. */
static int hole_lost(const struct tcp_lossx *x, unsigned i, uint32_t mss)
{
	uint32_t bytes = 0;

	if (x->rack_on && seq_lt(x->sb[i][0], x->rack_hi))
		return 1;  /* RFC 8985 6.2: its reordering window has passed */
	/* With an RTT to time by, RACK alone says lost (as Linux): the
	 * DupThresh rule takes every reordering of 3 segments for loss. */
	if (x->by_time)
		return 0;
	if (x->nsb - i >= DUPTHRESH)
		return 1;
	for (unsigned j = i; j < x->nsb; j++)
		bytes += x->sb[j][1] - x->sb[j][0];
	return bytes > (DUPTHRESH - 1) * mss;
}

int tcp_sack_lost_head(const struct tcb *tcb)
{
	const struct tcp_lossx *x = tcb->lx;

	return x && x->nsb && hole_lost(x, 0, tcp_cc_smss(tcb));
}

uint32_t tcp_sack_bytes(const struct tcb *tcb)
{
	const struct tcp_lossx *x = tcb->lx;
	uint32_t n = 0;

	for (unsigned i = 0; x && i < x->nsb; i++)
		n += x->sb[i][1] - x->sb[i][0];
	return n;
}

/* Proportional Rate Reduction (RFC 6937 3.1): while pipe is above
 * ssthresh, send in proportion to what the peer received (ssthresh /
 * RecoverFS of it), so the window comes down to ssthresh over one round
 * trip instead of stopping while pipe drains and then bursting; below
 * ssthresh, slow start back up to it, by at most what was delivered
 * plus one segment (PRR-SSRB). The ACK clock keeps running, and data
 * sent after a retransmission lets RACK see when that one is lost. */
void tcp_prr_ack(struct tcb *tcb, uint32_t delivered)
{
	struct tcp_lossx *x = tcb->lx;
	uint32_t mss = tcp_cc_smss(tcb), pipe = tcp_sack_pipe(tcb);
	uint64_t snd;

	if (!x)
		return;
	x->prr_delivered += delivered;
	if (pipe > tcb->ssthresh) {
		uint64_t fs = x->recover_fs ? x->recover_fs : 1;
		snd = ((uint64_t)x->prr_delivered * tcb->ssthresh + fs - 1) / fs;
		snd = snd > x->prr_out ? snd - x->prr_out : 0;
	} else {
		uint64_t lim = x->prr_delivered > x->prr_out ? x->prr_delivered - x->prr_out : 0;
		if (lim < delivered)
			lim = delivered;
		lim += mss;
		snd = tcb->ssthresh - pipe;
		if (snd > lim)
			snd = lim;
	}
	snd += pipe;
	tcb->cwnd = snd < UINT32_MAX ? (uint32_t)snd : UINT32_MAX;
}

void tcp_undo_save(struct tcb *tcb)
{
	struct tcp_lossx *x = tcb->lx;

	if (!x)
		return;
	x->undo_cwnd = tcb->cwnd;
	x->undo_ssthresh = tcb->ssthresh;
	x->undo_retrans = 0;
	x->undo_on = 1;
}

/* Once SND.UNA is past `recover` and no retransmission of the episode is
 * unaccounted for, the reduction answered no loss: reordering or a delay
 * took its place. Back to the window from before (as Linux's undo). */
void tcp_undo_check(struct tcb *tcb)
{
	struct tcp_lossx *x = tcb->lx;

	if (!x || !x->undo_on || (tcb->flags & TF_FASTREC) || tcb->rexmits ||
	    tcp_below_recover(tcb, tcb->snd_una) || x->undo_retrans > 0)
		return;
	x->undo_on = 0;
	if (tcb->cwnd < x->undo_cwnd)
		tcb->cwnd = x->undo_cwnd;
	if (tcb->ssthresh < x->undo_ssthresh)
		tcb->ssthresh = x->undo_ssthresh;
	x->epoch_us = 0;  /* CUBIC: a new epoch from the restored window */
}

/* The holes are [una, sb[0].lo), [sb[0].hi, sb[1].lo), ... and the tail
 * [sb[n-1].hi, snd_max), which nothing above can declare lost. Per octet
 * RFC 6675 counts one when it is neither SACKed nor lost, and one more when
 * it was retransmitted (below HighRxt). */
uint32_t tcp_sack_pipe(const struct tcb *tcb)
{
	const struct tcp_lossx *x = tcb->lx;
	uint32_t mss = tcp_cc_smss(tcb), pipe = 0, lo = tcb->snd_una;

	if (!x)
		return tcb->snd_max - tcb->snd_una;
	for (unsigned i = 0; i <= x->nsb; i++) {
		uint32_t hi = i < x->nsb ? x->sb[i][0] : tcb->snd_max;
		uint32_t rx = 0;

		if (seq_gt(x->high_rxt, lo))
			rx = (seq_lt(x->high_rxt, hi) ? x->high_rxt : hi) - lo;
		if (i == x->nsb && x->nsb && seq_gt(x->fack, lo) && seq_le(x->fack, hi))
			lo = x->fack;  /* above the kept ranges: SACKed, forgotten */
		if (i == x->nsb || !hole_lost(x, i, mss))
			pipe += hi - lo;
		pipe += rx;
		if (i < x->nsb)
			lo = x->sb[i][1];
	}
	return pipe;
}

uint32_t tcp_sack_flight(const struct tcb *tcb)
{
	const struct tcp_lossx *x = tcb->lx;
	uint32_t f = tcb->snd_nxt - tcb->snd_una;

	if (!x)
		return f;
	for (unsigned i = 0; i < x->nsb && seq_lt(x->sb[i][0], tcb->snd_nxt); i++) {
		uint32_t hi = seq_lt(x->sb[i][1], tcb->snd_nxt) ? x->sb[i][1] : tcb->snd_nxt;
		f -= hi - x->sb[i][0];
	}
	return f;
}

uint32_t tcp_sack_skip(const struct tcb *tcb, uint32_t seq, uint32_t *lim)
{
	const struct tcp_lossx *x = tcb->lx;

	*lim = tcb->snd_max;
	if (!x)
		return seq;
	for (unsigned i = 0; i < x->nsb; i++) {
		if (seq_lt(seq, x->sb[i][0])) {
			*lim = x->sb[i][0];
			return seq;
		}
		if (seq_lt(seq, x->sb[i][1])) {
			seq = x->sb[i][1];
			*lim = i + 1 < x->nsb ? x->sb[i + 1][0] : tcb->snd_max;
			return seq;
		}
	}
	return seq;
}

int tcp_sack_next_lost(const struct tcb *tcb, uint32_t mss, uint32_t *seq, uint32_t *len)
{
	const struct tcp_lossx *x = tcb->lx;
	uint32_t lo = tcb->snd_una;

	if (!x)
		return 0;
	for (unsigned i = 0; i < x->nsb; i++) {
		uint32_t hi = x->sb[i][0];

		if (!hole_lost(x, i, mss))
			return 0;  /* lost holes are a prefix: none further up */
		if (seq_gt(x->high_rxt, lo))
			lo = x->high_rxt;
		if (seq_lt(lo, hi)) {
			*seq = lo;
			*len = hi - lo < mss ? hi - lo : mss;
			return 1;
		}
		lo = x->sb[i][1];
	}
	return 0;
}

/* --- receiver: the blocks we report --- */

void tcp_sack_rcv_ooo(struct tcb *tcb, uint32_t seq)
{
	struct tcp_lossx *x;
	unsigned i;

	if (!(tcb->flags & TF_SACK) || !(x = tcp_lossx_get(tcb)))
		return;
	/* move-to-front; the block holding seq is found when the option is
	 * written, so a start that merged into a bigger block still works */
	for (i = 0; i < x->nrecent && x->recent[i] != seq; i++)
		;
	if (i == x->nrecent && x->nrecent < TCP_SACK_RECENT)
		x->nrecent++;
	if (i == TCP_SACK_RECENT)
		i--;
	memmove(x->recent + 1, x->recent, i * sizeof(x->recent[0]));
	x->recent[0] = seq;
}

void tcp_sack_rcv_dup(struct tcb *tcb, uint32_t lo, uint32_t hi)
{
	struct tcp_lossx *x;

	if (!(tcb->flags & TF_SACK) || !(x = tcp_lossx_get(tcb)))
		return;
	x->dsack = 1;
	x->dsack_lo = lo;
	x->dsack_hi = hi;
}

/* The out-of-order queue as blocks: contiguous held segments merged. */
static unsigned ooo_blocks(const struct tcb *tcb, uint32_t blk[][2], unsigned max)
{
	unsigned n = 0;

	for (const struct pkt *p = tcp_ooo_head(tcb); p; p = p->next) {
		uint32_t lo = (uint32_t)p->meta, hi = lo + p->len;

		if (n && seq_le(lo, blk[n - 1][1])) {
			if (seq_gt(hi, blk[n - 1][1]))
				blk[n - 1][1] = hi;
			continue;
		}
		if (n == max)
			break;
		blk[n][0] = lo;
		blk[n][1] = hi;
		n++;
	}
	return n;
}

static size_t put_block(uint8_t *o, uint32_t lo, uint32_t hi)
{
	wr32(o, lo);
	wr32(o + 4, hi);
	return 8;
}

size_t tcp_sack_option(struct tcb *tcb, uint8_t *o, size_t room)
{
	struct tcp_lossx *x = tcb->lx;
	uint32_t blk[64][2];
	uint8_t used[64] = {0};
	unsigned nb, want, n = 0;
	size_t len = 4;

	if (!(tcb->flags & TF_SACK) || !x || room < 12)
		return 0;
	want = (unsigned)((room - 4) / 8);
	nb = ooo_blocks(tcb, blk, 64);
	if (!nb && !x->dsack)
		return 0;
	o[0] = 1;
	o[1] = 1;
	o[2] = 5;
	/* RFC 2883 4: the D-SACK block comes first, and once only. */
	if (x->dsack) {
		x->dsack = 0;
		len += put_block(o + len, x->dsack_lo, x->dsack_hi);
		n++;
	}
	/* RFC 2018 4: the first block holds the most recent segment, the
	 * others repeat the most recently reported ones... */
	for (unsigned r = 0; r < x->nrecent && n < want; r++) {
		for (unsigned i = 0; i < nb; i++) {
			if (!used[i] && seq_in(x->recent[r], blk[i][0], blk[i][1])) {
				used[i] = 1;
				len += put_block(o + len, blk[i][0], blk[i][1]);
				n++;
				break;
			}
		}
	}
	/* ...and what room is left goes to the rest, lowest first. */
	for (unsigned i = 0; i < nb && n < want; i++) {
		if (!used[i]) {
			len += put_block(o + len, blk[i][0], blk[i][1]);
			n++;
		}
	}
	o[3] = (uint8_t)(len - 2);
	return len;
}
