/* Connection scale on ustack: two stacks joined by a memlink in this
 * process, N established connections to one listening port. Bytes per
 * connection are RSS growth over N in two phases, as for the kernel:
 * creating and binding the client sockets (client side), then connecting
 * and accepting (server side, plus the client's per-connection extras). */
#include "bench.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Explicit ports 1024..65535 of each client address: the client stack
 * holds as many extra addresses (10.88.1.1 and up) as N needs. */
#define UCONNS_PORT_FIRST 1024u
#define UCONNS_PER_ADDR (65536u - UCONNS_PORT_FIRST)
#define UCONNS_MAX_ADDRS 4096u
/* Memory bound: opening stops while this much is still available, well
 * before the machine runs out (both stacks live in this one process). */
#define UCONNS_MEM_FLOOR_KB (3ll << 20)
/* Planning figure for the up-front check: both sides, bytes per pair. */
#define UCONNS_PAIR_BYTES_EST 1400.0

/* Every 64k connections: whether memory is still above the floor. */
static bool mem_ok(uint64_t i)
{
	return i % 65536 || meminfo_kb("MemAvailable") > UCONNS_MEM_FLOOR_KB;
}

/* ustack's acceptor for both conns benchmarks (bench.h). */
void *uacc_thread(void *arg)
{
	struct uacc *a = arg;

	while (a->accepted < a->n) {
		int fd = a->srv->ops->accept(a->lfd, NULL, NULL);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			a->err = errno;
			break;
		}
		if (a->ep >= 0 && ust_epoll_add(a->ep, fd, a->accepted) < 0) {
			a->err = errno;
			a->srv->ops->close(fd);
			break;
		}
		a->fds[a->accepted++] = fd;
		a->t_last = now_ns();
	}
	return NULL;
}

/* Makes 1% of the connections readable (epoll_active_every): one byte from
 * the client side. */
struct activate_cli {
	const struct endpoint *cli;
	const int *cfds;
	uint64_t n;
};

static uint64_t activate_cli(void *arg, unsigned round)
{
	struct activate_cli *ac = arg;
	uint64_t sent = 0, every = epoll_active_every();

	for (uint64_t i = round % every; i < ac->n; i += every)
		sent += ac->cli->ops->send(ac->cfds[i], "x", 1, MSG_NOSIGNAL) == 1;
	return sent;
}

static void na_all(struct conns_result *r, const char *why)
{
	fig_na(&r->cps_open, "%s", why);
	fig_na(&r->server_bytes, "%s", why);
	fig_na(&r->client_bytes, "%s", why);
	fig_na(&r->epoll_round_us, "%s", why);
}

static int ulisten(const struct bench_opts *o, const struct endpoint *srv)
{
	struct sockaddr_in sin;
	int fd = ep_socket(srv);

	if (fd < 0)
		return -1;
	mk_sin(&sin, srv->ip, o->port_base);
	if (srv->ops->bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    srv->ops->listen(fd, 65535) < 0) {
		srv->ops->close(fd);
		return -1;
	}
	return fd;
}

static int ubind_all(const struct endpoint *cli, int *cfds, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		if (!mem_ok(i)) {
			errno = ENOMEM;
			return -1;
		}
		struct sockaddr_in sin;

		cfds[i] = ep_socket(cli);
		if (cfds[i] < 0)
			return -1;
		uint64_t k = i / UCONNS_PER_ADDR;

		mk_sin(&sin, k ? UST_MB_EXTRA_FIRST + (uint32_t)(k - 1) : cli->ip,
		       (uint16_t)(UCONNS_PORT_FIRST + i % UCONNS_PER_ADDR));
		if (cli->ops->bind(cfds[i], (struct sockaddr *)&sin, sizeof(sin)) < 0)
			return -1;
	}
	return 0;
}

static void uconns_run(const struct bench_opts *o, const struct endpoint *srv,
                       const struct endpoint *cli, uint64_t n, struct conns_result *r)
{
	int *cfds = calloc(n, sizeof(int)), *sfds = calloc(n, sizeof(int));
	struct uacc a = { .srv = srv, .n = n, .lfd = -1, .ep = -1 };
	struct activate_cli ac = { .cli = cli, .cfds = cfds, .n = n };
	int ep_err;
	int64_t m0, m1, m2;
	struct sockaddr_in sin;
	/* Large N opens at some 20k/s: its bound grows with N (10M: 1000 s). */
	double secs = (double)n / 10000.0 > o->conns_secs ? (double)n / 10000.0 : o->conns_secs;
	uint64_t t0, made = 0, lim = (uint64_t)(secs * 1e9);
	pthread_t t;

	if (!cfds || !sfds) {
		na_all(r, "out of memory");
		goto out;
	}
	/* Touch the benchmark's own arrays before the first reading. */
	memset(cfds, 0xff, n * sizeof(int));
	memset(sfds, 0xff, n * sizeof(int));
	a.fds = sfds;
	a.lfd = ulisten(o, srv);
	if (a.lfd < 0) {
		na_all(r, "ustack listen failed");
		goto out;
	}
	/* The server registers each connection as it accepts it, as the
	 * kernel run does: epoll's per-connection cost counts on both. */
	a.ep = ust_epoll_open();
	ep_err = errno;
	m0 = rss_bytes();
	if (ubind_all(cli, cfds, n) < 0) {
		na_all(r, errno == ENOMEM ? "ustack client sockets: memory floor reached"
		                          : "ustack client socket/bind failed");
		goto out;
	}
	m1 = rss_bytes();
	if (pthread_create(&t, NULL, uacc_thread, &a)) {
		na_all(r, "pthread_create failed");
		goto out;
	}
	mk_sin(&sin, srv->ip, o->port_base);
	t0 = now_ns();
	for (made = 0; made < n && now_ns() - t0 < lim && mem_ok(made); made++)
		if (cli->ops->connect(cfds[made], (struct sockaddr *)&sin, sizeof(sin)) < 0)
			break;
	/* Fewer connections than asked: shutting the listener wakes accept. */
	if (made < n)
		srv->ops->shutdown(a.lfd, SHUT_RDWR);
	join_acceptor(t, srv, a.lfd, 30);
	r->opened = a.accepted;
	if (a.accepted == 0) {
		na_all(r, "no connection was accepted");
		goto out;
	}
	m2 = rss_bytes();
	fig_set(&r->cps_open, (double)a.accepted / ((double)(a.t_last - t0) / 1e9));
	fig_set(&r->client_bytes, (double)(m1 - m0) / (double)n);
	fig_set(&r->server_bytes, (double)(m2 - m1) / (double)a.accepted);
	if (made < n)
		snprintf(r->cps_open.why, sizeof(r->cps_open.why),
		         "opening stopped at %llu of %llu (%s)", (unsigned long long)made,
		         (unsigned long long)n, now_ns() - t0 >= lim ? "time bound" :
		         !mem_ok(0) ? "memory floor" : "connect failed");
	if (a.ep >= 0)
		ust_epoll_rounds(a.ep, sfds, a.accepted, activate_cli, &ac, &r->epoll_round_us);
	else
		fig_na(&r->epoll_round_us, "ust_epoll_create1: %s", strerror(ep_err));
out:
	if (a.ep >= 0)
		srv->ops->close(a.ep);
	for (uint64_t i = 0; i < n && cfds && cfds[i] >= 0; i++)
		cli->ops->close(cfds[i]);
	for (uint64_t i = 0; i < a.accepted; i++)
		srv->ops->close(sfds[i]);
	if (a.lfd >= 0)
		srv->ops->close(a.lfd);
	free(cfds);
	free(sfds);
}

void ustack_conns(const struct bench_opts *o, uint64_t n, struct conns_result *r)
{
	struct endpoint a, b;
	char why[160];

	uint64_t extra = (n + UCONNS_PER_ADDR - 1) / UCONNS_PER_ADDR - 1;

	memset(r, 0, sizeof(*r));
	if (extra > UCONNS_MAX_ADDRS) {
		na_all(r, "more client addresses than the benchmark gives a stack");
		return;
	}
	if (UCONNS_PAIR_BYTES_EST * (double)n >
	    (double)(meminfo_kb("MemAvailable") - UCONNS_MEM_FLOOR_KB) * 1024.0) {
		snprintf(why, sizeof(why), "ustack N skipped: about %.1f GiB needed (%.0f B per pair), "
		         "%.1f GiB available above the floor",
		         UCONNS_PAIR_BYTES_EST * (double)n / 1073741824.0, UCONNS_PAIR_BYTES_EST,
		         (double)(meminfo_kb("MemAvailable") - UCONNS_MEM_FLOOR_KB) / 1048576.0);
		na_all(r, why);
		return;
	}
	if (ustack_memlink_pair_extra(&a, &b, (uint32_t)extra, why, sizeof(why)) < 0) {
		na_all(r, why);
		return;
	}
	uconns_run(o, &a, &b, n, r);
	ustack_stop(&a);
	ustack_stop(&b);
}

/* --- one epoll_wait over every connection, 1% active --- */

#ifdef BENCH_HAVE_UST_EPOLL
#include <sys/epoll.h>

#include "ustack/ustack.h"

#pragma weak ust_epoll_create1
#pragma weak ust_epoll_ctl
#pragma weak ust_epoll_wait

int ust_epoll_open(void)
{
	if (!ust_epoll_create1 || !ust_epoll_ctl || !ust_epoll_wait) {
		errno = ENOSYS;
		return -1;
	}
	return ust_epoll_create1(0);
}

int ust_epoll_add(int ep, int fd, uint64_t data)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = data };

	return ust_epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static int cmp_dbl(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return a < b ? -1 : a > b;
}

void ust_epoll_rounds(int ep, const int *sfds, uint64_t n,
                      uint64_t (*activate)(void *arg, unsigned round), void *arg,
                      struct figure *f)
{
	uint64_t want = n / epoll_active_every() + 1;
	struct epoll_event *evs = calloc(want + 16, sizeof(*evs));
	double times[EPOLL_ROUNDS];
	unsigned done = 0;
	uint64_t active = 0;
	int got = 0;
	char c;

	if (!evs) {
		fig_na(f, "out of memory");
		return;
	}
	for (unsigned round = 0; round < EPOLL_ROUNDS; round++) {
		uint64_t t = 0, t_end;

		active = activate(arg, round);
		t_end = now_ns() + EPOLL_WAIT_FOR_ALL_NS;

		/* Level-triggered: a call that does not report every active
		 * connection yet is not timed; their bytes are on their way. */
		do {
			t = now_ns();
			got = ust_epoll_wait(ep, evs, (int)want + 16, 0);
			t = now_ns() - t;
		} while (got >= 0 && (uint64_t)got < active && now_ns() < t_end);
		if (got < 0 || (uint64_t)got < active)
			break;
		times[done++] = (double)t / 1e3;
		for (int i = 0; i < got; i++)
			if (ust_recv(sfds[evs[i].data.u64], &c, 1, 0) != 1)
				break;
	}
	free(evs);
	if (done == 0) {
		fig_na(f, "ust_epoll_wait reported %d of %llu active connections within %u s (%s)",
		       got, (unsigned long long)active, (unsigned)(EPOLL_WAIT_FOR_ALL_NS / 1000000000u),
		       got < 0 ? strerror(errno) : "level-triggered, timeout 0");
		return;
	}
	qsort(times, done, sizeof(times[0]), cmp_dbl);
	fig_set(f, times[done / 2]);
	epoll_share_note(f);
}
#else
int ust_epoll_open(void)
{
	errno = ENOSYS;
	return -1;
}

int ust_epoll_add(int ep, int fd, uint64_t data)
{
	(void)ep;
	(void)fd;
	(void)data;
	errno = ENOSYS;
	return -1;
}

void ust_epoll_rounds(int ep, const int *sfds, uint64_t n,
                      uint64_t (*activate)(void *arg, unsigned round), void *arg,
                      struct figure *f)
{
	(void)ep;
	(void)sfds;
	(void)n;
	(void)activate;
	(void)arg;
	fig_na(f, "ust_epoll_* is not in ustack yet");
}
#endif
