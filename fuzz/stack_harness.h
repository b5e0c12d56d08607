/* The frame-sequence harness shared by fuzz/fuzz_stack.c (libFuzzer) and
 * tests/unit/test_fuzz_regress.c (replays of inputs that once crashed).
 * Header-only: every function is static so each program gets its own copy.
 *
 * A stack is built at a fixed configuration (10.77.0.2/24, MAC
 * 02:00:00:77:00:02, a fixed ISN secret) and brought to a known state by a
 * scripted exchange with a peer 10.77.0.1 (MAC 02:00:00:77:00:01):
 *
 *   - the peer ARPs for us, so the stack knows the peer's MAC;
 *   - a UDP socket is bound to port 7;
 *   - a TCP listener on port 80 (backlog 4);
 *   - a passive connection 10.77.0.1:40000 -> :80, made by feeding a SYN
 *     and the ACK of the stack's SYN-ACK, then accepted;
 *   - an active connection 10.77.0.2:40001 -> 10.77.0.1:5001, made by
 *     tcp_connect and feeding the SYN-ACK;
 *   - the passive connection has 100 unacknowledged bytes in flight and
 *     keepalive on (idle 10 s, interval 2 s, 3 probes); the active one has
 *     FZ_ACTIVE_INFLIGHT bytes in flight (several segments, so duplicate
 *     ACKs can start fast retransmit and recovery);
 *   - at most 8 out-of-order segments are held per connection, so the
 *     bound is reachable with the small packet pool;
 *   - a connection 10.77.0.2:40002 -> 10.77.0.1:5002 left in SYN-SENT.
 *
 * Input format (our own, in the spirit of lwIP's fuzz3): a sequence of
 * records, each
 *
 *     u16 len_flags   big-endian; bits 0-11: frame length (capped at 2048),
 *                     bit 15 FZ_F_CSUM, bit 14 FZ_F_REL, bits 12-13 unused
 *     u16 delta_ms    big-endian; virtual time advanced before the frame
 *     u8  frame[len]  an Ethernet frame (truncated at the end of input)
 *
 * At most FZ_MAX_RECORDS records are read; trailing bytes shorter than a
 * record header are ignored. Flags:
 *
 *   FZ_F_CSUM  the harness recomputes the IPv4 header checksum and, for an
 *              unfragmented datagram, the TCP/UDP/ICMP checksum, so mutated
 *              frames get past the checksum checks (clear it to fuzz those).
 *   FZ_F_REL   TCP seq and ack are relative. To port 80 the harness adds
 *              the peer's ISS of the passive connection to seq, and to ack
 *              the stack's ISS of it (from port 40000) or else the ISS of
 *              the last SYN-ACK the stack sent (so a seed can complete a new
 *              handshake); to port 40001 (40002) it adds the ISSs of the
 *              active (SYN-SENT) connection, the peer's being 0x20000000
 *              (0x30000000). Seeds then survive changes of the ISN algorithm
 *              (RFC 6528 keyed hash + clock).
 *
 * For each record: timers run up to now + delta (stepping through each
 * deadline), the frame goes through stk_rx_burst, then the application
 * acts, and every frame the stack emits is checked and freed.
 *
 * The application: it echoes UDP datagrams (64 bytes at most) to their
 * source; it accepts new connections (keeping FZ_KIDS open, closing the
 * rest); on a TCP connection it echoes what it reads, unless the bytes read
 * start with a command: 'C' close, 'S' shutdown(SHUT_WR), 'R' close with
 * SO_LINGER 0 (an RST); at end of stream it closes. So inputs can drive our
 * side through FIN-WAIT, CLOSING, LAST-ACK and TIME-WAIT too. The peer
 * answers the stack's ARP requests for its address (after a long delta the
 * cache entry expires).
 *
 * What is checked besides ASan/UBSan/LeakSanitizer (a failure aborts, so
 * libFuzzer keeps the input): every frame the stack sends parses with our
 * own parsers and carries valid checksums; no timer stays past its deadline
 * across two stk_run_timers; each held connection keeps
 * SND.UNA =< SND.NXT =< SND.MAX and its configured bounds; at the end the
 * stack is torn down and every packet buffer must be back in the pool. */
#ifndef USTACK_FUZZ_STACK_HARNESS_H
#define USTACK_FUZZ_STACK_HARNESS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/checksum.h"
#include "core/stack.h"
#include "core/wire.h"
#include "tcp/tcp.h"
#include "tcp/tcp_int.h"

#define FZ_OUR_IP 0x0a4d0002u   /* 10.77.0.2 */
#define FZ_PEER_IP 0x0a4d0001u  /* 10.77.0.1 */
#define FZ_T0 1000000000ull     /* virtual start: 1000 s */
#define FZ_SECRET 0x5eed5eed5eed5eedull
#define FZ_UDP_PORT 7
#define FZ_LISTEN_PORT 80
#define FZ_PASSIVE_RPORT 40000
#define FZ_PASSIVE_PISS 0x10000000u  /* the peer's ISS on the passive connection */
#define FZ_ACTIVE_LPORT 40001
#define FZ_ACTIVE_RPORT 5001
#define FZ_ACTIVE_PISS 0x20000000u
#define FZ_PASSIVE_INFLIGHT 100
#define FZ_ACTIVE_INFLIGHT 6000
#define FZ_PENDING_LPORT 40002
#define FZ_PENDING_RPORT 5002
#define FZ_PENDING_PISS 0x30000000u
#define FZ_MAX_RECORDS 64
#define FZ_MAX_FRAME 2048
#define FZ_LEN_MASK 0x0fffu
#define FZ_F_CSUM 0x8000u
#define FZ_F_REL 0x4000u
#define FZ_POOL 64           /* packet buffers: small, so exhaustion is reachable */
#define FZ_TIMER_STEPS 1024  /* deadline steps per record at most */
#define FZ_KIDS 4            /* accepted connections kept open; more are closed */

static const uint8_t fz_our_mac[6] = {0x02, 0x00, 0x00, 0x77, 0x00, 0x02};
static const uint8_t fz_peer_mac[6] = {0x02, 0x00, 0x00, 0x77, 0x00, 0x01};

struct fz_ctx {
	struct ust_stack *stk;
	struct udp_pcb udp;
	/* NULL once the application has closed it */
	struct tcb *listener, *passive, *active, *pending;
	struct tcb *kids[FZ_KIDS];         /* accepted during the run */
	unsigned nkids;
	uint32_t passive_iss, active_iss, pending_iss;  /* the stack's ISSs */
	uint32_t last_syn_iss;             /* of the last SYN or SYN-ACK sent */
	int arp_asked;                     /* the stack asked for the peer's MAC */
	uint64_t now;                      /* the time timers last ran at */
	uint64_t overdue;                  /* a deadline seen past due after a run */
	uint64_t frames_in, frames_out;
	/* setup only: the last SYN the stack sent (seq), 0 when none */
	uint32_t seen_syn_seq;
	uint16_t seen_syn_dport;
	int seen_syn;
};

/* Harness failures are bugs in the stack (or in the harness): say what and
 * abort so libFuzzer keeps the input. Never reached by a correct stack. */
static void fz_fail(const char *what, const uint8_t *frame, size_t len)
{
	fprintf(stderr, "fuzz_stack: %s (frame of %zu bytes:", what, len);
	for (size_t i = 0; frame && i < len && i < 80; i++)
		fprintf(stderr, " %02x", frame[i]);
	fprintf(stderr, ")\n");
	abort();
}

/* --- building frames --- */

/* Ethernet + 20-byte IPv4 header for a datagram of `tlen` transport bytes;
 * returns the transport header's address. */
static uint8_t *fz_ip_frame(uint8_t *f, uint32_t src, uint32_t dst, uint8_t proto, size_t tlen)
{
	struct eth_repr e;
	struct ipv4_repr ip;

	memcpy(e.dst, fz_our_mac, 6);
	memcpy(e.src, fz_peer_mac, 6);
	e.type = ETHERTYPE_IPV4;
	eth_emit(f, &e);
	memset(&ip, 0, sizeof(ip));
	ip.src = src;
	ip.dst = dst;
	ip.hdr_len = IPV4_HDR_LEN;
	ip.total_len = (uint16_t)(IPV4_HDR_LEN + tlen);
	ip.id = 1;
	ip.dont_frag = 1;
	ip.ttl = 64;
	ip.proto = proto;
	ipv4_emit(f + ETH_HDR_LEN, &ip);
	return f + ETH_HDR_LEN + IPV4_HDR_LEN;
}

/* A TCP segment from the peer to us with options MSS 1460, SACK-permitted,
 * timestamps and window scale 7 when it carries SYN. Returns the frame length. */
static size_t fz_tcp_frame(uint8_t *f, uint16_t sport, uint16_t dport, uint32_t seq,
                           uint32_t ack, uint8_t flags, const void *data, size_t dlen)
{
	static const uint8_t synopt[20] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1,
	                                   0, 0, 0, 0, 1, 3, 3, 7};
	size_t olen = (flags & TH_SYN) ? sizeof(synopt) : 0;
	size_t tlen = TCP_HDR_LEN + olen + dlen;
	uint8_t *t = fz_ip_frame(f, FZ_PEER_IP, FZ_OUR_IP, IP_PROTO_TCP, tlen);

	memset(t, 0, TCP_HDR_LEN);
	wr16(t, sport);
	wr16(t + 2, dport);
	wr32(t + 4, seq);
	wr32(t + 8, ack);
	t[12] = (uint8_t)(((TCP_HDR_LEN + olen) / 4) << 4);
	t[13] = flags;
	wr16(t + 14, 65535);
	memcpy(t + TCP_HDR_LEN, synopt, olen);
	if (dlen)
		memcpy(t + TCP_HDR_LEN + olen, data, dlen);
	wr16(t + 16, csum_fold(csum_partial(t, tlen, csum_pseudo(FZ_PEER_IP, FZ_OUR_IP,
	                                                          IP_PROTO_TCP, (uint16_t)tlen))));
	return ETH_HDR_LEN + IPV4_HDR_LEN + tlen;
}

/* From the peer: a broadcast request for our address, or a reply to us. */
static size_t fz_arp_frame(uint8_t *f, uint16_t op)
{
	struct eth_repr e;
	struct arp_repr a;

	memset(e.dst, 0xff, 6);
	if (op == ARP_OP_REPLY)
		memcpy(e.dst, fz_our_mac, 6);
	memcpy(e.src, fz_peer_mac, 6);
	e.type = ETHERTYPE_ARP;
	eth_emit(f, &e);
	memset(&a, 0, sizeof(a));
	a.op = op;
	if (op == ARP_OP_REPLY)
		memcpy(a.tha, fz_our_mac, 6);
	memcpy(a.sha, fz_peer_mac, 6);
	a.spa = FZ_PEER_IP;
	a.tpa = FZ_OUR_IP;
	arp_emit(f + ETH_HDR_LEN, &a);
	return ETH_HDR_LEN + ARP_PKT_LEN;
}

/* --- the record flags --- */

/* Where the transport bytes of an unfragmented IPv4 frame are; 0 if none. */
static size_t fz_transport(uint8_t *f, size_t len, uint8_t **ip, uint8_t **t)
{
	size_t ihl, tot;

	if (len < ETH_HDR_LEN + IPV4_HDR_LEN || rd16(f + 12) != ETHERTYPE_IPV4)
		return 0;
	*ip = f + ETH_HDR_LEN;
	ihl = (size_t)((*ip)[0] & 0x0f) * 4;
	tot = rd16(*ip + 2);
	if (ihl < IPV4_HDR_LEN || ETH_HDR_LEN + ihl > len || tot < ihl)
		return 0;
	if (tot > len - ETH_HDR_LEN)
		tot = len - ETH_HDR_LEN;
	if (rd16(*ip + 6) & 0x3fff)
		return 0;  /* a fragment: its transport checksum spans others */
	*t = *ip + ihl;
	return tot - ihl;
}

static void fz_rel(const struct fz_ctx *c, uint8_t *f, size_t len)
{
	uint8_t *ip, *t;
	size_t tl = fz_transport(f, len, &ip, &t);
	uint32_t piss, iss;

	if (tl < TCP_HDR_LEN || ip[9] != IP_PROTO_TCP)
		return;
	if (rd16(t + 2) == FZ_LISTEN_PORT) {
		piss = FZ_PASSIVE_PISS;
		iss = rd16(t) == FZ_PASSIVE_RPORT ? c->passive_iss : c->last_syn_iss;
	} else if (rd16(t + 2) == FZ_ACTIVE_LPORT) {
		piss = FZ_ACTIVE_PISS;
		iss = c->active_iss;
	} else if (rd16(t + 2) == FZ_PENDING_LPORT) {
		piss = FZ_PENDING_PISS;
		iss = c->pending_iss;
	} else {
		return;
	}
	wr32(t + 4, rd32(t + 4) + piss);
	wr32(t + 8, rd32(t + 8) + iss);
}

static void fz_fix_csums(uint8_t *f, size_t len)
{
	uint8_t *ip, *t;
	size_t tl, ihl;
	uint32_t src, dst;

	if (len < ETH_HDR_LEN + IPV4_HDR_LEN || rd16(f + 12) != ETHERTYPE_IPV4)
		return;
	ip = f + ETH_HDR_LEN;
	ihl = (size_t)(ip[0] & 0x0f) * 4;
	if (ihl < IPV4_HDR_LEN || ETH_HDR_LEN + ihl > len)
		return;
	wr16(ip + 10, 0);
	wr16(ip + 10, csum_fold(csum_partial(ip, ihl, 0)));
	tl = fz_transport(f, len, &ip, &t);
	src = rd32(ip + 12);
	dst = rd32(ip + 16);
	switch (ip[9]) {
	case IP_PROTO_TCP:
		if (tl < TCP_HDR_LEN)
			return;
		wr16(t + 16, 0);
		wr16(t + 16, csum_fold(csum_partial(t, tl, csum_pseudo(src, dst, IP_PROTO_TCP,
		                                                       (uint16_t)tl))));
		break;
	case IP_PROTO_UDP: {
		size_t ul;
		uint16_t s;
		if (tl < UDP_HDR_LEN)
			return;
		ul = rd16(t + 4);
		if (ul < UDP_HDR_LEN || ul > tl)
			ul = tl;
		wr16(t + 6, 0);
		s = csum_fold(csum_partial(t, ul, csum_pseudo(src, dst, IP_PROTO_UDP, (uint16_t)ul)));
		wr16(t + 6, s ? s : 0xffff);
		break;
	}
	case IP_PROTO_ICMP:
		if (tl < ICMP_HDR_LEN)
			return;
		wr16(t + 2, 0);
		wr16(t + 2, csum_fold(csum_partial(t, tl, 0)));
		break;
	default:
		break;
	}
}

/* --- what the stack sends: the oracle --- */

/* Every frame the stack emits must be one our own parsers accept. */
static void fz_check_tx(struct fz_ctx *c, const uint8_t *f, size_t len)
{
	struct eth_repr e;
	struct ipv4_repr ip;
	const uint8_t *b = f + ETH_HDR_LEN;
	size_t n = len - ETH_HDR_LEN;

	if (len > (size_t)ETH_HDR_LEN + c->stk->cfg.mtu || eth_parse(f, len, &e))
		fz_fail("tx: bad Ethernet frame length", f, len);
	if (memcmp(e.src, fz_our_mac, 6))
		fz_fail("tx: not our source MAC", f, len);
	if (e.type == ETHERTYPE_ARP) {
		struct arp_repr a;
		if (arp_parse(b, n, &a))
			fz_fail("tx: ARP that arp_parse rejects", f, len);
		if (a.op == ARP_OP_REQUEST && a.tpa == FZ_PEER_IP)
			c->arp_asked = 1;
		return;
	}
	if (e.type != ETHERTYPE_IPV4)
		fz_fail("tx: unknown ethertype", f, len);
	if (ipv4_parse(b, n, &ip))
		fz_fail("tx: IPv4 header that ipv4_parse rejects", f, len);
	if (ip.src != c->stk->cfg.ip)
		fz_fail("tx: not our source address", f, len);
	if (ip.more_frags || ip.frag_off)
		return;
	b += ip.hdr_len;
	n = ip.total_len - ip.hdr_len;
	if (ip.proto == IP_PROTO_TCP) {
		struct tcp_seg seg;
		if (tcp_parse(b, n, ip.src, ip.dst, 0, &seg))
			fz_fail("tx: TCP segment that tcp_parse rejects", f, len);
		if (seg.flags & TH_SYN)
			c->last_syn_iss = seg.seq;
		if ((seg.flags & TH_SYN) && ip.dst == FZ_PEER_IP) {
			c->seen_syn = 1;
			c->seen_syn_seq = seg.seq;
			c->seen_syn_dport = seg.dport;
		}
	} else if (ip.proto == IP_PROTO_UDP) {
		if (n < UDP_HDR_LEN || rd16(b + 4) > n || rd16(b + 4) < UDP_HDR_LEN)
			fz_fail("tx: bad UDP length", f, len);
		if (csum_fold(csum_partial(b, rd16(b + 4), csum_pseudo(ip.src, ip.dst, IP_PROTO_UDP,
		                                                       rd16(b + 4)))) != 0)
			fz_fail("tx: bad UDP checksum", f, len);
	} else if (ip.proto == IP_PROTO_ICMP) {
		if (n < ICMP_HDR_LEN || csum_fold(csum_partial(b, n, 0)) != 0)
			fz_fail("tx: bad ICMP message", f, len);
	} else {
		fz_fail("tx: unknown IP protocol", f, len);
	}
}

static void fz_inject(struct fz_ctx *c, const uint8_t *f, size_t len);

static size_t fz_arp_frame(uint8_t *f, uint16_t op);

static void fz_drain(struct fz_ctx *c)
{
	struct pkt *out[32];
	unsigned n;

	while ((n = stk_tx_take(c->stk, out, 32)) > 0) {
		for (unsigned i = 0; i < n; i++) {
			if (out[i]->next)
				fz_fail("tx: a frame handed out as a chain", out[i]->data, out[i]->len);
			fz_check_tx(c, out[i]->data, out[i]->len);
			c->frames_out++;
			pkt_free(out[i]);
		}
	}
	/* The peer answers; its reply asks nothing back, so this ends. */
	if (c->arp_asked) {
		uint8_t f[64];
		c->arp_asked = 0;
		fz_inject(c, f, fz_arp_frame(f, ARP_OP_REPLY));
	}
}

/* --- driving the stack --- */

/* Runs timers up to `to`, one deadline at a time (so an RTO that doubles
 * fires as often as it would in real time), then at `to` itself. A deadline
 * still in the past after two runs is a timer the wheel never fires (a hang
 * waiting to happen): that is reported. */
static void fz_advance(struct fz_ctx *c, uint64_t to)
{
	/* stk_next_deadline may scan the whole wheel: skip it when no time passes. */
	for (unsigned i = 0; to > c->now && i < FZ_TIMER_STEPS; i++) {
		uint64_t d = stk_next_deadline(c->stk);
		if (d != TIMER_NEVER && d + TIMER_TICK_US < c->now) {
			if (d == c->overdue)
				fz_fail("a timer stays past its deadline after stk_run_timers", NULL, 0);
			c->overdue = d;
		} else {
			c->overdue = TIMER_NEVER;
		}
		if (d == TIMER_NEVER || d > to)
			break;
		if (d <= c->now)
			d = c->now + TIMER_TICK_US;  /* the wheel may answer early */
		if (d > to)
			break;
		c->now = d;
		stk_run_timers(c->stk, d);
		fz_drain(c);
	}
	c->now = to;
	stk_run_timers(c->stk, to);
	fz_drain(c);
}

static void fz_inject(struct fz_ctx *c, const uint8_t *f, size_t len)
{
	struct pkt *p = pkt_alloc(&c->stk->pool);
	uint8_t *d;

	if (!p)
		return;  /* the pool is dry: a frame the NIC could not receive */
	d = pkt_put(p, len);
	if (!d) {
		pkt_free(p);
		return;
	}
	memcpy(d, f, len);
	c->frames_in++;
	stk_rx_burst(c->stk, &p, 1, c->now);
	fz_drain(c);
}

/* What an application would do after each burst: read and echo. */
/* What must hold of a connection between two inputs, whatever came in:
 * RFC 9293 3.3.1 SND.UNA =< SND.NXT =< the highest sequence sent, and the
 * bounds the configuration sets. */
static void fz_check_tcb(const struct fz_ctx *c, const struct tcb *t)
{
	if (!t || t->state == TCPS_CLOSED || t->state == TCPS_LISTEN)
		return;
	if (!seq_le(t->snd_una, t->snd_nxt) || !seq_le(t->snd_nxt, t->snd_max))
		fz_fail("tcb: SND.UNA =< SND.NXT =< SND.MAX broken", NULL, 0);
	if (tcp_ooo_count(t) > tcp_conf(c->stk)->ooo_max_segs)
		fz_fail("tcb: more out-of-order segments held than ooo_max_segs", NULL, 0);
	if (t->sb && t->sb->len > t->sb->cap)
		fz_fail("tcb: send buffer holds more than its capacity", NULL, 0);
}

/* Reads, then echoes or obeys a command (see the top of this file). */
static void fz_serve(struct ust_stack *stk, struct tcb **slot)
{
	uint8_t buf[2048];

	for (unsigned k = 0; *slot && k < 4; k++) {
		long n = tcp_recv(stk, *slot, buf, sizeof(buf), 0);
		if (n < 0)
			return;  /* nothing yet, or an error: keep it */
		if (n > 0 && buf[0] == 'S') {
			(void)tcp_shutdown(stk, *slot, SHUT_WR);
			continue;
		}
		if (n > 0 && buf[0] == 'R')
			(void)tcp_setopt(stk, *slot, TCP_OPT_LINGER, 0);
		if (n == 0 || buf[0] == 'C' || buf[0] == 'R') {
			tcp_close(stk, *slot);
			*slot = NULL;
			return;
		}
		(void)tcp_send(stk, *slot, buf, (size_t)n, 0);
	}
}

static void fz_app(struct fz_ctx *c)
{
	struct ust_stack *stk = c->stk;
	uint8_t buf[64];
	struct pkt *p;
	uint32_t src;
	uint16_t sport;

	for (unsigned i = 0; i < 16 && (p = udp_recv(&c->udp, &src, &sport)); i++) {
		size_t n = pkt_chain_copy(p, 0, buf, 64);
		pkt_free_chain(p);
		(void)udp_sendto(stk, &c->udp, src, sport, buf, n);
	}
	for (unsigned i = 0; i < 16; i++) {
		struct tcb *n = tcp_accept(stk, c->listener);
		if (!n)
			break;
		if (c->nkids < FZ_KIDS) {
			tcp_set_app(n, c);
			c->kids[c->nkids++] = n;
		} else {
			tcp_close(stk, n);
		}
	}
	fz_serve(stk, &c->passive);
	fz_serve(stk, &c->active);
	fz_serve(stk, &c->pending);
	for (unsigned i = 0; i < c->nkids; i++)
		fz_serve(stk, &c->kids[i]);
	fz_check_tcb(c, c->passive);
	fz_check_tcb(c, c->active);
	fz_check_tcb(c, c->pending);
	for (unsigned i = 0; i < c->nkids; i++)
		fz_check_tcb(c, c->kids[i]);
	fz_drain(c);
}

/* 0, or a message saying which step of the scripted setup failed. */
static const char *fz_setup(struct fz_ctx *c)
{
	struct stk_config cfg;
	static uint8_t data[FZ_ACTIVE_INFLIGHT];
	uint8_t f[256];
	int err = 0;

	memset(c, 0, sizeof(*c));
	stk_config_default(&cfg);
	cfg.ip = FZ_OUR_IP;
	cfg.netmask = 0xffffff00u;
	cfg.gateway = FZ_PEER_IP;
	memcpy(cfg.mac, fz_our_mac, 6);
	cfg.pkt_pool_size = FZ_POOL;
	cfg.arp_table_size = 16;
	cfg.frag_max_datagrams = 8;
	cfg.frag_mem_max = 64u * 1024u;
	c->now = FZ_T0;
	c->overdue = TIMER_NEVER;
	c->stk = stk_create(&cfg, c->now, &err);
	if (!c->stk)
		return "stk_create";
	tcp_conf(c->stk)->secret = FZ_SECRET;
	tcp_conf(c->stk)->ooo_max_segs = 8;
	memset(data, 'a', sizeof(data));
	fz_drain(c);
	fz_inject(c, f, fz_arp_frame(f, ARP_OP_REQUEST));

	if (udp_bind(c->stk, &c->udp, 0, FZ_UDP_PORT))
		return "udp_bind";

	c->listener = tcp_tcb_new(c->stk, c);
	if (!c->listener || tcp_bind(c->stk, c->listener, 0, FZ_LISTEN_PORT) ||
	    tcp_listen(c->stk, c->listener, 4))
		return "listen";
	c->seen_syn = 0;
	fz_inject(c, f, fz_tcp_frame(f, FZ_PASSIVE_RPORT, FZ_LISTEN_PORT, FZ_PASSIVE_PISS, 0,
	                             TH_SYN, NULL, 0));
	if (!c->seen_syn || c->seen_syn_dport != FZ_PASSIVE_RPORT)
		return "no SYN-ACK for the passive connection";
	c->passive_iss = c->seen_syn_seq;
	fz_inject(c, f, fz_tcp_frame(f, FZ_PASSIVE_RPORT, FZ_LISTEN_PORT, FZ_PASSIVE_PISS + 1,
	                             c->passive_iss + 1, TH_ACK, NULL, 0));
	c->passive = tcp_accept(c->stk, c->listener);
	if (!c->passive || tcp_state(c->passive) != TCPS_ESTABLISHED)
		return "passive connection not established";
	tcp_set_app(c->passive, c);
	if (tcp_setopt(c->stk, c->passive, TCP_OPT_KEEPALIVE, 1) ||
	    tcp_setopt(c->stk, c->passive, TCP_OPT_KEEPIDLE, 10) ||
	    tcp_setopt(c->stk, c->passive, TCP_OPT_KEEPINTVL, 2) ||
	    tcp_setopt(c->stk, c->passive, TCP_OPT_KEEPCNT, 3))
		return "keepalive options";

	c->active = tcp_tcb_new(c->stk, c);
	c->seen_syn = 0;
	if (!c->active || tcp_bind(c->stk, c->active, FZ_OUR_IP, FZ_ACTIVE_LPORT) ||
	    tcp_connect(c->stk, c->active, FZ_PEER_IP, FZ_ACTIVE_RPORT))
		return "connect";
	fz_drain(c);
	if (!c->seen_syn || c->seen_syn_dport != FZ_ACTIVE_RPORT)
		return "no SYN for the active connection";
	c->active_iss = c->seen_syn_seq;
	fz_inject(c, f, fz_tcp_frame(f, FZ_ACTIVE_RPORT, FZ_ACTIVE_LPORT, FZ_ACTIVE_PISS,
	                             c->active_iss + 1, TH_SYN | TH_ACK, NULL, 0));
	if (tcp_state(c->active) != TCPS_ESTABLISHED)
		return "active connection not established";

	c->pending = tcp_tcb_new(c->stk, c);
	c->seen_syn = 0;
	if (!c->pending || tcp_bind(c->stk, c->pending, FZ_OUR_IP, FZ_PENDING_LPORT) ||
	    tcp_connect(c->stk, c->pending, FZ_PEER_IP, FZ_PENDING_RPORT))
		return "connect (pending)";
	fz_drain(c);
	if (!c->seen_syn || c->seen_syn_dport != FZ_PENDING_RPORT)
		return "no SYN for the pending connection";
	c->pending_iss = c->seen_syn_seq;

	if (tcp_send(c->stk, c->passive, data, FZ_PASSIVE_INFLIGHT, 0) != FZ_PASSIVE_INFLIGHT ||
	    tcp_send(c->stk, c->active, data, FZ_ACTIVE_INFLIGHT, 0) != FZ_ACTIVE_INFLIGHT)
		return "tcp_send";
	fz_drain(c);
	return NULL;
}

static void fz_teardown(struct fz_ctx *c)
{
	struct ust_stack *stk = c->stk;
	struct tcb *held[] = {c->passive, c->active, c->pending, c->listener};

	udp_unbind(stk, &c->udp);
	/* tcp_fini frees what its tables reach; TCBs the application holds
	 * (a connection closed by a reset is in no table) are ours to close. */
	for (unsigned i = 0; i < sizeof(held) / sizeof(held[0]); i++)
		if (held[i])
			tcp_close(stk, held[i]);
	for (unsigned i = 0; i < c->nkids; i++)
		if (c->kids[i])
			tcp_close(stk, c->kids[i]);
	fz_drain(c);
	/* The steps of stk_destroy (each is idempotent), then the pool audit:
	 * a buffer not back in the pool is a leak LeakSanitizer cannot see. */
	tcp_fini(stk);
	ipv4_fini(stk);
	arp_fini(stk);
	pktq_free(&stk->txq);
	if (stk->pool.nfree != stk->pool.size) {
		char msg[96];
		snprintf(msg, sizeof(msg), "packet buffers leaked: %u of %u not back in the pool",
		         stk->pool.size - stk->pool.nfree, stk->pool.size);
		fz_fail(msg, NULL, 0);
	}
	stk_destroy(stk);
	c->stk = NULL;
}

/* One input: records until the data or FZ_MAX_RECORDS runs out. */
static void fz_run(struct fz_ctx *c, const uint8_t *data, size_t size)
{
	static uint8_t frame[FZ_MAX_FRAME];
	size_t off = 0;

	for (unsigned r = 0; r < FZ_MAX_RECORDS && size - off >= 4; r++) {
		uint16_t lf = rd16(data + off);
		uint16_t dt = rd16(data + off + 2);
		size_t len = lf & FZ_LEN_MASK;

		off += 4;
		if (len > FZ_MAX_FRAME)
			len = FZ_MAX_FRAME;
		if (len > size - off)
			len = size - off;
		memcpy(frame, data + off, len);
		off += len;
		if (lf & FZ_F_REL)
			fz_rel(c, frame, len);
		if (lf & FZ_F_CSUM)
			fz_fix_csums(frame, len);
		fz_advance(c, c->now + (uint64_t)dt * 1000u);
		fz_inject(c, frame, len);
		fz_app(c);
	}
	/* Let the connections' timers play out for a while (RTO, TIME_WAIT). */
	fz_advance(c, c->now + 5u * 1000000u);
}

#endif
