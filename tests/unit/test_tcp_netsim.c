/* Impairment tests (issue 5): bulk transfers between two stacks over an
 * impaired memlink pair on virtual time, deterministic from a seed, for
 * each condition and both congestion controls. Every byte is checked and
 * the FNV-1a hashes of both ends compared; every transfer must finish
 * within a bound of virtual time. USTACK_NETSIM_MB sets the size (default
 * 6 MB; CTest runs it at 50 MB in the plain build, the size of the matrix
 * tests/progs/netsim prints into docs/netsim.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

#include "netsim.h"

static uint64_t size_bytes(void)
{
	const char *e = getenv("USTACK_NETSIM_MB");
	uint64_t mb = e ? strtoull(e, NULL, 10) : 6;

	return (mb ? mb : 6) << 20;
}

static void run(const char *impair, uint64_t max_vs, struct netsim_result *out)
{
	static const char *const algs[] = {"reno", "cubic"};

	for (int a = 0; a < 2; a++) {
		struct netsim_result r;
		int rc = netsim_run(impair, algs[a], size_bytes(), 4u << 20, &r);

		printf("%-44s %-5s %6.2f virtual s %7.2f Mbit/s, %llu retransmits, %llu rto,"
		       " %llu SACK recoveries\n",
		       impair, algs[a], (double)r.vtime_us / 1e6,
		       r.vtime_us ? (double)r.bytes * 8 / ((double)r.vtime_us / 1e6) / 1e6 : 0.0,
		       (unsigned long long)r.retrans, (unsigned long long)r.rto,
		       (unsigned long long)r.sack_rec);
		if (rc)
			printf("  error: %s\n", r.err);
		assert_int_equal(rc, 0);
		assert_int_equal(r.bytes, size_bytes());
		assert_true(r.hash_tx == r.hash_rx);
		/* Finished, and not merely by a crawl of timeouts. */
		assert_true(r.vtime_us <= max_vs * 1000000u * (size_bytes() >> 20) / 6);
		if (out)
			*out = r;
	}
}

static void clean(void **state)
{
	struct netsim_result r;
	(void)state;
	run("delay=10ms,rate=100mbit,seed=1", 5, &r);
	/* Nothing is lost but what slow start overshoots: no timeouts. */
	assert_int_equal(r.rto, 0);
}

static void loss_1(void **state)
{
	struct netsim_result r;
	(void)state;
	run("loss=1%,delay=10ms,rate=100mbit,seed=2", 30, &r);
	/* SACK, not timeouts, repairs most of it. */
	assert_true(r.sack_rec > 0);
	assert_true(r.sack_sent > 0);
	assert_true(r.rto * 4 < r.sack_rec + 4);
}

static void loss_5(void **state)
{
	(void)state;
	run("loss=5%,delay=10ms,rate=100mbit,seed=3", 90, NULL);
}

static void loss_10(void **state)
{
	(void)state;
	run("loss=10%,delay=10ms,rate=100mbit,seed=4", 240, NULL);
}

static void reorder_5(void **state)
{
	struct netsim_result r;
	(void)state;
	run("reorder=5%,delay=10ms,rate=100mbit,seed=5", 10, &r);
}

static void dup_1(void **state)
{
	struct netsim_result r;
	(void)state;
	run("dup=1%,delay=10ms,rate=100mbit,seed=6", 10, &r);
	assert_true(r.dsack_sent > 0);  /* RFC 2883: duplicates reported */
}

static void corrupt_01(void **state)
{
	struct netsim_result r;
	(void)state;
	run("corrupt=0.1%,delay=10ms,rate=100mbit,seed=7", 10, &r);
	/* The checksums caught every flipped byte that reached a stack. */
	assert_true(r.csum_drops > 0);
}

static void delay_20(void **state)
{
	(void)state;
	run("delay=20ms,rate=100mbit,seed=8", 10, NULL);
}

static void delay_200(void **state)
{
	(void)state;
	run("delay=200ms,rate=100mbit,seed=9", 40, NULL);
}

/* Receive window auto-tuning (tcp_rcvbuf.c) on a long path: 100 Mbit/s
 * and 200 ms RTT make a 2.5 MB bandwidth-delay product. Without SO_RCVBUF
 * the window starts at the default buffer and grows with what the
 * application reads per RTT, up to buf_max; with SO_RCVBUF it grows too,
 * but never past it. */
static void rcv_autotune(void **state)
{
	const char *path = "delay=100ms,rate=100mbit,seed=11";
	struct tcp_config def;
	struct netsim_result r, rs;
	(void)state;
	tcp_config_default(&def);
	assert_int_equal(netsim_run_bufs(path, "cubic", 16u << 20, 4u << 20, 0, &r), 0);
	printf("auto: window %u -> %u bytes, %.2f virtual s\n", r.rwnd_first, r.rwnd_max,
	       (double)r.vtime_us / 1e6);
	assert_true(r.hash_tx == r.hash_rx);
	assert_int_equal(r.rwnd_first, def.rcvbuf);   /* starts small */
	assert_true(r.rwnd_max >= 8 * def.rcvbuf);    /* grew with the BDP */
	assert_true(r.rwnd_max <= def.buf_max);       /* bounded */
	/* SO_RCVBUF of 256 KB (Linux doubles it: 512 KB): the bound. */
	assert_int_equal(netsim_run_bufs(path, "cubic", 4u << 20, 4u << 20, 256u << 10, &rs), 0);
	printf("SO_RCVBUF 256K: window %u -> %u bytes, %.2f virtual s\n", rs.rwnd_first,
	       rs.rwnd_max, (double)rs.vtime_us / 1e6);
	assert_true(rs.hash_tx == rs.hash_rx);
	assert_int_equal(rs.rwnd_first, def.rcvbuf);
	assert_true(rs.rwnd_max > rs.rwnd_first);
	assert_true(rs.rwnd_max <= 512u << 10);
	/* A tuned window moves the bytes at a rate a fixed default one
	 * cannot: 128 KB per 200 ms is 5 Mbit/s. */
	assert_true((double)r.bytes * 8 / ((double)r.vtime_us / 1e6) > 10e6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(clean),     cmocka_unit_test(loss_1),
		cmocka_unit_test(loss_5),    cmocka_unit_test(loss_10),
		cmocka_unit_test(reorder_5), cmocka_unit_test(dup_1),
		cmocka_unit_test(corrupt_01), cmocka_unit_test(delay_20),
		cmocka_unit_test(delay_200), cmocka_unit_test(rcv_autotune),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
