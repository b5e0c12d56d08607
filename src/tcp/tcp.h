/* TCP (RFC 9293). Entry points from the IP layer and the stack. */
#ifndef USTACK_TCP_TCP_H
#define USTACK_TCP_TCP_H

#include "core/pkt.h"

struct ust_stack;
struct ipv4_repr;

int tcp_init(struct ust_stack *stk);    /* 0 or -ENOMEM */
void tcp_fini(struct ust_stack *stk);
/* p->data at the TCP header; ip describes the datagram. Consumes p. */
void tcp_input(struct ust_stack *stk, struct pkt *p, const struct ipv4_repr *ip);

#endif
