/* pcap tee over a memlink: frames of both directions land in the file, in
 * order, byte for byte, dated by the wall clock with `now`'s intervals,
 * readable while the link is still open. */
#include <errno.h>
#include <pcap/pcap.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/pkt.h"
#include "link/link.h"

#define MTU 1500u
#define NFRAMES 40u

static struct pkt *frame(struct pkt_pool *pool, uint32_t seq, uint32_t len)
{
	struct pkt *p = pkt_alloc(pool);
	assert_non_null(p);
	uint8_t *d = pkt_put(p, len);
	assert_non_null(d);
	for (uint32_t i = 0; i < len; i++)
		d[i] = (uint8_t)(i * 31 + seq * 3);
	return p;
}

struct rec {
	uint8_t bytes[PKT_DATA_MAX];
	uint32_t len;
	uint64_t ts;
};

/* Reads the capture back; returns how many frames were in it. */
static unsigned read_back(const char *path, struct rec *out, unsigned cap)
{
	char eb[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *data;
	unsigned n = 0;
	pcap_t *pc = pcap_open_offline(path, eb);
	if (!pc)
		fail_msg("pcap_open_offline %s: %s", path, eb);
	assert_int_equal(pcap_datalink(pc), DLT_EN10MB);
	while (pcap_next_ex(pc, &h, &data) == 1) {
		if (n < cap) {
			assert_int_equal(h->caplen, h->len);
			out[n].len = h->caplen;
			memcpy(out[n].bytes, data, h->caplen);
			out[n].ts = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
		}
		n++;
	}
	pcap_close(pc);
	return n;
}

static void test_both_directions(void **state)
{
	char path[] = "/tmp/test_link_pcap_XXXXXX";
	struct pkt_pool pool;
	struct link *a, *b, *tee;
	struct pkt *expect[NFRAMES];
	uint64_t expect_ts[NFRAMES];
	static struct rec got[NFRAMES + 4];
	char msg[256] = "";
	int err = 0;
	(void)state;

	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(pkt_pool_init(&pool, 256), 0);
	assert_int_equal(link_memlink_pair(MTU, 64, &a, &b), 0);
	tee = link_pcap_wrap(a, path, &err, msg, sizeof(msg));
	if (!tee)
		fail_msg("link_pcap_wrap: %s", msg);
	assert_string_equal(tee->name, a->name);
	assert_int_equal(tee->mtu, MTU);
	assert_int_equal(link_fd(tee), link_fd(a));

	/* Alternate: even frames leave through the tee (tx), odd ones come in
	 * from the peer and are read through the tee (rx). */
	for (uint32_t i = 0; i < NFRAMES; i++) {
		uint32_t len = 14 + (i * 97) % (MTU + 1);
		uint64_t now = 1700000000000000ull + i * 1234567u;
		struct pkt *p = frame(&pool, i, len);
		expect[i] = pkt_clone(&pool, p);
		expect_ts[i] = now;
		if (i % 2 == 0) {
			assert_int_equal(link_tx_burst(tee, &p, 1, now), 1);
			struct pkt *q;
			assert_int_equal(link_rx_burst(b, &pool, &q, 1, now), 1);
			assert_memory_equal(q->data, expect[i]->data, len);
			pkt_free(q);
		} else {
			assert_int_equal(link_tx_burst(b, &p, 1, now), 1);
			struct pkt *q;
			assert_int_equal(link_rx_burst(tee, &pool, &q, 1, now), 1);
			assert_memory_equal(q->data, expect[i]->data, len);
			pkt_free(q);
		}
	}
	assert_int_equal(tee->tx_frames, NFRAMES / 2);
	assert_int_equal(tee->rx_frames, NFRAMES / 2);

	/* Flushed after each burst: readable before the tee is closed. */
	assert_int_equal(read_back(path, got, NFRAMES + 4), NFRAMES);
	link_close(tee); /* closes a too */
	link_close(b);

	assert_int_equal(read_back(path, got, NFRAMES + 4), NFRAMES);
	for (uint32_t i = 0; i < NFRAMES; i++) {
		assert_int_equal(got[i].len, expect[i]->len);
		assert_memory_equal(got[i].bytes, expect[i]->data, expect[i]->len);
		/* Anchored to the wall clock at the first frame; the
		 * intervals are exactly those of `now`. */
		assert_int_equal(got[i].ts - got[0].ts, expect_ts[i] - expect_ts[0]);
		pkt_free(expect[i]);
	}
	assert_true(got[0].ts > 1600000000ull * 1000000u); /* a date, not 1970 */
	assert_int_equal(pool.nfree, 256);
	pkt_pool_fini(&pool);
	unlink(path);
}

static void test_bad_path(void **state)
{
	struct link *a, *b;
	char msg[256] = "";
	int err = 0;
	(void)state;

	assert_int_equal(link_memlink_pair(MTU, 8, &a, &b), 0);
	struct link *tee = link_pcap_wrap(a, "/nonexistent-dir/x.pcap", &err, msg, sizeof(msg));
	assert_null(tee);
	assert_true(err < 0);
	if (!strstr(msg, "/nonexistent-dir/x.pcap") || !strstr(msg, "No such file"))
		fail_msg("message: '%s'", msg);
	/* On failure the inner link is still ours to close. */
	link_close(a);
	link_close(b);
}

/* `ustack stat` asks the top link; the impairment may sit under the tee. */
static void test_impair_stats_through_tee(void **state)
{
	char path[] = "/tmp/test_link_pcap_XXXXXX";
	struct impair_spec spec;
	struct link *a, *b;
	char buf[256];
	int err = 0;
	(void)state;

	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(link_memlink_pair(MTU, 8, &a, &b), 0);
	assert_int_equal(impair_parse("loss=1%", &spec, NULL, 0), 0);
	struct link *imp = link_impair_wrap(a, &spec, &err);
	assert_non_null(imp);
	struct link *tee = link_pcap_wrap(imp, path, &err, NULL, 0);
	assert_non_null(tee);
	int n = impair_stats(tee, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(buf));
	assert_non_null(strstr(buf, "impair tx: dropped=0 "));
	assert_non_null(strstr(buf, "impair rx: dropped=0 "));
	/* A short buffer truncates like snprintf and says how much it needed. */
	char small[10];
	assert_int_equal(impair_stats(tee, small, sizeof(small)), n);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	link_close(tee);
	link_close(b);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_both_directions),
		cmocka_unit_test(test_bad_path),
		cmocka_unit_test(test_impair_stats_through_tee),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
