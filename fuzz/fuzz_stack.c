/* libFuzzer target: sequences of frames with time deltas fed to a stack that
 * has a UDP socket, a TCP listener and two established connections. The
 * input format and what happens to each record are described in
 * stack_harness.h (shared with tests/unit/test_fuzz_regress.c). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "stack_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_ctx c;
	const char *why = fz_setup(&c);

	/* A setup that fails fails for every input: stop at once, loudly. */
	if (why) {
		fprintf(stderr, "fuzz_stack: scripted setup failed: %s\n", why);
		abort();
	}
	fz_run(&c, data, size);
	fz_teardown(&c);
	return 0;
}
