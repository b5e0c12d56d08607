/* ICMP errors about our own segments (RFC 1122 4.2.3.9, RFC 5927), with
 * Linux's reading of them: a connection still opening (SYN_SENT, or a
 * child in SYN_RCVD for a hard error) ends at once with the error; an
 * established one keeps going and remembers the error as a "soft" one,
 * reported instead of ETIMEDOUT if the connection times out later. An
 * unresolved next hop (ARP) reaches TCP the same way, as a host
 * unreachable, so connect() fails with EHOSTUNREACH as on Linux instead of
 * retrying SYNs for two minutes. */
#include <errno.h>

#include "core/stack.h"
#include "core/wire.h"
#include "tcp/tcp_int.h"

/* RFC 792 destination-unreachable codes, the errno Linux gives each, and
 * whether it is a hard error (RFC 1122 4.2.3.9: protocol and port
 * unreachable, and the administratively prohibited family). */
static const struct {
	uint8_t err;
	uint8_t hard;
} unreach[16] = {
	[0] = { ENETUNREACH, 0 },  [1] = { EHOSTUNREACH, 0 }, [2] = { ENOPROTOOPT, 1 },
	[3] = { ECONNREFUSED, 1 }, [4] = { EMSGSIZE, 0 },     [5] = { EOPNOTSUPP, 0 },
	[6] = { ENETUNREACH, 1 },  [7] = { EHOSTDOWN, 1 },    [8] = { ENONET, 1 },
	[9] = { ENETUNREACH, 1 },  [10] = { EHOSTUNREACH, 1 }, [11] = { ENETUNREACH, 0 },
	[12] = { EHOSTUNREACH, 0 }, [13] = { EHOSTUNREACH, 1 }, [14] = { EHOSTUNREACH, 1 },
	[15] = { EHOSTUNREACH, 1 },
};

/* 0 when the message carries nothing TCP acts on. */
static int icmp_errno(uint8_t type, uint8_t code, int *hard)
{
	*hard = 0;
	switch (type) {
	case ICMP_DEST_UNREACH:
		/* Fragmentation needed (code 4) asks for path MTU discovery
		 * (RFC 1191), which is not done: our segments fit the link MTU
		 * and leave with DF clear. */
		if (code >= 16 || code == 4)
			return 0;
		*hard = unreach[code].hard;
		return unreach[code].err;
	case ICMP_TIME_EXCEEDED:
		return EHOSTUNREACH;
	case ICMP_PARAM_PROBLEM:
		return EPROTO;
	default:
		return 0;
	}
}

void tcp_icmp_error(struct ust_stack *stk, uint8_t type, uint8_t code, uint32_t laddr,
                    uint32_t raddr, const uint8_t th[8])
{
	struct tcb *tcb = tcp_ct_lookup(stk, laddr, rd16(th), raddr, rd16(th + 2));
	uint32_t seq = rd32(th + 4);
	int hard, err = icmp_errno(type, code, &hard);

	if (!tcb) {
		stk_count(stk, CNT_drop_tcp_icmp_nomatch);
		return;
	}
	/* RFC 5927 4.1: only a segment still in flight can have caused it;
	 * anything else is stale or forged by someone off the path. */
	if (seq_lt(seq, tcb->snd_una) || seq_gt(seq, tcb->snd_max)) {
		stk_count(stk, CNT_drop_tcp_icmp_seq);
		return;
	}
	stk_count(stk, CNT_tcp_icmp_errors);
	if (!err)
		return;
	if (tcb->state == TCPS_SYN_SENT) {
		tcp_done(stk, tcb, err);
		return;
	}
	/* A half-open child: a hard error ends it; no application knows it. */
	if (tcb->state == TCPS_SYN_RCVD && (tcb->flags & TF_PASSIVE) && hard) {
		tcp_done(stk, tcb, 0);
		return;
	}
	tcb->soft_error = (uint8_t)err;
}
