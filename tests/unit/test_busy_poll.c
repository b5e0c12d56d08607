/* USTACK_BUSY_POLL and extra local addresses over a memlink: two runtimes
 * in one process, callers that poll the link themselves before sleeping,
 * a stack thread that leaves the link to them and takes it back, sends
 * that leave from the calling thread; and a client bound to one of its
 * extra addresses, seen by the server as that address. */
#include "rt_test.h"

#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/time.h>
#include <unistd.h>

#include "runtime/sock.h"

#define IP_B_EXTRA 0x0a000100u /* 10.0.1.0 .. 10.0.1.9: the client's extras */

/* A (the server) and B (the client) on 10.0.0.0/16; callers and stack
 * threads spin 300 us before they sleep. */
static int setup(void **state)
{
	struct rt_config ca, cb;

	(void)state;
	rt_test_cfg(&ca, IP_A, 1, 16, 2048);
	rt_test_cfg(&cb, IP_B, 2, 16, 2048);
	ca.busy_poll_us = 300;
	cb.busy_poll_us = 300;
	cb.stk.extra_ips[0].first = IP_B_EXTRA;
	cb.stk.extra_ips[0].count = 10;
	return rt_test_start(&ca, &cb, 1024);
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
	struct echo e = { .l = rt_test_listener(ra, 5100, 16) };
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
	struct echo e = { .l = rt_test_listener(ra, 5101, 16) };
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

		EXPECT_ERR(ust_bind(fd, SA(&bad), sizeof(bad)), EADDRNOTAVAIL);
		ust_close(fd);
	}
}

/* A recv timeout still ends the wait while the caller polls first. */
static void test_timeout(void **state)
{
	struct echo e = { .l = rt_test_listener(ra, 5102, 16) };
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
	EXPECT_ERR(ust_recv(c, &b, 1, 0), EAGAIN);
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
	return cmocka_run_group_tests(tests, setup, rt_test_teardown);
}
