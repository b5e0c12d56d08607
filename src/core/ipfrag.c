/* IPv4 reassembly (RFC 791 3.2, RFC 815).
 *
 * Each datagram in flight keeps its fragments in a list sorted by offset;
 * the datagram is complete when the last fragment (MF clear) has set the
 * length and the bytes held add up to it: with no overlaps allowed, that
 * means no hole is left.
 *
 * Overlaps: an exact duplicate of a fragment already held is dropped alone
 * (drop_frag_dup; links duplicate frames). Any other overlap drops the whole
 * datagram (drop_frag_overlap), as RFC 5722 prescribes for IPv6: overlapping
 * fragments are only ever made by attackers hiding a header.
 *
 * Bounds: at most frag_max_datagrams in flight (a fragment of a new one
 * beyond that is dropped, drop_frag_table_full), at most frag_mem_max bytes
 * of buffers held (the datagram that would pass it is dropped whole,
 * drop_frag_mem), and frag_timeout_us after its first fragment a datagram
 * still incomplete is dropped (ip_frag_timeouts). Datagrams sit on one list
 * in arrival order, so one timer, armed for the oldest, serves them all.
 * Lookup scans the in-flight list: it holds frag_max_datagrams at most. */
#include "core/ipfrag.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/ipv4.h"
#include "core/stack.h"

struct frag_datagram {
	struct frag_datagram *next;  /* in-flight list (oldest first) or free list */
	uint32_t src, dst;
	uint16_t id;
	uint8_t proto;
	uint8_t have_last;           /* the MF-clear fragment arrived: total is known */
	uint32_t total;              /* payload bytes of the whole datagram */
	uint32_t held;               /* payload bytes held */
	uint32_t mem;                /* buffer bytes held, counted in frag_mem */
	uint64_t expires;
	struct pkt *frags;           /* sorted by offset (in ->meta), data at payload */
	struct ipv4_repr first;      /* header of the offset-0 fragment */
};

#define FRAG_TRUESIZE ((uint32_t)sizeof(struct pkt))

static void frag_timer_fn(struct ust_stack *stk, struct timer *t, uint64_t now);

int ipfrag_init(struct ust_stack *stk)
{
	struct ipv4_state *s = &stk->ip;
	uint32_t n = stk->cfg.frag_max_datagrams;

	s->frag_slab = calloc(n, sizeof(*s->frag_slab));
	if (!s->frag_slab)
		return -ENOMEM;
	for (uint32_t i = n; i-- > 0;) {
		s->frag_slab[i].next = s->frag_free;
		s->frag_free = &s->frag_slab[i];
	}
	timer_wheel_init(&stk->frag_timers, stk->now, frag_timer_fn);
	timer_init(&s->frag_timer);
	return 0;
}

void ipfrag_fini(struct ust_stack *stk)
{
	struct ipv4_state *s = &stk->ip;

	for (struct frag_datagram *d = s->frags; d; d = d->next)
		pkt_free_chain(d->frags);
	timer_cancel(&stk->frag_timers, &s->frag_timer);
	free(s->frag_slab);
	s->frag_slab = NULL;
	s->frags = s->frag_tail = s->frag_free = NULL;
	s->frag_count = 0;
	s->frag_mem = 0;
}

/* Unlinks d from the in-flight list and frees what it holds (its fragments
 * are returned to the caller when keep is set). */
static struct pkt *frag_release(struct ust_stack *stk, struct frag_datagram *d, int keep)
{
	struct ipv4_state *s = &stk->ip;
	struct frag_datagram **pp = &s->frags, *prev = NULL;
	struct pkt *frags = d->frags;

	while (*pp && *pp != d) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (*pp)
		*pp = d->next;
	if (s->frag_tail == d)
		s->frag_tail = prev;
	s->frag_count--;
	s->frag_mem -= d->mem;
	d->frags = NULL;
	d->next = s->frag_free;
	s->frag_free = d;
	if (!s->frags)
		timer_cancel(&stk->frag_timers, &s->frag_timer);
	if (keep)
		return frags;
	pkt_free_chain(frags);
	return NULL;
}

static void frag_timer_fn(struct ust_stack *stk, struct timer *t, uint64_t now)
{
	struct ipv4_state *s = &stk->ip;

	(void)t;
	while (s->frags && s->frags->expires <= now) {
		stk_count(stk, CNT_ip_frag_timeouts);
		frag_release(stk, s->frags, 0);
	}
	if (s->frags)
		timer_arm(&stk->frag_timers, &s->frag_timer, s->frags->expires);
}

static struct frag_datagram *frag_find(struct ust_stack *stk, const struct ipv4_repr *ip)
{
	struct ipv4_state *s = &stk->ip;
	struct frag_datagram *d;

	/* RFC 791: a datagram is named by source, destination, protocol, id. */
	for (d = s->frags; d; d = d->next)
		if (d->id == ip->id && d->src == ip->src && d->dst == ip->dst && d->proto == ip->proto)
			return d;
	if (!s->frag_free) {
		stk_count(stk, CNT_drop_frag_table_full);
		return NULL;
	}
	d = s->frag_free;
	s->frag_free = d->next;
	memset(d, 0, sizeof(*d));
	d->src = ip->src;
	d->dst = ip->dst;
	d->id = ip->id;
	d->proto = ip->proto;
	d->expires = stk->now + stk->cfg.frag_timeout_us;
	if (s->frag_tail)
		s->frag_tail->next = d;
	else
		s->frags = d;
	s->frag_tail = d;
	s->frag_count++;
	if (!timer_armed(&s->frag_timer))
		timer_arm(&stk->frag_timers, &s->frag_timer, d->expires);
	return d;
}

/* Inserts p (payload [off, end)) in order. 0, or the counter explaining
 * why the fragment (CNT_drop_frag_dup) or the datagram (others) goes. */
static int frag_insert(struct frag_datagram *d, struct pkt *p, uint32_t off, uint32_t end)
{
	struct pkt **pp = &d->frags;

	while (*pp && (*pp)->meta < off)
		pp = &(*pp)->next;
	if (*pp && (*pp)->meta == off && (*pp)->len == end - off)
		return CNT_drop_frag_dup;
	/* The fragment before ends past our start, or the next starts before
	 * our end. Walking found the first with offset >= off; check both. */
	if (*pp && (*pp)->meta < end)
		return CNT_drop_frag_overlap;
	for (struct pkt *q = d->frags; q && q != *pp; q = q->next)
		if (q->meta + q->len > off)
			return CNT_drop_frag_overlap;
	p->next = *pp;
	*pp = p;
	return 0;
}

/* Checks the fragment against the length already known. */
static int frag_len_check(struct frag_datagram *d, const struct ipv4_repr *ip, uint32_t end)
{
	if (!ip->more_frags) {
		if (d->have_last && d->total != end)
			return CNT_drop_frag_bad;
		for (struct pkt *q = d->frags; q; q = q->next)
			if (q->meta + q->len > end)
				return CNT_drop_frag_bad;
		d->have_last = 1;
		d->total = end;
	} else if (d->have_last && end > d->total) {
		return CNT_drop_frag_bad;
	}
	return 0;
}

struct pkt *ipfrag_input(struct ust_stack *stk, struct pkt *p, struct ipv4_repr *ip)
{
	struct ipv4_state *s = &stk->ip;
	uint32_t off = ip->frag_off;
	uint32_t end = off + (uint32_t)(ip->total_len - ip->hdr_len);
	struct frag_datagram *d;
	int rc;

	stk_count(stk, CNT_ip_frags_in);
	d = frag_find(stk, ip);
	if (!d) {
		pkt_free(p);
		return NULL;
	}
	if (s->frag_mem + FRAG_TRUESIZE > stk->cfg.frag_mem_max) {
		stk_drop(stk, p, CNT_drop_frag_mem);
		frag_release(stk, d, 0);
		return NULL;
	}
	pkt_pull(p, ip->hdr_len);
	p->meta = off;
	rc = frag_len_check(d, ip, end);
	if (!rc)
		rc = frag_insert(d, p, off, end);
	if (rc == CNT_drop_frag_dup) {
		stk_drop(stk, p, CNT_drop_frag_dup);
		return NULL;
	}
	if (rc) {
		stk_drop(stk, p, (enum stk_counter)rc);
		frag_release(stk, d, 0);
		return NULL;
	}
	if (off == 0)
		d->first = *ip;
	d->held += end - off;
	d->mem += FRAG_TRUESIZE;
	s->frag_mem += FRAG_TRUESIZE;
	if (!d->have_last || d->held != d->total)
		return NULL;
	/* Complete: no overlaps and every byte of [0, total) held. */
	if (d->first.hdr_len + d->total > 65535u) {
		stk_count(stk, CNT_drop_frag_bad);
		frag_release(stk, d, 0);
		return NULL;
	}
	*ip = d->first;
	ip->total_len = (uint16_t)(ip->hdr_len + d->total);
	ip->more_frags = 0;
	ip->frag_off = 0;
	stk_count(stk, CNT_ip_reassembled);
	p = frag_release(stk, d, 1);
	return p;
}
