/* SipHash-2-4 (Aumasson & Bernstein, 2012): a keyed PRF for values an
 * off-path attacker must not predict: TCP initial sequence numbers (RFC
 * 6528 3), ephemeral ports (RFC 6056 3.3.3), SYN cookies (RFC 4987 3.6).
 * Written from the paper; input is whole 64-bit words, which is all the
 * callers need. */
#ifndef USTACK_CORE_SIPHASH_H
#define USTACK_CORE_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

#define SIP_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static inline void sip_round(uint64_t v[4])
{
	v[0] += v[1]; v[1] = SIP_ROTL(v[1], 13); v[1] ^= v[0]; v[0] = SIP_ROTL(v[0], 32);
	v[2] += v[3]; v[3] = SIP_ROTL(v[3], 16); v[3] ^= v[2];
	v[0] += v[3]; v[3] = SIP_ROTL(v[3], 21); v[3] ^= v[0];
	v[2] += v[1]; v[1] = SIP_ROTL(v[1], 17); v[1] ^= v[2]; v[2] = SIP_ROTL(v[2], 32);
}

/* SipHash-2-4 of n 64-bit words under the 128-bit key (k0, k1). */
static inline uint64_t siphash_words(uint64_t k0, uint64_t k1, const uint64_t *m, size_t n)
{
	uint64_t v[4] = {
		k0 ^ 0x736f6d6570736575ull, k1 ^ 0x646f72616e646f6dull,
		k0 ^ 0x6c7967656e657261ull, k1 ^ 0x7465646279746573ull,
	};
	uint64_t last = (uint64_t)(n * 8) << 56;

	for (size_t i = 0; i < n; i++) {
		v[3] ^= m[i];
		sip_round(v);
		sip_round(v);
		v[0] ^= m[i];
	}
	v[3] ^= last;
	sip_round(v);
	sip_round(v);
	v[0] ^= last;
	v[2] ^= 0xff;
	for (int i = 0; i < 4; i++)
		sip_round(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* The stacks keep a 64-bit secret; the second key half is derived from it. */
static inline uint64_t siphash_secret(uint64_t secret, const uint64_t *m, size_t n)
{
	return siphash_words(secret, secret * 0x9e3779b97f4a7c15ull ^ 0x5851f42d4c957f2dull, m, n);
}

#endif
