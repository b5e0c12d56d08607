/* Placeholder until the TCP state machine lands: every segment is counted
 * as having no socket. */
#include "tcp/tcp.h"

#include "core/stack.h"

int tcp_init(struct ust_stack *stk)
{
	stk->tcp = NULL;
	return 0;
}

void tcp_fini(struct ust_stack *stk)
{
	(void)stk;
}

void tcp_input(struct ust_stack *stk, struct pkt *p, const struct ipv4_repr *ip)
{
	(void)ip;
	stk_drop(stk, p, CNT_drop_tcp_no_socket);
}
