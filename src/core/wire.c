/* Header parsers and emitters. Each parser checks everything the layer above
 * relies on and returns 0 or the drop counter naming the first defect. */
#include "core/wire.h"

#include <string.h>

#include "core/checksum.h"
#include "core/counters.h"
#include "core/ipv4.h"

int eth_parse(const uint8_t *buf, size_t len, struct eth_repr *e)
{
	if (len < ETH_HDR_LEN)
		return CNT_drop_eth_short;
	memcpy(e->dst, buf, ETH_ADDR_LEN);
	memcpy(e->src, buf + 6, ETH_ADDR_LEN);
	e->type = rd16(buf + 12);
	return 0;
}

void eth_emit(uint8_t *buf, const struct eth_repr *e)
{
	memcpy(buf, e->dst, ETH_ADDR_LEN);
	memcpy(buf + 6, e->src, ETH_ADDR_LEN);
	wr16(buf + 12, e->type);
}

/* RFC 826: only Ethernet (htype 1) hardware and IPv4 (0x0800) protocol
 * addresses, with their lengths, are ours to handle. */
int arp_parse(const uint8_t *buf, size_t len, struct arp_repr *a)
{
	if (len < ARP_PKT_LEN)
		return CNT_drop_arp_malformed;
	if (rd16(buf) != 1 || rd16(buf + 2) != ETHERTYPE_IPV4 || buf[4] != 6 || buf[5] != 4)
		return CNT_drop_arp_malformed;
	a->op = rd16(buf + 6);
	if (a->op != ARP_OP_REQUEST && a->op != ARP_OP_REPLY)
		return CNT_drop_arp_malformed;
	memcpy(a->sha, buf + 8, ETH_ADDR_LEN);
	a->spa = rd32(buf + 14);
	memcpy(a->tha, buf + 18, ETH_ADDR_LEN);
	a->tpa = rd32(buf + 24);
	/* A sender claiming a broadcast/multicast MAC would poison the cache. */
	if (a->sha[0] & 1)
		return CNT_drop_arp_malformed;
	return 0;
}

void arp_emit(uint8_t *buf, const struct arp_repr *a)
{
	wr16(buf, 1);
	wr16(buf + 2, ETHERTYPE_IPV4);
	buf[4] = 6;
	buf[5] = 4;
	wr16(buf + 6, a->op);
	memcpy(buf + 8, a->sha, ETH_ADDR_LEN);
	wr32(buf + 14, a->spa);
	memcpy(buf + 18, a->tha, ETH_ADDR_LEN);
	wr32(buf + 24, a->tpa);
}

int ipv4_addr_bad_src(uint32_t a)
{
	return a == 0 || a == IPV4_BROADCAST || (a >> 28) == 0xe || (a >> 24) == 127;
}

/* RFC 791 3.1 and RFC 1122 3.2.1: len is what the frame holds after the
 * Ethernet header (padding included); total_len must fit in it. */
int ipv4_parse(const uint8_t *buf, size_t len, struct ipv4_repr *ip)
{
	uint16_t fo;
	uint32_t payload;

	if (len < IPV4_HDR_LEN)
		return CNT_drop_ip_short;
	if (buf[0] >> 4 != 4)
		return CNT_drop_ip_version;
	ip->hdr_len = (uint16_t)((buf[0] & 0x0f) * 4);
	if (ip->hdr_len < IPV4_HDR_LEN || ip->hdr_len > len)
		return CNT_drop_ip_hdr_len;
	ip->total_len = rd16(buf + 2);
	if (ip->total_len < ip->hdr_len || ip->total_len > len)
		return CNT_drop_ip_total_len;
	if (csum_fold(csum_partial(buf, ip->hdr_len, 0)) != 0)
		return CNT_drop_ip_checksum;
	ip->tos = buf[1];
	ip->id = rd16(buf + 4);
	fo = rd16(buf + 6);
	ip->dont_frag = (fo & 0x4000) != 0;
	ip->more_frags = (fo & 0x2000) != 0;
	ip->frag_off = (uint16_t)((fo & 0x1fff) * 8);
	ip->ttl = buf[8];
	ip->proto = buf[9];
	ip->src = rd32(buf + 12);
	ip->dst = rd32(buf + 16);
	/* TTL 0 must not be accepted (RFC 1122 3.2.1.7 forbids sending it). */
	if (ip->ttl == 0)
		return CNT_drop_ip_ttl;
	if (ipv4_addr_bad_src(ip->src))
		return CNT_drop_ip_bad_src;
	/* The reserved flag must be zero; a fragment must not reach past 64 KiB
	 * and every fragment but the last carries a multiple of 8 bytes. */
	payload = (uint32_t)ip->total_len - ip->hdr_len;
	if ((fo & 0x8000) || ip->frag_off + payload > 65535u ||
	    (ip->more_frags && (payload == 0 || payload % 8)))
		return CNT_drop_frag_bad;
	return 0;
}

int ipv4_quote_parse(const uint8_t *buf, size_t len, struct ipv4_repr *ip)
{
	if (len < IPV4_HDR_LEN + 8 || buf[0] >> 4 != 4 || (buf[0] & 0xf) < 5 ||
	    (size_t)(buf[0] & 0xf) * 4 + 8 > len)
		return CNT_drop_icmp_quote;
	memset(ip, 0, sizeof(*ip));
	ip->hdr_len = (uint16_t)((buf[0] & 0xf) * 4);
	ip->proto = buf[9];
	ip->src = rd32(buf + 12);
	ip->dst = rd32(buf + 16);
	return 0;
}

void ipv4_emit(uint8_t *buf, const struct ipv4_repr *ip)
{
	uint16_t fo = (uint16_t)(ip->frag_off / 8);

	if (ip->dont_frag)
		fo |= 0x4000;
	if (ip->more_frags)
		fo |= 0x2000;
	buf[0] = 0x45;
	buf[1] = ip->tos;
	wr16(buf + 2, ip->total_len);
	wr16(buf + 4, ip->id);
	wr16(buf + 6, fo);
	buf[8] = ip->ttl;
	buf[9] = ip->proto;
	wr16(buf + 10, 0);
	wr32(buf + 12, ip->src);
	wr32(buf + 16, ip->dst);
	wr16(buf + 10, csum_fold(csum_partial(buf, IPV4_HDR_LEN, 0)));
}

int icmp_parse(const struct pkt *p, struct icmp_repr *ic)
{
	size_t len = pkt_chain_len(p);

	if (p->len < ICMP_HDR_LEN || len > 65535)
		return CNT_drop_icmp_short;
	if (csum_fold(pkt_chain_csum(p, 0)) != 0)
		return CNT_drop_icmp_checksum;
	ic->type = p->data[0];
	ic->code = p->data[1];
	ic->id = rd16(p->data + 4);
	ic->seq = rd16(p->data + 6);
	ic->len = (uint32_t)len;
	return 0;
}

int udp_parse(const struct pkt *p, uint32_t src, uint32_t dst, struct udp_repr *u)
{
	size_t avail = pkt_chain_len(p);
	uint16_t ulen, sum;

	if (p->len < UDP_HDR_LEN)
		return CNT_drop_udp_short;
	ulen = rd16(p->data + 4);
	if (ulen < UDP_HDR_LEN || ulen > avail)
		return CNT_drop_udp_len;
	sum = rd16(p->data + 6);
	/* RFC 768: a zero checksum means the sender computed none. The sum
	 * covers exactly ulen bytes: IP-level padding is not part of it. */
	if (sum != 0) {
		uint32_t acc = pkt_chain_csum_n(p, ulen, csum_pseudo(src, dst, 17, ulen));
		if (csum_fold(acc) != 0)
			return CNT_drop_udp_checksum;
	}
	u->sport = rd16(p->data);
	u->dport = rd16(p->data + 2);
	u->len = (uint16_t)(ulen - UDP_HDR_LEN);
	return 0;
}

void udp_emit(struct pkt *p, uint32_t src, uint32_t dst, const struct udp_repr *u)
{
	uint16_t ulen = (uint16_t)(u->len + UDP_HDR_LEN);
	uint16_t sum;

	wr16(p->data, u->sport);
	wr16(p->data + 2, u->dport);
	wr16(p->data + 4, ulen);
	wr16(p->data + 6, 0);
	sum = csum_fold(pkt_chain_csum(p, csum_pseudo(src, dst, 17, ulen)));
	/* RFC 768: a computed zero is sent as all ones. */
	wr16(p->data + 6, sum ? sum : 0xffff);
}

size_t pkt_chain_len(const struct pkt *p)
{
	size_t n = 0;
	for (; p; p = p->next)
		n += p->len;
	return n;
}

void pkt_chain_trim(struct pkt *p, size_t n)
{
	for (; p; p = p->next) {
		if (p->len >= n) {
			pkt_trim(p, n);
			pkt_free_chain(p->next);
			p->next = NULL;
			return;
		}
		n -= p->len;
	}
}

/* RFC 1071 2(B): the sum is byte-order independent up to a swap, so a
 * piece starting at an odd offset is summed alone and swapped in. */
uint32_t pkt_chain_csum_n(const struct pkt *p, size_t n, uint32_t sum)
{
	uint64_t acc = sum;
	size_t off = 0;

	for (; p && off < n; p = p->next) {
		size_t take = p->len < n - off ? p->len : n - off;
		uint32_t s = csum_partial(p->data, take, 0);
		s = (s & 0xffff) + (s >> 16);
		s = (s & 0xffff) + (s >> 16);
		if (off & 1)
			s = ((s & 0xff) << 8) | (s >> 8);
		acc += s;
		off += take;
	}
	while (acc >> 32)
		acc = (acc & 0xffffffffu) + (acc >> 32);
	return (uint32_t)acc;
}

uint32_t pkt_chain_csum(const struct pkt *p, uint32_t sum)
{
	return pkt_chain_csum_n(p, SIZE_MAX, sum);
}

size_t pkt_chain_copy(const struct pkt *p, size_t off, void *dst, size_t n)
{
	uint8_t *d = dst;
	size_t done = 0;

	for (; p && done < n; p = p->next) {
		size_t take;
		if (off >= p->len) {
			off -= p->len;
			continue;
		}
		take = p->len - off;
		if (take > n - done)
			take = n - done;
		memcpy(d + done, p->data + off, take);
		done += take;
		off = 0;
	}
	return done;
}

struct pkt *pkt_chain_build(struct pkt_pool *pool, size_t hdr, const void *data, size_t len)
{
	const uint8_t *src = data;
	struct pkt *head = NULL, **tail = &head;
	size_t want = hdr + len, done = 0;

	do {
		struct pkt *p = pkt_alloc(pool);
		size_t n;
		uint8_t *d;
		if (!p) {
			pkt_free_chain(head);
			return NULL;
		}
		n = want - done < PKT_DATA_MAX ? want - done : PKT_DATA_MAX;
		d = pkt_put(p, n);
		if (done < hdr) {
			size_t z = hdr - done < n ? hdr - done : n;
			memset(d, 0, z);
			if (n > z)
				memcpy(d + z, src, n - z);
		} else {
			memcpy(d, src + (done - hdr), n);
		}
		done += n;
		*tail = p;
		tail = &p->next;
	} while (done < want);
	return head;
}
