/* IPv4 reassembly (RFC 791 3.2, RFC 815), internal to the IP layer. */
#ifndef USTACK_CORE_IPFRAG_H
#define USTACK_CORE_IPFRAG_H

#include "core/pkt.h"

struct ust_stack;
struct ipv4_repr;

int ipfrag_init(struct ust_stack *stk);
void ipfrag_fini(struct ust_stack *stk);
/* Takes a fragment (p->data at its IP header, trimmed to total_len, ip its
 * parsed header). Returns NULL while the datagram is incomplete or when the
 * fragment was dropped; else the whole payload as a chain in order (data at
 * the transport header, the first fragment's IP header still in front of
 * it), and rewrites *ip to describe the reassembled datagram. */
struct pkt *ipfrag_input(struct ust_stack *stk, struct pkt *p, struct ipv4_repr *ip);

#endif
