/* Impairment wrapper over a memlink on a virtual clock: parsing, seeded
 * reproducibility, loss rates, delay, reordering, duplication, corruption
 * and the rate limit, in both directions. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/pkt.h"
#include "link/link.h"

#define MTU 1500u
#define POOL 4096u

struct rig {
	struct pkt_pool pool;
	struct link *w;    /* impairment wrapper over the memlink end a */
	struct link *peer; /* memlink end b */
};

static void rig_up(struct rig *r, const char *spec_text)
{
	struct impair_spec spec;
	struct link *a;
	char msg[256] = "";
	int err = 0;

	assert_int_equal(pkt_pool_init(&r->pool, POOL), 0);
	assert_int_equal(link_memlink_pair(MTU, 2048, &a, &r->peer), 0);
	assert_int_equal(impair_parse(spec_text, &spec, msg, sizeof(msg)), 0);
	r->w = link_impair_wrap(a, &spec, &err);
	assert_non_null(r->w);
}

static void rig_down(struct rig *r)
{
	link_close(r->w);
	link_close(r->peer);
	assert_int_equal(r->pool.nfree, POOL); /* nothing leaked, nothing freed twice */
	pkt_pool_fini(&r->pool);
}

static struct pkt *frame(struct pkt_pool *pool, uint32_t seq, uint32_t len)
{
	struct pkt *p = pkt_alloc(pool);
	assert_non_null(p);
	uint8_t *d = pkt_put(p, len);
	assert_non_null(d);
	for (uint32_t i = 0; i < len; i++)
		d[i] = (uint8_t)(i * 13 + seq);
	memcpy(d + 14, &seq, sizeof(seq));
	return p;
}

static uint32_t seq_of(const struct pkt *p)
{
	uint32_t s;
	memcpy(&s, p->data + 14, sizeof(s));
	return s;
}

/* Sends seq first..first+n-1 through l, one burst. */
static unsigned send_seqs(struct link *l, struct pkt_pool *pool, uint32_t first, unsigned n,
                          uint32_t len, uint64_t now)
{
	struct pkt *p[64];
	assert_true(n <= 64);
	for (unsigned i = 0; i < n; i++)
		p[i] = frame(pool, first + i, len);
	return link_tx_burst(l, p, n, now);
}

/* Receives everything l has at now; seqs into out (may be NULL). */
static unsigned recv_seqs(struct link *l, struct pkt_pool *pool, uint32_t *out, unsigned cap,
                          uint64_t now)
{
	struct pkt *p[64];
	unsigned total = 0, n;
	while ((n = link_rx_burst(l, pool, p, 64, now)) > 0) {
		for (unsigned i = 0; i < n; i++) {
			if (out && total < cap)
				out[total] = seq_of(p[i]);
			total++;
			pkt_free(p[i]);
		}
	}
	return total;
}

/* --- parsing --- */

static void test_parse_examples(void **state)
{
	struct impair_spec s;
	char msg[256];
	(void)state;

	assert_int_equal(impair_parse("loss=5%,delay=20ms,reorder=5%,seed=7", &s, msg, sizeof(msg)), 0);
	assert_int_equal(s.tx.loss_ppm, 50000);
	assert_int_equal(s.rx.loss_ppm, 50000);
	assert_int_equal(s.tx.delay_us, 20000);
	assert_int_equal(s.rx.delay_us, 20000);
	assert_int_equal(s.tx.reorder_ppm, 50000);
	assert_int_equal(s.seed, 7);

	assert_int_equal(impair_parse("loss=0.1%, dup=1% ,corrupt=0.01%,jitter=500us", &s, msg,
	                              sizeof(msg)), 0);
	assert_int_equal(s.tx.loss_ppm, 1000);
	assert_int_equal(s.rx.dup_ppm, 10000);
	assert_int_equal(s.tx.corrupt_ppm, 100);
	assert_int_equal(s.rx.jitter_us, 500);
	assert_int_equal(s.seed, 0); /* reset by each parse */

	assert_int_equal(impair_parse("rate=10mbit", &s, msg, sizeof(msg)), 0);
	assert_int_equal(s.tx.rate_bps, 10000000ull);
	assert_int_equal(impair_parse("rate=1gbit", &s, msg, sizeof(msg)), 0);
	assert_int_equal(s.rx.rate_bps, 1000000000ull);
	assert_int_equal(impair_parse("rate=100kbit,delay=1.5ms", &s, msg, sizeof(msg)), 0);
	assert_int_equal(s.tx.rate_bps, 100000ull);
	assert_int_equal(s.tx.delay_us, 1500);

	assert_int_equal(impair_parse("tx-loss=1%,rx-delay=5ms,seed=0x10", &s, msg, sizeof(msg)), 0);
	assert_int_equal(s.tx.loss_ppm, 10000);
	assert_int_equal(s.rx.loss_ppm, 0);
	assert_int_equal(s.rx.delay_us, 5000);
	assert_int_equal(s.tx.delay_us, 0);
	assert_int_equal(s.seed, 16);

	assert_int_equal(impair_parse("", &s, msg, sizeof(msg)), 0);
	assert_int_equal(s.tx.loss_ppm, 0);
	assert_int_equal(impair_parse("loss=100%", &s, msg, sizeof(msg)), 0);
	assert_int_equal(s.tx.loss_ppm, 1000000);
}

static void reject(const char *text, const char *must_name)
{
	struct impair_spec s;
	char msg[256] = "";
	assert_int_equal(impair_parse(text, &s, msg, sizeof(msg)), -EINVAL);
	if (!strstr(msg, must_name))
		fail_msg("'%s': message '%s' does not name '%s'", text, msg, must_name);
}

static void test_parse_rejects(void **state)
{
	(void)state;
	reject("lose=5%", "lose");
	reject("loss=5%,jiter=2ms", "jiter");
	reject("loss=5", "'5'");          /* a percentage needs its % */
	reject("loss=101%", "101%");
	reject("loss=-1%", "-1%");
	reject("dup=abc", "abc");
	reject("delay=20", "'20'");       /* a time needs its unit */
	reject("delay=20min", "20min");
	reject("jitter=ms", "'ms'");
	reject("rate=10mbps", "10mbps");
	reject("rate=fast", "fast");
	reject("seed=abc", "abc");
	reject("seed=-3", "-3");
	reject("loss", "loss");
	reject("loss=5%,,dup=1%", "empty");
	reject("tx-seed=3", "tx-seed");
	reject("up-loss=3%", "up-loss");
}

/* --- behaviour --- */

/* Which of n frames survive loss with seed, as a bitmap. */
static void loss_pattern(uint64_t seed, uint8_t *got, unsigned n)
{
	struct rig r;
	struct impair_spec spec;
	struct link *a;
	uint32_t seqs[64];
	int err;

	assert_int_equal(pkt_pool_init(&r.pool, POOL), 0);
	assert_int_equal(link_memlink_pair(MTU, 2048, &a, &r.peer), 0);
	assert_int_equal(impair_parse("loss=20%", &spec, NULL, 0), 0);
	spec.seed = seed;
	r.w = link_impair_wrap(a, &spec, &err);
	assert_non_null(r.w);
	memset(got, 0, n);
	for (unsigned i = 0; i < n; i += 50) {
		send_seqs(r.w, &r.pool, i, 50, 60, 0);
		unsigned k = recv_seqs(r.peer, &r.pool, seqs, 64, 0);
		for (unsigned j = 0; j < k; j++)
			got[seqs[j]] = 1;
	}
	rig_down(&r);
}

static void test_seed_reproducible(void **state)
{
	uint8_t a[1000], b[1000], c[1000];
	(void)state;
	loss_pattern(7, a, 1000);
	loss_pattern(7, b, 1000);
	loss_pattern(8, c, 1000);
	assert_memory_equal(a, b, sizeof(a));
	assert_memory_not_equal(a, c, sizeof(a));
}

/* Newton's method: the build links no libm. */
static double root(double x)
{
	double g = x > 1 ? x : 1;
	for (int i = 0; i < 64; i++)
		g = (g + x / g) / 2;
	return g;
}

static void check_loss_rate(const char *spec, double p)
{
	struct rig r;
	const unsigned n = 20000;
	unsigned got = 0, accepted = 0;

	rig_up(&r, spec);
	for (unsigned i = 0; i < n; i += 50) {
		accepted += send_seqs(r.w, &r.pool, i, 50, 60, 0);
		got += recv_seqs(r.peer, &r.pool, NULL, 0, 0);
	}
	/* Five standard deviations of a binomial: fails by chance about once
	 * in 3.5 million seeds. */
	double mean = n * (1 - p), sd = root(n * p * (1 - p));
	if (got < mean - 5 * sd || got > mean + 5 * sd)
		fail_msg("%s: %u of %u arrived, expected %.0f +- %.0f", spec, got, n, mean, 5 * sd);
	assert_int_equal(accepted, got); /* tx_burst reports the survivors */
	assert_int_equal(r.w->tx_drops, n - got);
	char st[256];
	assert_true(impair_stats(r.w, st, sizeof(st)) > 0);
	char want[64];
	snprintf(want, sizeof(want), "impair tx: dropped=%u ", n - got);
	if (!strstr(st, want))
		fail_msg("stats '%s' lack '%s'", st, want);
	assert_non_null(strstr(st, "impair rx: dropped=0 "));
	rig_down(&r);
}

static void test_loss_rates(void **state)
{
	(void)state;
	check_loss_rate("loss=5%,seed=1", 0.05);
	check_loss_rate("loss=20%,seed=2", 0.20);
	check_loss_rate("rx-loss=0%,tx-loss=20%,seed=3", 0.20);
}

static void test_delay_tx(void **state)
{
	struct rig r;
	uint32_t seqs[64];
	(void)state;

	rig_up(&r, "tx-delay=20ms");
	assert_int_equal(link_next_deadline(r.w), UINT64_MAX);
	assert_int_equal(send_seqs(r.w, &r.pool, 0, 5, 100, 1000), 5);
	assert_int_equal(send_seqs(r.w, &r.pool, 5, 5, 100, 3000), 5);
	assert_int_equal(link_next_deadline(r.w), 21000);
	assert_int_equal(recv_seqs(r.peer, &r.pool, NULL, 0, 0), 0);

	link_tx_burst(r.w, NULL, 0, 20999); /* not yet */
	assert_int_equal(recv_seqs(r.peer, &r.pool, NULL, 0, 0), 0);
	link_tx_burst(r.w, NULL, 0, 21000);
	assert_int_equal(recv_seqs(r.peer, &r.pool, seqs, 64, 0), 5);
	for (unsigned i = 0; i < 5; i++)
		assert_int_equal(seqs[i], i);
	assert_int_equal(link_next_deadline(r.w), 23000);
	/* rx_burst releases due tx frames too: the runtime polls it on wake-up. */
	struct pkt *p[8];
	assert_int_equal(link_rx_burst(r.w, &r.pool, p, 8, 23000), 0);
	assert_int_equal(recv_seqs(r.peer, &r.pool, seqs, 64, 0), 5);
	assert_int_equal(seqs[0], 5);
	assert_int_equal(link_next_deadline(r.w), UINT64_MAX);
	char st[256];
	impair_stats(r.w, st, sizeof(st));
	assert_non_null(strstr(st, "impair tx: dropped=0 duplicated=0 reordered=0 corrupted=0 delayed=10"));
	rig_down(&r);
}

static void test_delay_rx(void **state)
{
	struct rig r;
	uint32_t seqs[64];
	(void)state;

	rig_up(&r, "rx-delay=500us");
	assert_int_equal(send_seqs(r.peer, &r.pool, 0, 3, 100, 0), 3);
	/* Read from the memlink at 100: held until 600. */
	assert_int_equal(recv_seqs(r.w, &r.pool, NULL, 0, 100), 0);
	assert_int_equal(link_next_deadline(r.w), 600);
	assert_int_equal(recv_seqs(r.w, &r.pool, NULL, 0, 599), 0);
	assert_int_equal(recv_seqs(r.w, &r.pool, seqs, 64, 600), 3);
	assert_int_equal(seqs[2], 2);
	/* tx is unaffected by rx-only settings. */
	assert_int_equal(send_seqs(r.w, &r.pool, 9, 1, 100, 700), 1);
	assert_int_equal(recv_seqs(r.peer, &r.pool, seqs, 64, 700), 1);
	rig_down(&r);
}

static void test_reorder(void **state)
{
	struct rig r;
	uint32_t seqs[64];
	(void)state;

	rig_up(&r, "reorder=100%");
	assert_int_equal(send_seqs(r.w, &r.pool, 0, 4, 80, 0), 4);
	assert_int_equal(recv_seqs(r.peer, &r.pool, seqs, 64, 0), 4);
	assert_int_equal(seqs[0], 1);
	assert_int_equal(seqs[1], 0);
	assert_int_equal(seqs[2], 3);
	assert_int_equal(seqs[3], 2);

	/* Nothing follows: the held frame goes after a short time anyway. */
	assert_int_equal(send_seqs(r.w, &r.pool, 10, 1, 80, 5000), 1);
	assert_int_equal(recv_seqs(r.peer, &r.pool, NULL, 0, 0), 0);
	uint64_t t = link_next_deadline(r.w);
	assert_true(t > 5000 && t != UINT64_MAX);
	link_tx_burst(r.w, NULL, 0, t - 1);
	assert_int_equal(recv_seqs(r.peer, &r.pool, NULL, 0, 0), 0);
	link_tx_burst(r.w, NULL, 0, t);
	assert_int_equal(recv_seqs(r.peer, &r.pool, seqs, 64, 0), 1);
	assert_int_equal(seqs[0], 10);
	assert_int_equal(link_next_deadline(r.w), UINT64_MAX);

	/* rx direction too. */
	assert_int_equal(send_seqs(r.peer, &r.pool, 20, 2, 80, 0), 2);
	assert_int_equal(recv_seqs(r.w, &r.pool, seqs, 64, 6000), 2);
	assert_int_equal(seqs[0], 21);
	assert_int_equal(seqs[1], 20);
	rig_down(&r);
}

static void test_dup(void **state)
{
	struct rig r;
	struct pkt *p[64];
	(void)state;

	rig_up(&r, "dup=100%");
	assert_int_equal(send_seqs(r.w, &r.pool, 0, 10, 300, 0), 10);
	unsigned n = link_rx_burst(r.peer, &r.pool, p, 64, 0);
	assert_int_equal(n, 20);
	for (unsigned i = 0; i < n; i += 2) {
		assert_int_equal(seq_of(p[i]), i / 2);
		assert_int_equal(p[i]->len, p[i + 1]->len);
		assert_memory_equal(p[i]->data, p[i + 1]->data, p[i]->len);
	}
	for (unsigned i = 0; i < n; i++)
		pkt_free(p[i]);
	char st[256];
	impair_stats(r.w, st, sizeof(st));
	assert_non_null(strstr(st, "duplicated=10 "));

	/* rx: the copy comes from the pool rx_burst was given. */
	assert_int_equal(send_seqs(r.peer, &r.pool, 0, 3, 300, 0), 3);
	assert_int_equal(recv_seqs(r.w, &r.pool, NULL, 0, 0), 6);
	rig_down(&r);
}

static void test_corrupt(void **state)
{
	struct rig r;
	struct pkt *ref[32], *p[64];
	(void)state;

	rig_up(&r, "corrupt=100%,seed=5");
	struct pkt *in[32];
	for (unsigned i = 0; i < 32; i++) {
		in[i] = frame(&r.pool, i, i == 31 ? 14 : 15 + i * 40);
		ref[i] = pkt_clone(&r.pool, in[i]);
	}
	assert_int_equal(link_tx_burst(r.w, in, 32, 0), 32);
	assert_int_equal(link_rx_burst(r.peer, &r.pool, p, 64, 0), 32);
	for (unsigned i = 0; i < 32; i++) {
		unsigned diff = 0, at = 0;
		assert_int_equal(p[i]->len, ref[i]->len);
		for (unsigned j = 0; j < p[i]->len; j++) {
			if (p[i]->data[j] != ref[i]->data[j]) {
				diff++;
				at = j;
			}
		}
		if (i == 31) {
			assert_int_equal(diff, 0); /* nothing past the Ethernet header */
		} else {
			assert_int_equal(diff, 1);
			assert_true(at >= 14);
		}
		pkt_free(p[i]);
		pkt_free(ref[i]);
	}
	char st[256];
	impair_stats(r.w, st, sizeof(st));
	assert_non_null(strstr(st, "corrupted=31 "));
	rig_down(&r);
}

/* An inner link that hands over frames marked as the TAP marks them. */
struct marking_link {
	struct link l;
	unsigned left;
};

static unsigned marking_rx(struct link *l, struct pkt_pool *pool, struct pkt **pkts, unsigned max,
                           uint64_t now)
{
	struct marking_link *m = (struct marking_link *)l;
	unsigned n = 0;
	(void)now;

	while (n < max && m->left) {
		pkts[n] = frame(pool, m->left--, 100);
		pkts[n++]->flags = PKT_F_CSUM_OK | PKT_F_SEG_MORE;
	}
	return n;
}

static unsigned marking_tx(struct link *l, struct pkt **pkts, unsigned n, uint64_t now)
{
	(void)l;
	(void)now;
	for (unsigned i = 0; i < n; i++)
		pkt_free(pkts[i]);
	return n;
}

static void marking_close(struct link *l)
{
	(void)l;
}

/* rx: a frame the wrapper corrupted loses PKT_F_CSUM_OK (TCP must check
 * it now); one it left alone keeps it; no frame keeps PKT_F_SEG_MORE,
 * since drops and reordering break a split frame's run. tx: the wrapper
 * does not offer the inner link's checksum offload (a frame it corrupts
 * must not be checksummed after). */
static void test_rx_marks(void **state)
{
	static const struct link_ops ops = { .rx_burst = marking_rx, .tx_burst = marking_tx,
	                                     .close = marking_close };
	struct marking_link m = { .l.ops = &ops, .l.tx_csum_offload = true, .left = 8 };
	struct impair_spec spec;
	struct pkt_pool pool;
	struct pkt *p[16];
	char msg[128];
	int err = 0;
	(void)state;

	assert_int_equal(pkt_pool_init(&pool, 64), 0);
	for (int corrupt = 0; corrupt < 2; corrupt++) {
		m.left = 8;
		assert_int_equal(impair_parse(corrupt ? "rx-corrupt=100%" : "rx-loss=0%", &spec, msg,
		                              sizeof(msg)), 0);
		struct link *w = link_impair_wrap(&m.l, &spec, &err);
		assert_non_null(w);
		assert_false(w->tx_csum_offload);
		assert_int_equal(link_rx_burst(w, &pool, p, 16, 0), 8);
		for (unsigned i = 0; i < 8; i++) {
			assert_int_equal(p[i]->flags, corrupt ? 0u : PKT_F_CSUM_OK);
			pkt_free(p[i]);
		}
		link_close(w);
	}
	assert_int_equal(pool.nfree, 64);
	pkt_pool_fini(&pool);
}

static void test_rate(void **state)
{
	struct rig r;
	(void)state;

	/* 1000-byte frames at 1 Mbit/s: one every 8 ms. */
	rig_up(&r, "tx-rate=1mbit");
	assert_int_equal(send_seqs(r.w, &r.pool, 0, 5, 1000, 0), 5);
	assert_int_equal(link_next_deadline(r.w), 8000);
	uint64_t now = 0;
	for (unsigned i = 1; i <= 5; i++) {
		link_tx_burst(r.w, NULL, 0, i * 8000 - 1);
		assert_int_equal(recv_seqs(r.peer, &r.pool, NULL, 0, 0), 0);
		now = i * 8000;
		link_tx_burst(r.w, NULL, 0, now);
		assert_int_equal(recv_seqs(r.peer, &r.pool, NULL, 0, 0), 1);
	}
	assert_int_equal(link_next_deadline(r.w), UINT64_MAX);
	/* An idle wire does not bank credit: the next frame takes 8 ms too. */
	assert_int_equal(send_seqs(r.w, &r.pool, 5, 1, 1000, 100000), 1);
	assert_int_equal(link_next_deadline(r.w), 108000);
	rig_down(&r);
}

/* Jitter spreads the delay but never reorders (reorder= does that). */
struct jit {
	uint64_t sent_at[200];
	unsigned got, spread;
	uint64_t first_delay;
};

/* Takes what arrived by now; the clock moves in 100 us steps at most, so
 * a frame may be seen up to 100 us after its release. */
static void jitter_recv(struct rig *r, struct jit *j, uint64_t now)
{
	uint32_t seqs[64];
	unsigned n = recv_seqs(r->peer, &r->pool, seqs, 64, now);
	for (unsigned i = 0; i < n; i++, j->got++) {
		assert_int_equal(seqs[i], j->got);
		uint64_t d = now - j->sent_at[j->got];
		if (d < 5000 || d > 15100)
			fail_msg("frame %u delayed %llu us", j->got, (unsigned long long)d);
		if (!j->first_delay)
			j->first_delay = d;
		j->spread += d != j->first_delay;
	}
}

static void test_jitter(void **state)
{
	struct rig r;
	struct jit j = { .got = 0 };
	uint64_t t;
	(void)state;

	rig_up(&r, "tx-delay=10ms,tx-jitter=5ms,seed=11");
	for (unsigned i = 0; i < 200; i++) {
		j.sent_at[i] = i * 100u;
		assert_int_equal(send_seqs(r.w, &r.pool, i, 1, 60, j.sent_at[i]), 1);
		jitter_recv(&r, &j, j.sent_at[i]);
	}
	while ((t = link_next_deadline(r.w)) != UINT64_MAX) {
		link_tx_burst(r.w, NULL, 0, t);
		jitter_recv(&r, &j, t);
	}
	assert_int_equal(j.got, 200);
	assert_true(j.spread > 0);
	rig_down(&r);
}

/* tx traffic does not change which rx frames are lost. */
static unsigned rx_loss_pattern(bool with_tx, uint8_t *got, unsigned n)
{
	struct rig r;
	uint32_t seqs[64];
	unsigned k = 0;

	rig_up(&r, "loss=30%,seed=4");
	memset(got, 0, n);
	for (unsigned i = 0; i < n; i += 10) {
		if (with_tx) {
			send_seqs(r.w, &r.pool, i, 7, 60, 0);
			recv_seqs(r.peer, &r.pool, NULL, 0, 0);
		}
		send_seqs(r.peer, &r.pool, i, 10, 60, 0);
		unsigned m = recv_seqs(r.w, &r.pool, seqs, 64, 0);
		for (unsigned j = 0; j < m; j++, k++)
			got[seqs[j]] = 1;
	}
	rig_down(&r);
	return k;
}

static void test_directions_independent(void **state)
{
	uint8_t a[500], b[500];
	(void)state;
	unsigned na = rx_loss_pattern(false, a, 500);
	unsigned nb = rx_loss_pattern(true, b, 500);
	assert_true(na > 250 && na < 450);
	assert_int_equal(na, nb);
	assert_memory_equal(a, b, sizeof(a));
}

static void test_stats_absent(void **state)
{
	struct link *a, *b;
	char buf[64];
	(void)state;
	assert_int_equal(link_memlink_pair(MTU, 8, &a, &b), 0);
	assert_int_equal(impair_stats(a, buf, sizeof(buf)), -ENOENT);
	link_close(a);
	link_close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_examples),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_seed_reproducible),
		cmocka_unit_test(test_loss_rates),
		cmocka_unit_test(test_delay_tx),
		cmocka_unit_test(test_delay_rx),
		cmocka_unit_test(test_reorder),
		cmocka_unit_test(test_dup),
		cmocka_unit_test(test_corrupt),
		cmocka_unit_test(test_rx_marks),
		cmocka_unit_test(test_rate),
		cmocka_unit_test(test_jitter),
		cmocka_unit_test(test_directions_independent),
		cmocka_unit_test(test_stats_absent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
