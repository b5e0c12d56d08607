/* A token bucket on the stack's clock: `rate` events per second with bursts
 * of `burst`, for replies an attacker can trigger at will (RST to closed
 * ports, ICMP errors, RFC 5961 challenge ACKs). rate 0 means unlimited.
 * Tokens are kept in millionths so that any rate up to 4e9/s is exact. */
#ifndef USTACK_CORE_RATELIMIT_H
#define USTACK_CORE_RATELIMIT_H

#include <stdint.h>

struct ratelimit {
	uint64_t last_us;   /* 1 + when tokens were last topped up; 0: fresh */
	uint64_t tokens;    /* millionths of a token */
};

/* 1 when one more event may happen at `now` (and takes its token). */
static inline int ratelimit_allow(struct ratelimit *rl, uint32_t rate, uint32_t burst,
                                  uint64_t now)
{
	uint64_t cap = (uint64_t)(burst ? burst : 1) * 1000000u;

	if (rate == 0)
		return 1;
	if (rl->last_us == 0) {
		rl->tokens = cap;  /* a fresh bucket starts full */
		rl->last_us = now + 1;
	} else if (now + 1 > rl->last_us) {
		uint64_t dt = now + 1 - rl->last_us;
		/* dt * rate cannot overflow once dt is clamped to cap (us) */
		uint64_t add = dt >= cap ? cap : dt * rate;
		rl->tokens = rl->tokens + add > cap ? cap : rl->tokens + add;
		rl->last_us = now + 1;
	}
	if (rl->tokens < 1000000u)
		return 0;
	rl->tokens -= 1000000u;
	return 1;
}

#endif
