/* IPv4 (RFC 791): input validation, demultiplexing, output with routing
 * (on-link or via the gateway), fragment reassembly (RFC 791/815) with
 * bounded memory and a timeout. */
#ifndef USTACK_CORE_IPV4_H
#define USTACK_CORE_IPV4_H

#include <stddef.h>
#include <stdint.h>

#include "core/pkt.h"
#include "core/timer.h"

struct ust_stack;

#define IP_PROTO_ICMP 1
#define IP_PROTO_TCP 6
#define IP_PROTO_UDP 17
#define IPV4_HDR_LEN 20

/* A validated IPv4 header, filled by ipv4_parse before anything acts on it. */
struct ipv4_repr {
	uint32_t src, dst;      /* host order */
	uint16_t hdr_len;       /* bytes, options included */
	uint16_t total_len;
	uint16_t id;
	uint16_t frag_off;      /* bytes */
	uint8_t more_frags;
	uint8_t dont_frag;
	uint8_t ttl;
	uint8_t proto;
	uint8_t tos;
};

/* 0, or the drop counter (enum stk_counter) explaining why buf is not a
 * valid IPv4 header for a frame payload of `len` bytes. */
int ipv4_parse(const uint8_t *buf, size_t len, struct ipv4_repr *ip);

struct frag_datagram;

struct ipv4_state {
	uint16_t next_id;
	struct frag_datagram *frags;  /* reassemblies in flight, oldest first */
	struct frag_datagram *frag_tail;
	struct frag_datagram *frag_free;  /* unused descriptors */
	struct frag_datagram *frag_slab;  /* frag_max_datagrams of them */
	uint32_t frag_count;
	uint32_t frag_mem;            /* bytes held (whole buffers, not payload) */
	struct timer frag_timer;      /* armed for the oldest reassembly's deadline */
};

int ipv4_init(struct ust_stack *stk);
void ipv4_fini(struct ust_stack *stk);
void ipv4_input(struct ust_stack *stk, struct pkt *p);  /* p->data at the IP header */
/* p->data at the transport header; prepends the IP header, routes, hands the
 * packet to ARP. src 0 means the stack's address. Consumes p. Returns 0 or a
 * negative errno (-EHOSTUNREACH, -EMSGSIZE, -ENOBUFS). p may be a chain
 * through p->next (a datagram larger than one buffer, up to 65515 bytes);
 * a datagram larger than the MTU leaves in fragments (RFC 791 3.2). */
int ip_output(struct ust_stack *stk, struct pkt *p, uint32_t src, uint32_t dst, uint8_t proto);
/* Whether dst is this stack's address (or broadcast we accept). */
int ipv4_is_local(const struct ust_stack *stk, uint32_t dst);
/* Whether addr is one of this stack's unicast addresses (cfg.ip or one of
 * cfg.extra_ips). */
int ipv4_is_ours(const struct ust_stack *stk, uint32_t addr);

#endif
