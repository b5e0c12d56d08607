/* Bounded memory under abuse (issue 7), on virtual time: stack A
 * (10.77.0.2, server on port 80) is flooded with spoofed frames fed by the
 * test while stack B (10.77.0.1) is a legitimate client over the pair loop.
 * During each flood we sample A's packet-pool use, its TCB count and the
 * process's malloc'd bytes (mallinfo2), and check that they stay under a
 * bound, that B still opens a connection and transfers through it, and
 * that the drop counters name what was dropped. */
#include <malloc.h>

#include "tcp_test.h"

#include "core/arp.h"
#include "tcp/tcp_int.h"

#define BACKLOG 128
#define BURSTS_BETWEEN 150  /* 64-frame bursts between two legitimate transfers */

struct meter {
	const char *name;
	size_t heap0, heap_max;
	uint32_t pool_max;
	uint64_t tcb_max;
};

static size_t heap_now(void)
{
	return mallinfo2().uordblks;
}

static void meter_start(struct meter *m, const char *name)
{
	memset(m, 0, sizeof(*m));
	m->name = name;
	m->heap0 = m->heap_max = heap_now();
}

static void meter_sample(struct meter *m, struct ust_stack *a)
{
	size_t h = heap_now();
	uint32_t used = a->pool.size - a->pool.nfree;

	if (h > m->heap_max)
		m->heap_max = h;
	if (used > m->pool_max)
		m->pool_max = used;
	if (tcp_conn_count(a) > m->tcb_max)
		m->tcb_max = tcp_conn_count(a);
}

static void meter_report(const struct meter *m, struct ust_stack *a)
{
	printf("%-22s heap +%zu bytes (max), pool max %u/%u buffers, TCBs max %llu\n", m->name,
	       m->heap_max - m->heap0, m->pool_max, a->pool.size, (unsigned long long)m->tcb_max);
}

struct flood {
	struct pair pr;
	struct tcb *l;
	struct meter m;
};

static void flood_init(struct flood *f)
{
	pair_init(&f->pr);
	/* Replies to spoofed sources leave through B as the gateway; B drops
	 * them (not its address), as a router's far side would. */
	f->pr.a->cfg.gateway = PEER_IP;
	f->pr.a->now = f->pr.b->now = 0;
	f->l = tcp_tcb_new(f->pr.a, NULL);
	assert_int_equal(tcp_bind(f->pr.a, f->l, 0, 80), 0);
	assert_int_equal(tcp_listen(f->pr.a, f->l, BACKLOG), 0);
}

static void flood_fini(struct flood *f)
{
	pair_settle(&f->pr);
	tcp_close(f->pr.a, f->l);
	pair_fini(&f->pr);
}

static void sync_now(struct pair *pr)
{
	pr->a->now = pr->now;
	pr->b->now = pr->now;
}

/* Feeds one spoofed frame to A at the pair's time. */
static void inject(struct flood *f, const uint8_t *fr, size_t n)
{
	struct pkt *p = pkt_alloc(&f->pr.a->pool);

	assert_non_null(p);  /* the pool never runs dry: the bound held */
	memcpy(pkt_put(p, n), fr, n);
	stk_rx_burst(f->pr.a, &p, 1, f->pr.now);
}

/* Every `every` frames: time moves on, timers run, frames cross, meter. */
static void tick(struct flood *f, uint64_t i, uint64_t us_per_frame, unsigned every)
{
	if (i % every)
		return;
	/* sampled before the frames move too: the pool then also holds the
	 * replies to the last `every` frames, waiting for the link */
	meter_sample(&f->m, f->pr.a);
	f->pr.now += us_per_frame * every;
	stk_run_timers(f->pr.a, f->pr.now);
	stk_run_timers(f->pr.b, f->pr.now);
	pair_settle(&f->pr);
	meter_sample(&f->m, f->pr.a);
}

/* A legitimate client on B connects, sends n bytes, A reads them back,
 * both close; the flood keeps going through `more` (called between steps).
 * Returns 1 on success. */
static int legit(struct flood *f, uint32_t n, void (*more)(struct flood *, unsigned), unsigned k)
{
	struct pair *pr = &f->pr;
	struct tcb *c = tcp_tcb_new(pr->b, NULL), *s = NULL;
	static uint8_t buf[65536], got[65536];
	uint32_t sent = 0, recvd = 0;

	for (uint32_t i = 0; i < n; i++)
		buf[i] = (uint8_t)(i * 7 + k);
	sync_now(pr);
	if (tcp_connect(pr->b, c, US_IP, 80))
		return 0;
	for (int step = 0; step < 2000 && recvd < n; step++) {
		long r;
		more(f, k);
		sync_now(pr);
		if (!s)
			s = tcp_accept(pr->a, f->l);
		if (tcp_state(c) == TCPS_ESTABLISHED && sent < n) {
			r = tcp_send(pr->b, c, buf + sent, n - sent, 0);
			if (r > 0)
				sent += (uint32_t)r;
		}
		if (s && (r = tcp_recv(pr->a, s, got + recvd, n - recvd, 0)) > 0)
			recvd += (uint32_t)r;
		pair_settle(pr);
	}
	tcp_close(pr->b, c);
	if (s)
		tcp_close(pr->a, s);
	pair_settle(pr);
	return s && recvd == n && memcmp(buf, got, n) == 0;
}

/* The flood: `burst` until *i reaches total, a legitimate transfer of n
 * bytes before every BURSTS_BETWEEN bursts, each of which must succeed;
 * then the replies to the last frames leave and the meter reports.
 * Returns the number of transfers (all of them succeeded). */
static int flood_run(struct flood *f, const char *name, uint64_t *i, uint64_t total, uint32_t n,
                     void (*burst)(struct flood *, unsigned))
{
	int ok = 0, tries = 0;

	meter_start(&f->m, name);
	while (*i < total) {
		ok += legit(f, n, burst, (unsigned)*i);
		tries++;
		for (int b = 0; b < BURSTS_BETWEEN && *i < total; b++)
			burst(f, 0);
	}
	assert_int_equal(ok, tries);
	pair_settle(&f->pr);  /* the replies to the last frames leave */
	meter_sample(&f->m, f->pr.a);
	meter_report(&f->m, f->pr.a);
	return ok;
}

/* --- 1,000,000 spoofed SYNs from 131072 addresses --- */

static uint64_t syn_i;

static void syn_burst(struct flood *f, unsigned k)
{
	uint8_t fr[128];
	struct tseg s;
	(void)k;
	for (int j = 0; j < 64; j++, syn_i++) {
		uint32_t x = (uint32_t)(syn_i * 2654435761u);
		tseg_init(&s, x, 0, F_SYN);
		s.src = 0xc6120000u | ((uint32_t)(syn_i * 7919u) & 0x1ffffu);  /* 198.18/15 */
		s.sport = (uint16_t)(1024 + (x >> 16) % 60000);
		s.mss = 1460;
		s.has_ts = (syn_i & 1) != 0;
		s.tsval = x;
		inject(f, fr, mk_tcp(fr, &s));
		tick(f, syn_i, 10, 1024);  /* 100,000 SYNs a virtual second */
	}
}

static void syn_flood_million(void **state)
{
	struct flood f;
	int ok;
	(void)state;
	flood_init(&f);
	syn_i = 1;
	ok = flood_run(&f, "SYN flood 1M", &syn_i, 1000000, 20000, syn_burst);
	printf("  %llu SYNs, %d legit transfers ok, cookies sent %llu / validated %llu / failed %llu,"
	       " syn queue overflows counted per listener\n",
	       (unsigned long long)syn_i, ok, (unsigned long long)CNT(f.pr.a, tcp_syncookies_sent),
	       (unsigned long long)CNT(f.pr.a, tcp_syncookies_recv),
	       (unsigned long long)CNT(f.pr.a, tcp_syncookies_failed));
	assert_true(ok >= 10);
	assert_true(CNT(f.pr.a, tcp_syncookies_sent) > 990000);
	/* the first client came before the SYN queue filled: no cookie */
	assert_true(CNT(f.pr.a, tcp_syncookies_recv) >= (uint64_t)ok - 1);
	/* Bounds: the SYN queue (BACKLOG children) and the legitimate
	 * connections, which close simultaneously and wait in TIME_WAIT. */
	assert_true(f.m.tcb_max <= BACKLOG + (uint64_t)ok + 1);  /* ok: every try */
	assert_true(f.m.heap_max - f.m.heap0 < 256u * 1024);
	assert_true(f.m.pool_max < f.pr.a->pool.size / 2);
	flood_fini(&f);
}

/* --- out-of-window segments on a live connection's 4-tuple --- */

struct live {
	struct tcb *c, *s;  /* client on B, server side on A */
	uint16_t cport;
};

static struct live live;
static uint64_t oow_i;

static void open_live(struct flood *f)
{
	struct pair *pr = &f->pr;
	uint32_t a;

	live.c = tcp_tcb_new(pr->b, NULL);
	sync_now(pr);
	assert_int_equal(tcp_connect(pr->b, live.c, US_IP, 80), 0);
	pair_settle(pr);
	live.s = tcp_accept(pr->a, f->l);
	assert_non_null(live.s);
	tcp_local_addr(live.c, &a, &live.cport);
}

static void oow_burst(struct flood *f, unsigned k)
{
	uint8_t fr[128];
	struct tseg s;
	(void)k;
	for (int j = 0; j < 64; j++, oow_i++) {
		uint32_t x = (uint32_t)(oow_i * 2654435761u);
		/* Far from RCV.NXT, acking garbage; every 8th an RST. */
		tseg_init(&s, live.s->rcv_nxt + 0x10000000u + x % 0x40000000u, x,
		          (oow_i & 7) ? F_ACK : F_RST);
		s.sport = live.cport;
		inject(f, fr, mk_tcp(fr, &s));
		tick(f, oow_i, 10, 1024);
	}
}

static void oow_flood(void **state)
{
	struct flood f;
	uint64_t acks;
	int ok;
	(void)state;
	flood_init(&f);
	open_live(&f);
	oow_i = 1;
	ok = flood_run(&f, "out-of-window 200k", &oow_i, 200000, 8000, oow_burst);
	acks = CNT(f.pr.b, rx_tcp);
	printf("  %llu segments dropped as unacceptable, %llu ACKs limited, %d transfers ok\n",
	       (unsigned long long)CNT(f.pr.a, drop_tcp_unacceptable),
	       (unsigned long long)CNT(f.pr.a, tcp_challenge_ack_limited), ok);
	(void)acks;
	assert_true(CNT(f.pr.a, drop_tcp_unacceptable) >= 199000);
	/* the replies were rate-limited: ~1000 a second over 2 s */
	/* 175000 ACKs provoked (1 in 8 were RSTs, which get none) */
	assert_true(CNT(f.pr.a, tcp_challenge_ack_limited) > 170000);
	assert_int_equal(tcp_state(live.s), TCPS_ESTABLISHED);
	assert_int_equal(tcp_send(f.pr.b, live.c, "still", 5, 0), 5);
	pair_settle(&f.pr);
	assert_int_equal(tcp_rx_bytes(live.s), 5);
	assert_true(ok >= 5);
	assert_true(f.m.heap_max - f.m.heap0 < 256u * 1024);
	tcp_close(f.pr.b, live.c);
	tcp_close(f.pr.a, live.s);
	flood_fini(&f);
}

/* --- tiny out-of-order segments: the reassembly queue stays bounded --- */

static uint64_t ooo_i;

/* Held out-of-order segments (a pool buffer each): ooo_max_segs, or a
 * receive buffer's worth of full segments when that is more (tcp_input.c). */
static uint32_t ooo_bound(const struct flood *f)
{
	uint32_t n = live.s->opt->rcvbuf / live.s->rcv_mss + 1;
	return n > f->pr.a->tcp->cfg.ooo_max_segs ? n : f->pr.a->tcp->cfg.ooo_max_segs;
}

static void ooo_burst(struct flood *f, unsigned k)
{
	uint8_t fr[128];
	struct tseg s;
	(void)k;
	for (int j = 0; j < 64; j++, ooo_i++) {
		uint32_t off = 2 + (uint32_t)(ooo_i * 2654435761u) % 60000;
		tseg_init(&s, live.s->rcv_nxt + off, live.s->snd_nxt, F_ACK);
		s.sport = live.cport;
		s.len = 1;
		s.data[0] = 0xee;
		inject(f, fr, mk_tcp(fr, &s));
		assert_true(tcp_ooo_count(live.s) <= ooo_bound(f));
		tick(f, ooo_i, 10, 1024);
	}
}

static void ooo_flood(void **state)
{
	struct flood f;
	int ok;
	(void)state;
	flood_init(&f);
	open_live(&f);
	ooo_i = 1;
	ok = flood_run(&f, "tiny out-of-order 200k", &ooo_i, 200000, 8000, ooo_burst);
	printf("  held %u of at most %u, %llu dropped (drop_tcp_ooo_mem), %d transfers ok\n",
	       tcp_ooo_count(live.s), ooo_bound(&f),
	       (unsigned long long)CNT(f.pr.a, drop_tcp_ooo_mem), ok);
	assert_true(CNT(f.pr.a, drop_tcp_ooo_mem) > 100000);
	assert_true(f.m.pool_max <= ooo_bound(&f) + 1024 + 64);  /* + replies of one burst */
	assert_true(ok >= 5);
	tcp_close(f.pr.b, live.c);
	tcp_close(f.pr.a, live.s);
	flood_fini(&f);
}

/* --- ICMP echo and UDP-to-closed-port flood --- */

static uint64_t icmp_i;

static void icmp_burst(struct flood *f, unsigned k)
{
	uint8_t fr[256];
	(void)k;
	for (int j = 0; j < 64; j++, icmp_i++) {
		uint32_t src = 0xc6120000u | ((uint32_t)(icmp_i * 7919u) & 0x1ffffu);
		if (icmp_i & 1)
			inject(f, fr, mk_echo(fr, 8, (uint16_t)icmp_i, 1, 56, src, US_IP));
		else
			inject(f, fr, mk_udp(fr, src, US_IP, 5000, 9, "x", 1));
		tick(f, icmp_i, 10, 1024);
	}
}

static void icmp_flood(void **state)
{
	struct flood f;
	int ok;
	(void)state;
	flood_init(&f);
	icmp_i = 1;
	ok = flood_run(&f, "ICMP+UDP 200k", &icmp_i, 200000, 8000, icmp_burst);
	printf("  %.2f virtual s: %llu echo replies, %llu unreachables sent, %llu limited, %d transfers ok\n",
	       (double)f.pr.now / 1e6,
	       (unsigned long long)CNT(f.pr.a, tx_icmp_echo_reply),
	       (unsigned long long)CNT(f.pr.a, tx_icmp_unreach),
	       (unsigned long long)CNT(f.pr.a, tx_icmp_limited), ok);
	/* 2 virtual seconds: at most burst + 2 * rate unreachables */
	assert_true(CNT(f.pr.a, tx_icmp_unreach) <= 50 + 2 * 1000 + 100);
	assert_true(CNT(f.pr.a, tx_icmp_limited) > 90000);
	assert_true(ok >= 5);
	assert_true(f.m.heap_max - f.m.heap0 < 256u * 1024);
	flood_fini(&f);
}

/* --- ARP flood: requests and replies from 200k invented neighbours --- */

static uint64_t arp_i;

static void arp_burst(struct flood *f, unsigned k)
{
	uint8_t fr[64];
	static const uint8_t zero[6];
	(void)k;
	for (int j = 0; j < 64; j++, arp_i++) {
		uint8_t mac[6] = {0x02, 0x66, (uint8_t)(arp_i >> 24), (uint8_t)(arp_i >> 16),
		                  (uint8_t)(arp_i >> 8), (uint8_t)arp_i};
		uint32_t ip = 0x0a4d0000u | (uint32_t)(3 + arp_i % 250);
		if (arp_i & 1)
			inject(f, fr, mk_arp(fr, bcast_mac, 1, mac, ip, zero, US_IP));
		else
			inject(f, fr, mk_arp(fr, us_mac, 2, mac, ip, us_mac, US_IP));
		tick(f, arp_i, 10, 1024);
	}
}

static void arp_flood(void **state)
{
	struct flood f;
	int ok;
	(void)state;
	flood_init(&f);
	arp_i = 1;
	ok = flood_run(&f, "ARP 200k", &arp_i, 200000, 8000, arp_burst);
	printf("  ARP table %u of %u entries, %d transfers ok\n", f.pr.a->arp.used,
	       f.pr.a->arp.size, ok);
	assert_true(f.pr.a->arp.used <= f.pr.a->arp.size);
	assert_true(ok >= 5);
	assert_true(f.m.heap_max - f.m.heap0 < 256u * 1024);
	flood_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(syn_flood_million),
		cmocka_unit_test(oow_flood),
		cmocka_unit_test(ooo_flood),
		cmocka_unit_test(icmp_flood),
		cmocka_unit_test(arp_flood),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
