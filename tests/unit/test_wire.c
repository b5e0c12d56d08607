/* Every header parser on good, truncated and malformed input: each defect
 * maps to the drop counter that `ustack stat` shows. */
#include "core_test.h"

#include "core/ipv4.h"

static void eth(void **state)
{
	uint8_t f[14];
	struct eth_repr e;
	(void)state;
	mk_eth(f, us_mac, peer_mac, 0x0800);
	assert_int_equal(eth_parse(f, 14, &e), 0);
	assert_memory_equal(e.dst, us_mac, 6);
	assert_memory_equal(e.src, peer_mac, 6);
	assert_int_equal(e.type, 0x0800);
	for (size_t n = 0; n < 14; n++)
		assert_int_equal(eth_parse(f, n, &e), CNT_drop_eth_short);
}

static void arp(void **state)
{
	uint8_t f[64];
	struct arp_repr a;
	static const uint8_t zero[6];
	const uint8_t *b = f + 14;
	(void)state;
	mk_arp(f, bcast_mac, 1, peer_mac, PEER_IP, zero, US_IP);
	assert_int_equal(arp_parse(b, 28, &a), 0);
	assert_int_equal(a.op, 1);
	assert_int_equal(a.spa, PEER_IP);
	assert_int_equal(a.tpa, US_IP);
	assert_memory_equal(a.sha, peer_mac, 6);
	for (size_t n = 0; n < 28; n++)
		assert_int_equal(arp_parse(b, n, &a), CNT_drop_arp_malformed);
	/* Each fixed field wrong in turn. */
	static const size_t at[] = {1, 3, 4, 5, 7};
	for (size_t i = 0; i < 5; i++) {
		mk_arp(f, bcast_mac, 1, peer_mac, PEER_IP, zero, US_IP);
		f[14 + at[i]] ^= 0x40;
		assert_int_equal(arp_parse(b, 28, &a), CNT_drop_arp_malformed);
	}
	/* A multicast sender hardware address would poison the cache. */
	mk_arp(f, bcast_mac, 2, bcast_mac, PEER_IP, us_mac, US_IP);
	assert_int_equal(arp_parse(b, 28, &a), CNT_drop_arp_malformed);
	/* Trailing padding is fine. */
	mk_arp(f, bcast_mac, 2, peer_mac, PEER_IP, us_mac, US_IP);
	assert_int_equal(arp_parse(b, 46, &a), 0);
	assert_int_equal(a.op, 2);
}

static int ip_with(uint8_t *h, size_t len, void (*edit)(uint8_t *), int fix)
{
	struct ipv4_repr r;
	mk_ip(h, 28, 7, 0, 64, 17, PEER_IP, US_IP);
	edit(h);
	if (fix) {
		put16(h + 10, 0);
		put16(h + 10, ref_csum(h, (size_t)(h[0] & 0xf) * 4, 0));
	}
	return ipv4_parse(h, len, &r);
}

static void e_none(uint8_t *h) { (void)h; }
static void e_version(uint8_t *h) { h[0] = 0x65; }
static void e_ihl4(uint8_t *h) { h[0] = 0x44; }
static void e_ihl15(uint8_t *h) { h[0] = 0x4f; }
static void e_total_small(uint8_t *h) { put16(h + 2, 19); }
static void e_total_big(uint8_t *h) { put16(h + 2, 1400); }
static void e_csum(uint8_t *h) { h[10] ^= 0xff; }
static void e_ttl0(uint8_t *h) { h[8] = 0; }
static void e_src0(uint8_t *h) { put32(h + 12, 0); }
static void e_src_bcast(uint8_t *h) { put32(h + 12, 0xffffffff); }
static void e_src_mcast(uint8_t *h) { put32(h + 12, 0xe0000001); }
static void e_evil_bit(uint8_t *h) { put16(h + 6, 0x8000); }
static void e_mf_odd(uint8_t *h) { put16(h + 2, 27); put16(h + 6, 0x2000); }
static void e_frag_past_64k(uint8_t *h) { put16(h + 6, 0x1fff); }

static void ipv4(void **state)
{
	uint8_t h[64] = {0};
	struct ipv4_repr r;
	(void)state;
	assert_int_equal(ip_with(h, 28, e_none, 0), 0);
	mk_ip(h, 28, 7, 0x4000 | 3, 64, 17, PEER_IP, US_IP);
	assert_int_equal(ipv4_parse(h, 40, &r), 0);
	assert_int_equal(r.total_len, 28);
	assert_int_equal(r.hdr_len, 20);
	assert_int_equal(r.id, 7);
	assert_int_equal(r.frag_off, 24);
	assert_true(r.dont_frag);
	assert_false(r.more_frags);
	assert_int_equal(r.proto, 17);
	assert_int_equal(r.src, PEER_IP);
	assert_int_equal(r.dst, US_IP);
	for (size_t n = 0; n < 20; n++)
		assert_int_equal(ip_with(h, n, e_none, 0), CNT_drop_ip_short);
	assert_int_equal(ip_with(h, 27, e_none, 0), CNT_drop_ip_total_len);
	assert_int_equal(ip_with(h, 28, e_version, 1), CNT_drop_ip_version);
	assert_int_equal(ip_with(h, 28, e_ihl4, 0), CNT_drop_ip_hdr_len);
	assert_int_equal(ip_with(h, 28, e_ihl15, 0), CNT_drop_ip_hdr_len);
	assert_int_equal(ip_with(h, 64, e_ihl15, 0), CNT_drop_ip_total_len);
	assert_int_equal(ip_with(h, 28, e_total_small, 1), CNT_drop_ip_total_len);
	assert_int_equal(ip_with(h, 28, e_total_big, 1), CNT_drop_ip_total_len);
	assert_int_equal(ip_with(h, 28, e_csum, 0), CNT_drop_ip_checksum);
	assert_int_equal(ip_with(h, 28, e_ttl0, 1), CNT_drop_ip_ttl);
	assert_int_equal(ip_with(h, 28, e_src0, 1), CNT_drop_ip_bad_src);
	assert_int_equal(ip_with(h, 28, e_src_bcast, 1), CNT_drop_ip_bad_src);
	assert_int_equal(ip_with(h, 28, e_src_mcast, 1), CNT_drop_ip_bad_src);
	assert_int_equal(ip_with(h, 28, e_evil_bit, 1), CNT_drop_frag_bad);
	assert_int_equal(ip_with(h, 28, e_mf_odd, 1), CNT_drop_frag_bad);
	assert_int_equal(ip_with(h, 28, e_frag_past_64k, 1), CNT_drop_frag_bad);
}

static void ipv4_options(void **state)
{
	uint8_t h[64] = {0};
	struct ipv4_repr r;
	(void)state;
	/* 24-byte header: a NOP x3 + EOL option word, then 8 bytes of UDP. */
	mk_ip(h, 32, 1, 0, 64, 17, PEER_IP, US_IP);
	memmove(h + 24, h + 20, 8);
	h[0] = 0x46;
	h[20] = h[21] = h[22] = 1;
	h[23] = 0;
	put16(h + 10, 0);
	put16(h + 10, ref_csum(h, 24, 0));
	assert_int_equal(ipv4_parse(h, 32, &r), 0);
	assert_int_equal(r.hdr_len, 24);
	assert_int_equal(ipv4_parse(h, 23, &r), CNT_drop_ip_hdr_len);
}

static void ipv4_quote(void **state)
{
	uint8_t q[64];
	struct ipv4_repr r;
	(void)state;
	/* Truncated quote with a stale checksum: still parsed. */
	mk_ip(q, 1400, 5, 0, 1, 6, US_IP, PEER_IP);
	q[10] ^= 0x55;
	memset(q + 20, 0, 8);
	assert_int_equal(ipv4_quote_parse(q, 28, &r), 0);
	assert_int_equal(r.src, US_IP);
	assert_int_equal(r.dst, PEER_IP);
	assert_int_equal(r.proto, 6);
	assert_int_equal(r.hdr_len, 20);
	assert_int_equal(ipv4_quote_parse(q, 27, &r), CNT_drop_icmp_quote);
	q[0] = 0x46;
	assert_int_equal(ipv4_quote_parse(q, 28, &r), CNT_drop_icmp_quote);
	q[0] = 0x44;
	assert_int_equal(ipv4_quote_parse(q, 28, &r), CNT_drop_icmp_quote);
	q[0] = 0x55;
	assert_int_equal(ipv4_quote_parse(q, 28, &r), CNT_drop_icmp_quote);
}

static struct pkt_pool pool;

static struct pkt *mkpkt(const uint8_t *b, size_t n)
{
	struct pkt *p = pkt_alloc(&pool);
	memcpy(pkt_put(p, n), b, n);
	return p;
}

static void icmp(void **state)
{
	uint8_t f[128];
	struct icmp_repr ic;
	struct pkt *p;
	(void)state;
	mk_echo(f, 8, 0x77, 9, 11, PEER_IP, US_IP);
	p = mkpkt(f + 34, 19);
	assert_int_equal(icmp_parse(p, &ic), 0);
	assert_int_equal(ic.type, 8);
	assert_int_equal(ic.id, 0x77);
	assert_int_equal(ic.seq, 9);
	assert_int_equal(ic.len, 19);
	p->len = 18; /* truncated: the checksum no longer matches */
	assert_int_equal(icmp_parse(p, &ic), CNT_drop_icmp_checksum);
	for (uint32_t n = 0; n < 8; n++) {
		p->len = n;
		assert_int_equal(icmp_parse(p, &ic), CNT_drop_icmp_short);
	}
	p->len = 19;
	p->data[12] ^= 1;
	assert_int_equal(icmp_parse(p, &ic), CNT_drop_icmp_checksum);
	pkt_free(p);
}

static void udp(void **state)
{
	uint8_t f[128];
	struct udp_repr u;
	struct pkt *p;
	(void)state;
	mk_udp(f, PEER_IP, US_IP, 1000, 53, "hello", 5);
	p = mkpkt(f + 34, 13);
	assert_int_equal(udp_parse(p, PEER_IP, US_IP, &u), 0);
	assert_int_equal(u.sport, 1000);
	assert_int_equal(u.dport, 53);
	assert_int_equal(u.len, 5);
	/* Wrong pseudo-header address: the checksum catches it. */
	assert_int_equal(udp_parse(p, PEER_IP + 1, US_IP, &u), CNT_drop_udp_checksum);
	for (uint32_t n = 0; n < 8; n++) {
		p->len = n;
		assert_int_equal(udp_parse(p, PEER_IP, US_IP, &u), CNT_drop_udp_short);
	}
	p->len = 12; /* the UDP length says 13 */
	assert_int_equal(udp_parse(p, PEER_IP, US_IP, &u), CNT_drop_udp_len);
	p->len = 13;
	put16(p->data + 4, 7);
	assert_int_equal(udp_parse(p, PEER_IP, US_IP, &u), CNT_drop_udp_len);
	/* Checksum zero: none computed, accepted. */
	put16(p->data + 4, 13);
	put16(p->data + 6, 0);
	p->data[9] ^= 0xff;
	assert_int_equal(udp_parse(p, PEER_IP, US_IP, &u), 0);
	pkt_free(p);
	/* Padding past the UDP length is not summed. */
	mk_udp(f, PEER_IP, US_IP, 1000, 53, "hello", 5);
	memset(f + 34 + 13, 0xab, 10);
	p = mkpkt(f + 34, 23);
	assert_int_equal(udp_parse(p, PEER_IP, US_IP, &u), 0);
	assert_int_equal(u.len, 5);
	pkt_free(p);
}

static int setup(void **state)
{
	(void)state;
	return pkt_pool_init(&pool, 16);
}

static int teardown(void **state)
{
	(void)state;
	assert_int_equal(pool.nfree, 16);
	pkt_pool_fini(&pool);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(eth),
		cmocka_unit_test(arp),
		cmocka_unit_test(ipv4),
		cmocka_unit_test(ipv4_options),
		cmocka_unit_test(ipv4_quote),
		cmocka_unit_test(icmp),
		cmocka_unit_test(udp),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
