/* Helpers of the runtime tests: two runtimes in one process joined by a
 * memlink, A (10.0.0.1, as ra) and B (10.0.0.2, as rb), each with its own
 * stack thread; socket addresses; the errno check of a failing call.
 * Included by test_*.c only, one runtime pair per test program. */
#ifndef USTACK_TESTS_RT_TEST_H
#define USTACK_TESTS_RT_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "runtime/runtime.h"

#define IP_A 0x0a000001u  /* 10.0.0.1 */
#define IP_B 0x0a000002u  /* 10.0.0.2 */
#define RT_TEST_MTU 1500

#define SA(p) ((struct sockaddr *)(p))
#define EXPECT_ERR(call, e)                   \
	do {                                  \
		errno = 0;                    \
		assert_int_equal((call), -1); \
		assert_int_equal(errno, (e)); \
	} while (0)

static struct ust_runtime *ra, *rb;

/* A runtime on a /prefix subnet with MAC 02:00:00:00:00:last, a pool of
 * pool packets and no gateway (the memlink is all there is: off the subnet
 * is unreachable); the rest are the defaults. */
static inline void rt_test_cfg(struct rt_config *c, uint32_t ip, uint8_t last,
			       unsigned prefix, unsigned pool)
{
	memset(c, 0, sizeof(*c));
	stk_config_default(&c->stk);
	c->stk.ip = ip;
	c->stk.netmask = prefix ? ~0u << (32 - prefix) : 0;
	c->stk.gateway = 0;
	c->stk.mac[0] = 0x02;
	c->stk.mac[5] = last;
	c->prefix = (uint8_t)prefix;
	c->stk.pkt_pool_size = pool;
}

/* Starts ra with ca and rb with cb on a memlink that queues depth frames
 * each way; 0 when both run. */
static inline int rt_test_start(const struct rt_config *ca, const struct rt_config *cb,
				unsigned depth)
{
	struct link *la, *lb;
	int err = 0;

	if (link_memlink_pair(RT_TEST_MTU, depth, &la, &lb) < 0)
		return -1;
	ra = rt_start(ca, la, &err);
	rb = rt_start(cb, lb, &err);
	return ra && rb ? 0 : -1;
}

/* The usual pair: A and B on 10.0.0.0/24, pool packets each. */
static inline int rt_test_setup(unsigned pool, unsigned depth)
{
	struct rt_config ca, cb;

	rt_test_cfg(&ca, IP_A, 1, 24, pool);
	rt_test_cfg(&cb, IP_B, 2, 24, pool);
	return rt_test_start(&ca, &cb, depth);
}

static inline int rt_test_teardown(void **state)
{
	(void)state;
	rt_stop(ra);
	rt_put(ra);
	rt_stop(rb);
	rt_put(rb);
	return 0;
}

static inline struct sockaddr_in sin_of(uint32_t ip, uint16_t port)
{
	struct sockaddr_in s;

	memset(&s, 0, sizeof(s));
	s.sin_family = AF_INET;
	s.sin_addr.s_addr = htonl(ip);
	s.sin_port = htons(port);
	return s;
}

/* A TCP socket of rt listening on port (any address). */
static inline int rt_test_listener(struct ust_runtime *rt, uint16_t port, int backlog)
{
	struct sockaddr_in a = sin_of(0, port);
	int fd = rt_socket(rt, AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(ust_bind(fd, SA(&a), sizeof(a)), 0);
	assert_int_equal(ust_listen(fd, backlog), 0);
	return fd;
}

#endif
