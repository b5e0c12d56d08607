/* Links move frames between a stack and the outside: a small vtable, so a
 * TAP, an in-process memlink and later AF_PACKET/AF_XDP look the same to the
 * runtime, and wrappers (impairment, pcap tee) stack on any of them.
 * A link is driven by one thread at a time. Time is an argument, so a
 * wrapper that delays frames works on virtual time as on real time. */
#ifndef USTACK_LINK_LINK_H
#define USTACK_LINK_LINK_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/pkt.h"

struct link;

struct link_ops {
	/* Receives up to max frames into buffers from pool; returns how many
	 * (0 when none is waiting; never blocks). */
	unsigned (*rx_burst)(struct link *l, struct pkt_pool *pool, struct pkt **pkts,
	                     unsigned max, uint64_t now);
	/* Sends n frames and takes ownership of all of them (a frame that could
	 * not be sent is freed and counted in l->tx_drops). Returns how many went. */
	unsigned (*tx_burst)(struct link *l, struct pkt **pkts, unsigned n, uint64_t now);
	/* Optional: how many frames tx_burst takes now without dropping one
	 * for want of room (a full ring); NULL: any number (a TAP, whose
	 * kernel side drops on its own, as a wire). Room only grows until the
	 * next tx_burst (one thread drives a link). want: how many the caller
	 * has queued. A caller sends what fits and asks again: when the answer
	 * is 0 with want > 0, the link calls the tx hook once room is back
	 * (for want frames, or half its queue). A wrapper holding frames
	 * passes them on here first (now). */
	unsigned (*tx_room)(struct link *l, unsigned want, uint64_t now);
	/* Optional, with tx_room: fn(ctx) is called from another thread when
	 * room came back after tx_room answered less than wanted. fn must not
	 * block. NULL fn removes the hook; close waits for a call in progress. */
	void (*set_tx_hook)(struct link *l, void (*fn)(void *ctx), void *ctx);
	/* A file descriptor that is readable when rx_burst has work, or -1. */
	int (*fd)(struct link *l);
	/* The earliest time the link needs to be called again even without a
	 * readable fd (a delayed frame, a rate limiter); UINT64_MAX: none. */
	uint64_t (*next_deadline)(struct link *l);
	void (*close)(struct link *l);  /* closes wrapped links too; frees l */
	/* Optional: fn(ctx) is called from the sending thread right after
	 * the other end published frames for this end, so a runtime can take
	 * them at once without a wake-up of its own thread (run to
	 * completion). fn must not block. It returns true when the frames are
	 * sure to be taken without the fd (the calling thread holds the
	 * receiver and takes them before it lets go); else the fd is
	 * signalled unless they were taken. NULL fn removes the hook; close
	 * waits for a call in progress. */
	void (*set_rx_hook)(struct link *l, bool (*fn)(void *ctx), void *ctx);
};

struct link {
	const struct link_ops *ops;
	char name[32];
	uint8_t mac[6];        /* suggested MAC of the stack side, if the link has one */
	uint16_t mtu;
	uint64_t rx_frames, tx_frames, tx_drops;
	uint64_t rx_drops;     /* got but not delivered (too big, impaired away) */
	/* tx_burst completes the TCP checksum of frames marked
	 * PKT_F_CSUM_PARTIAL. Wrappers leave it off: a capture should show
	 * the checksum, and a corruption must not be checksummed over. */
	bool tx_csum_offload;
};

static inline unsigned link_rx_burst(struct link *l, struct pkt_pool *pool, struct pkt **pkts,
                                     unsigned max, uint64_t now)
{
	return l->ops->rx_burst(l, pool, pkts, max, now);
}

static inline unsigned link_tx_burst(struct link *l, struct pkt **pkts, unsigned n, uint64_t now)
{
	return l->ops->tx_burst(l, pkts, n, now);
}

/* UINT_MAX: no bound. */
static inline unsigned link_tx_room(struct link *l, unsigned want, uint64_t now)
{
	return l->ops->tx_room ? l->ops->tx_room(l, want, now) : UINT_MAX;
}

static inline void link_set_tx_hook(struct link *l, void (*fn)(void *ctx), void *ctx)
{
	if (l->ops->set_tx_hook)
		l->ops->set_tx_hook(l, fn, ctx);
}

static inline int link_fd(struct link *l) { return l->ops->fd ? l->ops->fd(l) : -1; }

static inline uint64_t link_next_deadline(struct link *l)
{
	return l->ops->next_deadline ? l->ops->next_deadline(l) : UINT64_MAX;
}

static inline void link_set_rx_hook(struct link *l, bool (*fn)(void *ctx), void *ctx)
{
	if (l->ops->set_rx_hook)
		l->ops->set_rx_hook(l, fn, ctx);
}

static inline void link_close(struct link *l)
{
	if (l)
		l->ops->close(l);
}

/* --- constructors: NULL and a negative errno in *err on failure; a message
 * for the user goes to errbuf (may be NULL) --- */

struct tap_params {
	const char *name;      /* interface name, e.g. "ustack0" */
	uint32_t host_ip;      /* kernel side address, host order; 0: leave it alone */
	uint8_t host_prefix;   /* prefix length of host_ip */
	uint16_t mtu;
	/* IFF_VNET_HDR with TUNSETOFFLOAD (checksum, TSO4): the kernel may hand
	 * over frames with the TCP checksum left to fill and 64 KB TSO frames;
	 * the link completes and splits them into MTU-sized frames (marked
	 * PKT_F_CSUM_OK, PKT_F_SEG_MORE), and completes the TCP checksums of
	 * frames marked PKT_F_CSUM_PARTIAL (tx_csum_offload). Falls back to
	 * plain frames when the kernel refuses. */
	bool offload;
};
/* Creates the TAP (IFF_TAP|IFF_NO_PI) when it does not exist and brings the
 * kernel side up with host_ip; attaches when it exists. The device is
 * removed at close only when this call created it. */
struct link *link_tap_open(const struct tap_params *tp, int *err, char *errbuf, size_t errlen);

/* Two ends joined in memory: what one sends, the other receives. Each end
 * may be driven by its own thread. mtu: IP MTU of both ends. */
int link_memlink_pair(uint16_t mtu, unsigned depth, struct link **a, struct link **b);

/* Impairment, seeded and reproducible; each direction has its own set. */
struct impair_dir {
	uint32_t loss_ppm;       /* parts per million */
	uint32_t dup_ppm;
	uint32_t reorder_ppm;    /* a reordered frame is held back behind the next ones */
	uint32_t corrupt_ppm;    /* one byte flipped past the Ethernet header */
	uint32_t delay_us;
	uint32_t jitter_us;
	uint64_t rate_bps;       /* 0: unlimited */
};
struct impair_spec {
	struct impair_dir tx, rx; /* tx: stack -> wire, rx: wire -> stack */
	uint64_t seed;
};
/* Parses "loss=5%,delay=20ms,reorder=5%,seed=7" (keys: loss dup reorder
 * corrupt delay jitter rate seed; a key prefixed tx- or rx- sets one
 * direction only). Percentages take decimals ("0.1%"), times a unit (us ms
 * s), rates bit kbit mbit gbit. Jitter spreads the delay without
 * reordering. 0, or -EINVAL with a message naming the key or value in
 * errbuf. spec is zeroed first. */
int impair_parse(const char *text, struct impair_spec *spec, char *errbuf, size_t errlen);
/* Wraps inner (owned from then on; on failure it stays the caller's). */
struct link *link_impair_wrap(struct link *inner, const struct impair_spec *spec, int *err);
/* Writes the impairment counters of the first impairment wrapper found in l
 * (l itself or under a pcap tee), one line per direction:
 * "impair tx: dropped=N duplicated=N reordered=N corrupted=N delayed=N".
 * Returns what snprintf would, or -ENOENT when l has no impairment. */
int impair_stats(struct link *l, char *buf, size_t len);

/* Writes every frame, both directions, to a pcap file (libpcap dump API),
 * timestamped with `now`. Owns inner on success; on failure it stays the
 * caller's. */
struct link *link_pcap_wrap(struct link *inner, const char *path, int *err, char *errbuf,
                            size_t errlen);

#endif
