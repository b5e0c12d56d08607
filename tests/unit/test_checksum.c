/* The Internet checksum: known vectors, odd lengths, alignment, sums over
 * chains of buffers with odd-length pieces. */
#include "core_test.h"

static void rfc1071_vector(void **state)
{
	/* RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2. */
	static const uint8_t b[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
	(void)state;
	assert_int_equal(csum_fold(csum_partial(b, sizeof(b), 0)), (uint16_t)~0xddf2);
}

static void ip_header_vector(void **state)
{
	/* A well-known IPv4 header whose checksum is b861. */
	uint8_t h[20] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
	                 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
	(void)state;
	assert_int_equal(csum_fold(csum_partial(h, 20, 0)), 0xb861);
	h[10] = 0xb8;
	h[11] = 0x61;
	assert_int_equal(csum_fold(csum_partial(h, 20, 0)), 0);
}

static void odd_lengths(void **state)
{
	uint8_t b[301];
	(void)state;
	for (size_t i = 0; i < sizeof(b); i++)
		b[i] = (uint8_t)(i * 7 + 3);
	assert_int_equal(csum_fold(csum_partial(b, 1, 0)), (uint16_t)~(b[0] << 8));
	for (size_t n = 0; n <= sizeof(b); n++) {
		assert_int_equal(csum_fold(csum_partial(b, n, 0)), ref_csum(b, n, 0));
		/* Any alignment of the start. */
		if (n < sizeof(b))
			assert_int_equal(csum_fold(csum_partial(b + 1, n, 0)), ref_csum(b + 1, n, 0));
	}
}

static void carries_fold(void **state)
{
	uint8_t b[4096];
	(void)state;
	memset(b, 0xff, sizeof(b));
	/* A large starting sum must carry into the result, not be lost. */
	assert_int_equal(csum_fold(csum_partial(b, sizeof(b), 0xffffffffu)), 0);
	assert_int_equal(csum_fold(csum_partial(b, sizeof(b), 0)), 0);
	b[7] = 0xfe;
	assert_int_equal(csum_fold(csum_partial(b, sizeof(b), 0)), 0x0001);
}

static void pseudo_header(void **state)
{
	(void)state;
	assert_int_equal(csum_fold(csum_pseudo(0x0a000001, 0x0a000002, 17, 8)),
	                 (uint16_t)~(0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 17 + 8));
}

static void chain_with_odd_pieces(void **state)
{
	struct pkt_pool pool;
	uint8_t b[5000];
	static const size_t cuts[][3] = {{1, 2, 3}, {7, 1000, 1}, {2047, 1, 2}, {3, 3, 3}};
	(void)state;
	assert_int_equal(pkt_pool_init(&pool, 8), 0);
	for (size_t i = 0; i < sizeof(b); i++)
		b[i] = (uint8_t)(i * 13 + 5);
	for (size_t c = 0; c < 4; c++) {
		struct pkt *head = NULL, **tail = &head;
		size_t off = 0, total = 0;
		for (size_t k = 0; k < 4; k++) {
			size_t n = k < 3 ? cuts[c][k] : 1500;
			struct pkt *p = pkt_alloc(&pool);
			memcpy(pkt_put(p, n), b + off, n);
			off += n;
			*tail = p;
			tail = &p->next;
		}
		total = off;
		assert_int_equal(pkt_chain_len(head), total);
		assert_int_equal(csum_fold(pkt_chain_csum(head, 0)), ref_csum(b, total, 0));
		assert_int_equal(csum_fold(pkt_chain_csum_n(head, total - 5, 0x1234)),
		                 ref_csum(b, total - 5, 0x1234));
		pkt_free_chain(head);
	}
	assert_int_equal(pool.nfree, 8);
	pkt_pool_fini(&pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rfc1071_vector),
		cmocka_unit_test(ip_header_vector),
		cmocka_unit_test(odd_lengths),
		cmocka_unit_test(carries_fold),
		cmocka_unit_test(pseudo_header),
		cmocka_unit_test(chain_with_odd_pieces),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
