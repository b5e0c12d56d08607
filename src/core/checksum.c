#include "core/checksum.h"

#include <string.h>

/* RFC 1071 2(B): the one's complement sum does not depend on byte order
 * but for a final swap, so the data is summed as host-order 32-bit words
 * into 64 bits (carries wait in the top half, 2(C)) and folded, then
 * swapped to network order once. Sixteen bytes per step: this sum is on
 * every segment's path twice (sent and received). */
uint32_t csum_partial(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *b = data;
	uint64_t acc = 0, w0, w1;
	uint32_t w;
	uint16_t h = 0;

	while (len >= 16) {
		memcpy(&w0, b, 8);
		memcpy(&w1, b + 8, 8);
		acc += (w0 & 0xffffffffu) + (w0 >> 32) + (w1 & 0xffffffffu) + (w1 >> 32);
		b += 16;
		len -= 16;
	}
	while (len >= 4) {
		memcpy(&w, b, 4);
		acc += w;
		b += 4;
		len -= 4;
	}
	if (len >= 2) {
		memcpy(&h, b, 2);
		acc += h;
		b += 2;
		len -= 2;
	}
	if (len) {
		/* The odd last byte is the high half of a big-endian word. */
		uint8_t pad[2] = { b[0], 0 };
		memcpy(&h, pad, 2);
		acc += h;
	}
	while (acc >> 16)
		acc = (acc & 0xffffu) + (acc >> 16);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	acc = ((acc & 0xff) << 8) | (acc >> 8);
#endif
	acc += sum;
	while (acc >> 32)
		acc = (acc & 0xffffffffu) + (acc >> 32);
	return (uint32_t)acc;
}

uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffffu) + (sum >> 16);
	return (uint16_t)~sum;
}

uint32_t csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len)
{
	uint64_t acc = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto + len;
	while (acc >> 32)
		acc = (acc & 0xffffffffu) + (acc >> 32);
	return (uint32_t)acc;
}
