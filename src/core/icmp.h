/* ICMP (RFC 792): echo, port unreachable, and the place where ICMP errors
 * about our own datagrams come back in. */
#ifndef USTACK_CORE_ICMP_H
#define USTACK_CORE_ICMP_H

#include <stddef.h>
#include <stdint.h>

#include "core/pkt.h"

struct ust_stack;
struct ipv4_repr;

/* p->data at the ICMP header (p may be a chain: a reassembled datagram). */
void icmp_input(struct ust_stack *stk, struct pkt *p, const struct ipv4_repr *ip);
/* Sends an echo request to dst; 0 or a negative errno from ip_output
 * (-ENOBUFS, -EHOSTUNREACH, -EMSGSIZE past 65507 payload bytes). */
int icmp_echo_request(struct ust_stack *stk, uint32_t dst, uint16_t id, uint16_t seq,
                      const void *payload, size_t len);
/* Destination unreachable about the datagram `p` belongs to: p->data at the
 * transport header, the original IP header (ip->hdr_len bytes) still in
 * front of it. Does not consume p. RFC 1122 3.2.2: nothing is sent about a
 * broadcast, a non-initial fragment or a bad source. */
void icmp_send_unreach(struct ust_stack *stk, const struct pkt *p, const struct ipv4_repr *ip,
                       uint8_t code);
/* An error about our own datagram p (p->data at its IP header) that this
 * host found itself, as if an ICMP message of type/code had quoted it: ARP
 * gave up on its next hop. Its transport hears it; nothing is sent. Does
 * not consume p. */
void icmp_error_local(struct ust_stack *stk, const struct pkt *p, uint8_t type, uint8_t code);

#endif
