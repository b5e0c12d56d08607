/* ARP (RFC 826) with a cache whose entries expire on the timer wheel and
 * hold a bounded queue of IPv4 packets while their address resolves.
 *
 * Resolution: one request at once, then up to arp_max_retries more, one
 * every arp_retry_us; with still no reply the queued packets are dropped
 * (drop_arp_unresolved, one count per packet) and the entry is freed, so the
 * next packet starts over. A REACHABLE entry lives arp_reachable_us from the
 * last time the peer's mapping was confirmed by an ARP packet.
 *
 * The hold queue is bounded by arp_queue_max datagrams: the fragments of
 * one datagram count once, so a 64 KiB UDP datagram to a host not yet
 * resolved is held whole rather than cut down to its first fragments. */
#include "core/arp.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/icmp.h"
#include "core/stack.h"
#include "core/wire.h"

static const uint8_t mac_bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const uint8_t mac_zero[6];

static void arp_timer_fn(struct ust_stack *stk, struct timer *t, uint64_t now);

static uint32_t arp_hash(const struct arp_table *tb, uint32_t ip)
{
	/* Fibonacci hashing: the low bits of on-link addresses differ, the
	 * multiply spreads them and the top bits make the index. */
	return tb->hash_shift >= 32 ? 0 : (ip * 2654435769u) >> tb->hash_shift;
}

int arp_init(struct ust_stack *stk)
{
	struct arp_table *tb = &stk->arp;
	uint32_t n = stk->cfg.arp_table_size;

	memset(tb, 0, sizeof(*tb));
	timer_wheel_init(&stk->arp_timers, stk->now, arp_timer_fn);
	tb->nbuckets = 1;
	tb->hash_shift = 32;
	while (tb->nbuckets < n && tb->nbuckets < (1u << 30)) {
		tb->nbuckets <<= 1;
		tb->hash_shift--;
	}
	tb->entries = calloc(n, sizeof(*tb->entries));
	tb->buckets = calloc(tb->nbuckets, sizeof(*tb->buckets));
	if (!tb->entries || !tb->buckets) {
		free(tb->entries);
		free(tb->buckets);
		tb->entries = NULL;
		tb->buckets = NULL;
		return -ENOMEM;
	}
	tb->size = n;
	for (uint32_t i = n; i-- > 0;) {
		timer_init(&tb->entries[i].timer);
		tb->entries[i].hnext = tb->free;
		tb->free = &tb->entries[i];
	}
	return 0;
}

void arp_fini(struct ust_stack *stk)
{
	struct arp_table *tb = &stk->arp;

	for (uint32_t i = 0; i < tb->size; i++) {
		timer_cancel(&stk->arp_timers, &tb->entries[i].timer);
		pktq_free(&tb->entries[i].pending);
	}
	free(tb->entries);
	free(tb->buckets);
	memset(tb, 0, sizeof(*tb));
}

static struct arp_entry *arp_find(const struct arp_table *tb, uint32_t ip)
{
	struct arp_entry *e;

	for (e = tb->buckets[arp_hash(tb, ip)]; e; e = e->hnext)
		if (e->ip == ip)
			return e;
	return NULL;
}

const struct arp_entry *arp_lookup(const struct ust_stack *stk, uint32_t ip)
{
	return arp_find(&stk->arp, ip);
}

static struct arp_entry *arp_new(struct ust_stack *stk, uint32_t ip)
{
	struct arp_table *tb = &stk->arp;
	struct arp_entry *e = tb->free;
	uint32_t h;

	if (!e) {
		stk_count(stk, CNT_drop_arp_table_full);
		return NULL;
	}
	tb->free = e->hnext;
	h = arp_hash(tb, ip);
	e->ip = ip;
	e->state = ARP_INCOMPLETE;
	e->retries = 0;
	e->dropping = 0;
	e->pending_dgrams = 0;
	e->expires = 0;
	memset(e->mac, 0, 6);
	e->hnext = tb->buckets[h];
	tb->buckets[h] = e;
	tb->used++;
	return e;
}

static void arp_remove(struct ust_stack *stk, struct arp_entry *e)
{
	struct arp_table *tb = &stk->arp;
	struct arp_entry **pp = &tb->buckets[arp_hash(tb, e->ip)];

	while (*pp && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = e->hnext;
	timer_cancel(&stk->arp_timers, &e->timer);
	e->state = ARP_FREE;
	e->ip = 0;
	e->hnext = tb->free;
	tb->free = e;
	tb->used--;
}

static void arp_send(struct ust_stack *stk, uint16_t op, const uint8_t eth_dst[6],
                     const uint8_t tha[6], uint32_t tpa, uint32_t spa)
{
	struct arp_repr a;
	struct pkt *p = pkt_alloc(&stk->pool);
	uint8_t *b;

	if (!p) {
		stk_count(stk, CNT_drop_nobuf);
		return;
	}
	b = pkt_put(p, ARP_PKT_LEN);
	a.op = op;
	memcpy(a.sha, stk->cfg.mac, 6);
	a.spa = spa;
	memcpy(a.tha, tha, 6);
	a.tpa = tpa;
	arp_emit(b, &a);
	stk_count(stk, op == ARP_OP_REQUEST ? CNT_tx_arp_request : CNT_tx_arp_reply);
	eth_output(stk, p, eth_dst, ETHERTYPE_ARP);
}

static void arp_request(struct ust_stack *stk, uint32_t ip)
{
	arp_send(stk, ARP_OP_REQUEST, mac_bcast, mac_zero, ip, stk->cfg.ip);
}

/* RFC 5227 2.3 style announcement: sender and target are both our address. */
void arp_announce(struct ust_stack *stk)
{
	arp_request(stk, stk->cfg.ip);
}

static void arp_flush_pending(struct ust_stack *stk, struct arp_entry *e)
{
	struct pkt *p;

	e->pending_dgrams = 0;
	while ((p = pktq_pop(&e->pending)))
		eth_output(stk, p, e->mac, ETHERTYPE_IPV4);
}

/* Records ip -> mac as confirmed now and sends what waited for it. */
static void arp_update(struct ust_stack *stk, struct arp_entry *e, const uint8_t mac[6])
{
	memcpy(e->mac, mac, 6);
	e->state = ARP_REACHABLE;
	e->retries = 0;
	e->expires = stk->now + stk->cfg.arp_reachable_us;
	timer_arm(&stk->arp_timers, &e->timer, e->expires);
	arp_flush_pending(stk, e);
}

static void arp_timer_fn(struct ust_stack *stk, struct timer *t, uint64_t now)
{
	struct arp_entry *e = (struct arp_entry *)((char *)t - offsetof(struct arp_entry, timer));
	struct pkt_queue q;
	struct pkt *p;

	if (e->state == ARP_INCOMPLETE && e->retries < stk->cfg.arp_max_retries) {
		e->retries++;
		arp_request(stk, e->ip);
		timer_arm(&stk->arp_timers, &e->timer, now + stk->cfg.arp_retry_us);
		return;
	}
	/* No answer: as Linux, each waiting datagram's sender hears a host
	 * unreachable (a connecting TCP socket fails with EHOSTUNREACH). The
	 * entry goes first, so a SYN sent from the handler starts over. */
	q = e->pending;
	e->pending = (struct pkt_queue){ 0 };
	e->pending_dgrams = 0;
	arp_remove(stk, e);
	while ((p = pktq_pop(&q))) {
		if (p->meta != ARP_META_FRAG_CONT)
			icmp_error_local(stk, p, ICMP_DEST_UNREACH, ICMP_HOST_UNREACH);
		stk_drop(stk, p, CNT_drop_arp_unresolved);
	}
}

/* RFC 826 "Packet Reception": update the sender's entry if we have one;
 * then, only if the packet is for our address, add it and answer a request. */
void arp_input(struct ust_stack *stk, struct pkt *p)
{
	struct arp_repr a;
	struct arp_entry *e;
	int rc = arp_parse(p->data, p->len, &a);
	int for_us;

	if (rc) {
		stk_drop(stk, p, (enum stk_counter)rc);
		return;
	}
	for_us = ipv4_is_ours(stk, a.tpa);
	/* An address we own, or none (a probe, RFC 5227), teaches nothing. */
	if (a.spa != 0 && !ipv4_is_ours(stk, a.spa) && !ipv4_addr_bad_src(a.spa)) {
		e = arp_find(&stk->arp, a.spa);
		if (!e && for_us)
			e = arp_new(stk, a.spa);
		if (e)
			arp_update(stk, e, a.sha);
	}
	if (!for_us) {
		stk_drop(stk, p, CNT_drop_arp_not_for_us);
		return;
	}
	if (a.op == ARP_OP_REQUEST)
		arp_send(stk, ARP_OP_REPLY, a.sha, a.sha, a.spa, a.tpa);
	pkt_free(p);
}

void arp_output(struct ust_stack *stk, struct pkt *p, uint32_t next_hop)
{
	struct arp_entry *e;

	if (next_hop == IPV4_BROADCAST) {
		eth_output(stk, p, mac_bcast, ETHERTYPE_IPV4);
		return;
	}
	e = arp_find(&stk->arp, next_hop);
	if (e && e->state == ARP_REACHABLE) {
		eth_output(stk, p, e->mac, ETHERTYPE_IPV4);
		return;
	}
	if (!e) {
		e = arp_new(stk, next_hop);
		if (!e) {
			pkt_free_chain(p);
			return;
		}
		arp_request(stk, next_hop);
		timer_arm(&stk->arp_timers, &e->timer, stk->now + stk->cfg.arp_retry_us);
	}
	if (p->meta == ARP_META_FRAG_CONT) {
		/* The rest of a datagram goes where its first fragment went. */
		if (e->dropping || !e->pending.count) {
			stk_drop(stk, p, CNT_drop_arp_queue_full);
			return;
		}
	} else if (e->pending_dgrams >= stk->cfg.arp_queue_max) {
		e->dropping = 1;
		stk_drop(stk, p, CNT_drop_arp_queue_full);
		return;
	} else {
		e->dropping = 0;
		e->pending_dgrams++;
	}
	pktq_push(&e->pending, p);
}
