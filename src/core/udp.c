/* UDP (RFC 768, RFC 1122 4.1): demultiplexing by port, checksums, bounded
 * receive queues.
 *
 * A datagram larger than one buffer (a reassembled one) is queued as its
 * buffers in a row; the first one's ts says how many there are, so
 * udp_recv hands it back as a chain through ->next. */
#include "core/udp.h"

#include <errno.h>
#include <string.h>

#include "core/icmp.h"
#include "core/ipv4.h"
#include "core/siphash.h"
#include "core/stack.h"
#include "core/wire.h"
#include "tcp/tcp.h"

#define UDP_EPHEMERAL_LO 49152u
#define UDP_EPHEMERAL_HI 65535u
#define UDP_PAYLOAD_MAX (65535u - IPV4_HDR_LEN - UDP_HDR_LEN)

static uint32_t udp_bucket(uint16_t port) { return port & (UDP_HASH_SIZE - 1); }

/* Queue entries: meta = source address, ts = source port | pieces << 16. */
#define UDP_TS(sport, pieces) ((uint64_t)(sport) | (uint64_t)(pieces) << 16)

void udp_init(struct ust_stack *stk)
{
	const uint8_t *m = stk->cfg.mac;
	uint32_t seed = ((uint32_t)m[2] << 24 | (uint32_t)m[3] << 16 | (uint32_t)m[4] << 8 | m[5]) ^ stk->cfg.ip;

	memset(&stk->udp, 0, sizeof(stk->udp));
	/* A per-stack starting point makes ports hard to guess (RFC 6056 3.2
	 * in spirit) yet reproducible for a given configuration. */
	seed *= 2654435761u;
	stk->udp.next_ephemeral =
	    (uint16_t)(UDP_EPHEMERAL_LO + (seed >> 16) % (UDP_EPHEMERAL_HI - UDP_EPHEMERAL_LO + 1));
}

/* The best socket for a datagram: an exact local address beats
 * INADDR_ANY; a connected socket takes only its peer's datagrams. */
static struct udp_pcb *udp_lookup(struct ust_stack *stk, uint32_t laddr, uint16_t lport,
                                  uint32_t raddr, uint16_t rport)
{
	struct udp_pcb *pcb, *wild = NULL;

	for (pcb = stk->udp.hash[udp_bucket(lport)]; pcb; pcb = pcb->hnext) {
		if (pcb->lport != lport)
			continue;
		if (pcb->raddr && (pcb->raddr != raddr || pcb->rport != rport))
			continue;
		if (pcb->laddr == laddr)
			return pcb;
		if (pcb->laddr == 0 && !wild)
			wild = pcb;
	}
	return wild;
}

static int udp_port_used(struct ust_stack *stk, uint32_t addr, uint16_t port)
{
	for (struct udp_pcb *pcb = stk->udp.hash[udp_bucket(port)]; pcb; pcb = pcb->hnext)
		if (pcb->lport == port && (pcb->laddr == addr || !pcb->laddr || !addr))
			return 1;
	return 0;
}

/* RFC 6056 3.3.1 (Algorithm 1): each pick starts at a keyed hash of a
 * counter and the clock under the stack's secret, so successive ports are
 * neither sequential nor predictable; the search then walks the range. */
static uint16_t udp_pick_port(struct ust_stack *stk, uint32_t addr)
{
	uint32_t range = UDP_EPHEMERAL_HI - UDP_EPHEMERAL_LO + 1;
	uint64_t key = stk->tcp ? tcp_conf(stk)->secret : 0x243f6a8885a308d3ull;
	uint64_t m[2] = { (uint64_t)addr << 16 | stk->udp.next_ephemeral, stk->now };
	uint32_t off = (uint32_t)siphash_secret(key ^ 0x0dd, m, 2);

	stk->udp.next_ephemeral++;
	for (uint32_t i = 0; i < range; i++) {
		uint16_t port = (uint16_t)(UDP_EPHEMERAL_LO + (off + i) % range);
		if (!udp_port_used(stk, addr, port))
			return port;
	}
	return 0;
}

int udp_bind(struct ust_stack *stk, struct udp_pcb *pcb, uint32_t addr, uint16_t port)
{
	uint32_t b;

	if (pcb->lport)
		return -EINVAL;
	if (addr && !ipv4_is_local(stk, addr))
		return -EADDRNOTAVAIL;
	if (port == 0) {
		port = udp_pick_port(stk, addr);
		if (!port)
			return -EADDRINUSE;
	} else if (udp_port_used(stk, addr, port)) {
		return -EADDRINUSE;
	}
	pcb->laddr = addr;
	pcb->lport = port;
	if (!pcb->rcvbuf)
		pcb->rcvbuf = stk->cfg.udp_rcvbuf;
	b = udp_bucket(port);
	pcb->hnext = stk->udp.hash[b];
	stk->udp.hash[b] = pcb;
	return 0;
}

void udp_unbind(struct ust_stack *stk, struct udp_pcb *pcb)
{
	struct udp_pcb **pp;

	if (!pcb->lport)
		return;
	for (pp = &stk->udp.hash[udp_bucket(pcb->lport)]; *pp; pp = &(*pp)->hnext) {
		if (*pp == pcb) {
			*pp = pcb->hnext;
			break;
		}
	}
	pcb->hnext = NULL;
	pcb->lport = 0;
	pktq_free(&pcb->rxq);
	pcb->rx_bytes = 0;
}

static void udp_enqueue(struct udp_pcb *pcb, struct pkt *p, uint32_t src, uint16_t sport,
                        uint32_t len)
{
	uint32_t pieces = 0;

	for (struct pkt *q = p; q; q = q->next)
		pieces++;
	p->meta = src;
	p->ts = UDP_TS(sport, pieces);
	while (p) {
		struct pkt *next = p->next;
		pktq_push(&pcb->rxq, p);
		p = next;
	}
	pcb->rx_bytes += len;
}

void udp_input(struct ust_stack *stk, struct pkt *p, const struct ipv4_repr *ip)
{
	struct udp_repr u;
	struct udp_pcb *pcb;
	int rc = udp_parse(p, ip->src, ip->dst, &u);

	if (rc) {
		stk_drop(stk, p, (enum stk_counter)rc);
		return;
	}
	pcb = udp_lookup(stk, ip->dst, u.dport, ip->src, u.sport);
	if (!pcb) {
		/* RFC 1122 4.1.3.1: port unreachable (never for broadcasts). */
		icmp_send_unreach(stk, p, ip, ICMP_PORT_UNREACH);
		stk_drop(stk, p, CNT_drop_udp_no_port);
		return;
	}
	if (pcb->rx_bytes + u.len > pcb->rcvbuf) {
		stk_drop(stk, p, CNT_drop_udp_rcvbuf);
		return;
	}
	pkt_chain_trim(p, (size_t)u.len + UDP_HDR_LEN);
	pkt_pull(p, UDP_HDR_LEN);
	udp_enqueue(pcb, p, ip->src, u.sport, u.len);
	stk_sock_event(stk, pcb->app, SOCK_EV_IN);
}

int udp_sendto(struct ust_stack *stk, struct udp_pcb *pcb, uint32_t dst, uint16_t dport,
               const void *data, size_t len)
{
	struct udp_repr u;
	struct pkt *p;
	uint32_t src;
	int rc;

	if (len > UDP_PAYLOAD_MAX)
		return -EMSGSIZE;
	if (dst == 0 || dport == 0)
		return -EINVAL;
	if (!pcb->lport) {
		rc = udp_bind(stk, pcb, 0, 0);
		if (rc)
			return rc;
	}
	/* No room in the link's queue: the caller waits or gets ENOBUFS. */
	p = stk_tx_ok(stk) ? pkt_chain_build(&stk->pool, UDP_HDR_LEN, data, len) : NULL;
	if (!p) {
		stk_count(stk, CNT_drop_nobuf);
		return -ENOBUFS;
	}
	src = pcb->laddr && ipv4_is_ours(stk, pcb->laddr) ? pcb->laddr : stk->cfg.ip;
	u.sport = pcb->lport;
	u.dport = dport;
	u.len = (uint16_t)len;
	udp_emit(p, src, dst, &u);
	return ip_output(stk, p, src, dst, IP_PROTO_UDP);
}

struct pkt *udp_recv(struct udp_pcb *pcb, uint32_t *src, uint16_t *sport)
{
	struct pkt *p = pktq_pop(&pcb->rxq), *tail;
	uint32_t pieces;

	if (!p)
		return NULL;
	*src = p->meta;
	*sport = (uint16_t)p->ts;
	pieces = (uint32_t)(p->ts >> 16);
	tail = p;
	for (; pieces > 1 && pcb->rxq.head; pieces--) {
		tail->next = pktq_pop(&pcb->rxq);
		tail = tail->next;
	}
	pcb->rx_bytes -= (uint32_t)pkt_chain_len(p);
	return p;
}
