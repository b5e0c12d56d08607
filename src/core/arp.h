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
	uint32_t ip;             /* host order */
	uint8_t mac[6];
	uint8_t state;           /* enum arp_state */
	uint8_t retries;
	uint64_t expires;        /* REACHABLE: end of life */
	struct pkt_queue pending; /* INCOMPLETE: frames waiting for the MAC */
	struct timer timer;      /* retry (INCOMPLETE) or expiry (REACHABLE) */
};

struct arp_table {
	struct arp_entry *entries;
	uint32_t size;
	uint32_t used;
};

int arp_init(struct ust_stack *stk);   /* 0 or -ENOMEM */
void arp_fini(struct ust_stack *stk);
void arp_input(struct ust_stack *stk, struct pkt *p);  /* p->data at the ARP header */
/* Sends p (an IPv4 packet, data at the IP header) to next_hop: at once when
 * the MAC is known, else queued while a request goes out. Consumes p. */
void arp_output(struct ust_stack *stk, struct pkt *p, uint32_t next_hop);
void arp_announce(struct ust_stack *stk);               /* gratuitous ARP */
/* Looks up a cache entry (NULL when absent); for `ustack stat` and tests. */
const struct arp_entry *arp_lookup(const struct ust_stack *stk, uint32_t ip);

#endif
