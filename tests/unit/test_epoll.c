/* epoll over ustack sockets: two runtimes on a memlink (ra sends, rb's
 * sockets are watched). Level and edge triggering, EPOLLONESHOT, HUP and
 * RDHUP, the errno of each misuse, a blocked waiter woken by a datagram, a
 * pipe and a ustack socket in one set, and the cost of a wait: 100,000
 * registered idle sockets cost a wait what 10 do (counted, not timed). */
#include "rt_test.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "runtime/epoll.h"

static int setup(void **state)
{
	(void)state;
	return rt_test_setup(512, 256);
}

static int udp_on(struct ust_runtime *rt, uint32_t ip, uint16_t port)
{
	struct sockaddr_in a = sin_of(ip, port);
	int fd = rt_socket(rt, AF_INET, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	if (port)
		assert_int_equal(ust_bind(fd, SA(&a), sizeof(a)), 0);
	return fd;
}

/* One datagram from a fresh socket of ra to IP_B:port. */
static void send_to(int from, uint16_t port)
{
	struct sockaddr_in b = sin_of(IP_B, port);

	assert_int_equal(ust_sendto(from, "x", 1, 0, SA(&b), sizeof(b)), 1);
}

static int add(int ep, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };

	return ust_epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static void drain(int fd)
{
	char b[64];

	while (ust_recv(fd, b, sizeof(b), MSG_DONTWAIT) > 0)
		;
}

static void test_level_edge_oneshot(void **state)
{
	int tx = udp_on(ra, 0, 0);
	int lt = udp_on(rb, 0, 7001), et = udp_on(rb, 0, 7002), os = udp_on(rb, 0, 7003);
	int ep = ust_epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev[4];
	struct epoll_event mod = { .events = EPOLLIN | EPOLLONESHOT, .data.u64 = 3 };

	(void)state;
	assert_true(ep >= 0 && ep < 1000000);
	assert_int_equal(add(ep, lt, EPOLLIN, 1), 0);
	assert_int_equal(add(ep, et, EPOLLIN | EPOLLET, 2), 0);
	assert_int_equal(add(ep, os, EPOLLIN | EPOLLONESHOT, 3), 0);
	assert_int_equal(ust_epoll_wait(ep, ev, 4, 0), 0);

	/* Level: reported on every wait while the datagram is unread. */
	send_to(tx, 7001);
	assert_int_equal(ust_epoll_wait(ep, ev, 4, 2000), 1);
	assert_int_equal(ev[0].events, EPOLLIN);
	assert_int_equal(ev[0].data.u64, 1);
	assert_int_equal(ust_epoll_wait(ep, ev, 4, 0), 1);
	drain(lt);
	assert_int_equal(ust_epoll_wait(ep, ev, 4, 0), 0);

	/* Edge: once per arrival, unread data or not. */
	send_to(tx, 7002);
	assert_int_equal(ust_epoll_wait(ep, ev, 4, 2000), 1);
	assert_int_equal(ev[0].data.u64, 2);
	assert_int_equal(ust_epoll_wait(ep, ev, 4, 0), 0);
	send_to(tx, 7002);
	assert_int_equal(ust_epoll_wait(ep, ev, 4, 2000), 1);
	assert_int_equal(ev[0].data.u64, 2);
	drain(et);

	/* One-shot: one report, then silence until EPOLL_CTL_MOD re-arms. */
	send_to(tx, 7003);
	assert_int_equal(ust_epoll_wait(ep, ev, 4, 2000), 1);
	assert_int_equal(ev[0].data.u64, 3);
	send_to(tx, 7003);
	assert_int_equal(ust_epoll_wait(ep, ev, 4, 100), 0);
	assert_int_equal(ust_epoll_ctl(ep, EPOLL_CTL_MOD, os, &mod), 0);
	assert_int_equal(ust_epoll_wait(ep, ev, 4, 0), 1);
	assert_int_equal(ev[0].data.u64, 3);

	/* EPOLLOUT of a datagram socket is always there (level). */
	mod.events = EPOLLOUT;
	mod.data.u64 = 9;
	assert_int_equal(ust_epoll_ctl(ep, EPOLL_CTL_MOD, os, &mod), 0);
	assert_int_equal(ust_epoll_wait(ep, ev, 4, 0), 1);
	assert_int_equal(ev[0].events, EPOLLOUT);

	assert_int_equal(ust_close(ep), 0);
	ust_close(tx);
	ust_close(lt);
	ust_close(et);
	ust_close(os);
}

static void test_hup_rdhup_and_close(void **state)
{
	int a = udp_on(rb, 0, 7010), b = udp_on(rb, 0, 7011), c = udp_on(rb, 0, 7012);
	int ep = ust_epoll_create(1);
	struct epoll_event ev[4];
	uint32_t seen[3] = { 0 };
	int n;

	(void)state;
	/* Events 0 still hears EPOLLHUP and EPOLLERR; RDHUP only when asked. */
	assert_int_equal(add(ep, a, 0, 0), 0);
	assert_int_equal(add(ep, b, EPOLLIN | EPOLLRDHUP, 1), 0);
	assert_int_equal(add(ep, c, EPOLLIN, 2), 0);
	assert_int_equal(ust_shutdown(a, SHUT_RDWR), -1);  /* unconnected: ENOTCONN, still shut */
	ust_shutdown(b, SHUT_RD);
	ust_shutdown(c, SHUT_RD);
	n = ust_epoll_wait(ep, ev, 4, 1000);
	assert_int_equal(n, 3);
	for (int i = 0; i < n; i++)
		seen[ev[i].data.u64] = ev[i].events;
	assert_int_equal(seen[0], EPOLLHUP);
	assert_int_equal(seen[1], EPOLLIN | EPOLLRDHUP);
	assert_int_equal(seen[2], EPOLLIN);

	/* A closed socket leaves every set. */
	ust_close(a);
	ust_close(b);
	ust_close(c);
	assert_int_equal(ust_epoll_wait(ep, ev, 4, 0), 0);
	ust_close(ep);
}

static void test_ctl_errors(void **state)
{
	int s = udp_on(rb, 0, 0), ep = ust_epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN };
	int p[2];

	(void)state;
	EXPECT_ERR(ust_epoll_create(0), EINVAL);
	EXPECT_ERR(ust_epoll_create1(42), EINVAL);
	assert_int_equal(ust_epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev), 0);
	EXPECT_ERR(ust_epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev), EEXIST);
	assert_int_equal(ust_epoll_ctl(ep, EPOLL_CTL_DEL, s, NULL), 0);
	EXPECT_ERR(ust_epoll_ctl(ep, EPOLL_CTL_DEL, s, NULL), ENOENT);
	EXPECT_ERR(ust_epoll_ctl(ep, EPOLL_CTL_MOD, s, &ev), ENOENT);
	EXPECT_ERR(ust_epoll_ctl(ep, 99, s, &ev), EINVAL);
	EXPECT_ERR(ust_epoll_ctl(ep, EPOLL_CTL_ADD, s, NULL), EFAULT);
	EXPECT_ERR(ust_epoll_ctl(ep, EPOLL_CTL_ADD, ep, &ev), EINVAL);
	EXPECT_ERR(ust_epoll_ctl(ep, EPOLL_CTL_ADD, 1999999, &ev), EBADF);
	EXPECT_ERR(ust_epoll_ctl(s, EPOLL_CTL_ADD, s, &ev), EINVAL);      /* a socket is no epoll fd */
	EXPECT_ERR(ust_epoll_wait(s, &ev, 1, 0), EINVAL);
	EXPECT_ERR(ust_epoll_wait(ep, &ev, 0, 0), EINVAL);
	/* EPOLLEXCLUSIVE: accepted on ADD, refused on MOD and with ONESHOT. */
	ev.events = EPOLLIN | EPOLLEXCLUSIVE;
	assert_int_equal(ust_epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev), 0);
	EXPECT_ERR(ust_epoll_ctl(ep, EPOLL_CTL_MOD, s, &ev), EINVAL);
	ev.events = EPOLLIN | EPOLLEXCLUSIVE | EPOLLONESHOT;
	assert_int_equal(pipe(p), 0);
	EXPECT_ERR(ust_epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev), EINVAL);
	/* Kernel fds go to the kernel, with its errors. */
	ev.events = EPOLLIN;
	assert_int_equal(ust_epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev), 0);
	EXPECT_ERR(ust_epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev), EEXIST);
	close(p[0]);
	close(p[1]);
	assert_int_equal(ust_close(ep), 0);
	EXPECT_ERR(ust_epoll_wait(ep, &ev, 1, 0), EBADF);
	ust_close(s);
}

/* More ready sockets than maxevents: level-triggered items go back to the
 * tail, so successive waits take turns and every socket is reported. */
static void test_maxevents_round_robin(void **state)
{
	int tx = udp_on(ra, 0, 0), ep = ust_epoll_create1(0), u[5];
	struct epoll_event ev[2];
	unsigned seen = 0;

	(void)state;
	for (int i = 0; i < 5; i++) {
		struct pollfd pf;

		u[i] = udp_on(rb, 0, (uint16_t)(7040 + i));
		assert_int_equal(add(ep, u[i], EPOLLIN, (uint64_t)i), 0);
		send_to(tx, (uint16_t)(7040 + i));
		/* Delivered before the next, so all five are ready below (a
		 * level-triggered wait returns at once while one is). */
		pf = (struct pollfd){ .fd = u[i], .events = POLLIN };
		assert_int_equal(ust_poll(&pf, 1, 2000), 1);
	}
	/* Now all five stay ready: three waits of two cover every one. */
	seen = 0;
	for (int round = 0; round < 3; round++) {
		assert_int_equal(ust_epoll_wait(ep, ev, 2, 0), 2);
		seen |= 1u << ev[0].data.u64 | 1u << ev[1].data.u64;
	}
	assert_int_equal(seen, 0x1f);
	for (int i = 0; i < 5; i++)
		ust_close(u[i]);
	ust_close(ep);
	ust_close(tx);
}

struct waiter {
	int ep;
	int n;
	struct epoll_event ev[4];
};

static void *wait_thread(void *arg)
{
	struct waiter *w = arg;

	w->n = ust_epoll_wait(w->ep, w->ev, 4, 10000);
	return NULL;
}

/* A pipe and a ustack socket in one set: a waiter blocked on it wakes for
 * a datagram, and again for bytes in the pipe. */
static void test_mixed_set_wakes(void **state)
{
	int tx = udp_on(ra, 0, 0), u = udp_on(rb, 0, 7020), p[2];
	struct waiter w = { .ep = ust_epoll_create1(0) };
	pthread_t t;
	char c;

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(add(w.ep, u, EPOLLIN, 100), 0);
	assert_int_equal(add(w.ep, p[0], EPOLLIN, 200), 0);

	assert_int_equal(pthread_create(&t, NULL, wait_thread, &w), 0);
	send_to(tx, 7020);
	pthread_join(t, NULL);
	assert_int_equal(w.n, 1);
	assert_int_equal(w.ev[0].data.u64, 100);
	drain(u);

	assert_int_equal(pthread_create(&t, NULL, wait_thread, &w), 0);
	assert_int_equal(write(p[1], "y", 1), 1);
	pthread_join(t, NULL);
	assert_int_equal(w.n, 1);
	assert_int_equal(w.ev[0].data.u64, 200);

	/* Both ready: one wait returns both. */
	send_to(tx, 7020);
	while (ust_epoll_wait(w.ep, w.ev, 4, 1000) < 2)
		;
	assert_int_equal(read(p[0], &c, 1), 1);
	drain(u);
	assert_int_equal(ust_epoll_wait(w.ep, w.ev, 4, 0), 0);

	/* The instance is a kernel epoll fd: a kernel poll() on it sees a
	 * ustack socket become ready. */
	{
		struct pollfd pf = { .fd = w.ep, .events = POLLIN };

		assert_int_equal(poll(&pf, 1, 0), 0);
		send_to(tx, 7020);
		assert_int_equal(poll(&pf, 1, 2000), 1);
		drain(u);
	}
	close(p[0]);
	close(p[1]);
	ust_close(w.ep);
	ust_close(u);
	ust_close(tx);
}

/* Ping-pong between a sender and a waiter blocked in epoll_wait, many
 * times over: every datagram must wake the waiter (a lost wake-up shows as
 * a wait that times out). */
struct pingpong {
	int ep, sock, ack;     /* ack: pipe the waiter writes after each datagram */
	int rounds, timeouts;
};

static void *pong_thread(void *arg)
{
	struct pingpong *pp = arg;
	struct epoll_event ev;
	char b[8];

	for (int i = 0; i < pp->rounds; i++) {
		int n = ust_epoll_wait(pp->ep, &ev, 1, 2000);

		if (n != 1) {
			pp->timeouts++;
			continue;
		}
		while (ust_recv(pp->sock, b, sizeof(b), MSG_DONTWAIT) > 0)
			;
		if (write(pp->ack, "k", 1) != 1)
			break;
	}
	return NULL;
}

static void test_no_lost_wakeups(void **state)
{
	int tx = udp_on(ra, 0, 0), p[2];
	struct pingpong pp = { .ep = ust_epoll_create1(0), .sock = udp_on(rb, 0, 7050),
	                       .rounds = 2000 };
	pthread_t t;
	char c;

	(void)state;
	assert_int_equal(pipe(p), 0);
	pp.ack = p[1];
	assert_int_equal(add(pp.ep, pp.sock, EPOLLIN | EPOLLET, 1), 0);
	assert_int_equal(pthread_create(&t, NULL, pong_thread, &pp), 0);
	for (int i = 0; i < pp.rounds; i++) {
		send_to(tx, 7050);
		if (read(p[0], &c, 1) != 1)
			break;
	}
	pthread_join(t, NULL);
	assert_int_equal(pp.timeouts, 0);
	close(p[0]);
	close(p[1]);
	ust_close(pp.ep);
	ust_close(pp.sock);
	ust_close(tx);
}

/* Registers n idle sockets and one that gets a datagram; returns the ready
 * list entries the waits looked at to find it. */
static long long cost_of_wait(int n, uint16_t port)
{
	int tx = udp_on(ra, 0, 0), hot = udp_on(rb, 0, port);
	int ep = ust_epoll_create1(0);
	int *idle = malloc((size_t)n * sizeof(*idle));
	struct epoll_event ev[8];
	long long before;

	assert_non_null(idle);
	for (int i = 0; i < n; i++) {
		idle[i] = rt_socket(rb, AF_INET, SOCK_DGRAM, 0);
		assert_true(idle[i] >= 0);
		assert_int_equal(add(ep, idle[i], EPOLLIN, (uint64_t)i), 0);
	}
	assert_int_equal(add(ep, hot, EPOLLIN, 424242), 0);
	assert_int_equal(ust_epoll_wait(ep, ev, 8, 0), 0);
	before = rt_epoll_examined(ep);
	send_to(tx, port);
	assert_int_equal(ust_epoll_wait(ep, ev, 8, 5000), 1);
	assert_int_equal(ev[0].data.u64, 424242);
	drain(hot);
	assert_int_equal(ust_epoll_wait(ep, ev, 8, 0), 0);
	before = rt_epoll_examined(ep) - before;
	for (int i = 0; i < n; i++)
		ust_close(idle[i]);
	free(idle);
	ust_close(ep);
	ust_close(hot);
	ust_close(tx);
	return before;
}

static void test_wait_cost_is_o_ready(void **state)
{
	long long small, big;

	(void)state;
	small = cost_of_wait(10, 7030);
	big = cost_of_wait(100000, 7031);
	print_message("ready-list entries examined: 10 idle sockets %lld, 100000 idle sockets %lld\n",
	              small, big);
	/* Found on the first wait, dropped on the second once drained. */
	assert_int_equal(small, 2);
	assert_int_equal(big, small);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_level_edge_oneshot),
		cmocka_unit_test(test_hup_rdhup_and_close),
		cmocka_unit_test(test_ctl_errors),
		cmocka_unit_test(test_maxevents_round_robin),
		cmocka_unit_test(test_mixed_set_wakes),
		cmocka_unit_test(test_no_lost_wakeups),
		cmocka_unit_test(test_wait_cost_is_o_ready),
	};

	return cmocka_run_group_tests(tests, setup, rt_test_teardown);
}
