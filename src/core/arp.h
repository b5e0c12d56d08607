/* ARP (RFC 826): request and reply, a cache with expiry, packets held while
 * an address resolves (bounded), a gratuitous ARP at start. */
#ifndef USTACK_CORE_ARP_H
#define USTACK_CORE_ARP_H

#include <stdint.h>

#include "core/pkt.h"
#include "core/timer.h"

struct ust_stack;

enum arp_state { ARP_FREE = 0, ARP_INCOMPLETE, ARP_REACHABLE };

struct arp_entry {
	struct arp_entry *hnext; /* hash chain, or the free list */
	uint32_t ip;             /* host order */
	uint8_t mac[6];
	uint8_t state;           /* enum arp_state */
	uint8_t retries;
	uint8_t dropping;        /* the last datagram queued was refused */
	uint16_t pending_dgrams; /* datagrams (not fragments) in pending */
	uint64_t expires;        /* REACHABLE: end of life */
	struct pkt_queue pending; /* INCOMPLETE: frames waiting for the MAC */
	struct timer timer;      /* retry (INCOMPLETE) or expiry (REACHABLE) */
};

/* A chained hash over a fixed slab of entries: O(1) lookup, insert and
 * removal, no allocation after arp_init. When every entry is in use a new
 * address is not cached (counted drop_arp_table_full) until one expires. */
struct arp_table {
	struct arp_entry *entries;
	struct arp_entry **buckets;  /* nbuckets heads, a power of two */
	struct arp_entry *free;
	uint32_t nbuckets;
	uint8_t hash_shift;          /* 32 - log2(nbuckets) */
	uint32_t size;
	uint32_t used;
};

int arp_init(struct ust_stack *stk);   /* 0 or -ENOMEM */
void arp_fini(struct ust_stack *stk);
void arp_input(struct ust_stack *stk, struct pkt *p);  /* p->data at the ARP header */
/* Sends p (an IPv4 packet, data at the IP header) to next_hop: at once when
 * the MAC is known, else queued while a request goes out. Consumes p.
 * p->meta == ARP_META_FRAG_CONT marks a fragment that follows the previous
 * packet of the same datagram: arp_queue_max counts datagrams, so a
 * fragmented datagram is held or dropped whole. Otherwise meta must be 0. */
#define ARP_META_FRAG_CONT 1u
void arp_output(struct ust_stack *stk, struct pkt *p, uint32_t next_hop);
void arp_announce(struct ust_stack *stk);               /* gratuitous ARP */
/* Looks up a cache entry (NULL when absent); for `ustack stat` and tests. */
const struct arp_entry *arp_lookup(const struct ust_stack *stk, uint32_t ip);

#endif
