/* USTACK_BUSY_POLL and extra local addresses over a memlink: two runtimes
 * in one process, callers that poll the link themselves before sleeping,
 * a stack thread that leaves the link to them and takes it back, sends
 * that leave from the calling thread; and a client bound to one of its
 * extra addresses, seen by the server as that address. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "runtime/runtime.h"
#include "runtime/sock.h"

#define IP_A 0x0a000001u      /* 10.0.0.1: server */
#define IP_B 0x0a000002u      /* 10.0.0.2: client */
#define IP_B_EXTRA 0x0a000100u /* 10.0.1.0 .. 10.0.1.9: the client's extras */
#define SA(p) ((struct sockaddr *)(p))

static struct ust_runtime *ra, *rb;

static void make_cfg(struct rt_config *c, uint32_t ip, uint8_t last)
{
	memset(c, 0, sizeof(*c));
	stk_config_default(&c->stk);
	c->stk.ip = ip;
	c->stk.netmask = 0xffff0000u;
	c->stk.gateway = 0;
	c->stk.mac[0] = 0x02;
	c->stk.mac[5] = last;
	c->prefix = 16;
	c->stk.pkt_pool_size = 2048;
	c->busy_poll_us = 300;
}

static int setup(void **state)
{
	struct rt_config ca, cb;
	struct link *la, *lb;
	int err = 0;

	(void)state;
	make_cfg(&ca, IP_A, 1);
	make_cfg(&cb, IP_B, 2);
	cb.stk.extra_ips[0].first = IP_B_EXTRA;
	cb.stk.extra_ips[0].count = 10;
	if (link_memlink_pair(1500, 1024, &la, &lb) < 0)
		return -1;
	ra = rt_start(&ca, la, &err);
	rb = rt_start(&cb, lb, &err);
	return ra && rb ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	rt_stop(ra);
	rt_put(ra);
	rt_stop(rb);
	rt_put(rb);
	return 0;
}

static struct sockaddr_in sin_of(uint32_t ip, uint16_t port)
{
	struct sockaddr_in s;

	memset(&s, 0, sizeof(s));
	s.sin_family = AF_INET;
	s.sin_addr.s_addr = htonl(ip);
	s.sin_port = htons(port);
	return s;
}

static int listener(uint16_t port)
{
	struct sockaddr_in a = sin_of(0, port);
	int fd = rt_socket(ra, AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(ust_bind(fd, SA(&a), sizeof(a)), 0);
	assert_int_equal(ust_listen(fd, 16), 0);
	return fd;
}

/* A client on B bound to src (0: any), connected to A:port. */
static int client(uint32_t src, uint16_t port)
{
	struct sockaddr_in a = sin_of(IP_A, port), me = sin_of(src, 0);
	int fd = rt_socket(rb, AF_INET, SOCK_STREAM, 0);
	int one = 1;

	assert_true(fd >= 0);
	if (src)
		assert_int_equal(ust_bind(fd, SA(&me), sizeof(me)), 0);
	assert_int_equal(ust_setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)), 0);
	assert_int_equal(ust_connect(fd, SA(&a), sizeof(a)), 0);
	return fd;
}

struct echo {
	int l;
	int rounds;
	uint32_t peer;   /* the accepted connection's peer address */
};

/* Accepts one connection and echoes bytes one by one until EOF. */
static void *echo1(void *arg)
{
	struct echo *e = arg;
	struct sockaddr_in peer;
	socklen_t len = sizeof(peer);
	int one = 1, c = ust_accept(e->l, SA(&peer), &len);
	char b;

	if (c < 0)
		return NULL;
	e->peer = ntohl(peer.sin_addr.s_addr);
	ust_setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	while (ust_recv(c, &b, 1, 0) == 1) {
		if (ust_send(c, &b, 1, 0) != 1)
			break;
		e->rounds++;
	}
	ust_close(c);
	return NULL;
}

static void pingpong(int c, int rounds, unsigned idle_us)
{
	for (int i = 0; i < rounds; i++) {
		char b = (char)i, r = 0;

		assert_int_equal(ust_send(c, &b, 1, 0), 1);
		assert_int_equal(ust_recv(c, &r, 1, 0), 1);
		assert_int_equal(r, b);
		/* Past the budget: the pollers give up and sleep, the stack
		 * thread takes the link back; the next round must still go. */
		if (idle_us)
			usleep(idle_us);
	}
}

static void test_pingpong(void **state)
{
	struct echo e = { .l = listener(5100) };
	pthread_t t;
	int c;

	(void)state;
	assert_int_equal(pthread_create(&t, NULL, echo1, &e), 0);
	c = client(0, 5100);
	pingpong(c, 3000, 0);
	pingpong(c, 20, 2000);
	pingpong(c, 500, 0);
	assert_int_equal(ust_close(c), 0);
	pthread_join(t, NULL);
	assert_int_equal(e.rounds, 3520);
	assert_int_equal(e.peer, IP_B);
	ust_close(e.l);
}

/* A client bound to an extra address: ARP, routing and the 4-tuple all
 * use it; the server sees it as the peer. */
static void test_extra_source(void **state)
{
	struct echo e = { .l = listener(5101) };
	struct sockaddr_in me;
	socklen_t len = sizeof(me);
	pthread_t t;
	int c;

	(void)state;
	assert_int_equal(pthread_create(&t, NULL, echo1, &e), 0);
	c = client(IP_B_EXTRA + 7, 5101);
	assert_int_equal(ust_getsockname(c, SA(&me), &len), 0);
	assert_int_equal(ntohl(me.sin_addr.s_addr), IP_B_EXTRA + 7);
	pingpong(c, 10, 0);
	assert_int_equal(ust_close(c), 0);
	pthread_join(t, NULL);
	assert_int_equal(e.peer, IP_B_EXTRA + 7);
	assert_int_equal(e.rounds, 10);
	ust_close(e.l);

	/* Not one of B's addresses: bind refuses it. */
	{
		struct sockaddr_in bad = sin_of(IP_B_EXTRA + 10, 0);
		int fd = rt_socket(rb, AF_INET, SOCK_STREAM, 0);

		errno = 0;
		assert_int_equal(ust_bind(fd, SA(&bad), sizeof(bad)), -1);
		assert_int_equal(errno, EADDRNOTAVAIL);
		ust_close(fd);
	}
}

/* A recv timeout still ends the wait while the caller polls first. */
static void test_timeout(void **state)
{
	struct echo e = { .l = listener(5102) };
	struct timeval tv = { .tv_sec = 0, .tv_usec = 30000 };
	pthread_t t;
	uint64_t t0;
	char b;
	int c;

	(void)state;
	assert_int_equal(pthread_create(&t, NULL, echo1, &e), 0);
	c = client(0, 5102);
	assert_int_equal(ust_setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	t0 = rt_now_us();
	errno = 0;
	assert_int_equal(ust_recv(c, &b, 1, 0), -1);
	assert_int_equal(errno, EAGAIN);
	assert_true(rt_now_us() - t0 >= 25000);
	assert_int_equal(ust_close(c), 0);
	pthread_join(t, NULL);
	ust_close(e.l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pingpong),
		cmocka_unit_test(test_extra_source),
		cmocka_unit_test(test_timeout),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
