/* libFuzzer target for the wire parsers, on their own (STYLE.md: "parse
 * first, then act ... fuzzed on their own").
 *
 * Input: byte 0 selects the parser (modulo FP__COUNT), the rest is handed
 * to it. Parsers that need more than bytes take them from the front of the
 * rest: IPv4 addresses for the pseudo-header (8 bytes) and, where a packet
 * chain is built, a split point (1 byte) so the message spans two buffers
 * and the chain code sees odd-sized pieces.
 *
 * Besides "no crash, no sanitizer report", each case checks what the parser
 * promises: a parse that succeeds describes bytes inside the input, and
 * emitting the parsed repr gives back the bytes that were parsed. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/checksum.h"
#include "core/counters.h"
#include "core/ipv4.h"
#include "core/pkt.h"
#include "core/wire.h"
#include "tcp/tcp_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { FP_ETH, FP_ARP, FP_IPV4, FP_ICMP, FP_UDP, FP_TCP, FP_CSUM, FP__COUNT };

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_parsers: %s\n", what);
	abort();
}

/* A parser returns 0 or the drop counter naming the defect. */
static void check_rc(int rc)
{
	if (rc < 0 || rc >= CNT__COUNT)
		fail("parser returned something that is not a drop counter");
}

/* The pool lives for the whole run; every case gives its buffers back. */
static struct pkt_pool *pool(void)
{
	static struct pkt_pool p;
	static int ready;

	if (!ready) {
		if (pkt_pool_init(&p, 4))
			fail("pkt_pool_init");
		ready = 1;
	}
	return &p;
}

/* The bytes as a chain of two buffers split at `cut` (one when cut is 0 or
 * past the end). NULL when the bytes do not fit. */
static struct pkt *chain(const uint8_t *b, size_t n, size_t cut)
{
	struct pkt *p = pkt_alloc(pool()), *q;

	if (!p)
		fail("pool exhausted: a case leaked buffers");
	if (cut == 0 || cut >= n)
		cut = n;
	if (cut > PKT_DATA_MAX || n - cut > PKT_DATA_MAX) {
		pkt_free(p);
		return NULL;
	}
	memcpy(pkt_put(p, cut), b, cut);
	if (cut == n)
		return p;
	q = pkt_alloc(pool());
	if (!q)
		fail("pool exhausted: a case leaked buffers");
	memcpy(pkt_put(q, n - cut), b + cut, n - cut);
	p->next = q;
	return p;
}

static void fuzz_eth(const uint8_t *b, size_t n)
{
	struct eth_repr e;
	uint8_t out[ETH_HDR_LEN];
	int rc = eth_parse(b, n, &e);

	check_rc(rc);
	if (rc)
		return;
	eth_emit(out, &e);
	if (memcmp(out, b, ETH_HDR_LEN))
		fail("eth: emit(parse(x)) != x");
}

static void fuzz_arp(const uint8_t *b, size_t n)
{
	struct arp_repr a;
	uint8_t out[ARP_PKT_LEN];
	int rc = arp_parse(b, n, &a);

	check_rc(rc);
	if (rc)
		return;
	if (a.op != ARP_OP_REQUEST && a.op != ARP_OP_REPLY)
		fail("arp: accepted an unknown op");
	arp_emit(out, &a);
	if (memcmp(out, b, ARP_PKT_LEN))
		fail("arp: emit(parse(x)) != x");
}

static void fuzz_ipv4(const uint8_t *b, size_t n)
{
	struct ipv4_repr ip;
	uint8_t out[IPV4_HDR_LEN];
	int rc = ipv4_parse(b, n, &ip);

	check_rc(rc);
	if (rc)
		return;
	if (ip.hdr_len < IPV4_HDR_LEN || ip.hdr_len > ip.total_len || ip.total_len > n)
		fail("ipv4: accepted lengths outside the buffer");
	if ((uint32_t)ip.frag_off + ip.total_len - ip.hdr_len > 65535u)
		fail("ipv4: accepted a fragment reaching past 64 KiB");
	if (ip.hdr_len != IPV4_HDR_LEN)
		return;  /* the emitter writes no options */
	ipv4_emit(out, &ip);
	/* The checksum field may differ (0x0000 vs 0xffff); it must verify. */
	if (memcmp(out, b, 10) || memcmp(out + 12, b + 12, 8))
		fail("ipv4: emit(parse(x)) != x");
	if (csum_fold(csum_partial(out, IPV4_HDR_LEN, 0)) != 0)
		fail("ipv4: emitted header checksum does not verify");
}

static void fuzz_icmp(const uint8_t *b, size_t n)
{
	struct icmp_repr ic;
	struct pkt *p;
	int rc;

	if (n < 1)
		return;
	p = chain(b + 1, n - 1, b[0]);
	if (!p)
		return;
	rc = icmp_parse(p, &ic);
	check_rc(rc);
	if (!rc && (ic.len != n - 1 || ic.type != b[1] || ic.code != b[2]))
		fail("icmp: repr does not describe the message");
	pkt_free_chain(p);
}

static void fuzz_udp(const uint8_t *b, size_t n)
{
	struct udp_repr u;
	struct pkt *p;
	int rc;

	if (n < 9)
		return;
	p = chain(b + 9, n - 9, b[8]);
	if (!p)
		return;
	rc = udp_parse(p, rd32(b), rd32(b + 4), &u);
	check_rc(rc);
	if (!rc && ((size_t)u.len + UDP_HDR_LEN > n - 9 || u.sport != rd16(b + 9) ||
	            u.dport != rd16(b + 11)))
		fail("udp: repr does not describe the datagram");
	pkt_free_chain(p);
}

static void fuzz_tcp(const uint8_t *b, size_t n)
{
	struct tcp_seg seg;
	const uint8_t *t = b + 8;
	int rc;

	if (n < 8)
		return;
	n -= 8;
	rc = tcp_parse(t, n, rd32(b), rd32(b + 4), 0, &seg);
	check_rc(rc);
	if (rc)
		return;
	if (seg.hdr_len < TCP_HDR_LEN || seg.hdr_len > n || seg.data != t + seg.hdr_len ||
	    seg.len != n - seg.hdr_len)
		fail("tcp: payload outside the segment");
	if (seg.nsack > 4)
		fail("tcp: more SACK blocks than an option holds");
	if (seg.wscale != 0xff && seg.wscale > 14)
		fail("tcp: window scale above 14 (RFC 7323 2.3)");
	if ((seg.flags & TH_SYN) && (seg.flags & (TH_FIN | TH_RST)))
		fail("tcp: accepted SYN with FIN or RST");
	if (!(seg.flags & (TH_SYN | TH_ACK | TH_RST | TH_FIN)))
		fail("tcp: accepted a segment with no flag");
}

/* The chain checksum must equal the flat one wherever the chain is cut,
 * whole or over a prefix. */
static void fuzz_csum(const uint8_t *b, size_t n)
{
	struct pkt *p;
	size_t pre;

	if (n < 2)
		return;
	pre = b[1] <= n - 2 ? b[1] : n - 2;
	p = chain(b + 2, n - 2, b[0]);
	if (!p)
		return;
	if (csum_fold(pkt_chain_csum(p, 0)) != csum_fold(csum_partial(b + 2, n - 2, 0)))
		fail("csum: chain sum differs from the flat sum");
	if (csum_fold(pkt_chain_csum_n(p, pre, 0)) != csum_fold(csum_partial(b + 2, pre, 0)))
		fail("csum: chain prefix sum differs from the flat sum");
	pkt_free_chain(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *b = data + 1;
	size_t n;

	if (size < 1)
		return 0;
	n = size - 1;
	switch (data[0] % FP__COUNT) {
	case FP_ETH: fuzz_eth(b, n); break;
	case FP_ARP: fuzz_arp(b, n); break;
	case FP_IPV4: fuzz_ipv4(b, n); break;
	case FP_ICMP: fuzz_icmp(b, n); break;
	case FP_UDP: fuzz_udp(b, n); break;
	case FP_TCP: fuzz_tcp(b, n); break;
	case FP_CSUM: fuzz_csum(b, n); break;
	}
	if (pool()->nfree != pool()->size)
		fail("a case leaked packet buffers");
	return 0;
}
