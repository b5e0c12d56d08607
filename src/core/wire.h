/* Wire formats: one parser per header turns bytes into a validated repr
 * (or names the drop counter that explains why not), one emitter writes a
 * repr back as bytes. Nothing above this file reads a header field from a
 * buffer: the layers act on reprs only (STYLE.md, "parse first, then act").
 * ipv4_parse lives here too; its repr is declared in ipv4.h. */
#ifndef USTACK_CORE_WIRE_H
#define USTACK_CORE_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "core/pkt.h"

#define ETH_HDR_LEN 14
#define ETH_ADDR_LEN 6
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_ARP 0x0806
#define ARP_PKT_LEN 28
#define ICMP_HDR_LEN 8
#define UDP_HDR_LEN 8
#define IPV4_BROADCAST 0xffffffffu

/* Big-endian loads and stores, any alignment. */
static inline uint16_t rd16(const uint8_t *b) { return (uint16_t)(b[0] << 8 | b[1]); }
static inline uint32_t rd32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}
static inline void wr16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}
static inline void wr32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

/* --- Ethernet II --- */
struct eth_repr {
	uint8_t dst[ETH_ADDR_LEN], src[ETH_ADDR_LEN];
	uint16_t type;
};
int eth_parse(const uint8_t *buf, size_t len, struct eth_repr *e);
void eth_emit(uint8_t *buf, const struct eth_repr *e);

/* --- ARP for IPv4 over Ethernet (RFC 826) --- */
#define ARP_OP_REQUEST 1
#define ARP_OP_REPLY 2
struct arp_repr {
	uint16_t op;
	uint8_t sha[ETH_ADDR_LEN], tha[ETH_ADDR_LEN];
	uint32_t spa, tpa;  /* host order */
};
int arp_parse(const uint8_t *buf, size_t len, struct arp_repr *a);
void arp_emit(uint8_t *buf, const struct arp_repr *a);

/* --- IPv4 header (parser declared in ipv4.h) --- */
struct ipv4_repr;
/* Writes a 20-byte header (no options) with its checksum. */
void ipv4_emit(uint8_t *buf, const struct ipv4_repr *ip);
/* The datagram quoted in an ICMP error (RFC 792): its header and at least
 * 8 bytes after it. Lenient on purpose: the quote is truncated (no total
 * length check) and routers may have changed it (no checksum check).
 * Fills src, dst, proto, hdr_len; 0 or CNT_drop_icmp_quote. */
int ipv4_quote_parse(const uint8_t *buf, size_t len, struct ipv4_repr *ip);
/* Source addresses no host may send from (RFC 1122 3.2.1.3). */
int ipv4_addr_bad_src(uint32_t a);

/* --- ICMP (RFC 792) --- */
#define ICMP_ECHO_REPLY 0
#define ICMP_DEST_UNREACH 3
#define ICMP_ECHO_REQUEST 8
#define ICMP_TIME_EXCEEDED 11
#define ICMP_PARAM_PROBLEM 12
#define ICMP_HOST_UNREACH 1   /* destination-unreachable codes */
#define ICMP_PORT_UNREACH 3
struct icmp_repr {
	uint8_t type, code;
	uint16_t id, seq;   /* echo request / reply only */
	uint32_t len;       /* whole message, header included */
};
/* p->data at the ICMP header; p may be a chain (p->next) holding a
 * reassembled datagram. Checks the checksum over the whole message. */
int icmp_parse(const struct pkt *p, struct icmp_repr *ic);

/* --- UDP (RFC 768) --- */
struct udp_repr {
	uint16_t sport, dport;
	uint16_t len;          /* payload bytes, header excluded */
};
/* p->data at the UDP header, p possibly a chain; src/dst (host order) for
 * the pseudo-header. Bytes past the UDP length are padding the caller trims. */
int udp_parse(const struct pkt *p, uint32_t src, uint32_t dst, struct udp_repr *u);
/* Writes the header with a checksum over it and the payload in p (a chain
 * whose first buffer starts with the 8 header bytes). */
void udp_emit(struct pkt *p, uint32_t src, uint32_t dst, const struct udp_repr *u);

/* --- chains: a datagram larger than one buffer, linked through ->next --- */
size_t pkt_chain_len(const struct pkt *p);
/* Keeps the first n bytes of the chain, freeing buffers past them. */
void pkt_chain_trim(struct pkt *p, size_t n);
/* Partial one's-complement sum over every byte of the chain, in order
 * (pieces of odd length are handled). */
uint32_t pkt_chain_csum(const struct pkt *p, uint32_t sum);
/* The same over the first n bytes only. */
uint32_t pkt_chain_csum_n(const struct pkt *p, size_t n, uint32_t sum);
/* Copies n bytes starting at byte `off` of the chain to dst; returns how
 * many were there to copy. */
size_t pkt_chain_copy(const struct pkt *p, size_t off, void *dst, size_t n);
/* A chain holding `hdr` bytes left for the caller's header (zeroed) then a
 * copy of data[0..len); each buffer keeps PKT_HEADROOM in front. NULL when
 * the pool runs dry (nothing is held then). */
struct pkt *pkt_chain_build(struct pkt_pool *pool, size_t hdr, const void *data, size_t len);

#endif
