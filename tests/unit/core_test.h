/* Helpers shared by the core unit tests: a stack on virtual time, frames
 * built byte by byte (independently of the code under test where it
 * matters), and the frames the stack sends. Included by test_*.c only. */
#ifndef USTACK_TESTS_CORE_TEST_H
#define USTACK_TESTS_CORE_TEST_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/checksum.h"
#include "core/stack.h"
#include "core/wire.h"

#define US_MAC {0x02, 0x00, 0x00, 0x77, 0x00, 0x02}
#define PEER_MAC {0x02, 0x00, 0x00, 0x00, 0x00, 0x01}
#define US_IP 0x0a4d0002u   /* 10.77.0.2 */
#define PEER_IP 0x0a4d0001u /* 10.77.0.1 */
#define SEC 1000000ull

static const uint8_t us_mac[6] = US_MAC;
static const uint8_t peer_mac[6] = PEER_MAC;
static const uint8_t bcast_mac[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static inline struct ust_stack *mkstack_cfg(struct stk_config *cfg, uint64_t now)
{
	int err = 0;
	struct ust_stack *stk = stk_create(cfg, now, &err);
	assert_non_null(stk);
	assert_int_equal(err, 0);
	return stk;
}

/* A stack with the defaults and a small pool, its gratuitous ARP taken. */
static inline struct ust_stack *mkstack(uint64_t now)
{
	struct stk_config cfg;
	stk_config_default(&cfg);
	cfg.pkt_pool_size = 512;
	return mkstack_cfg(&cfg, now);
}

/* Frees every queued frame; returns how many there were. */
static inline unsigned drain(struct ust_stack *stk)
{
	struct pkt *p[64];
	unsigned n, total = 0;
	while ((n = stk_tx_take(stk, p, 64)) > 0) {
		for (unsigned i = 0; i < n; i++)
			pkt_free(p[i]);
		total += n;
	}
	return total;
}

/* Copies the next queued frame to out (up to cap bytes); its length, or -1. */
static inline long take(struct ust_stack *stk, uint8_t *out, size_t cap)
{
	struct pkt *p;
	long len;
	if (stk_tx_take(stk, &p, 1) != 1)
		return -1;
	len = p->len;
	assert_true((size_t)len <= cap);
	memcpy(out, p->data, p->len);
	pkt_free(p);
	return len;
}

static inline void feed(struct ust_stack *stk, const uint8_t *frame, size_t len, uint64_t now)
{
	struct pkt *p = pkt_alloc(&stk->pool);
	assert_non_null(p);
	memcpy(pkt_put(p, len), frame, len);
	stk_rx_burst(stk, &p, 1, now);
}

static inline void put16(uint8_t *b, uint16_t v) { b[0] = (uint8_t)(v >> 8); b[1] = (uint8_t)v; }
static inline void put32(uint8_t *b, uint32_t v)
{
	put16(b, (uint16_t)(v >> 16));
	put16(b + 2, (uint16_t)v);
}
static inline uint16_t get16(const uint8_t *b) { return (uint16_t)(b[0] << 8 | b[1]); }
static inline uint32_t get32(const uint8_t *b) { return (uint32_t)get16(b) << 16 | get16(b + 2); }

/* Reference checksum, bit by bit from RFC 1071's definition. */
static inline uint16_t ref_csum(const uint8_t *b, size_t n, uint32_t sum)
{
	for (size_t i = 0; i < n; i += 2)
		sum += (uint32_t)b[i] << 8 | (i + 1 < n ? b[i + 1] : 0);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Ethernet header; returns 14. */
static inline size_t mk_eth(uint8_t *b, const uint8_t dst[6], const uint8_t src[6], uint16_t type)
{
	memcpy(b, dst, 6);
	memcpy(b + 6, src, 6);
	put16(b + 12, type);
	return 14;
}

/* Ethernet + ARP; returns the frame length (42). */
static inline size_t mk_arp(uint8_t *b, const uint8_t edst[6], uint16_t op, const uint8_t sha[6],
                            uint32_t spa, const uint8_t tha[6], uint32_t tpa)
{
	size_t o = mk_eth(b, edst, sha, 0x0806);
	put16(b + o, 1);
	put16(b + o + 2, 0x0800);
	b[o + 4] = 6;
	b[o + 5] = 4;
	put16(b + o + 6, op);
	memcpy(b + o + 8, sha, 6);
	put32(b + o + 14, spa);
	memcpy(b + o + 18, tha, 6);
	put32(b + o + 24, tpa);
	return o + 28;
}

/* A 20-byte IPv4 header with a correct checksum. fo: flags|offset/8 field. */
static inline void mk_ip(uint8_t *b, uint16_t total, uint16_t id, uint16_t fo, uint8_t ttl,
                         uint8_t proto, uint32_t src, uint32_t dst)
{
	b[0] = 0x45;
	b[1] = 0;
	put16(b + 2, total);
	put16(b + 4, id);
	put16(b + 6, fo);
	b[8] = ttl;
	b[9] = proto;
	put16(b + 10, 0);
	put32(b + 12, src);
	put32(b + 16, dst);
	put16(b + 10, ref_csum(b, 20, 0));
}

/* Ethernet + IPv4 + ICMP echo request with `n` payload bytes (i & 0xff).
 * Returns the frame length. */
static inline size_t mk_echo(uint8_t *b, uint8_t type, uint16_t id, uint16_t seq, size_t n,
                             uint32_t src, uint32_t dst)
{
	size_t o = mk_eth(b, us_mac, peer_mac, 0x0800);
	uint8_t *ic = b + o + 20;
	mk_ip(b + o, (uint16_t)(20 + 8 + n), 0x1234, 0, 64, 1, src, dst);
	ic[0] = type;
	ic[1] = 0;
	put16(ic + 2, 0);
	put16(ic + 4, id);
	put16(ic + 6, seq);
	for (size_t i = 0; i < n; i++)
		ic[8 + i] = (uint8_t)i;
	put16(ic + 2, ref_csum(ic, 8 + n, 0));
	return o + 20 + 8 + n;
}

static inline uint32_t pseudo_sum(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len)
{
	return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto + len;
}

/* Ethernet + IPv4 + UDP carrying data; returns the frame length. */
static inline size_t mk_udp(uint8_t *b, uint32_t src, uint32_t dst, uint16_t sport,
                            uint16_t dport, const void *data, size_t n)
{
	size_t o = mk_eth(b, us_mac, peer_mac, 0x0800);
	uint8_t *u = b + o + 20;
	uint16_t sum;
	mk_ip(b + o, (uint16_t)(20 + 8 + n), 0x4321, 0, 64, 17, src, dst);
	put16(u, sport);
	put16(u + 2, dport);
	put16(u + 4, (uint16_t)(8 + n));
	put16(u + 6, 0);
	memcpy(u + 8, data, n);
	sum = ref_csum(u, 8 + n, pseudo_sum(src, dst, 17, (uint16_t)(8 + n)));
	put16(u + 6, sum ? sum : 0xffff);
	return o + 20 + 8 + n;
}

/* Teaches the stack the peer's MAC (an ARP request for us) and drops the
 * reply, so IP output goes out at once. */
static inline void learn_peer(struct ust_stack *stk, uint64_t now)
{
	uint8_t f[64];
	static const uint8_t zero[6];
	size_t n = mk_arp(f, bcast_mac, 1, peer_mac, PEER_IP, zero, US_IP);
	feed(stk, f, n, now);
	drain(stk);
}

#define CNT(stk, name) ((stk)->cnt[CNT_##name])

/* Every buffer is back in the pool: nothing leaked inside the stack. */
#define assert_pool_full(stk)                                              \
	do {                                                               \
		drain(stk);                                                \
		assert_int_equal((stk)->pool.nfree, (stk)->pool.size);     \
	} while (0)

/* Ethernet + IPv4 fragment: payload bytes [off, off+n) of a datagram. */
static inline size_t mk_frag(uint8_t *b, uint16_t id, uint8_t proto, size_t off, int mf,
                             const uint8_t *payload, size_t n)
{
	size_t o = mk_eth(b, us_mac, peer_mac, 0x0800);
	mk_ip(b + o, (uint16_t)(20 + n), id, (uint16_t)((mf ? 0x2000 : 0) | off / 8), 64, proto,
	      PEER_IP, US_IP);
	memcpy(b + o + 20, payload + off, n);
	return o + 20 + n;
}

#endif
