/* The Internet checksum (RFC 1071), in one place. */
#ifndef USTACK_CORE_CHECKSUM_H
#define USTACK_CORE_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

/* One's-complement sum of data (any length, any alignment) added to sum. */
uint32_t csum_partial(const void *data, size_t len, uint32_t sum);
/* Folds a partial sum and complements it: the value to put in a header. */
uint16_t csum_fold(uint32_t sum);
/* The partial sum of the IPv4 pseudo-header (addresses in host order). */
uint32_t csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len);

#endif
