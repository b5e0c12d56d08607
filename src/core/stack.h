/* The stack object: everything one ustack instance owns. The core is a
 * deterministic state machine: it is given frames and the current time and it
 * queues frames for the link and socket events for the runtime. No thread,
 * lock, syscall, clock or hot-path allocation inside. No globals either: two
 * stacks live side by side in one process (memlink tests). */
#ifndef USTACK_CORE_STACK_H
#define USTACK_CORE_STACK_H

#include <stdint.h>

#include "core/arp.h"
#include "core/counters.h"
#include "core/ipv4.h"
#include "core/pkt.h"
#include "core/ratelimit.h"
#include "core/timer.h"
#include "core/udp.h"

struct tcp_state;

/* Extra local addresses: a stack answers for ip plus these ranges (a client
 * stack needs many to hold more than 64k connections to one server port:
 * the 5-tuple, not the port, names a connection). */
#define STK_EXTRA_IP_RANGES 8
struct stk_ip_range {
	uint32_t first;  /* host byte order */
	uint32_t count;  /* 0: unused slot */
};

/* Every tunable of the core, with its default in stk_config_default(). */
struct stk_config {
	uint32_t ip;            /* host byte order */
	uint32_t netmask;       /* host byte order */
	uint32_t gateway;       /* host byte order; 0: none */
	uint8_t mac[6];
	uint16_t mtu;           /* IP MTU of the link */
	uint32_t pkt_pool_size; /* packet buffers */
	/* Frames queued for the link at most (0: half the pool). A link that
	 * cannot take frames now (a full memlink ring) leaves them queued
	 * rather than drop them; the bound keeps the rest of the pool for
	 * frames coming in, which is what drains a peer that waits on us. */
	uint32_t txq_max;
	uint32_t arp_table_size;
	uint32_t arp_reachable_us;  /* cache entry lifetime */
	uint32_t arp_retry_us;      /* between requests for an unresolved entry */
	uint32_t arp_max_retries;   /* then queued packets are dropped */
	uint32_t arp_queue_max;     /* packets held per unresolved address */
	uint32_t frag_max_datagrams;  /* reassemblies in flight */
	uint32_t frag_mem_max;        /* bytes held by all reassemblies */
	uint32_t frag_timeout_us;     /* RFC 791: give up after this */
	uint32_t udp_rcvbuf;          /* default SO_RCVBUF of a UDP socket */
	uint8_t ttl;
	struct stk_ip_range extra_ips[STK_EXTRA_IP_RANGES];
	/* ICMP errors we send (RFC 1812 4.3.2.8 asks for a limit): Linux's
	 * icmp_msgs_per_sec 1000 and icmp_msgs_burst 50; 0: no limit */
	uint32_t icmp_rate;
	uint32_t icmp_burst;
	/* The link completes TCP checksums (link.tx_csum_offload): segments
	 * leave with the pseudo-header sum and PKT_F_CSUM_PARTIAL. 0: off. */
	uint8_t tx_csum_offload;
};

void stk_config_default(struct stk_config *cfg);

/* Readiness bits a socket can report (the values of poll's POLL* flags). */
enum {
	SOCK_EV_IN = 0x001,
	SOCK_EV_OUT = 0x004,
	SOCK_EV_ERR = 0x008,
	SOCK_EV_HUP = 0x010,
	SOCK_EV_RDHUP = 0x2000,
};

/* How the core tells the runtime that a socket's state changed. `app` is the
 * pointer the runtime stored in the socket (udp_pcb.app, tcb app field). */
struct stk_hooks {
	void (*sock_event)(void *ctx, void *app, uint32_t events);
	void *ctx;
};

struct ust_stack {
	struct stk_config cfg;
	uint64_t now;                /* time of the current entry point, us */
	struct pkt_pool pool;
	struct pkt_queue txq;        /* frames ready for the link */
	/* one wheel per kind of timer owner (timer.h) */
	struct timer_wheel tcp_timers; /* one timer per TCB */
	struct timer_wheel arp_timers; /* one per ARP entry */
	struct timer_wheel frag_timers; /* the reassembly timer */
	struct arp_table arp;
	struct ipv4_state ip;
	struct udp_table udp;
	struct tcp_state *tcp;
	struct stk_hooks hooks;
	struct ratelimit icmp_rl;    /* ICMP errors sent (cfg.icmp_rate) */
	uint64_t cnt[CNT__COUNT];
};

/* --- entry points used by the runtime and by tests --- */

/* NULL with errno-style code in *err on failure. Queues a gratuitous ARP. */
struct ust_stack *stk_create(const struct stk_config *cfg, uint64_t now, int *err);
void stk_destroy(struct ust_stack *stk);
/* Takes ownership of every packet. */
void stk_rx_burst(struct ust_stack *stk, struct pkt **pkts, unsigned n, uint64_t now);
void stk_run_timers(struct ust_stack *stk, uint64_t now);
/* The earliest time stk_run_timers has work (TIMER_NEVER: none). */
uint64_t stk_next_deadline(const struct ust_stack *stk);
/* Moves up to max queued frames to out; the caller owns them. */
unsigned stk_tx_take(struct ust_stack *stk, struct pkt **out, unsigned max);
/* Frames left the queue (stk_tx_take, and the link freed them): senders
 * that found no room a while ago queue theirs now. Called by the runtime
 * after a tx burst; stk_rx_burst and stk_run_timers do it too. */
void stk_tx_resume(struct ust_stack *stk, uint64_t now);

/* --- internal, between layers --- */

static inline void stk_count(struct ust_stack *stk, enum stk_counter c)
{
	stk->cnt[c]++;
}

/* Whether one more frame may be queued for the link: a buffer is free and
 * the queue is under its bound. A sender that finds no room waits (TCP:
 * tcp_tx_resume) instead of losing what it would have sent. */
static inline int stk_tx_ok(const struct ust_stack *stk)
{
	return stk->pool.nfree > 0 && stk->txq.count < stk->cfg.txq_max;
}

/* Frees p and counts the reason. */
void stk_drop(struct ust_stack *stk, struct pkt *p, enum stk_counter reason);
/* Prepends the Ethernet header and queues the frame for the link. */
void eth_output(struct ust_stack *stk, struct pkt *p, const uint8_t dst[6], uint16_t ethertype);
void stk_sock_event(struct ust_stack *stk, void *app, uint32_t events);

#endif
