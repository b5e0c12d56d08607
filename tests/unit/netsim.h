/* netsim: two stacks joined by a memlink pair, each end wrapped in the
 * seeded impairment wrapper, driven on virtual time. One bulk transfer
 * from A to B; the receiver checks every byte against the pattern and
 * both sides keep an FNV-1a hash. Shared by test_tcp_netsim.c (small sizes,
 * under CTest) and tests/progs/netsim.c (the full matrix, goodput table).
 * No cmocka here: errors come back in the result. */
#ifndef USTACK_TESTS_NETSIM_H
#define USTACK_TESTS_NETSIM_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/stack.h"
#include "core/timer.h"
#include "link/link.h"
#include "tcp/tcp.h"
#include "tcp/tcp_int.h"

#define NS_IP_A 0x0a580002u  /* 10.88.0.2 */
#define NS_IP_B 0x0a580001u  /* 10.88.0.1 */

struct netsim_result {
	uint64_t bytes;          /* delivered in order and checked */
	uint64_t vtime_us;       /* virtual time from connect to the last byte */
	uint64_t retrans;        /* sender's tcp_retransmits */
	uint64_t csum_drops;     /* IP and TCP checksum drops, both stacks */
	uint64_t ooo_drops;      /* drop_tcp_ooo_mem, receiver */
	uint64_t rto, fast_rec, sack_rec, sack_sent, dsack_sent;
	uint32_t rwnd_first, rwnd_max;  /* receiver's window limit (auto-tuned) */
	uint64_t hash_tx, hash_rx;
	char impair[2][160];     /* impair_stats of each end */
	char err[128];           /* empty on success */
};

static inline uint8_t ns_pattern(uint64_t i)
{
	uint64_t z = (i >> 3) * 0x9e3779b97f4a7c15ull;
	return (uint8_t)((z ^ (z >> 29)) >> ((i & 7) * 8));
}

static inline uint64_t ns_fnv(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static inline void ns_noevent(void *ctx, void *app, uint32_t ev)
{
	(void)ctx;
	(void)app;
	(void)ev;
}

static inline struct ust_stack *ns_stack(int b)
{
	static const uint8_t mac_a[6] = {0x02, 0, 0, 0x58, 0, 2};
	static const uint8_t mac_b[6] = {0x02, 0, 0, 0x58, 0, 1};
	struct stk_config cfg;
	struct ust_stack *stk;
	int err = 0;

	stk_config_default(&cfg);
	cfg.ip = b ? NS_IP_B : NS_IP_A;
	cfg.netmask = 0xffffff00u;
	cfg.gateway = 0;
	memcpy(cfg.mac, b ? mac_b : mac_a, 6);
	stk = stk_create(&cfg, 0, &err);
	if (!stk)
		return NULL;
	stk->hooks.sock_event = ns_noevent;
	tcp_conf(stk)->secret = b ? 0x1234567 : 0x7654321;
	return stk;
}

/* Frames the stack sent go into its link; frames the link delivers go into
 * the stack. Returns how many moved. */
static inline unsigned ns_move(struct ust_stack *stk, struct link *l, uint64_t now)
{
	struct pkt *p[64];
	unsigned n, moved = 0;

	while ((n = stk_tx_take(stk, p, 64)) > 0) {
		link_tx_burst(l, p, n, now);
		moved += n;
	}
	while ((n = link_rx_burst(l, &stk->pool, p, 64, now)) > 0) {
		stk_rx_burst(stk, p, n, now);
		moved += n;
	}
	return moved;
}

static inline uint64_t ns_min(uint64_t a, uint64_t b) { return a < b ? a : b; }

static inline uint64_t ns_counter(const struct ust_stack *stk, enum stk_counter c)
{
	return stk->cnt[c];
}

/* Moves `total` bytes A -> B under `impair` (applied A->B on A's side and
 * B->A on B's side), with congestion control `cc` (NULL: default), the
 * sender's SO_SNDBUF and the receiver's SO_RCVBUF (0: defaults, so the
 * receive window is auto-tuned up to buf_max). 0, or -1 with r->err set. */
static inline int netsim_run_bufs(const char *impair, const char *cc, uint64_t total,
                                  uint32_t sndbuf, uint32_t rcvbuf, struct netsim_result *r)
{
	static uint8_t blk[65536];
	struct ust_stack *a = ns_stack(0), *b = ns_stack(1);
	struct link *ma = NULL, *mb = NULL, *la = NULL, *lb = NULL;
	struct impair_spec spec;
	struct tcb *l = NULL, *c = NULL, *s = NULL;
	uint64_t now = 0, sent = 0, t0 = 0, limit;
	char eb[96];
	int err = 0, rc = -1;

	memset(r, 0, sizeof(*r));
	r->hash_tx = r->hash_rx = 0xcbf29ce484222325ull;
	if (!a || !b || link_memlink_pair(1500, 8192, &ma, &mb)) {
		snprintf(r->err, sizeof(r->err), "setup failed");
		goto out;
	}
	if (impair_parse(impair, &spec, eb, sizeof(eb))) {
		snprintf(r->err, sizeof(r->err), "impair: %s", eb);
		goto out;
	}
	memset(&spec.rx, 0, sizeof(spec.rx));
	la = link_impair_wrap(ma, &spec, &err);
	spec.seed = spec.seed * 31 + 17;  /* the other direction draws its own */
	lb = la ? link_impair_wrap(mb, &spec, &err) : NULL;
	if (!la || !lb) {
		snprintf(r->err, sizeof(r->err), "impair wrap: %d", err);
		goto out;
	}
	ma = mb = NULL;
	l = tcp_tcb_new(b, NULL);
	c = tcp_tcb_new(a, NULL);
	if (!l || !c) {
		snprintf(r->err, sizeof(r->err), "tcb");
		goto out;
	}
	if (rcvbuf)
		tcp_setopt(b, l, TCP_OPT_RCVBUF, (int)rcvbuf);
	if (sndbuf)
		tcp_setopt(a, c, TCP_OPT_SNDBUF, (int)sndbuf);
	if (cc && (tcp_set_congestion(c, cc) || tcp_set_congestion(l, cc))) {
		snprintf(r->err, sizeof(r->err), "no congestion control %s", cc);
		goto out;
	}
	if (tcp_bind(b, l, 0, 5001) || tcp_listen(b, l, 8) ||
	    tcp_connect(a, c, NS_IP_B, 5001)) {
		snprintf(r->err, sizeof(r->err), "connect");
		goto out;
	}
	/* A generous bound on virtual time: at 10% loss and 400 ms RTT a
	 * healthy stack still moves far more than 16 KB/s. */
	limit = 60000000ull + total / 16384u * 1000000ull;
	for (;;) {
		unsigned moved;
		int progress = 0;

		a->now = b->now = now;
		if (!s && (s = tcp_accept(b, l)) != NULL)
			t0 = now;
		if (s && tcp_state(c) == TCPS_ESTABLISHED) {
			while (sent < total) {
				size_t k = total - sent < sizeof(blk) ? (size_t)(total - sent) : sizeof(blk);
				long n;
				for (size_t i = 0; i < k; i++)
					blk[i] = ns_pattern(sent + i);
				n = tcp_send(a, c, blk, k, 0);
				if (n <= 0)
					break;
				r->hash_tx = ns_fnv(r->hash_tx, blk, (size_t)n);
				sent += (uint64_t)n;
				progress = 1;
			}
		}
		if (s) {
			uint32_t w = tcp_rcv_space(b, s);
			long n;

			if (!r->rwnd_first)
				r->rwnd_first = w;
			if (w > r->rwnd_max)
				r->rwnd_max = w;
			while ((n = tcp_recv(b, s, blk, sizeof(blk), 0)) > 0) {
				for (long i = 0; i < n; i++) {
					if (blk[i] != ns_pattern(r->bytes + (uint64_t)i)) {
						snprintf(r->err, sizeof(r->err),
						         "byte %llu differs",
						         (unsigned long long)(r->bytes + (uint64_t)i));
						goto out;
					}
				}
				r->hash_rx = ns_fnv(r->hash_rx, blk, (size_t)n);
				r->bytes += (uint64_t)n;
				progress = 1;
			}
		}
		if (r->bytes == total && s) {
			r->vtime_us = now - t0;
			break;
		}
		moved = ns_move(a, la, now) + ns_move(b, lb, now);
		if (moved || progress)
			continue;
		{
			uint64_t d = ns_min(ns_min(stk_next_deadline(a), stk_next_deadline(b)),
			                    ns_min(link_next_deadline(la), link_next_deadline(lb)));
			if (d == TIMER_NEVER || d == UINT64_MAX) {
				snprintf(r->err, sizeof(r->err), "stalled at %llu bytes",
				         (unsigned long long)r->bytes);
				goto out;
			}
			if (d > now)
				now = d;
			if (now > limit) {
				snprintf(r->err, sizeof(r->err), "too slow: %llu bytes in %llu s",
				         (unsigned long long)r->bytes,
				         (unsigned long long)(now / 1000000u));
				goto out;
			}
			a->now = b->now = now;
			stk_run_timers(a, now);
			stk_run_timers(b, now);
		}
	}
	rc = r->hash_tx == r->hash_rx ? 0 : -1;
	if (rc)
		snprintf(r->err, sizeof(r->err), "hash differs");
out:
	if (a) {
		r->retrans = ns_counter(a, CNT_tcp_retransmits);
		r->rto = ns_counter(a, CNT_tcp_rto);
		r->fast_rec = ns_counter(a, CNT_tcp_fast_recovery);
		r->sack_rec = ns_counter(a, CNT_tcp_sack_recovery);
		r->csum_drops = ns_counter(a, CNT_drop_tcp_checksum) + ns_counter(a, CNT_drop_ip_checksum);
	}
	if (b) {
		r->csum_drops += ns_counter(b, CNT_drop_tcp_checksum) + ns_counter(b, CNT_drop_ip_checksum);
		r->ooo_drops = ns_counter(b, CNT_drop_tcp_ooo_mem);
		r->sack_sent = ns_counter(b, CNT_tcp_sack_blocks_sent);
		r->dsack_sent = ns_counter(b, CNT_tcp_dsack_sent);
	}
	if (la)
		impair_stats(la, r->impair[0], sizeof(r->impair[0]));
	if (lb)
		impair_stats(lb, r->impair[1], sizeof(r->impair[1]));
	if (c)
		tcp_close(a, c);
	if (s)
		tcp_close(b, s);
	if (l)
		tcp_close(b, l);
	link_close(la);
	link_close(lb);
	link_close(ma);
	link_close(mb);
	if (a)
		stk_destroy(a);
	if (b)
		stk_destroy(b);
	return rc;
}

/* Both socket buffers of `buf` bytes (0: defaults). */
static inline int netsim_run(const char *impair, const char *cc, uint64_t total, uint32_t buf,
                             struct netsim_result *r)
{
	return netsim_run_bufs(impair, cc, total, buf, buf, r);
}

#endif
