/* The TCP socket calls over a memlink: two runtimes in one process (A at
 * 10.0.0.1, B at 10.0.0.2), each with its stack thread, and application
 * threads blocking in accept/connect/recv/send between them. The errno of
 * each misuse is Linux's (issue 3, point 6). */
#include "rt_test.h"

#include <fcntl.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <sys/uio.h>

#include "runtime/sock.h"
#include "tcp/tcp.h"

#define IP_NOBODY 0x0a000009u  /* on the subnet; nobody answers its ARP */

static int setup(void **state)
{
	(void)state;
	if (rt_test_setup(4096, 1024) < 0)
		return -1;
	/* A SYN nobody answers gives up after 50 + 100 + 200 ms on A, so the
	 * ETIMEDOUT test is short; B keeps the defaults. */
	pthread_mutex_lock(&ra->lock);
	tcp_conf(ra->stk)->syn_retries = 2;
	tcp_conf(ra->stk)->rto_initial_us = 50000;
	pthread_mutex_unlock(&ra->lock);
	return 0;
}

static int tcp_sock(struct ust_runtime *rt)
{
	int fd = rt_socket(rt, AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= RT_FD_BASE_DEFAULT);
	return fd;
}

static int listener(struct ust_runtime *rt, uint16_t port, int backlog)
{
	struct sockaddr_in a = sin_of(0, port);
	int fd = tcp_sock(rt);

	assert_int_equal(ust_bind(fd, SA(&a), sizeof(a)), 0);
	assert_int_equal(ust_listen(fd, backlog), 0);
	return fd;
}

static int connect_to(struct ust_runtime *rt, uint32_t ip, uint16_t port)
{
	struct sockaddr_in a = sin_of(ip, port);
	int fd = tcp_sock(rt);

	assert_int_equal(ust_connect(fd, SA(&a), sizeof(a)), 0);
	return fd;
}

/* A connected pair: *c on A, *s accepted on B's listener l. */
static void pair(int l, uint16_t port, int *c, int *s)
{
	*c = connect_to(ra, IP_B, port);
	*s = ust_accept(l, NULL, NULL);
	assert_true(*s >= RT_FD_BASE_DEFAULT);
}

/* Waits (without sleeping) until n threads are asleep on fd. */
static void wait_blocked(int fd, unsigned n)
{
	while (rt_sock_waiters(fd) < n)
		sched_yield();
}

/* Sleeps on fd's wait queue until its readiness has one of `want`: what
 * poll() would do, with the runtime's own wait. */
static uint32_t wait_ready(int fd, uint32_t want)
{
	struct rt_sock *s = rt_sock_get(fd);
	uint32_t ev = 0;

	assert_non_null(s);
	assert_int_equal(rt_sock_lock(s), 0);
	while (!((ev = rt_tcp_poll(s)) & want))
		rt_sock_wait(s, UINT64_MAX);
	rt_sock_unlock(s);
	rt_sock_put(s);
	return ev;
}

/* TCBs of rt's stack in `state` with local port `port`. */
struct count_arg {
	int state;
	uint16_t port;
	unsigned n;
};

static void count_fn(void *arg, const struct tcb *t)
{
	struct count_arg *c = arg;
	uint32_t ip;
	uint16_t port;

	tcp_local_addr(t, &ip, &port);
	if (tcp_state(t) == c->state && port == c->port)
		c->n++;
}

static unsigned count_state(struct ust_runtime *rt, int state, uint16_t port)
{
	struct count_arg c = { .state = state, .port = port };

	pthread_mutex_lock(&rt->lock);
	tcp_foreach(rt->stk, count_fn, &c);
	pthread_mutex_unlock(&rt->lock);
	return c.n;
}

/* --- tests --- */

static void test_socket(void **state)
{
	socklen_t len = sizeof(int);
	int fd, v;

	(void)state;
	EXPECT_ERR(rt_socket(ra, AF_INET, SOCK_STREAM, IPPROTO_UDP), EPROTONOSUPPORT);
	fd = rt_socket(ra, AF_INET, SOCK_STREAM, IPPROTO_TCP);
	assert_true(fd >= 0);
	assert_int_equal(ust_close(fd), 0);
	fd = rt_socket(ra, AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(ust_fcntl(fd, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
	assert_int_equal(ust_fcntl(fd, F_GETFD), FD_CLOEXEC);
	assert_int_equal(ust_getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len), 0);
	assert_int_equal(v, SOCK_STREAM);
	assert_int_equal(ust_getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &v, &len), 0);
	assert_int_equal(v, IPPROTO_TCP);
	assert_int_equal(ust_getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len), 0);
	assert_int_equal(v, 0);
	assert_int_equal(ust_close(fd), 0);
}

struct echo_arg {
	int l;
	int conns;
};

static void *echo_server(void *arg)
{
	struct echo_arg *e = arg;
	char buf[4096];
	ssize_t n;

	for (int i = 0; i < e->conns; i++) {
		int c = ust_accept(e->l, NULL, NULL);

		if (c < 0)
			return (void *)(intptr_t)errno;
		while ((n = ust_recv(c, buf, sizeof(buf), 0)) > 0)
			if (ust_send(c, buf, (size_t)n, 0) != n)
				break;
		ust_close(c);
	}
	return NULL;
}

static void test_echo(void **state)
{
	struct echo_arg e = { .l = listener(rb, 5000, 16), .conns = 1 };
	struct sockaddr_in me, peer;
	socklen_t len;
	struct tcp_info ti;
	pthread_t t;
	char buf[64];
	int c, v;

	(void)state;
	len = sizeof(v);
	assert_int_equal(ust_getsockopt(e.l, SOL_SOCKET, SO_ACCEPTCONN, &v, &len), 0);
	assert_int_equal(v, 1);
	assert_int_equal(pthread_create(&t, NULL, echo_server, &e), 0);
	c = connect_to(ra, IP_B, 5000);
	assert_int_equal(ust_send(c, "hello", 5, 0), 5);
	assert_int_equal(ust_recv(c, buf, 5, MSG_WAITALL), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(ust_write(c, "again!", 6), 6);
	assert_int_equal(ust_read(c, buf, 6), 6);  /* one segment: all of it */
	assert_memory_equal(buf, "again!", 6);

	len = sizeof(me);
	assert_int_equal(ust_getsockname(c, SA(&me), &len), 0);
	assert_int_equal(ntohl(me.sin_addr.s_addr), IP_A);
	assert_int_not_equal(me.sin_port, 0);
	len = sizeof(peer);
	assert_int_equal(ust_getpeername(c, SA(&peer), &len), 0);
	assert_int_equal(ntohl(peer.sin_addr.s_addr), IP_B);
	assert_int_equal(ntohs(peer.sin_port), 5000);

	len = sizeof(ti);
	assert_int_equal(ust_getsockopt(c, IPPROTO_TCP, TCP_INFO, &ti, &len), 0);
	assert_int_equal(len, sizeof(ti));
	assert_int_equal(ti.tcpi_state, TCPS_ESTABLISHED);
	assert_true(ti.tcpi_rto > 0);
	assert_true(ti.tcpi_snd_cwnd > 0);
	assert_true(ti.tcpi_snd_mss > 0 && ti.tcpi_snd_mss <= 1460);
	assert_int_equal(ti.tcpi_retransmits, 0);

	/* EOF: the server's recv returns 0, it closes, we read 0. */
	assert_int_equal(ust_shutdown(c, SHUT_WR), 0);
	assert_int_equal(ust_recv(c, buf, sizeof(buf), 0), 0);
	assert_int_equal(ust_close(c), 0);
	pthread_join(t, NULL);
	assert_int_equal(ust_close(e.l), 0);
}

#define NACC 4

struct acc_arg {
	int l;
	int fd;
	int err;
	uint16_t peer_port;
};

static void *accept_thread(void *arg)
{
	struct acc_arg *a = arg;
	struct sockaddr_in from;
	socklen_t len = sizeof(from);

	a->fd = ust_accept4(a->l, SA(&from), &len, SOCK_CLOEXEC);
	a->err = errno;
	a->peer_port = ntohs(from.sin_port);
	return NULL;
}

/* Four threads asleep in accept on one listener: four connections, each
 * to a different thread. */
static void test_accept_threads(void **state)
{
	int l = listener(rb, 5001, 16), c[NACC];
	struct acc_arg a[NACC];
	pthread_t t[NACC];
	uint16_t ports[NACC];

	(void)state;
	for (int i = 0; i < NACC; i++) {
		a[i].l = l;
		a[i].fd = -1;
		assert_int_equal(pthread_create(&t[i], NULL, accept_thread, &a[i]), 0);
	}
	wait_blocked(l, NACC);
	for (int i = 0; i < NACC; i++) {
		struct sockaddr_in me;
		socklen_t len = sizeof(me);

		c[i] = connect_to(ra, IP_B, 5001);
		assert_int_equal(ust_getsockname(c[i], SA(&me), &len), 0);
		ports[i] = ntohs(me.sin_port);
	}
	for (int i = 0; i < NACC; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < NACC; i++) {
		int found = 0;

		assert_true(a[i].fd >= RT_FD_BASE_DEFAULT);
		assert_int_equal(ust_fcntl(a[i].fd, F_GETFD), FD_CLOEXEC);
		assert_int_equal(ust_fcntl(a[i].fd, F_GETFL) & O_NONBLOCK, 0);
		for (int j = 0; j < NACC; j++) {
			if (j != i)
				assert_int_not_equal(a[i].fd, a[j].fd);
			found += a[j].peer_port == ports[i];
		}
		assert_int_equal(found, 1);  /* each connection went to one thread */
	}
	for (int i = 0; i < NACC; i++) {
		assert_int_equal(ust_close(a[i].fd), 0);
		assert_int_equal(ust_close(c[i]), 0);
	}
	/* Nothing left: a non-blocking accept says EAGAIN. */
	assert_int_equal(ust_fcntl(l, F_SETFL, O_NONBLOCK), 0);
	EXPECT_ERR(ust_accept(l, NULL, NULL), EAGAIN);
	assert_int_equal(ust_close(l), 0);
}

struct blocked {
	int fd;
	ssize_t rc;
	int err;
	size_t len;
	int flags;
	char buf[64];
};

static void *recv_thread(void *arg)
{
	struct blocked *b = arg;

	b->rc = ust_recv(b->fd, b->buf, b->len ? b->len : sizeof(b->buf), b->flags);
	b->err = errno;
	return NULL;
}

static void test_close_wakes_recv(void **state)
{
	int l = listener(rb, 5002, 4), c, s;
	struct blocked b = { 0 };
	pthread_t t;

	(void)state;
	pair(l, 5002, &c, &s);
	b.fd = s;
	assert_int_equal(pthread_create(&t, NULL, recv_thread, &b), 0);
	wait_blocked(s, 1);
	assert_int_equal(ust_close(s), 0);
	pthread_join(t, NULL);
	assert_int_equal(b.rc, -1);
	assert_int_equal(b.err, EBADF);

	/* And a thread in accept when its listener is closed. */
	b.fd = l;
	assert_int_equal(pthread_create(&t, NULL, recv_thread, &b), 0);  /* recv: ENOTCONN */
	pthread_join(t, NULL);
	assert_int_equal(b.rc, -1);
	assert_int_equal(b.err, ENOTCONN);
	{
		struct acc_arg a = { .l = l, .fd = 0 };

		assert_int_equal(pthread_create(&t, NULL, accept_thread, &a), 0);
		wait_blocked(l, 1);
		assert_int_equal(ust_close(l), 0);
		pthread_join(t, NULL);
		assert_int_equal(a.fd, -1);
		assert_int_equal(a.err, EBADF);
	}
	assert_int_equal(ust_close(c), 0);
}

/* shutdown(SHUT_RD) wakes a reader with EOF; shutting a listener down
 * wakes its acceptors with EINVAL (inet_shutdown, then inet_accept). */
static void test_shutdown_wakes(void **state)
{
	int l = listener(rb, 5013, 4), c, s;
	struct blocked b = { 0 };
	struct acc_arg a = { .l = l, .fd = 0 };
	pthread_t t;

	(void)state;
	pair(l, 5013, &c, &s);
	b.fd = s;
	assert_int_equal(pthread_create(&t, NULL, recv_thread, &b), 0);
	wait_blocked(s, 1);
	assert_int_equal(ust_shutdown(s, SHUT_RD), 0);
	pthread_join(t, NULL);
	assert_int_equal(b.rc, 0);

	assert_int_equal(pthread_create(&t, NULL, accept_thread, &a), 0);
	wait_blocked(l, 1);
	assert_int_equal(ust_shutdown(l, SHUT_RDWR), 0);
	pthread_join(t, NULL);
	assert_int_equal(a.fd, -1);
	assert_int_equal(a.err, EINVAL);
	EXPECT_ERR(ust_accept(l, NULL, NULL), EINVAL);
	assert_int_equal(ust_close(s), 0);
	assert_int_equal(ust_close(c), 0);
	assert_int_equal(ust_close(l), 0);
}

struct sender {
	int fd;
	size_t len;
	ssize_t rc;
	int err;
};

static void *send_thread(void *arg)
{
	struct sender *x = arg;
	char *big = calloc(1, x->len);

	x->rc = ust_send(x->fd, big, x->len, MSG_NOSIGNAL);
	x->err = errno;
	free(big);
	return NULL;
}

/* A sender asleep on a full buffer (the peer does not read) wakes when
 * another thread closes the socket: with the bytes it queued, as a send
 * interrupted after some progress reports them. */
static void test_close_wakes_send(void **state)
{
	int l = listener(rb, 5014, 4), c, s;
	struct sender x = { .len = 8u << 20 };
	pthread_t t;

	(void)state;
	pair(l, 5014, &c, &s);
	x.fd = c;
	assert_int_equal(pthread_create(&t, NULL, send_thread, &x), 0);
	wait_blocked(c, 1);
	assert_int_equal(ust_close(c), 0);
	pthread_join(t, NULL);
	assert_true(x.rc > 0 && (size_t)x.rc < x.len);
	assert_int_equal(ust_close(s), 0);  /* unread data: RST */
	assert_int_equal(ust_close(l), 0);
}

static void test_nonblocking_connect(void **state)
{
	struct sockaddr_in nobody = sin_of(IP_NOBODY, 80), b = sin_of(IP_B, 5003);
	int l = listener(rb, 5003, 4), fd, s, v = -1;
	socklen_t len = sizeof(v);
	char buf[8];

	(void)state;
	/* A peer that never answers (its ARP goes unanswered): the handshake
	 * stays in progress. */
	fd = rt_socket(ra, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	EXPECT_ERR(ust_connect(fd, SA(&nobody), sizeof(nobody)), EINPROGRESS);
	EXPECT_ERR(ust_connect(fd, SA(&nobody), sizeof(nobody)), EALREADY);
	EXPECT_ERR(ust_send(fd, "x", 1, 0), EAGAIN);
	EXPECT_ERR(ust_recv(fd, buf, 1, 0), EAGAIN);
	EXPECT_ERR(ust_getpeername(fd, SA(&b), &len), ENOTCONN);
	assert_int_equal(ust_close(fd), 0);

	fd = rt_socket(ra, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	EXPECT_ERR(ust_connect(fd, SA(&b), sizeof(b)), EINPROGRESS);
	assert_true(wait_ready(fd, SOCK_EV_OUT) & SOCK_EV_OUT);
	len = sizeof(v);
	assert_int_equal(ust_getsockopt(fd, SOL_SOCKET, SO_ERROR, &v, &len), 0);
	assert_int_equal(v, 0);
	/* As __inet_stream_connect: the first connect after the handshake
	 * confirms it (0), the next one says EISCONN. */
	assert_int_equal(ust_connect(fd, SA(&b), sizeof(b)), 0);
	EXPECT_ERR(ust_connect(fd, SA(&b), sizeof(b)), EISCONN);
	s = ust_accept(l, NULL, NULL);
	assert_true(s >= 0);
	assert_int_equal(ust_send(fd, "ok", 2, 0), 2);
	assert_int_equal(ust_recv(s, buf, 2, MSG_WAITALL), 2);
	assert_int_equal(ust_close(s), 0);
	assert_int_equal(ust_close(fd), 0);
	assert_int_equal(ust_close(l), 0);
}

static void test_refused(void **state)
{
	struct sockaddr_in b = sin_of(IP_B, 5999);
	int fd = tcp_sock(ra), v = 0;
	socklen_t len = sizeof(v);

	(void)state;
	EXPECT_ERR(ust_connect(fd, SA(&b), sizeof(b)), ECONNREFUSED);
	/* The socket is unconnected again and may try once more. */
	EXPECT_ERR(ust_connect(fd, SA(&b), sizeof(b)), ECONNREFUSED);
	assert_int_equal(ust_close(fd), 0);

	/* No route (off the subnet, no gateway): at once, as Linux. */
	fd = tcp_sock(ra);
	{
		struct sockaddr_in far = sin_of(0xc0a80909u, 80);  /* 192.168.9.9 */

		EXPECT_ERR(ust_connect(fd, SA(&far), sizeof(far)), ENETUNREACH);
	}
	assert_int_equal(ust_close(fd), 0);

	/* A peer that never answers: the SYN's retries run out (ETIMEDOUT). */
	fd = tcp_sock(ra);
	{
		struct sockaddr_in nobody = sin_of(IP_NOBODY, 82);
		uint64_t t0 = rt_now_us();

		EXPECT_ERR(ust_connect(fd, SA(&nobody), sizeof(nobody)), ETIMEDOUT);
		assert_true(rt_now_us() - t0 >= 350000);
	}
	assert_int_equal(ust_close(fd), 0);

	fd = rt_socket(ra, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	EXPECT_ERR(ust_connect(fd, SA(&b), sizeof(b)), EINPROGRESS);
	assert_true(wait_ready(fd, SOCK_EV_ERR) & SOCK_EV_ERR);
	assert_int_equal(ust_getsockopt(fd, SOL_SOCKET, SO_ERROR, &v, &len), 0);
	assert_int_equal(v, ECONNREFUSED);
	assert_int_equal(ust_getsockopt(fd, SOL_SOCKET, SO_ERROR, &v, &len), 0);
	assert_int_equal(v, 0);  /* read once */
	assert_int_equal(ust_close(fd), 0);
}

static void test_errno_table(void **state)
{
	struct sockaddr_in b = sin_of(IP_B, 5004), any = sin_of(0, 5004), got;
	int l = listener(rb, 5004, 4), c, s, u, v = 1;
	socklen_t len = sizeof(got);
	char buf[8];

	(void)state;
	/* The seed's experiment: connect() on a listening socket. */
	EXPECT_ERR(ust_connect(l, SA(&b), sizeof(b)), EISCONN);
	EXPECT_ERR(ust_getpeername(l, SA(&got), &len), ENOTCONN);
	EXPECT_ERR(ust_recv(l, buf, 1, 0), ENOTCONN);

	pair(l, 5004, &c, &s);
	EXPECT_ERR(ust_connect(c, SA(&b), sizeof(b)), EISCONN);
	EXPECT_ERR(ust_connect(s, SA(&b), sizeof(b)), EISCONN);
	EXPECT_ERR(ust_listen(c, 5), EINVAL);
	EXPECT_ERR(ust_listen(s, 5), EINVAL);
	EXPECT_ERR(ust_accept(c, NULL, NULL), EINVAL);

	/* A fresh socket: nothing to accept, not connected. */
	u = tcp_sock(ra);
	EXPECT_ERR(ust_accept(u, NULL, NULL), EINVAL);
	EXPECT_ERR(ust_send(u, "x", 1, MSG_NOSIGNAL), EPIPE);  /* tcp_sendmsg: EPIPE */
	EXPECT_ERR(ust_recv(u, buf, 1, 0), ENOTCONN);
	EXPECT_ERR(ust_getpeername(u, SA(&got), &len), ENOTCONN);
	EXPECT_ERR(ust_shutdown(u, SHUT_RDWR), ENOTCONN);
	EXPECT_ERR(ust_shutdown(u, 3), EINVAL);

	/* Bad pointers and lengths. */
	EXPECT_ERR(ust_bind(u, NULL, sizeof(b)), EFAULT);
	EXPECT_ERR(ust_bind(u, SA(&any), 3), EINVAL);
	EXPECT_ERR(ust_connect(u, NULL, sizeof(b)), EFAULT);
	EXPECT_ERR(ust_connect(u, SA(&b), 1), EINVAL);
	EXPECT_ERR(ust_connect(u, SA(&b), 8), EINVAL);
	EXPECT_ERR(ust_send(c, NULL, 5, 0), EFAULT);
	EXPECT_ERR(ust_recv(c, NULL, 5, 0), EFAULT);
	EXPECT_ERR(ust_accept(l, SA(&got), NULL), EFAULT);
	EXPECT_ERR(ust_getsockname(c, SA(&got), NULL), EFAULT);
	EXPECT_ERR(ust_getsockopt(c, SOL_SOCKET, SO_ERROR, &v, NULL), EFAULT);
	EXPECT_ERR(ust_setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &v, 2), EINVAL);
	EXPECT_ERR(ust_setsockopt(c, IPPROTO_TCP, TCP_NODELAY, NULL, 4), EFAULT);
	EXPECT_ERR(ust_setsockopt(c, IPPROTO_TCP, TCP_MAXSEG, &(int){ 10 }, sizeof(int)), EINVAL);
	EXPECT_ERR(ust_setsockopt(c, IPPROTO_TCP, TCP_KEEPCNT, &(int){ 0 }, sizeof(int)), EINVAL);
	EXPECT_ERR(ust_writev(c, NULL, 1), EFAULT);
	EXPECT_ERR(ust_writev(c, NULL, -1), EINVAL);
	EXPECT_ERR(ust_sendmsg(c, NULL, 0), EFAULT);
	EXPECT_ERR(ust_accept4(l, NULL, NULL, 0x40), EINVAL);

	/* bind to a port in use. */
	assert_int_equal(ust_close(u), 0);
	u = tcp_sock(rb);
	EXPECT_ERR(ust_bind(u, SA(&any), sizeof(any)), EADDRINUSE);
	any.sin_port = htons(5005);
	assert_int_equal(ust_bind(u, SA(&any), sizeof(any)), 0);
	EXPECT_ERR(ust_bind(u, SA(&any), sizeof(any)), EINVAL);  /* bound already */
	assert_int_equal(ust_close(u), 0);

	/* send after shutdown(SHUT_WR): EPIPE; the peer reads EOF. */
	assert_int_equal(ust_shutdown(c, SHUT_WR), 0);
	EXPECT_ERR(ust_send(c, "x", 1, MSG_NOSIGNAL), EPIPE);
	assert_int_equal(ust_recv(s, buf, sizeof(buf), 0), 0);
	/* ...and may still receive (half-close). */
	assert_int_equal(ust_send(s, "late", 4, 0), 4);
	assert_int_equal(ust_recv(c, buf, 4, MSG_WAITALL), 4);
	assert_memory_equal(buf, "late", 4);

	/* Closed fds. */
	assert_int_equal(ust_close(c), 0);
	EXPECT_ERR(ust_close(c), EBADF);
	EXPECT_ERR(ust_send(c, "x", 1, 0), EBADF);
	EXPECT_ERR(ust_recv(c, buf, 1, 0), EBADF);
	EXPECT_ERR(ust_connect(c, SA(&b), sizeof(b)), EBADF);
	EXPECT_ERR(ust_accept(c, NULL, NULL), EBADF);
	EXPECT_ERR(ust_listen(c, 1), EBADF);
	EXPECT_ERR(ust_shutdown(c, SHUT_RD), EBADF);
	EXPECT_ERR(ust_setsockopt(c, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof(v)), EBADF);
	EXPECT_ERR(ust_getsockopt(c, SOL_SOCKET, SO_ERROR, &v, &len), EBADF);
	EXPECT_ERR(ust_fcntl(c, F_GETFL), EBADF);
	EXPECT_ERR(ust_read(c, buf, 1), EBADF);
	EXPECT_ERR(ust_write(-1, buf, 1), EBADF);
	assert_int_equal(ust_close(s), 0);
	assert_int_equal(ust_close(l), 0);
}

/* The side that closes first keeps TIME_WAIT: a new listener on its port
 * needs SO_REUSEADDR, as in Linux. */
static void test_reuseaddr_time_wait(void **state)
{
	struct sockaddr_in a = sin_of(0, 5006);
	int l = listener(rb, 5006, 4), c, s, n, one = 1;
	char buf[4];

	(void)state;
	pair(l, 5006, &c, &s);
	assert_int_equal(ust_close(l), 0);
	assert_int_equal(ust_close(s), 0);           /* B closes first... */
	assert_int_equal(ust_recv(c, buf, 4, 0), 0);  /* ...A sees EOF... */
	assert_int_equal(ust_close(c), 0);           /* ...and closes: B to TIME_WAIT */
	while (count_state(rb, TCPS_TIME_WAIT, 5006) == 0)
		sched_yield();

	n = tcp_sock(rb);
	EXPECT_ERR(ust_bind(n, SA(&a), sizeof(a)), EADDRINUSE);
	assert_int_equal(ust_setsockopt(n, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	assert_int_equal(ust_bind(n, SA(&a), sizeof(a)), 0);
	assert_int_equal(ust_listen(n, 4), 0);
	assert_int_equal(ust_close(n), 0);
}

static void test_peek_waitall(void **state)
{
	int l = listener(rb, 5007, 4), c, s;
	struct blocked b = { .len = 6, .flags = MSG_WAITALL };
	struct iovec iov[3];
	struct msghdr m;
	char x[3], y[2], z[8];
	pthread_t t;

	(void)state;
	pair(l, 5007, &c, &s);
	assert_int_equal(ust_send(c, "abc", 3, 0), 3);
	/* MSG_WAITALL: asleep until all six bytes are there. */
	b.fd = s;
	assert_int_equal(pthread_create(&t, NULL, recv_thread, &b), 0);
	wait_blocked(s, 1);
	assert_int_equal(ust_send(c, "def", 3, 0), 3);
	pthread_join(t, NULL);
	assert_int_equal(b.rc, 6);
	assert_memory_equal(b.buf, "abcdef", 6);

	/* MSG_PEEK leaves the bytes; MSG_PEEK|MSG_WAITALL waits for all. */
	assert_int_equal(ust_send(c, "ghij", 4, 0), 4);
	b.flags = MSG_PEEK | MSG_WAITALL;
	assert_int_equal(pthread_create(&t, NULL, recv_thread, &b), 0);
	wait_blocked(s, 1);
	assert_int_equal(ust_send(c, "kl", 2, 0), 2);
	pthread_join(t, NULL);
	assert_int_equal(b.rc, 6);  /* 4 were there; it waited for 6 */
	assert_memory_equal(b.buf, "ghijkl", 6);
	assert_int_equal(ust_recv(s, z, 2, MSG_PEEK), 2);
	assert_memory_equal(z, "gh", 2);
	/* recvmsg scatters over an iovec, peeked or not. */
	iov[0] = (struct iovec){ x, sizeof(x) };
	iov[1] = (struct iovec){ y, sizeof(y) };
	iov[2] = (struct iovec){ z, 1 };
	memset(&m, 0, sizeof(m));
	m.msg_iov = iov;
	m.msg_iovlen = 3;
	assert_int_equal(ust_recvmsg(s, &m, MSG_PEEK | MSG_WAITALL), 6);
	assert_memory_equal(x, "ghi", 3);
	assert_memory_equal(y, "jk", 2);
	assert_memory_equal(z, "l", 1);
	memset(x, 0, 3);
	assert_int_equal(ust_readv(s, iov, 3), 6);
	assert_memory_equal(x, "ghi", 3);
	assert_memory_equal(z, "l", 1);
	EXPECT_ERR(ust_recv(s, z, 1, MSG_DONTWAIT), EAGAIN);
	assert_int_equal(ust_close(s), 0);
	assert_int_equal(ust_close(c), 0);
	assert_int_equal(ust_close(l), 0);
}

static volatile sig_atomic_t sigpipes;

static void on_sigpipe(int sig)
{
	(void)sig;
	sigpipes++;
}

/* SO_LINGER 0: close sends RST; the peer reads ECONNRESET, then writing
 * gives EPIPE and SIGPIPE (none with MSG_NOSIGNAL). */
static void test_reset_epipe(void **state)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 }, got;
	struct sigaction sa, old;
	int l = listener(rb, 5008, 4), c, s, before;
	socklen_t len = sizeof(got);
	char buf[8];

	(void)state;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigpipe;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGPIPE, &sa, &old), 0);

	pair(l, 5008, &c, &s);
	assert_int_equal(ust_setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	assert_int_equal(ust_getsockopt(s, SOL_SOCKET, SO_LINGER, &got, &len), 0);
	assert_int_equal(got.l_onoff, 1);
	assert_int_equal(got.l_linger, 0);
	assert_int_equal(ust_close(s), 0);
	EXPECT_ERR(ust_recv(c, buf, sizeof(buf), 0), ECONNRESET);

	before = sigpipes;
	EXPECT_ERR(ust_send(c, "x", 1, MSG_NOSIGNAL), EPIPE);
	assert_int_equal(sigpipes, before);
	EXPECT_ERR(ust_send(c, "x", 1, 0), EPIPE);
	assert_int_equal(sigpipes, before + 1);
	EXPECT_ERR(ust_write(c, "x", 1), EPIPE);
	assert_int_equal(sigpipes, before + 2);
	assert_int_equal(ust_recv(c, buf, sizeof(buf), 0), 0);  /* then EOF */
	assert_int_equal(ust_close(c), 0);
	assert_int_equal(ust_close(l), 0);
	sigaction(SIGPIPE, &old, NULL);
}

static void test_timeouts(void **state)
{
	struct timeval tv = { .tv_sec = 0, .tv_usec = 100000 }, got;
	struct sockaddr_in nobody = sin_of(IP_NOBODY, 81);
	int l = listener(rb, 5009, 4), c, s, fd;
	socklen_t len = sizeof(got);
	uint64_t t0;
	char buf[8];

	(void)state;
	pair(l, 5009, &c, &s);
	assert_int_equal(ust_setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	assert_int_equal(ust_getsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &got, &len), 0);
	assert_int_equal(got.tv_usec, 100000);
	t0 = rt_now_us();
	EXPECT_ERR(ust_recv(s, buf, sizeof(buf), 0), EAGAIN);
	assert_true(rt_now_us() - t0 >= 100000);
	/* Bytes that came before the timeout are returned, not EAGAIN. */
	assert_int_equal(ust_send(c, "xy", 2, 0), 2);
	assert_int_equal(ust_recv(s, buf, sizeof(buf), MSG_WAITALL), 2);

	/* SO_RCVTIMEO bounds accept too (Linux: sock_rcvtimeo). */
	assert_int_equal(ust_setsockopt(l, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	EXPECT_ERR(ust_accept(l, NULL, NULL), EAGAIN);

	/* SO_SNDTIMEO bounds a blocking connect: EINPROGRESS, as Linux. */
	fd = tcp_sock(ra);
	assert_int_equal(ust_setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)), 0);
	t0 = rt_now_us();
	EXPECT_ERR(ust_connect(fd, SA(&nobody), sizeof(nobody)), EINPROGRESS);
	assert_true(rt_now_us() - t0 >= 100000);
	EXPECT_ERR(ust_connect(fd, SA(&nobody), sizeof(nobody)), EALREADY);
	assert_int_equal(ust_close(fd), 0);
	assert_int_equal(ust_close(s), 0);
	assert_int_equal(ust_close(c), 0);
	assert_int_equal(ust_close(l), 0);
}

/* --- 20 MB, every byte checked --- */

#define BULK (20u << 20)

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 131u + (i >> 13));
}

struct bulk {
	int fd;
	size_t got;
	size_t bad;
};

static void *bulk_reader(void *arg)
{
	struct bulk *b = arg;
	static uint8_t buf[65536];
	ssize_t n;

	while ((n = ust_recv(b->fd, buf, sizeof(buf), 0)) > 0) {
		for (ssize_t k = 0; k < n; k++)
			if (buf[k] != pattern(b->got + (size_t)k))
				b->bad++;
		b->got += (size_t)n;
	}
	return NULL;
}

static void test_bulk(void **state)
{
	int l = listener(rb, 5010, 4), c, s, one = 1;
	struct bulk b = { 0 };
	uint8_t *src = malloc(BULK);
	size_t off = 0, step = 1;
	struct iovec iov[2];
	uint64_t t0;
	pthread_t t;

	(void)state;
	assert_non_null(src);
	for (size_t i = 0; i < BULK; i++)
		src[i] = pattern(i);
	pair(l, 5010, &c, &s);
	assert_int_equal(ust_setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)), 0);
	b.fd = s;
	assert_int_equal(pthread_create(&t, NULL, bulk_reader, &b), 0);
	t0 = rt_now_us();
	/* Sizes from 1 byte to 1 MB, by send and by writev: each blocking call
	 * queues all it is given. */
	while (off < BULK) {
		size_t n = step < BULK - off ? step : BULK - off;
		ssize_t w;

		if (step & 1) {
			w = ust_send(c, src + off, n, 0);
		} else {
			iov[0] = (struct iovec){ src + off, n / 2 };
			iov[1] = (struct iovec){ src + off + n / 2, n - n / 2 };
			w = ust_writev(c, iov, 2);
		}
		assert_int_equal(w, (ssize_t)n);
		off += n;
		step = step >= (1u << 20) ? 3 : step * 2 + 1;
		if (step > (1u << 20))
			step = 1u << 20;
	}
	assert_int_equal(ust_shutdown(c, SHUT_WR), 0);
	pthread_join(t, NULL);
	print_message("20 MB over the memlink in %llu ms\n",
	              (unsigned long long)((rt_now_us() - t0) / 1000));
	assert_int_equal(b.got, BULK);
	assert_int_equal(b.bad, 0);
	free(src);
	assert_int_equal(ust_close(s), 0);
	assert_int_equal(ust_close(c), 0);
	assert_int_equal(ust_close(l), 0);
}

/* SO_LINGER with a time: close returns once the data and the FIN are
 * acknowledged, so the closer is in FIN_WAIT_2 the moment it returns (not
 * FIN_WAIT_1 with data still in flight); the peer reads every byte. */
static void *drain_thread(void *arg)
{
	struct bulk *b = arg;
	char buf[4096];
	ssize_t n;

	while ((n = ust_recv(b->fd, buf, sizeof(buf), 0)) > 0)
		b->got += (size_t)n;
	return NULL;
}

static void test_linger_wait(void **state)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 5 };
	int l = listener(rb, 5012, 4), c, s;
	static char big[100000];
	struct sockaddr_in me;
	socklen_t len = sizeof(me);
	struct bulk b = { 0 };
	pthread_t t;

	(void)state;
	pair(l, 5012, &c, &s);
	assert_int_equal(ust_getsockname(c, SA(&me), &len), 0);
	assert_int_equal(ust_setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	memset(big, 'L', sizeof(big));
	assert_int_equal(ust_send(c, big, sizeof(big), 0), sizeof(big));
	b.fd = s;
	assert_int_equal(pthread_create(&t, NULL, drain_thread, &b), 0);
	assert_int_equal(ust_close(c), 0);
	assert_int_equal(count_state(ra, TCPS_FIN_WAIT_2, ntohs(me.sin_port)), 1);
	pthread_join(t, NULL);
	assert_int_equal(b.got, sizeof(big));
	assert_int_equal(ust_close(s), 0);
	assert_int_equal(ust_close(l), 0);
}

static void test_sockopts(void **state)
{
	int fd = tcp_sock(ra), v;
	socklen_t len = sizeof(v);

	(void)state;
	assert_int_equal(ust_setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int)), 0);
	assert_int_equal(ust_getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
	assert_int_equal(v, 1);
	assert_int_equal(ust_setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &(int){ 30 }, sizeof(int)), 0);
	assert_int_equal(ust_getsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &v, &len), 0);
	assert_int_equal(v, 30);
	assert_int_equal(ust_setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &(int){ 5 }, sizeof(int)), 0);
	assert_int_equal(ust_getsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &v, &len), 0);
	assert_int_equal(v, 5);
	assert_int_equal(ust_setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &(int){ 3 }, sizeof(int)), 0);
	assert_int_equal(ust_getsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &v, &len), 0);
	assert_int_equal(v, 3);
	assert_int_equal(ust_setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &(int){ 1000 }, sizeof(int)), 0);
	assert_int_equal(ust_getsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &v, &len), 0);
	assert_int_equal(v, 1000);
	assert_int_equal(ust_setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &(int){ 1 }, sizeof(int)), 0);
	assert_int_equal(ust_getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &v, &len), 0);
	assert_int_equal(v, 1);
	assert_int_equal(ust_setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &(int){ 1 }, sizeof(int)), 0);
	assert_int_equal(ust_getsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &v, &len), 0);
	assert_int_equal(v, 1);
	/* Buffer sizes: doubled as Linux reports them. */
	assert_int_equal(ust_setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &(int){ 100000 }, sizeof(int)), 0);
	assert_int_equal(ust_getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, &len), 0);
	assert_int_equal(v, 200000);
	assert_int_equal(ust_setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &(int){ 1 }, sizeof(int)), 0);
	assert_int_equal(ust_getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, &len), 0);
	assert_int_equal(v, 2304);
	/* A short buffer gets what fits, as Linux copies it. */
	len = 2;
	assert_int_equal(ust_getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len), 0);
	assert_int_equal(len, 2);
	EXPECT_ERR(ust_setsockopt(fd, IPPROTO_TCP, 9999, &v, sizeof(v)), ENOPROTOOPT);
	EXPECT_ERR(ust_getsockopt(fd, IPPROTO_TCP, 9999, &v, &len), ENOPROTOOPT);
	assert_int_equal(ust_close(fd), 0);
}

static void test_stat(void **state)
{
	int l = listener(rb, 5011, 7), c, s;
	char *text = NULL;
	size_t len = 0;
	FILE *out;

	(void)state;
	pair(l, 5011, &c, &s);
	out = open_memstream(&text, &len);
	assert_non_null(out);
	rt_stat(rb, out, true);
	fclose(out);
	fputs(text, stdout);  /* print_message truncates long text */
	assert_non_null(strstr(text, "LISTEN"));
	assert_non_null(strstr(text, "*:5011"));
	assert_non_null(strstr(text, "acc_q:0/7"));
	assert_non_null(strstr(text, "ESTAB"));
	assert_non_null(strstr(text, "10.0.0.2:5011"));
	assert_non_null(strstr(text, "tcb_size "));
	free(text);
	assert_int_equal(ust_close(s), 0);
	assert_int_equal(ust_close(c), 0);
	assert_int_equal(ust_close(l), 0);
}

/* Issue 6's budget: an idle connection's TCB, its slot in the connection
 * table and its socket together at most 256 bytes. Buffers, loss state
 * and options of its own are allocated only while used. */
static void test_connection_budget(void **state)
{
	size_t tcb = tcp_tcb_size(), slot = sizeof(struct tcb *), sock = sizeof(struct rt_sock);
	(void)state;

	printf("idle connection: TCB %zu + table slot %zu + socket %zu = %zu bytes\n", tcb, slot,
	       sock, tcb + slot + sock);
	assert_true(tcb + slot + sock <= 256);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connection_budget),
		cmocka_unit_test(test_socket),
		cmocka_unit_test(test_echo),
		cmocka_unit_test(test_accept_threads),
		cmocka_unit_test(test_close_wakes_recv),
		cmocka_unit_test(test_shutdown_wakes),
		cmocka_unit_test(test_close_wakes_send),
		cmocka_unit_test(test_nonblocking_connect),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_errno_table),
		cmocka_unit_test(test_reuseaddr_time_wait),
		cmocka_unit_test(test_peek_waitall),
		cmocka_unit_test(test_reset_epipe),
		cmocka_unit_test(test_timeouts),
		cmocka_unit_test(test_bulk),
		cmocka_unit_test(test_linger_wait),
		cmocka_unit_test(test_sockopts),
		cmocka_unit_test(test_stat),
	};

	return cmocka_run_group_tests(tests, setup, rt_test_teardown);
}
