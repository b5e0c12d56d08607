/* epoll and poll over TCP sockets on a memlink (client on A, server on B):
 * a listener turns readable when its accept queue fills; a non-blocking
 * connect reports EPOLLOUT when it completes (SO_ERROR 0) and EPOLLERR when
 * refused (SO_ERROR ECONNREFUSED); data is EPOLLIN (once with EPOLLET); the
 * peer's FIN is EPOLLIN|EPOLLRDHUP. */
#include "rt_test.h"

#include <sys/epoll.h>
#include <sys/ioctl.h>

static int setup(void **state)
{
	(void)state;
	return rt_test_setup(1024, 512);
}

static int add(int ep, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };

	return ust_epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static int so_error(int fd)
{
	int v = -1;
	socklen_t l = sizeof(v);

	assert_int_equal(ust_getsockopt(fd, SOL_SOCKET, SO_ERROR, &v, &l), 0);
	return v;
}

static void test_accept_connect_data_fin(void **state)
{
	struct sockaddr_in b = sin_of(IP_B, 8000);
	int lfd = rt_socket(rb, AF_INET, SOCK_STREAM, 0);
	int cfd = rt_socket(ra, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int sep = ust_epoll_create1(0), cep = ust_epoll_create1(0), conn;
	struct epoll_event ev[4];
	char buf[16];

	(void)state;
	assert_int_equal(ust_bind(lfd, SA(&b), sizeof(b)), 0);
	assert_int_equal(ust_listen(lfd, 8), 0);
	assert_int_equal(add(sep, lfd, EPOLLIN, 1), 0);
	assert_int_equal(ust_epoll_wait(sep, ev, 4, 0), 0);

	/* Non-blocking connect: EINPROGRESS, then EPOLLOUT with SO_ERROR 0. */
	EXPECT_ERR(ust_connect(cfd, SA(&b), sizeof(b)), EINPROGRESS);
	assert_int_equal(add(cep, cfd, EPOLLOUT | EPOLLET, 7), 0);
	assert_int_equal(ust_epoll_wait(cep, ev, 4, 3000), 1);
	assert_true(ev[0].events & EPOLLOUT);
	assert_int_equal(so_error(cfd), 0);

	/* The listener is readable once the connection is in its queue. */
	assert_int_equal(ust_epoll_wait(sep, ev, 4, 3000), 1);
	assert_int_equal(ev[0].events, EPOLLIN);
	assert_int_equal(ev[0].data.u64, 1);
	conn = ust_accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
	assert_true(conn >= 0);
	assert_int_equal(ust_epoll_wait(sep, ev, 4, 0), 0);  /* queue empty again */

	/* Data: edge-triggered EPOLLIN, once per arrival. */
	assert_int_equal(add(sep, conn, EPOLLIN | EPOLLRDHUP | EPOLLET, 2), 0);
	assert_int_equal(ust_send(cfd, "abc", 3, 0), 3);
	assert_int_equal(ust_epoll_wait(sep, ev, 4, 3000), 1);
	assert_int_equal(ev[0].events, EPOLLIN);
	assert_int_equal(ev[0].data.u64, 2);
	assert_int_equal(ust_epoll_wait(sep, ev, 4, 0), 0);
	{
		int n = 0;

		assert_int_equal(ust_ioctl(conn, FIONREAD, &n), 0);
		assert_int_equal(n, 3);
	}
	assert_int_equal(ust_recv(conn, buf, sizeof(buf), 0), 3);

	/* The peer's FIN: readable (EOF) and EPOLLRDHUP. */
	assert_int_equal(ust_shutdown(cfd, SHUT_WR), 0);
	assert_int_equal(ust_epoll_wait(sep, ev, 4, 3000), 1);
	assert_int_equal(ev[0].events, EPOLLIN | EPOLLRDHUP);
	assert_int_equal(ust_recv(conn, buf, sizeof(buf), 0), 0);

	/* poll sees the same. */
	{
		struct pollfd pf = { .fd = conn, .events = POLLIN | POLLOUT | POLLRDHUP };

		assert_int_equal(ust_poll(&pf, 1, 0), 1);
		assert_int_equal(pf.revents & (POLLIN | POLLOUT | POLLRDHUP),
		                 POLLIN | POLLOUT | POLLRDHUP);
	}
	ust_close(conn);
	ust_close(cfd);
	ust_close(lfd);
	ust_close(sep);
	ust_close(cep);
}

static void test_refused_connect(void **state)
{
	struct sockaddr_in b = sin_of(IP_B, 8001);
	int cfd = rt_socket(ra, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int ep = ust_epoll_create1(0);
	struct epoll_event ev[2];

	(void)state;
	EXPECT_ERR(ust_connect(cfd, SA(&b), sizeof(b)), EINPROGRESS);
	assert_int_equal(add(ep, cfd, EPOLLOUT, 1), 0);
	assert_int_equal(ust_epoll_wait(ep, ev, 2, 3000), 1);
	assert_true(ev[0].events & EPOLLERR);
	assert_int_equal(so_error(cfd), ECONNREFUSED);
	ust_close(cfd);
	ust_close(ep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accept_connect_data_fin),
		cmocka_unit_test(test_refused_connect),
	};

	return cmocka_run_group_tests(tests, setup, rt_test_teardown);
}
