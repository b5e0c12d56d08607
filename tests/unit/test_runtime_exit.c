/* Exit drains (issue 8), over a memlink: runtime A (10.0.0.1) writes to
 * runtime B (10.0.0.2) and then "exits" (rt_drain, which ust_fini runs
 * before it stops the stack). The drain must keep A's stack going until
 * the peer has acknowledged the data and the FIN, give up at its bound
 * (USTACK_EXIT_LINGER, or SO_LINGER's time for a socket that set it), close
 * sockets left open gracefully, and reset on SO_LINGER 0. Also the
 * USTACK_EXIT_LINGER parser. Nothing here sleeps to synchronise: threads
 * wait on the runtime's own conditions. */
#include "rt_test.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include "runtime/sock.h"
#include "tcp/tcp.h"

#define MS 1000u
#define SEC 1000000u

static int setup(void **state)
{
	(void)state;
	return rt_test_setup(4096, 1024);
}

/* A connection from A to B's port: *c on A, *s accepted on B. The listener
 * is closed again (the accepted socket lives on). */
static void pair(uint16_t port, int *c, int *s)
{
	struct sockaddr_in b = sin_of(IP_B, port);
	int l = rt_test_listener(rb, port, 4);

	*c = rt_socket(ra, AF_INET, SOCK_STREAM, 0);
	assert_true(*c >= 0);
	/* Room for all we send, so a non-blocking send queues it in one go. */
	assert_int_equal(ust_setsockopt(*c, SOL_SOCKET, SO_SNDBUF, &(int){ 1 << 20 }, sizeof(int)), 0);
	assert_int_equal(ust_connect(*c, SA(&b), sizeof(b)), 0);
	*s = ust_accept(l, NULL, NULL);
	assert_true(*s >= 0);
	assert_int_equal(ust_close(l), 0);
}

/* Queues len bytes of a counting pattern on fd without blocking. */
static void queue_bytes(int fd, size_t len)
{
	static unsigned char buf[1 << 20];

	assert_true(len <= sizeof(buf));
	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)(i * 7);
	assert_int_equal(ust_send(fd, buf, len, MSG_DONTWAIT), (ssize_t)len);
}

/* A's connections that still owe the peer data or a FIN. */
static void count_fn(void *arg, const struct tcb *t)
{
	int st = tcp_state(t);

	if (tcp_tx_bytes(t) || st == TCPS_ESTABLISHED || st == TCPS_CLOSE_WAIT ||
	    st == TCPS_FIN_WAIT_1 || st == TCPS_CLOSING || st == TCPS_LAST_ACK)
		(*(unsigned *)arg)++;
}

static unsigned unfinished(struct ust_runtime *rt)
{
	unsigned n = 0;

	pthread_mutex_lock(&rt->lock);
	tcp_foreach(rt->stk, count_fn, &n);
	pthread_mutex_unlock(&rt->lock);
	return n;
}

/* The reader on B: waits until A's drain runs (so the drain, not the
 * reader, comes first), then reads to EOF or an error. */
struct reader {
	int fd;
	bool wait_drain;
	size_t got;
	ssize_t last;    /* 0: EOF */
	int err;         /* errno of the last call when it failed */
	bool pattern_ok;
};

static void *reader(void *arg)
{
	struct reader *r = arg;
	unsigned char buf[16384];
	bool draining = false;
	ssize_t n;

	while (r->wait_drain && !draining) {
		pthread_mutex_lock(&ra->lock);
		draining = ra->draining != 0;
		pthread_mutex_unlock(&ra->lock);
		if (!draining)
			sched_yield();
	}
	r->pattern_ok = true;
	while ((n = ust_recv(r->fd, buf, sizeof(buf), 0)) > 0) {
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != (unsigned char)((r->got + (size_t)i) * 7))
				r->pattern_ok = false;
		r->got += (size_t)n;
	}
	r->last = n;
	r->err = n < 0 ? errno : 0;
	return NULL;
}

/* --- USTACK_EXIT_LINGER --- */

static void test_parse_duration(void **state)
{
	const char *bad[] = { "", "s", "ten", "10x", "-1", "1.5s", "10 s", "10sms", "86401",
	                      "99999999999999999999", "86400001ms" };
	const char *why;
	uint64_t us;

	(void)state;
	assert_int_equal(rt_parse_duration("10", &us, &why), 0);
	assert_int_equal(us, 10 * SEC);
	assert_int_equal(rt_parse_duration("10s", &us, &why), 0);
	assert_int_equal(us, 10 * SEC);
	assert_int_equal(rt_parse_duration("500ms", &us, &why), 0);
	assert_int_equal(us, 500 * MS);
	assert_int_equal(rt_parse_duration("0", &us, &why), 0);
	assert_int_equal(us, 0);
	assert_int_equal(rt_parse_duration("86400", &us, &why), 0);
	assert_int_equal(us, 86400ull * SEC);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		us = 12345;
		assert_int_equal(rt_parse_duration(bad[i], &us, &why), -EINVAL);
		assert_non_null(why);
		assert_int_equal(us, 12345);
	}
}

static void test_config_exit_linger(void **state)
{
	struct ust_config uc;
	struct rt_config c;
	char err[256];

	(void)state;
	unsetenv("USTACK_EXIT_LINGER");
	assert_int_equal(rt_config_load(NULL, &c, err, sizeof(err)), 0);
	assert_int_equal(c.exit_linger_us, RT_EXIT_LINGER_DEFAULT_US);
	assert_int_equal(c.exit_linger_us, 10 * SEC);
	setenv("USTACK_EXIT_LINGER", "500ms", 1);
	assert_int_equal(rt_config_load(NULL, &c, err, sizeof(err)), 0);
	assert_int_equal(c.exit_linger_us, 500 * MS);
	setenv("USTACK_EXIT_LINGER", "soon", 1);
	assert_int_equal(rt_config_load(NULL, &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "USTACK_EXIT_LINGER=\"soon\""));
	assert_non_null(strstr(err, "500ms"));  /* says what a good value looks like */
	memset(&uc, 0, sizeof(uc));
	uc.exit_linger = "3s";  /* the struct wins over the environment */
	assert_int_equal(rt_config_load(&uc, &c, err, sizeof(err)), 0);
	assert_int_equal(c.exit_linger_us, 3 * SEC);
	unsetenv("USTACK_EXIT_LINGER");
}

/* --- the drain --- */

/* Closed, then exit: data still queued (B has not read; its window is
 * full) is delivered and the FIN acknowledged before the drain returns. */
static void test_drain_delivers_closed(void **state)
{
	const size_t len = 600000;
	struct reader r = { .wait_drain = true };
	pthread_t t;
	int c;

	(void)state;
	pair(7001, &c, &r.fd);
	queue_bytes(c, len);
	assert_int_equal(ust_close(c), 0);
	assert_true(unfinished(ra) > 0);  /* the peer's window holds it back */
	assert_int_equal(pthread_create(&t, NULL, reader, &r), 0);
	assert_int_equal(rt_drain(ra, 10 * SEC), 0);
	/* Returned: everything acknowledged, FIN included (FIN_WAIT_2: the
	 * peer has not closed, and the drain does not wait for it). */
	assert_int_equal(unfinished(ra), 0);
	pthread_join(t, NULL);
	assert_int_equal(r.got, len);
	assert_true(r.pattern_ok);
	assert_int_equal(r.last, 0);  /* EOF: a FIN, not a reset */
	assert_int_equal(ust_close(r.fd), 0);
}

/* Left open at exit: the drain closes it gracefully (FIN after the data). */
static void test_drain_closes_open_gracefully(void **state)
{
	const size_t len = 300000;
	struct reader r = { .wait_drain = true };
	pthread_t t;
	int c;

	(void)state;
	pair(7002, &c, &r.fd);
	queue_bytes(c, len);
	assert_int_equal(pthread_create(&t, NULL, reader, &r), 0);
	assert_int_equal(rt_drain(ra, 10 * SEC), 0);
	assert_int_equal(unfinished(ra), 0);
	/* The drain closed A's fd. */
	EXPECT_ERR(ust_send(c, "x", 1, MSG_NOSIGNAL), EBADF);
	pthread_join(t, NULL);
	assert_int_equal(r.got, len);
	assert_true(r.pattern_ok);
	assert_int_equal(r.last, 0);
	assert_int_equal(ust_close(r.fd), 0);
}

/* A peer that never reads: the drain gives up at its bound. */
static void test_drain_bound(void **state)
{
	uint64_t t0, dt;
	int c, s;

	(void)state;
	pair(7003, &c, &s);
	queue_bytes(c, 600000);
	assert_int_equal(ust_close(c), 0);
	t0 = rt_now_us();
	assert_int_equal(rt_drain(ra, 200 * MS), 1);
	dt = rt_now_us() - t0;
	assert_true(dt >= 200 * MS);
	assert_true(dt < 2 * SEC);
	assert_int_equal(unfinished(ra), 1);
	assert_int_equal(ust_close(s), 0);
}

/* SO_LINGER's time overrides the exit bound for its socket. */
static void test_drain_so_linger_overrides(void **state)
{
	struct linger l = { .l_onoff = 1, .l_linger = 1 };
	uint64_t t0, dt;
	int c, s;

	(void)state;
	pair(7004, &c, &s);
	assert_int_equal(ust_setsockopt(c, SOL_SOCKET, SO_LINGER, &l, sizeof(l)), 0);
	queue_bytes(c, 600000);
	t0 = rt_now_us();
	assert_int_equal(rt_drain(ra, 100 * MS), 1);  /* left open; B never reads */
	dt = rt_now_us() - t0;
	assert_true(dt >= 1 * SEC);
	assert_true(dt < 3 * SEC);
	assert_int_equal(ust_close(s), 0);
}

/* SO_LINGER 0: the drain's close resets (POSIX), so nothing is waited for
 * and the peer sees ECONNRESET. */
static void test_drain_linger_zero_resets(void **state)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };
	struct reader r = { .wait_drain = false };
	uint64_t t0;
	pthread_t t;
	int c;

	(void)state;
	pair(7005, &c, &r.fd);
	assert_int_equal(ust_setsockopt(c, SOL_SOCKET, SO_LINGER, &l, sizeof(l)), 0);
	queue_bytes(c, 600000);
	t0 = rt_now_us();
	assert_int_equal(rt_drain(ra, 10 * SEC), 0);
	assert_true(rt_now_us() - t0 < 1 * SEC);
	assert_int_equal(unfinished(ra), 0);
	assert_int_equal(pthread_create(&t, NULL, reader, &r), 0);
	pthread_join(t, NULL);
	assert_true(r.got < 600000);
	assert_int_equal(r.last, -1);
	assert_int_equal(r.err, ECONNRESET);
	assert_int_equal(ust_close(r.fd), 0);
}

/* Nothing to deliver: the drain returns at once, and twice is harmless. */
static void test_drain_idle(void **state)
{
	uint64_t t0 = rt_now_us();
	int u = rt_socket(ra, AF_INET, SOCK_DGRAM, 0);

	(void)state;
	assert_true(u >= 0);
	assert_int_equal(rt_drain(ra, 10 * SEC), 0);
	assert_int_equal(rt_drain(ra, 10 * SEC), 0);
	assert_true(rt_now_us() - t0 < 1 * SEC);
	EXPECT_ERR(ust_close(u), EBADF);  /* the drain closed it */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_duration),
		cmocka_unit_test(test_config_exit_linger),
		cmocka_unit_test_setup_teardown(test_drain_delivers_closed, setup, rt_test_teardown),
		cmocka_unit_test_setup_teardown(test_drain_closes_open_gracefully, setup, rt_test_teardown),
		cmocka_unit_test_setup_teardown(test_drain_bound, setup, rt_test_teardown),
		cmocka_unit_test_setup_teardown(test_drain_so_linger_overrides, setup, rt_test_teardown),
		cmocka_unit_test_setup_teardown(test_drain_linger_zero_resets, setup, rt_test_teardown),
		cmocka_unit_test_setup_teardown(test_drain_idle, setup, rt_test_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
