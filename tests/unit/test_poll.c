/* poll and select over ustack sockets and kernel fds in one set: a pipe, an
 * eventfd and a timerfd beside a ustack UDP socket; a blocked caller wakes
 * for either side; POLLNVAL and EBADF for closed fds; a close wakes a
 * poller; FIONREAD and FIONBIO. The fd base is moved below FD_SETSIZE first
 * so select's stock fd_set can name the ustack fds. */
#include "rt_test.h"

#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define FD_BASE 700

static int setup(void **state)
{
	(void)state;
	if (rt_fd_set_base(FD_BASE) < 0)
		return -1;
	return rt_test_setup(512, 256);
}

static int udp_on(struct ust_runtime *rt, uint16_t port)
{
	struct sockaddr_in a = sin_of(0, port);
	int fd = rt_socket(rt, AF_INET, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	if (port)
		assert_int_equal(ust_bind(fd, SA(&a), sizeof(a)), 0);
	return fd;
}

static void send_to(int from, uint16_t port, size_t len)
{
	static const char data[1000];
	struct sockaddr_in b = sin_of(IP_B, port);

	assert_int_equal(ust_sendto(from, data, len, 0, SA(&b), sizeof(b)), (ssize_t)len);
}

struct poller {
	struct pollfd pf[3];
	int n;
};

static void *poll_thread(void *arg)
{
	struct poller *p = arg;

	p->n = ust_poll(p->pf, 3, 10000);
	return NULL;
}

static void test_poll_pipe_and_socket(void **state)
{
	int tx = udp_on(ra, 0), u = udp_on(rb, 7100), p[2], ev = eventfd(0, 0);
	struct poller w;
	pthread_t t;
	uint64_t one = 1;
	char c[16];

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_true(u >= FD_BASE);
	w.pf[0] = (struct pollfd){ .fd = p[0], .events = POLLIN };
	w.pf[1] = (struct pollfd){ .fd = u, .events = POLLIN };
	w.pf[2] = (struct pollfd){ .fd = ev, .events = POLLIN };
	assert_int_equal(ust_poll(w.pf, 3, 0), 0);

	/* The ustack side wakes a blocked poller... */
	assert_int_equal(pthread_create(&t, NULL, poll_thread, &w), 0);
	send_to(tx, 7100, 10);
	pthread_join(t, NULL);
	assert_int_equal(w.n, 1);
	assert_int_equal(w.pf[1].revents, POLLIN);
	assert_int_equal(w.pf[0].revents, 0);
	assert_int_equal(ust_recv(u, c, sizeof(c), 0), 10);

	/* ...so does the kernel side: the pipe, then the eventfd. */
	assert_int_equal(pthread_create(&t, NULL, poll_thread, &w), 0);
	assert_int_equal(write(p[1], "z", 1), 1);
	pthread_join(t, NULL);
	assert_int_equal(w.n, 1);
	assert_int_equal(w.pf[0].revents, POLLIN);
	assert_int_equal(w.pf[1].revents, 0);
	assert_int_equal(read(p[0], c, 1), 1);
	assert_int_equal(pthread_create(&t, NULL, poll_thread, &w), 0);
	assert_int_equal(write(ev, &one, sizeof(one)), 8);
	pthread_join(t, NULL);
	assert_int_equal(w.n, 1);
	assert_int_equal(w.pf[2].revents, POLLIN);

	/* POLLOUT of a datagram socket; POLLNVAL for a closed ustack fd. */
	w.pf[1].events = POLLOUT;
	assert_int_equal(ust_poll(w.pf, 2, 0), 1);
	assert_int_equal(w.pf[1].revents, POLLOUT);
	ust_close(u);
	assert_int_equal(ust_poll(w.pf, 2, 0), 1);
	assert_int_equal(w.pf[1].revents, POLLNVAL);
	close(p[0]);
	close(p[1]);
	close(ev);
	ust_close(tx);
}

static void test_poll_timeout_and_timerfd(void **state)
{
	int u = udp_on(rb, 7101), tfd = timerfd_create(CLOCK_MONOTONIC, 0);
	struct itimerspec its = { .it_value = { 0, 50 * 1000000L } };
	struct pollfd pf[2] = { { .fd = u, .events = POLLIN }, { .fd = tfd, .events = POLLIN } };
	uint64_t t0;

	(void)state;
	t0 = rt_now_us();
	assert_int_equal(ust_poll(pf, 1, 60), 0);
	assert_true(rt_now_us() - t0 >= 59000);
	assert_int_equal(timerfd_settime(tfd, 0, &its, NULL), 0);
	assert_int_equal(ust_poll(pf, 2, 5000), 1);
	assert_int_equal(pf[1].revents, POLLIN);
	assert_int_equal(pf[0].revents, 0);
	close(tfd);
	ust_close(u);
}

struct closer_arg {
	struct pollfd pf;
	int n;
};

static void *poll_one(void *arg)
{
	struct closer_arg *a = arg;

	a->n = ust_poll(&a->pf, 1, 10000);
	return NULL;
}

static void test_close_wakes_poller(void **state)
{
	struct closer_arg a = { .pf = { .fd = udp_on(rb, 7102), .events = POLLIN } };
	pthread_t t;

	(void)state;
	assert_int_equal(pthread_create(&t, NULL, poll_one, &a), 0);
	/* Shutting the socket for reading wakes it with POLLIN (EOF). */
	ust_shutdown(a.pf.fd, SHUT_RD);
	pthread_join(t, NULL);
	assert_int_equal(a.n, 1);
	assert_true(a.pf.revents & POLLIN);
	ust_close(a.pf.fd);
}

static void test_select_mixed(void **state)
{
	int tx = udp_on(ra, 0), u = udp_on(rb, 7103), p[2];
	struct timeval tv = { 0, 0 };
	fd_set r, w;
	int nfds;

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_true(u < FD_SETSIZE);
	nfds = (u > p[0] ? u : p[0]) + 1;
	FD_ZERO(&r);
	FD_SET(u, &r);
	FD_SET(p[0], &r);
	assert_int_equal(ust_select(nfds, &r, NULL, NULL, &tv), 0);
	assert_false(FD_ISSET(u, &r));

	send_to(tx, 7103, 5);
	FD_ZERO(&r);
	FD_SET(u, &r);
	FD_SET(p[0], &r);
	assert_int_equal(ust_select(nfds, &r, NULL, NULL, NULL), 1);
	assert_true(FD_ISSET(u, &r));
	assert_false(FD_ISSET(p[0], &r));

	assert_int_equal(write(p[1], "q", 1), 1);
	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_SET(u, &r);
	FD_SET(p[0], &r);
	FD_SET(u, &w);
	assert_int_equal(ust_select(nfds, &r, &w, NULL, NULL), 3);
	assert_true(FD_ISSET(u, &r) && FD_ISSET(p[0], &r) && FD_ISSET(u, &w));

	/* FIONREAD: the next datagram's length; FIONBIO. */
	{
		int n = 0, on = 1;
		char b[8];

		assert_int_equal(ust_ioctl(u, FIONREAD, &n), 0);
		assert_int_equal(n, 5);
		assert_int_equal(ust_recv(u, b, sizeof(b), 0), 5);
		assert_int_equal(ust_ioctl(u, FIONREAD, &n), 0);
		assert_int_equal(n, 0);
		assert_int_equal(ust_ioctl(u, FIONBIO, &on), 0);
		EXPECT_ERR(ust_recv(u, b, sizeof(b), 0), EAGAIN);
	}

	ust_close(u);
	FD_ZERO(&r);
	FD_SET(u, &r);
	EXPECT_ERR(ust_select(u + 1, &r, NULL, NULL, &tv), EBADF);
	close(p[0]);
	close(p[1]);
	ust_close(tx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_poll_pipe_and_socket),
		cmocka_unit_test(test_poll_timeout_and_timerfd),
		cmocka_unit_test(test_close_wakes_poller),
		cmocka_unit_test(test_select_mixed),
	};

	return cmocka_run_group_tests(tests, setup, rt_test_teardown);
}
