/* The runtime over a memlink: two stacks in one process, each with its own
 * stack thread, and the blocking UDP socket calls between them. Also the
 * errno of every misuse, as Linux gives it. */
#include "rt_test.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/time.h>

static int setup(void **state)
{
	(void)state;
	return rt_test_setup(512, 256);
}

static int udp_on(struct ust_runtime *rt, uint16_t port)
{
	int fd = rt_socket(rt, AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = sin_of(0, port);

	assert_true(fd >= RT_FD_BASE_DEFAULT);
	if (port)
		assert_int_equal(ust_bind(fd, SA(&a), sizeof(a)), 0);
	return fd;
}

static void test_socket_errors(void **state)
{
	(void)state;
	EXPECT_ERR(rt_socket(ra, AF_INET6, SOCK_DGRAM, 0), EAFNOSUPPORT);
	EXPECT_ERR(rt_socket(ra, AF_UNIX, SOCK_DGRAM, 0), EAFNOSUPPORT);
	/* SOCK_STREAM is TCP's (test_runtime_tcp.c); a UDP protocol on it is not. */
	EXPECT_ERR(rt_socket(ra, AF_INET, SOCK_STREAM, IPPROTO_UDP), EPROTONOSUPPORT);
	EXPECT_ERR(rt_socket(ra, AF_INET, SOCK_DGRAM, IPPROTO_TCP), EPROTONOSUPPORT);
	EXPECT_ERR(rt_socket(ra, AF_INET, SOCK_SEQPACKET, 0), ESOCKTNOSUPPORT);
	EXPECT_ERR(rt_socket(ra, AF_INET, 0, 0), EINVAL);
	EXPECT_ERR(rt_socket(ra, AF_INET, 12, 0), EINVAL);
	EXPECT_ERR(rt_socket(ra, AF_INET, SOCK_DGRAM | 0x100000, 0), EINVAL);

	EXPECT_ERR(ust_close(-1), EBADF);
	EXPECT_ERR(ust_close(3), EBADF);
	EXPECT_ERR(ust_close(RT_FD_BASE_DEFAULT + 12345), EBADF);
	EXPECT_ERR(ust_send(RT_FD_BASE_DEFAULT + 12345, "x", 1, 0), EBADF);
	assert_true(rt_fd_is_ours(RT_FD_BASE_DEFAULT));
	assert_false(rt_fd_is_ours(5));
}

static void test_bind_errors(void **state)
{
	struct sockaddr_in a = sin_of(IP_A, 6000), got;
	struct sockaddr_in6 a6;
	socklen_t len = sizeof(got);
	int fd = udp_on(ra, 0), fd2 = udp_on(ra, 0);

	(void)state;
	memset(&a6, 0, sizeof(a6));
	a6.sin6_family = AF_INET6;
	EXPECT_ERR(ust_bind(fd, NULL, sizeof(a)), EFAULT);
	EXPECT_ERR(ust_bind(fd, SA(&a), sizeof(a) - 1), EINVAL);
	EXPECT_ERR(ust_bind(fd, SA(&a6), sizeof(a6)), EAFNOSUPPORT);
	a.sin_addr.s_addr = htonl(0x0a000063);
	EXPECT_ERR(ust_bind(fd, SA(&a), sizeof(a)), EADDRNOTAVAIL);
	a.sin_addr.s_addr = htonl(IP_A);

	/* Unbound: 0.0.0.0:0 as in Linux. */
	assert_int_equal(ust_getsockname(fd, SA(&got), &len), 0);
	assert_int_equal(len, sizeof(got));
	assert_int_equal(got.sin_port, 0);

	assert_int_equal(ust_bind(fd, SA(&a), sizeof(a)), 0);
	EXPECT_ERR(ust_bind(fd, SA(&a), sizeof(a)), EINVAL);   /* already bound */
	EXPECT_ERR(ust_bind(fd2, SA(&a), sizeof(a)), EADDRINUSE);
	assert_int_equal(ust_getsockname(fd, SA(&got), &len), 0);
	assert_int_equal(ntohs(got.sin_port), 6000);
	assert_int_equal(ntohl(got.sin_addr.s_addr), IP_A);
	EXPECT_ERR(ust_getsockname(fd, NULL, &len), EFAULT);
	EXPECT_ERR(ust_getpeername(fd, SA(&got), &len), ENOTCONN);

	/* The port is free again once closed. */
	assert_int_equal(ust_close(fd), 0);
	EXPECT_ERR(ust_close(fd), EBADF);
	assert_int_equal(ust_bind(fd2, SA(&a), sizeof(a)), 0);
	assert_int_equal(ust_close(fd2), 0);
}

static void test_io_errors(void **state)
{
	struct sockaddr_in b = sin_of(IP_B, 7001);
	char buf[8];
	int fd = udp_on(ra, 0);
	socklen_t len = sizeof(b);

	(void)state;
	EXPECT_ERR(ust_send(fd, "x", 1, 0), EDESTADDRREQ);
	EXPECT_ERR(ust_sendto(fd, NULL, 5, 0, SA(&b), sizeof(b)), EFAULT);
	EXPECT_ERR(ust_sendto(fd, "x", 1, 0, SA(&b), 4), EINVAL);
	EXPECT_ERR(ust_recv(fd, NULL, 5, 0), EFAULT);
	EXPECT_ERR(ust_recvfrom(fd, buf, sizeof(buf), 0, SA(&b), NULL), EFAULT);
	EXPECT_ERR(ust_recv(fd, buf, sizeof(buf), MSG_DONTWAIT), EAGAIN);

	assert_int_equal(ust_fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
	assert_int_equal(ust_fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(ust_fcntl(fd, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
	EXPECT_ERR(ust_recv(fd, buf, sizeof(buf), 0), EAGAIN);
	EXPECT_ERR(ust_recvfrom(fd, buf, sizeof(buf), 0, SA(&b), &len), EAGAIN);
	assert_int_equal(ust_fcntl(fd, F_SETFL, 0), 0);
	assert_int_equal(ust_fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
	EXPECT_ERR(ust_fcntl(fd, 12345), EINVAL);
	assert_int_equal(ust_close(fd), 0);

	fd = rt_socket(ra, AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(ust_fcntl(fd, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
	assert_int_equal(ust_fcntl(fd, F_GETFD), FD_CLOEXEC);
	EXPECT_ERR(ust_recv(fd, buf, sizeof(buf), 0), EAGAIN);
	assert_int_equal(ust_close(fd), 0);
}

static void test_exchange(void **state)
{
	int fa = udp_on(ra, 0), fb = udp_on(rb, 7000);
	struct sockaddr_in to = sin_of(IP_B, 7000), from, mine;
	socklen_t len = sizeof(from), mlen = sizeof(mine);
	char buf[64];

	(void)state;
	/* Blocking recvfrom on B: the first datagram also resolves ARP. */
	assert_int_equal(ust_sendto(fa, "hello", 5, 0, SA(&to), sizeof(to)), 5);
	assert_int_equal(ust_recvfrom(fb, buf, sizeof(buf), 0, SA(&from), &len), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(len, sizeof(from));
	assert_int_equal(ntohl(from.sin_addr.s_addr), IP_A);
	/* The source port is A's autobound one. */
	assert_int_equal(ust_getsockname(fa, SA(&mine), &mlen), 0);
	assert_int_not_equal(mine.sin_port, 0);
	assert_int_equal(from.sin_port, mine.sin_port);

	/* The reply goes back to where the datagram came from. */
	assert_int_equal(ust_sendto(fb, "world!", 6, 0, SA(&from), len), 6);
	assert_int_equal(ust_recv(fa, buf, sizeof(buf), 0), 6);
	assert_memory_equal(buf, "world!", 6);

	/* Connected: send() goes to the default peer; getpeername shows it. */
	assert_int_equal(ust_connect(fa, SA(&to), sizeof(to)), 0);
	len = sizeof(from);
	assert_int_equal(ust_getpeername(fa, SA(&from), &len), 0);
	assert_int_equal(ntohs(from.sin_port), 7000);
	mlen = sizeof(mine);
	assert_int_equal(ust_getsockname(fa, SA(&mine), &mlen), 0);
	assert_int_equal(ntohl(mine.sin_addr.s_addr), IP_A);  /* the route's source */
	assert_int_equal(ust_send(fa, "0123456789", 10, 0), 10);
	assert_int_equal(ust_send(fa, "abc", 3, 0), 3);

	/* MSG_PEEK leaves the datagram; a short buffer truncates it and the
	 * rest is gone; MSG_TRUNC tells the real length. */
	assert_int_equal(ust_recv(fb, buf, 4, MSG_PEEK), 4);
	assert_memory_equal(buf, "0123", 4);
	assert_int_equal(ust_recv(fb, buf, 4, MSG_TRUNC), 10);
	assert_memory_equal(buf, "0123", 4);
	assert_int_equal(ust_recv(fb, buf, sizeof(buf), 0), 3);
	assert_memory_equal(buf, "abc", 3);

	/* AF_UNSPEC dissolves the association. */
	to.sin_family = AF_UNSPEC;
	assert_int_equal(ust_connect(fa, SA(&to), sizeof(to)), 0);
	EXPECT_ERR(ust_send(fa, "x", 1, 0), EDESTADDRREQ);
	assert_int_equal(ust_close(fa), 0);
	assert_int_equal(ust_close(fb), 0);
}

/* The TCP-side calls and socket options on a UDP socket, with the answers
 * Linux gives (checked against the kernel with a Python probe). */
static void test_sockopts_and_shutdown(void **state)
{
	struct sockaddr_in to = sin_of(IP_B, 7600);
	struct timeval tv = { .tv_sec = 0, .tv_usec = 2000000 };
	socklen_t len;
	uint64_t t0;
	char buf[8];
	int fd = udp_on(ra, 7600), v = 1, one = 1;

	(void)state;
	EXPECT_ERR(ust_listen(fd, 5), EOPNOTSUPP);
	EXPECT_ERR(ust_accept(fd, NULL, NULL), EOPNOTSUPP);
	EXPECT_ERR(ust_shutdown(fd, 7), EINVAL);

	EXPECT_ERR(ust_setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, 2), EINVAL);
	EXPECT_ERR(ust_setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, NULL, 4), EFAULT);
	EXPECT_ERR(ust_setsockopt(fd, SOL_SOCKET, 9999, &one, sizeof(one)), ENOPROTOOPT);
	EXPECT_ERR(ust_setsockopt(fd, IPPROTO_TCP, 1, &one, sizeof(one)), ENOPROTOOPT);
	assert_int_equal(ust_setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	len = sizeof(v);
	assert_int_equal(ust_getsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &v, &len), 0);
	assert_int_equal(v, 1);
	assert_int_equal(len, sizeof(int));
	v = 1000;
	assert_int_equal(ust_setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v)), 0);
	assert_int_equal(ust_getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, &len), 0);
	assert_int_equal(v, 2304);
	v = 100000;
	assert_int_equal(ust_setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v)), 0);
	assert_int_equal(ust_getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, &len), 0);
	assert_int_equal(v, 200000);
	assert_int_equal(ust_getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len), 0);
	assert_int_equal(v, SOCK_DGRAM);
	assert_int_equal(ust_getsockopt(fd, SOL_SOCKET, SO_ERROR, &v, &len), 0);
	assert_int_equal(v, 0);
	EXPECT_ERR(ust_getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, NULL), EFAULT);

	/* SO_RCVTIMEO: a bad tv_usec is EDOM; expiry reads as EAGAIN. */
	EXPECT_ERR(ust_setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), EDOM);
	EXPECT_ERR(ust_setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, 4), EINVAL);
	tv.tv_usec = 50000;
	assert_int_equal(ust_setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	memset(&tv, 0, sizeof(tv));
	len = sizeof(tv);
	assert_int_equal(ust_getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &len), 0);
	assert_int_equal(tv.tv_usec, 50000);
	t0 = rt_now_us();
	EXPECT_ERR(ust_recv(fd, buf, sizeof(buf), 0), EAGAIN);
	assert_true(rt_now_us() - t0 >= 50000);

	/* shutdown on an unconnected UDP socket: ENOTCONN, yet reads end. */
	EXPECT_ERR(ust_shutdown(fd, SHUT_RD), ENOTCONN);
	assert_int_equal(ust_recv(fd, buf, sizeof(buf), 0), 0);
	assert_int_equal(ust_close(fd), 0);

	/* Connected: SHUT_WR succeeds and the next send is EPIPE. */
	fd = udp_on(ra, 0);
	assert_int_equal(ust_connect(fd, SA(&to), sizeof(to)), 0);
	assert_int_equal(ust_shutdown(fd, SHUT_WR), 0);
	EXPECT_ERR(ust_send(fd, "x", 1, MSG_NOSIGNAL), EPIPE);
	assert_int_equal(ust_close(fd), 0);
}

struct blocked {
	int fd;
	ssize_t rc;
	int err;
};

static void *recv_thread(void *arg)
{
	struct blocked *b = arg;
	char buf[16];

	b->rc = ust_recv(b->fd, buf, sizeof(buf), 0);
	b->err = errno;
	return NULL;
}

/* Waits (without sleeping) until a thread is asleep on fd. */
static void wait_blocked(int fd)
{
	while (rt_sock_waiters(fd) == 0)
		sched_yield();
}

static void test_close_wakes_receiver(void **state)
{
	struct blocked b = { .fd = udp_on(rb, 7100) };
	pthread_t t;

	(void)state;
	assert_int_equal(pthread_create(&t, NULL, recv_thread, &b), 0);
	wait_blocked(b.fd);
	assert_int_equal(ust_close(b.fd), 0);
	pthread_join(t, NULL);
	assert_int_equal(b.rc, -1);
	assert_int_equal(b.err, EBADF);
}

static void test_shutdown_wakes_receiver(void **state)
{
	struct blocked b = { .fd = udp_on(rb, 7150) };
	pthread_t t;

	(void)state;
	assert_int_equal(pthread_create(&t, NULL, recv_thread, &b), 0);
	wait_blocked(b.fd);
	EXPECT_ERR(ust_shutdown(b.fd, SHUT_RD), ENOTCONN);
	pthread_join(t, NULL);
	assert_int_equal(b.rc, 0);  /* end of data, as recv(2) after SHUT_RD */
	assert_int_equal(ust_close(b.fd), 0);
}

static void test_datagram_wakes_receiver(void **state)
{
	struct blocked b = { .fd = udp_on(rb, 7200) };
	struct sockaddr_in to = sin_of(IP_B, 7200);
	int fa = udp_on(ra, 0);
	pthread_t t;

	(void)state;
	assert_int_equal(pthread_create(&t, NULL, recv_thread, &b), 0);
	wait_blocked(b.fd);
	assert_int_equal(ust_sendto(fa, "wake", 4, 0, SA(&to), sizeof(to)), 4);
	pthread_join(t, NULL);
	assert_int_equal(b.rc, 4);
	assert_int_equal(ust_close(b.fd), 0);
	assert_int_equal(ust_close(fa), 0);
}

/* Sends count datagrams "<prefix><i>", i from 0, from fd to `to`. */
static void send_numbered(int fd, const struct sockaddr_in *to, const char *prefix, int count)
{
	char buf[32];

	for (int i = 0; i < count; i++) {
		snprintf(buf, sizeof(buf), "%s%d", prefix, i);
		assert_int_equal(ust_sendto(fd, buf, strlen(buf), 0, SA(to), sizeof(*to)),
		                 (ssize_t)strlen(buf));
	}
}

/* The datagrams of send_numbered, received on fd in order. */
static void recv_numbered(int fd, const char *prefix, int count)
{
	char buf[32], want[32];

	for (int i = 0; i < count; i++) {
		ssize_t r = ust_recv(fd, buf, sizeof(buf), 0);

		snprintf(want, sizeof(want), "%s%d", prefix, i);
		assert_int_equal(r, (ssize_t)strlen(want));
		assert_memory_equal(buf, want, (size_t)r);
	}
}

/* Many datagrams in a burst, more than one tx burst and rx burst hold. */
static void test_many(void **state)
{
	int fa = udp_on(ra, 0), fb = udp_on(rb, 7300);
	struct sockaddr_in to = sin_of(IP_B, 7300);

	(void)state;
	send_numbered(fa, &to, "dgram ", 100);
	/* Everything arrives in order (no impairment on this memlink). */
	recv_numbered(fb, "dgram ", 100);
	assert_int_equal(ust_close(fa), 0);
	assert_int_equal(ust_close(fb), 0);
}

/* A blocking sender on a stack whose pool is tiny waits for the stack
 * thread to send (and free) buffers instead of failing with ENOBUFS. */
static void test_sender_waits_for_buffers(void **state)
{
	struct rt_config c1, c2;
	struct link *l1, *l2;
	struct ust_runtime *r1, *r2;
	struct sockaddr_in to = sin_of(IP_B, 7500);
	char buf[32];
	int err = 0, f1, f2;

	(void)state;
	rt_test_cfg(&c1, IP_A, 11, 24, 512);
	rt_test_cfg(&c2, IP_B, 12, 24, 512);
	c1.stk.pkt_pool_size = 16;
	assert_int_equal(link_memlink_pair(RT_TEST_MTU, 512, &l1, &l2), 0);
	r1 = rt_start(&c1, l1, &err);
	r2 = rt_start(&c2, l2, &err);
	assert_non_null(r1);
	assert_non_null(r2);
	f1 = udp_on(r1, 0);
	f2 = udp_on(r2, 7500);
	/* Resolve ARP first: its queue holds only a few datagrams. */
	assert_int_equal(ust_sendto(f1, "arp", 3, 0, SA(&to), sizeof(to)), 3);
	assert_int_equal(ust_recv(f2, buf, sizeof(buf), 0), 3);
	send_numbered(f1, &to, "n", 300);
	recv_numbered(f2, "n", 300);
	pthread_mutex_lock(&r1->lock);
	print_message("sends that found the pool empty and waited: %llu\n",
	              (unsigned long long)r1->stk->cnt[CNT_drop_nobuf]);
	pthread_mutex_unlock(&r1->lock);
	assert_int_equal(ust_close(f1), 0);
	assert_int_equal(ust_close(f2), 0);
	rt_stop(r1);
	rt_put(r1);
	rt_stop(r2);
	rt_put(r2);
}

static void test_stop_wakes_receiver(void **state)
{
	struct rt_config c;
	struct link *l1, *l2;
	struct ust_runtime *r;
	struct blocked b;
	pthread_t t;
	int err = 0;

	(void)state;
	rt_test_cfg(&c, IP_A, 9, 24, 512);
	assert_int_equal(link_memlink_pair(RT_TEST_MTU, 16, &l1, &l2), 0);
	r = rt_start(&c, l1, &err);
	assert_non_null(r);
	b.fd = udp_on(r, 7400);
	assert_int_equal(pthread_create(&t, NULL, recv_thread, &b), 0);
	wait_blocked(b.fd);
	rt_stop(r);
	pthread_join(t, NULL);
	assert_int_equal(b.rc, -1);
	assert_int_equal(b.err, EBADF);
	/* The fd went with its runtime. */
	EXPECT_ERR(ust_close(b.fd), EBADF);
	rt_put(r);
	link_close(l2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_socket_errors),
		cmocka_unit_test(test_bind_errors),
		cmocka_unit_test(test_io_errors),
		cmocka_unit_test(test_exchange),
		cmocka_unit_test(test_sockopts_and_shutdown),
		cmocka_unit_test(test_close_wakes_receiver),
		cmocka_unit_test(test_shutdown_wakes_receiver),
		cmocka_unit_test(test_datagram_wakes_receiver),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_sender_waits_for_buffers),
		cmocka_unit_test(test_stop_wakes_receiver),
	};

	return cmocka_run_group_tests(tests, setup, rt_test_teardown);
}
