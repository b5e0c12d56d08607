/* UDP (RFC 768): demultiplexing by port, checksum check and generation.
 * The socket calls on top of it live in the runtime. */
#ifndef USTACK_CORE_UDP_H
#define USTACK_CORE_UDP_H

#include <stddef.h>
#include <stdint.h>

#include "core/pkt.h"

struct ust_stack;
struct ipv4_repr;

struct udp_pcb {
	struct udp_pcb *hnext;  /* port hash chain */
	uint32_t laddr;         /* host order; 0 = INADDR_ANY */
	uint32_t raddr;         /* connected peer, 0 = none */
	uint16_t lport, rport;
	uint32_t rcvbuf;        /* bytes of payload held at most */
	uint32_t rx_bytes;
	struct pkt_queue rxq;   /* datagrams; data at the payload, src in meta/ts */
	void *app;              /* the runtime's socket */
};

#define UDP_HASH_SIZE 1024u

struct udp_table {
	struct udp_pcb *hash[UDP_HASH_SIZE];
	uint16_t next_ephemeral;  /* RFC 6056: a counter, hashed under the secret */
};

void udp_init(struct ust_stack *stk);
void udp_input(struct ust_stack *stk, struct pkt *p, const struct ipv4_repr *ip);
/* 0 or -EADDRINUSE / -EINVAL / -EADDRNOTAVAIL (addr not ours). port 0
 * picks an ephemeral port (49152..65535). pcb->rcvbuf 0 takes the default. */
int udp_bind(struct ust_stack *stk, struct udp_pcb *pcb, uint32_t addr, uint16_t port);
void udp_unbind(struct ust_stack *stk, struct udp_pcb *pcb);
/* Sends len bytes (up to 65507, fragmented past the MTU) to dst:dport (host
 * order); binds an ephemeral port first if needed. 0 or a negative errno. */
int udp_sendto(struct ust_stack *stk, struct udp_pcb *pcb, uint32_t dst, uint16_t dport,
               const void *data, size_t len);
/* Removes the oldest datagram: p->data at the payload, source address and
 * port in *src / *sport. NULL when empty. A datagram larger than one buffer
 * (reassembled from fragments) comes as a chain through p->next: the caller
 * reads every buffer of it and frees it with pkt_free_chain. */
struct pkt *udp_recv(struct udp_pcb *pcb, uint32_t *src, uint16_t *sport);

#endif
