/* ICMP (RFC 792, RFC 1122 3.2.2): echo both ways, destination unreachable
 * out, errors about our own datagrams in. */
#include "core/icmp.h"

#include <errno.h>
#include <string.h>

#include "core/checksum.h"
#include "core/ipv4.h"
#include "core/stack.h"
#include "core/wire.h"
#include "tcp/tcp.h"

#define ICMP_ECHO_MAX (65535u - IPV4_HDR_LEN - ICMP_HDR_LEN)

static void icmp_set_csum(struct pkt *p)
{
	wr16(p->data + 2, 0);
	wr16(p->data + 2, csum_fold(pkt_chain_csum(p, 0)));
}

/* RFC 792 "Echo": the reply carries the request's id, sequence and data;
 * only the type and the checksum change. The buffers are reused, so a
 * reassembled request of any size is answered (in fragments when needed). */
static void icmp_echo_reply(struct ust_stack *stk, struct pkt *p, const struct ipv4_repr *ip)
{
	p->data[0] = ICMP_ECHO_REPLY;
	p->data[1] = 0;
	icmp_set_csum(p);
	if (ip_output(stk, p, ip->dst, ip->src, IP_PROTO_ICMP) == 0)
		stk_count(stk, CNT_tx_icmp_echo_reply);
}

/* An error about a datagram we sent, to its transport (RFC 1122 3.2.2).
 * buf/len: the quoted (or our own) IP header and what follows it. UDP has
 * no use for it yet (no IP_RECVERR). 0 or the drop counter. */
static int icmp_to_transport(struct ust_stack *stk, uint8_t type, uint8_t code,
                             const uint8_t *buf, size_t len)
{
	struct ipv4_repr quoted;
	int rc = ipv4_quote_parse(buf, len, &quoted);

	if (!rc && !ipv4_is_ours(stk, quoted.src))
		rc = CNT_drop_icmp_quote;
	if (rc)
		return rc;
	if (quoted.proto == IP_PROTO_TCP)
		tcp_icmp_error(stk, type, code, quoted.src, quoted.dst, buf + quoted.hdr_len);
	return 0;
}

static void icmp_error_input(struct ust_stack *stk, struct pkt *p, const struct icmp_repr *ic)
{
	int rc = icmp_to_transport(stk, ic->type, ic->code, p->data + ICMP_HDR_LEN,
	                           p->len - ICMP_HDR_LEN);

	if (rc) {
		stk_drop(stk, p, (enum stk_counter)rc);
		return;
	}
	stk_count(stk, CNT_rx_icmp_error);
	pkt_free_chain(p);
}

void icmp_error_local(struct ust_stack *stk, const struct pkt *p, uint8_t type, uint8_t code)
{
	icmp_to_transport(stk, type, code, p->data, p->len);
}

void icmp_input(struct ust_stack *stk, struct pkt *p, const struct ipv4_repr *ip)
{
	struct icmp_repr ic;
	int rc = icmp_parse(p, &ic);

	if (rc) {
		stk_drop(stk, p, (enum stk_counter)rc);
		return;
	}
	switch (ic.type) {
	case ICMP_ECHO_REQUEST:
		icmp_echo_reply(stk, p, ip);
		break;
	case ICMP_ECHO_REPLY:
		stk_count(stk, CNT_rx_icmp_echo_reply);
		pkt_free_chain(p);
		break;
	case ICMP_DEST_UNREACH:
	case ICMP_TIME_EXCEEDED:
	case ICMP_PARAM_PROBLEM:
		icmp_error_input(stk, p, &ic);
		break;
	default:
		stk_drop(stk, p, CNT_drop_icmp_type);
	}
}

int icmp_echo_request(struct ust_stack *stk, uint32_t dst, uint16_t id, uint16_t seq,
                      const void *payload, size_t len)
{
	struct pkt *p;
	int rc;

	if (len > ICMP_ECHO_MAX)
		return -EMSGSIZE;
	p = pkt_chain_build(&stk->pool, ICMP_HDR_LEN, payload, len);
	if (!p) {
		stk_count(stk, CNT_drop_nobuf);
		return -ENOBUFS;
	}
	p->data[0] = ICMP_ECHO_REQUEST;
	p->data[1] = 0;
	wr16(p->data + 4, id);
	wr16(p->data + 6, seq);
	icmp_set_csum(p);
	rc = ip_output(stk, p, 0, dst, IP_PROTO_ICMP);
	if (rc == 0)
		stk_count(stk, CNT_tx_icmp_echo_request);
	return rc;
}

void icmp_send_unreach(struct ust_stack *stk, const struct pkt *p, const struct ipv4_repr *ip,
                       uint8_t code)
{
	const uint8_t *orig = p->data - ip->hdr_len;
	size_t tail = p->len < 8 ? p->len : 8;
	struct pkt *q;
	uint8_t *b;

	/* RFC 1122 3.2.2: never about a broadcast, a non-initial fragment or
	 * a datagram whose source names no single host. */
	if (!ipv4_is_ours(stk, ip->dst) || ip->frag_off != 0 || ipv4_addr_bad_src(ip->src))
		return;
	if (pkt_headroom(p) < ip->hdr_len)
		return;
	/* A flood of datagrams to closed ports must not become a flood of
	 * errors (RFC 1812 4.3.2.8; Linux icmp_msgs_per_sec/burst). */
	if (!ratelimit_allow(&stk->icmp_rl, stk->cfg.icmp_rate, stk->cfg.icmp_burst, stk->now)) {
		stk_count(stk, CNT_tx_icmp_limited);
		return;
	}
	q = pkt_alloc(&stk->pool);
	if (!q) {
		stk_count(stk, CNT_drop_nobuf);
		return;
	}
	b = pkt_put(q, ICMP_HDR_LEN + ip->hdr_len + tail);
	if (!b) {
		pkt_free(q);
		return;
	}
	memset(b, 0, ICMP_HDR_LEN);
	b[0] = ICMP_DEST_UNREACH;
	b[1] = code;
	memcpy(b + ICMP_HDR_LEN, orig, ip->hdr_len);
	memcpy(b + ICMP_HDR_LEN + ip->hdr_len, p->data, tail);
	icmp_set_csum(q);
	if (ip_output(stk, q, ip->dst, ip->src, IP_PROTO_ICMP) == 0)
		stk_count(stk, CNT_tx_icmp_unreach);
}
