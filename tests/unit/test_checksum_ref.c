/* csum_partial against a plain RFC 1071 reference (big-endian 16-bit words,
 * one at a time): every length up to past a frame, every alignment, seeded
 * random bytes and all-0xff runs (the carries), any starting sum. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/checksum.h"

static uint16_t ref_fold(const uint8_t *b, size_t len, uint32_t sum)
{
	uint64_t acc = sum;

	for (size_t i = 0; i + 1 < len; i += 2)
		acc += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		acc += (uint32_t)b[len - 1] << 8;
	while (acc >> 16)
		acc = (acc & 0xffffu) + (acc >> 16);
	return (uint16_t)~acc;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint8_t next_byte(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint8_t)rng;
}

static void check_all(const uint8_t *buf, size_t max)
{
	static const uint32_t sums[] = { 0, 1, 0xffff, 0x1234abcd, 0xffffffffu };

	for (size_t off = 0; off < 8; off++)
		for (size_t len = 0; len + off <= max; len += (len < 300 ? 1 : 37))
			for (size_t k = 0; k < sizeof(sums) / sizeof(sums[0]); k++)
				assert_int_equal(csum_fold(csum_partial(buf + off, len, sums[k])),
				                 ref_fold(buf + off, len, sums[k]));
}

static void random_bytes(void **state)
{
	uint8_t buf[2100];
	(void)state;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = next_byte();
	check_all(buf, sizeof(buf));
}

static void all_ones(void **state)
{
	uint8_t buf[2100];
	(void)state;

	memset(buf, 0xff, sizeof(buf));
	check_all(buf, sizeof(buf));
	memset(buf, 0, sizeof(buf));
	check_all(buf, sizeof(buf));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(random_bytes),
		cmocka_unit_test(all_ones),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
