/* Fuzzing regressions (issue 7): the frame-sequence harness of
 * fuzz/fuzz_stack.c, built here with the ordinary compiler and no libFuzzer,
 * replays every seed of fuzz/corpus/stack and the inputs that once crashed
 * the stack. The harness aborts on a frame the stack sends that our own
 * parsers reject, and on a packet buffer not returned to the pool at
 * teardown; under `make asan` ASan and LeakSanitizer watch as well.
 *
 * A crash found by the fuzzer becomes a case below: the minimised input as
 * bytes, in the record format documented in fuzz/stack_harness.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>

#include "../../fuzz/stack_harness.h"

static void replay(const uint8_t *in, size_t n)
{
	struct fz_ctx c;
	const char *why = fz_setup(&c);

	if (why)
		fail_msg("harness setup failed: %s", why);
	fz_run(&c, in, n);
	fz_teardown(&c);
}

/* The scripted setup reaches the state the seeds are written against. */
static void setup_state(void **state)
{
	struct fz_ctx c;
	(void)state;

	assert_null(fz_setup(&c));
	assert_int_equal(tcp_state(c.listener), TCPS_LISTEN);
	assert_int_equal(tcp_state(c.passive), TCPS_ESTABLISHED);
	assert_int_equal(tcp_state(c.active), TCPS_ESTABLISHED);
	assert_int_equal(tcp_state(c.pending), TCPS_SYN_SENT);
	assert_int_equal(tcp_tx_bytes(c.passive), FZ_PASSIVE_INFLIGHT);
	assert_int_equal(tcp_tx_bytes(c.active), FZ_ACTIVE_INFLIGHT);
	fz_teardown(&c);
}

/* A record: u16 len|flags, u16 delta ms, frame (fuzz/stack_harness.h). */
static size_t put_rec(uint8_t *out, const uint8_t *frame, size_t len, uint16_t flags, uint16_t dt)
{
	wr16(out, (uint16_t)(len | flags));
	wr16(out + 2, dt);
	memcpy(out + 4, frame, len);
	return len + 4;
}

/* The relative-sequence flag completes a new handshake: the connection
 * is accepted by the harness's application and carries data. */
static void relative_handshake(void **state)
{
	uint8_t in[512], f[256];
	size_t n = 0;
	struct fz_ctx c;
	(void)state;

	assert_null(fz_setup(&c));
	n += put_rec(in + n, f, fz_tcp_frame(f, 40100, FZ_LISTEN_PORT, 0, 0, TH_SYN, NULL, 0),
	             FZ_F_REL | FZ_F_CSUM, 0);
	n += put_rec(in + n, f, fz_tcp_frame(f, 40100, FZ_LISTEN_PORT, 1, 1, TH_ACK, "hi", 2),
	             FZ_F_REL | FZ_F_CSUM, 1);
	fz_run(&c, in, n);
	assert_int_equal(c.nkids, 1);
	assert_int_equal(tcp_state(c.kids[0]), TCPS_ESTABLISHED);
	fz_teardown(&c);
}

/* A connection the peer resets stays with the application (in no table);
 * teardown must close it or the TCB leaks (found by the first run of the
 * harness: tcp_fini frees only what its tables reach). */
static void reset_then_teardown(void **state)
{
	uint8_t in[128], f[128];
	size_t n;
	struct fz_ctx c;
	(void)state;

	assert_null(fz_setup(&c));
	n = put_rec(in, f, fz_tcp_frame(f, FZ_PASSIVE_RPORT, FZ_LISTEN_PORT, 1, 0, TH_RST, NULL, 0),
	            FZ_F_REL | FZ_F_CSUM, 0);
	fz_run(&c, in, n);
	assert_int_equal(tcp_state(c.passive), TCPS_CLOSED);
	fz_teardown(&c);
}

/* Degenerate inputs: empty, a lone header, a header claiming more bytes
 * than follow, every flag and the largest delta. */
static void degenerate_inputs(void **state)
{
	static const uint8_t hdr_only[] = {0x00, 0x10, 0x00, 0x00};
	static const uint8_t short_frame[] = {0xff, 0xff, 0xff, 0xff, 0x02, 0x00};
	static const uint8_t three[] = {0x00, 0x01, 0x02};
	(void)state;

	replay(NULL, 0);
	replay(three, sizeof(three));
	replay(hdr_only, sizeof(hdr_only));
	replay(short_frame, sizeof(short_frame));
}

/* Every seed of fuzz/corpus/stack, as the fuzzer starts from them. */
static void corpus_replay(void **state)
{
	char dir[1024], path[1400];
	const char *me = __FILE__;
	const char *cut = strstr(me, "tests/unit/");
	struct dirent *de;
	DIR *d;
	unsigned seeds = 0;
	(void)state;

	if (!cut)
		skip();  /* built from a relative path: nothing to find the corpus by */
	snprintf(dir, sizeof(dir), "%.*sfuzz/corpus/stack", (int)(cut - me), me);
	d = opendir(dir);
	if (!d)
		skip();
	while ((de = readdir(d))) {
		static uint8_t buf[65536];
		FILE *f;
		size_t n;
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		f = fopen(path, "rb");
		assert_non_null(f);
		n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		replay(buf, n);
		seeds++;
	}
	closedir(d);
	assert_true(seeds >= 20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(setup_state),
		cmocka_unit_test(relative_handshake),
		cmocka_unit_test(reset_then_teardown),
		cmocka_unit_test(degenerate_inputs),
		cmocka_unit_test(corpus_replay),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
