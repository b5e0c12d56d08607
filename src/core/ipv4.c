/* IPv4 input (validation, reassembly, demultiplexing) and output (routing,
 * fragmentation). Reassembly itself lives in ipfrag.c. */
#include "core/ipv4.h"

#include <errno.h>
#include <string.h>

#include "core/icmp.h"
#include "core/ipfrag.h"
#include "core/stack.h"
#include "core/wire.h"
#include "tcp/tcp.h"

int ipv4_init(struct ust_stack *stk)
{
	const uint8_t *m = stk->cfg.mac;

	memset(&stk->ip, 0, sizeof(stk->ip));
	/* Different stacks start their ids apart; uniqueness per (src, dst,
	 * proto) within the reassembly lifetime is all RFC 6864 asks. */
	stk->ip.next_id = (uint16_t)(m[4] << 8 | m[5]) ^ (uint16_t)(stk->cfg.ip * 40503u);
	return ipfrag_init(stk);
}

void ipv4_fini(struct ust_stack *stk)
{
	ipfrag_fini(stk);
}

static uint32_t subnet_bcast(const struct ust_stack *stk)
{
	return (stk->cfg.ip & stk->cfg.netmask) | ~stk->cfg.netmask;
}

int ipv4_is_ours(const struct ust_stack *stk, uint32_t addr)
{
	const struct stk_ip_range *r = stk->cfg.extra_ips;

	if (addr == stk->cfg.ip)
		return 1;
	/* Unsigned wrap makes one compare test first <= addr < first+count. */
	for (unsigned i = 0; i < STK_EXTRA_IP_RANGES && r[i].count; i++)
		if (addr - r[i].first < r[i].count)
			return 1;
	return 0;
}

int ipv4_is_local(const struct ust_stack *stk, uint32_t dst)
{
	return ipv4_is_ours(stk, dst) || dst == IPV4_BROADCAST || dst == subnet_bcast(stk);
}

/* A reassembled datagram that fits in its first buffer is copied into it:
 * TCP takes single buffers only, and one buffer is cheaper downstream.
 * Larger ones stay a chain (ICMP and UDP take chains). */
static struct pkt *linearize(struct pkt *p)
{
	size_t total = pkt_chain_len(p);
	struct pkt *q;

	if (!p->next || total > p->len + pkt_tailroom(p))
		return p;
	for (q = p->next; q; q = q->next)
		memcpy(pkt_put(p, q->len), q->data, q->len);
	pkt_free_chain(p->next);
	p->next = NULL;
	return p;
}

static void ipv4_deliver(struct ust_stack *stk, struct pkt *p, const struct ipv4_repr *ip)
{
	switch (ip->proto) {
	case IP_PROTO_ICMP:
		stk_count(stk, CNT_rx_icmp);
		icmp_input(stk, p, ip);
		break;
	case IP_PROTO_UDP:
		stk_count(stk, CNT_rx_udp);
		udp_input(stk, p, ip);
		break;
	case IP_PROTO_TCP:
		if (p->next) {
			stk_drop(stk, p, CNT_drop_ip_too_big);
			break;
		}
		stk_count(stk, CNT_rx_tcp);
		tcp_input(stk, p, ip);
		break;
	default:
		/* RFC 1122 3.2.2.1 would have us send protocol unreachable; we
		 * count instead, as a host may. */
		stk_drop(stk, p, CNT_drop_ip_proto);
	}
}

void ipv4_input(struct ust_stack *stk, struct pkt *p)
{
	struct ipv4_repr ip;
	int rc = ipv4_parse(p->data, p->len, &ip);

	if (rc) {
		stk_drop(stk, p, (enum stk_counter)rc);
		return;
	}
	/* Broadcasts are for UDP only; nobody may claim a broadcast source on
	 * our subnet either. */
	if (!ipv4_is_local(stk, ip.dst) || (!ipv4_is_ours(stk, ip.dst) && ip.proto != IP_PROTO_UDP)) {
		stk_drop(stk, p, CNT_drop_ip_not_for_us);
		return;
	}
	if (ip.src == subnet_bcast(stk) || ipv4_is_ours(stk, ip.src)) {
		stk_drop(stk, p, CNT_drop_ip_bad_src);
		return;
	}
	/* Ethernet pads short frames: the IP total length is the truth. */
	pkt_trim(p, ip.total_len);
	if (ip.more_frags || ip.frag_off) {
		p = ipfrag_input(stk, p, &ip);
		if (!p)
			return;
		p = linearize(p);
		/* What a link said of one fragment says nothing of the whole. */
		p->flags &= ~(PKT_F_CSUM_OK | PKT_F_SEG_MORE);
	} else {
		pkt_pull(p, ip.hdr_len);
	}
	ipv4_deliver(stk, p, &ip);
}

/* RFC 1122 3.3.1.1: on-link destinations directly, the rest via the gateway. */
static int ip_route(const struct ust_stack *stk, uint32_t dst, uint32_t *next_hop)
{
	const struct stk_config *c = &stk->cfg;

	if (dst == IPV4_BROADCAST || dst == subnet_bcast(stk)) {
		*next_hop = IPV4_BROADCAST;
		return 0;
	}
	if ((dst & c->netmask) == (c->ip & c->netmask)) {
		*next_hop = dst;
		return 0;
	}
	if (c->gateway) {
		*next_hop = c->gateway;
		return 0;
	}
	return -EHOSTUNREACH;
}

static void ip_fill(struct ust_stack *stk, struct ipv4_repr *r, uint32_t src, uint32_t dst,
                    uint8_t proto)
{
	memset(r, 0, sizeof(*r));
	r->src = src;
	r->dst = dst;
	r->proto = proto;
	r->ttl = stk->cfg.ttl;
	r->hdr_len = IPV4_HDR_LEN;
	r->id = stk->ip.next_id++;
}

/* RFC 791 3.2 "Fragmentation": every fragment but the last carries a
 * multiple of 8 bytes. The fragments are built by copying, so the source
 * may be any chain of buffers. All fragments are made before any is sent:
 * a datagram with a missing fragment would only waste the peer's memory. */
static int ip_fragment(struct ust_stack *stk, struct pkt *p, struct ipv4_repr *r,
                       uint32_t next_hop)
{
	size_t total = pkt_chain_len(p);
	size_t chunk = (size_t)(stk->cfg.mtu - IPV4_HDR_LEN) & ~(size_t)7;
	struct pkt_queue frags = {0};
	size_t off;

	for (off = 0; off < total; off += chunk) {
		size_t n = total - off < chunk ? total - off : chunk;
		struct pkt *f = pkt_alloc(&stk->pool);
		if (!f) {
			pktq_free(&frags);
			stk_drop(stk, p, CNT_drop_nobuf);
			return -ENOBUFS;
		}
		pkt_chain_copy(p, off, pkt_put(f, n), n);
		r->frag_off = (uint16_t)off;
		r->more_frags = off + n < total;
		r->total_len = (uint16_t)(n + IPV4_HDR_LEN);
		ipv4_emit(pkt_push(f, IPV4_HDR_LEN), r);
		pktq_push(&frags, f);
	}
	pkt_free_chain(p);
	for (off = 0; (p = pktq_pop(&frags)); off++) {
		p->meta = off ? ARP_META_FRAG_CONT : 0;
		stk_count(stk, CNT_ip_frags_out);
		arp_output(stk, p, next_hop);
	}
	return 0;
}

int ip_output(struct ust_stack *stk, struct pkt *p, uint32_t src, uint32_t dst, uint8_t proto)
{
	size_t total = pkt_chain_len(p) + IPV4_HDR_LEN;
	struct ipv4_repr r;
	uint32_t next_hop;
	uint8_t *h;
	int rc;

	if (total > 65535) {
		stk_drop(stk, p, CNT_drop_ip_too_big);
		return -EMSGSIZE;
	}
	rc = ip_route(stk, dst, &next_hop);
	if (rc) {
		stk_drop(stk, p, CNT_drop_ip_no_route);
		return rc;
	}
	ip_fill(stk, &r, src ? src : stk->cfg.ip, dst, proto);
	if (total > stk->cfg.mtu || p->next)
		return ip_fragment(stk, p, &r, next_hop);
	h = pkt_push(p, IPV4_HDR_LEN);
	if (!h) {
		stk_drop(stk, p, CNT_drop_nobuf);
		return -ENOBUFS;
	}
	r.total_len = (uint16_t)total;
	ipv4_emit(h, &r);
	p->meta = 0;
	arp_output(stk, p, next_hop);
	return 0;
}
