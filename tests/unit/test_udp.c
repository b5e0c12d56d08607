/* UDP: delivery with the source recoverable, demultiplexing, the receive
 * buffer bound, port unreachable for closed ports (byte for byte), output
 * with checksums and ephemeral ports, a 65507-byte datagram both ways. */
#include "core_test.h"

#include "core/icmp.h"

struct events {
	void *app;
	uint32_t ev;
	unsigned calls;
};

static void on_event(void *ctx, void *app, uint32_t ev)
{
	struct events *e = ctx;
	e->app = app;
	e->ev = ev;
	e->calls++;
}

static void closed_port_unreachable(void **state)
{
	uint8_t in[128], out[128], want[128];
	struct ust_stack *stk = mkstack(0);
	size_t n;
	long got;
	(void)state;
	learn_peer(stk, 0);
	n = mk_udp(in, PEER_IP, US_IP, 40000, 9, "anyone?", 7);
	feed(stk, in, n, 0);
	assert_int_equal(CNT(stk, drop_udp_no_port), 1);
	got = take(stk, out, sizeof(out));
	/* Type 3 code 3, the offending IP header and 8 bytes after it. */
	mk_eth(want, peer_mac, us_mac, 0x0800);
	mk_ip(want + 14, 20 + 8 + 28, get16(out + 18), 0, 64, 1, US_IP, PEER_IP);
	memset(want + 34, 0, 8);
	want[34] = 3;
	want[35] = 3;
	memcpy(want + 42, in + 14, 28);
	put16(want + 36, ref_csum(want + 34, 36, 0));
	assert_int_equal(got, 14 + 56);
	assert_memory_equal(out, want, 14 + 56);
	assert_int_equal(CNT(stk, tx_icmp_unreach), 1);
	/* Not for a broadcast. */
	n = mk_udp(in, PEER_IP, 0x0a4d00ff, 40000, 9, "x", 1);
	mk_eth(in, bcast_mac, peer_mac, 0x0800);
	feed(stk, in, n, 0);
	assert_int_equal(CNT(stk, drop_udp_no_port), 2);
	assert_int_equal(drain(stk), 0);
	assert_pool_full(stk);
	stk_destroy(stk);
}

static void delivery(void **state)
{
	uint8_t in[128];
	struct ust_stack *stk = mkstack(0);
	struct udp_pcb pcb = {0};
	struct events ev = {0};
	struct pkt *p;
	uint32_t src;
	uint16_t sport;
	int app;
	(void)state;
	stk->hooks.sock_event = on_event;
	stk->hooks.ctx = &ev;
	pcb.app = &app;
	assert_int_equal(udp_bind(stk, &pcb, 0, 5000), 0);
	feed(stk, in, mk_udp(in, PEER_IP, US_IP, 1000, 5000, "hello", 5), 0);
	feed(stk, in, mk_udp(in, PEER_IP + 5, US_IP, 1001, 5000, "world!", 6), 0);
	assert_int_equal(CNT(stk, rx_udp), 2);
	assert_int_equal(ev.calls, 2);
	assert_ptr_equal(ev.app, &app);
	assert_int_equal(ev.ev, SOCK_EV_IN);
	assert_int_equal(pcb.rx_bytes, 11);
	p = udp_recv(&pcb, &src, &sport);
	assert_non_null(p);
	assert_int_equal(p->len, 5);
	assert_memory_equal(p->data, "hello", 5);
	assert_int_equal(src, PEER_IP);
	assert_int_equal(sport, 1000);
	pkt_free_chain(p);
	p = udp_recv(&pcb, &src, &sport);
	assert_int_equal(p->len, 6);
	assert_memory_equal(p->data, "world!", 6);
	assert_int_equal(src, PEER_IP + 5);
	assert_int_equal(sport, 1001);
	pkt_free_chain(p);
	assert_null(udp_recv(&pcb, &src, &sport));
	assert_int_equal(pcb.rx_bytes, 0);
	udp_unbind(stk, &pcb);
	assert_pool_full(stk);
	stk_destroy(stk);
}

static void demux(void **state)
{
	uint8_t in[128];
	struct ust_stack *stk = mkstack(0);
	struct udp_pcb exact = {0}, bcast = {0}, any = {0}, conn = {0};
	uint32_t src;
	uint16_t sport;
	(void)state;
	learn_peer(stk, 0);
	assert_int_equal(udp_bind(stk, &exact, US_IP, 67), 0);
	assert_int_equal(udp_bind(stk, &bcast, 0x0a4d00ff, 67), 0);
	assert_int_equal(udp_bind(stk, &any, 0, 67 + UDP_HASH_SIZE), 0); /* same bucket */
	assert_int_equal(udp_bind(stk, &conn, 0, 67), -EADDRINUSE);
	assert_int_equal(udp_bind(stk, &conn, 0x0a4d0063, 99), -EADDRNOTAVAIL);
	assert_int_equal(udp_bind(stk, &exact, US_IP, 68), -EINVAL);
	feed(stk, in, mk_udp(in, PEER_IP, US_IP, 1, 67, "u", 1), 0);
	feed(stk, in, mk_udp(in, PEER_IP, 0x0a4d00ff, 1, 67, "b", 1), 0);
	feed(stk, in, mk_udp(in, PEER_IP, 0xffffffff, 1, 67 + UDP_HASH_SIZE, "a", 1), 0);
	feed(stk, in, mk_udp(in, PEER_IP, US_IP, 1, 67 + UDP_HASH_SIZE, "A", 1), 0);
	assert_int_equal(exact.rxq.count, 1);
	assert_int_equal(bcast.rxq.count, 1);
	assert_int_equal(any.rxq.count, 2);
	pkt_free_chain(udp_recv(&exact, &src, &sport));
	udp_unbind(stk, &exact);
	udp_unbind(stk, &bcast);
	udp_unbind(stk, &any); /* frees what is queued */
	/* A connected socket takes only its peer's datagrams. */
	assert_int_equal(udp_bind(stk, &conn, 0, 700), 0);
	conn.raddr = PEER_IP;
	conn.rport = 7;
	feed(stk, in, mk_udp(in, PEER_IP, US_IP, 8, 700, "no", 2), 0);
	feed(stk, in, mk_udp(in, PEER_IP, US_IP, 7, 700, "yes", 3), 0);
	assert_int_equal(conn.rxq.count, 1);
	assert_int_equal(CNT(stk, drop_udp_no_port), 1);
	udp_unbind(stk, &conn);
	drain(stk);
	assert_pool_full(stk);
	stk_destroy(stk);
}

static void rcvbuf_bound(void **state)
{
	uint8_t in[128];
	struct ust_stack *stk = mkstack(0);
	struct udp_pcb pcb = {0};
	uint32_t src;
	uint16_t sport;
	(void)state;
	pcb.rcvbuf = 10;
	assert_int_equal(udp_bind(stk, &pcb, 0, 9000), 0);
	assert_int_equal(pcb.rcvbuf, 10);
	feed(stk, in, mk_udp(in, PEER_IP, US_IP, 1, 9000, "123456", 6), 0);
	feed(stk, in, mk_udp(in, PEER_IP, US_IP, 1, 9000, "123456", 6), 0);
	assert_int_equal(CNT(stk, drop_udp_rcvbuf), 1);
	feed(stk, in, mk_udp(in, PEER_IP, US_IP, 1, 9000, "1234", 4), 0);
	assert_int_equal(pcb.rxq.count, 2);
	pkt_free_chain(udp_recv(&pcb, &src, &sport));
	feed(stk, in, mk_udp(in, PEER_IP, US_IP, 1, 9000, "123456", 6), 0);
	assert_int_equal(pcb.rxq.count, 2);
	assert_int_equal(CNT(stk, drop_udp_rcvbuf), 1);
	udp_unbind(stk, &pcb);
	assert_pool_full(stk);
	stk_destroy(stk);
	/* The default comes from the configuration. */
	stk = mkstack(0);
	memset(&pcb, 0, sizeof(pcb));
	assert_int_equal(udp_bind(stk, &pcb, 0, 0), 0);
	assert_int_equal(pcb.rcvbuf, 212992);
	assert_true(pcb.lport >= 49152);
	udp_unbind(stk, &pcb);
	stk_destroy(stk);
}

static void bad_checksum_and_none(void **state)
{
	uint8_t in[128];
	struct ust_stack *stk = mkstack(0);
	struct udp_pcb pcb = {0};
	size_t n;
	(void)state;
	assert_int_equal(udp_bind(stk, &pcb, 0, 9), 0);
	n = mk_udp(in, PEER_IP, US_IP, 1234, 9, "bad checksum", 12);
	put16(in + 40, 0x1234);
	feed(stk, in, n, 0);
	assert_int_equal(CNT(stk, drop_udp_checksum), 1);
	n = mk_udp(in, PEER_IP, US_IP, 1234, 9, "no checksum", 11);
	put16(in + 40, 0);
	feed(stk, in, n, 0);
	assert_int_equal(pcb.rxq.count, 1);
	udp_unbind(stk, &pcb);
	stk_destroy(stk);
}

static void sendto_exact(void **state)
{
	uint8_t out[128], want[128];
	struct ust_stack *stk = mkstack(0);
	struct udp_pcb pcb = {0};
	long n;
	(void)state;
	learn_peer(stk, 0);
	assert_int_equal(udp_sendto(stk, &pcb, PEER_IP, 53, "query", 5), 0);
	assert_true(pcb.lport >= 49152);
	n = take(stk, out, sizeof(out));
	mk_udp(want, US_IP, PEER_IP, pcb.lport, 53, "query", 5);
	mk_eth(want, peer_mac, us_mac, 0x0800);
	mk_ip(want + 14, 33, get16(out + 18), 0, 64, 17, US_IP, PEER_IP);
	assert_int_equal(n, 47);
	assert_memory_equal(out, want, 47);
	assert_int_equal(udp_sendto(stk, &pcb, PEER_IP, 53, NULL, 65508), -EMSGSIZE);
	udp_unbind(stk, &pcb);
	stk_destroy(stk);
}

/* Moves every frame from one stack to the other. */
static unsigned pass_frames(struct ust_stack *from, struct ust_stack *to, uint64_t now)
{
	struct pkt *p[64];
	unsigned n, total = 0;
	while ((n = stk_tx_take(from, p, 64)) > 0) {
		for (unsigned i = 0; i < n; i++) {
			struct pkt *q = pkt_clone(&to->pool, p[i]);
			pkt_free(p[i]);
			assert_non_null(q);
			stk_rx_burst(to, &q, 1, now);
		}
		total += n;
	}
	return total;
}

static void largest_datagram_both_ways(void **state)
{
	static uint8_t data[65507], got[65507];
	struct stk_config ca, cb;
	struct ust_stack *a, *b;
	struct udp_pcb pa = {0}, pb = {0};
	struct pkt *p, *q;
	uint32_t src;
	uint16_t sport;
	size_t off = 0;
	unsigned frames;
	(void)state;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + i / 256);
	stk_config_default(&ca);
	ca.pkt_pool_size = 256;
	cb = ca;
	cb.ip = PEER_IP;
	memcpy(cb.mac, peer_mac, 6);
	a = mkstack_cfg(&ca, 0);
	b = mkstack_cfg(&cb, 0);
	assert_int_equal(udp_bind(b, &pb, 0, 7777), 0);
	/* To a host not yet resolved: ARP holds the whole datagram (its 45
	 * fragments count as one of arp_queue_max). */
	assert_int_equal(udp_sendto(a, &pa, PEER_IP, 7777, data, sizeof(data)), 0);
	assert_int_equal(arp_lookup(a, PEER_IP)->pending.count, 45);
	assert_int_equal(arp_lookup(a, PEER_IP)->pending_dgrams, 1);
	pass_frames(a, b, 0);                      /* gratuitous ARP + request */
	assert_int_equal(pass_frames(b, a, 0), 2); /* its gratuitous ARP + the reply */
	/* 45 fragments of at most 1500 bytes. */
	assert_int_equal(pass_frames(a, b, 0), 45);
	assert_int_equal(CNT(a, ip_frags_out), 45);
	assert_int_equal(CNT(b, ip_reassembled), 1);
	assert_int_equal(pb.rx_bytes, sizeof(data));
	p = udp_recv(&pb, &src, &sport);
	assert_non_null(p);
	assert_non_null(p->next); /* a chain: larger than one buffer */
	assert_int_equal(src, US_IP);
	assert_int_equal(sport, pa.lport);
	assert_int_equal(pkt_chain_len(p), sizeof(data));
	for (q = p; q; q = q->next) {
		memcpy(got + off, q->data, q->len);
		off += q->len;
	}
	assert_memory_equal(got, data, sizeof(data));
	pkt_free_chain(p);
	assert_int_equal(pb.rx_bytes, 0);
	/* And back: the reply is the same size. */
	assert_int_equal(udp_sendto(b, &pb, US_IP, pa.lport, data, sizeof(data)), 0);
	frames = pass_frames(b, a, 0);
	assert_int_equal(frames, 45);
	p = udp_recv(&pa, &src, &sport);
	assert_non_null(p);
	assert_int_equal(pkt_chain_len(p), sizeof(data));
	pkt_free_chain(p);
	udp_unbind(a, &pa);
	udp_unbind(b, &pb);
	assert_pool_full(a);
	assert_pool_full(b);
	stk_destroy(a);
	stk_destroy(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(closed_port_unreachable),
		cmocka_unit_test(delivery),
		cmocka_unit_test(demux),
		cmocka_unit_test(rcvbuf_bound),
		cmocka_unit_test(bad_checksum_and_none),
		cmocka_unit_test(sendto_exact),
		cmocka_unit_test(largest_datagram_both_ways),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
