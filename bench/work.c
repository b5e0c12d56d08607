/* The three socket workloads, written once over struct sockops so the
 * kernel and ustack run the very same code: bulk transfer, connect-request-
 * response-close, and 1-byte request-response. Each runs a server thread and
 * a client thread; each thread first enters its endpoint (a namespace for
 * the kernel), so two kernels' worth of namespaces serve one process. */
#include "bench.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BULK_CHUNK (64u * 1024u)
#define BULK_RBUF (256u * 1024u)
#define CRR_MSG 64u
#define RR_WARMUP 200u
#define CRR_MIN_COUNT 1000u  /* fewer before a failure: no rate */

/* What both threads of a run share. */
struct run {
	const struct bench_opts *o;
	const struct endpoint *srv, *cli;
	uint16_t port;
	enum bulk_dir dir;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool ready;          /* listener up, or failed (lfd < 0) */
	int lfd;
	char err[160];       /* first failure */
	/* sockets in use, shut down by the watchdog when a run overstays */
	int live[4];
	bool timed_out;
	/* results */
	uint64_t bytes, t_first, t_last, count;
	uint64_t *samples;
	size_t nsamples;
};

static void run_fail(struct run *r, const char *who, const char *call)
{
	int e = errno;

	pthread_mutex_lock(&r->lock);
	if (!r->err[0])
		snprintf(r->err, sizeof(r->err), "%s: %s: %s", who, call, strerror(e));
	pthread_mutex_unlock(&r->lock);
}

/* Registers fd as in use (slot: 0 listener, 1 server, 2 client); -1 clears. */
static void track(struct run *r, int slot, int fd)
{
	pthread_mutex_lock(&r->lock);
	r->live[slot] = fd;
	pthread_mutex_unlock(&r->lock);
}

static void drop(struct run *r, int slot, const struct sockops *ops, int fd)
{
	track(r, slot, -1);
	ops->close(fd);
}

/* Wakes every thread blocked on the run's sockets: shutdown makes a
 * blocked accept, recv or send return, for the kernel as for ustack. */
static void shut_live(struct run *r)
{
	pthread_mutex_lock(&r->lock);
	r->timed_out = true;
	if (!r->err[0])
		snprintf(r->err, sizeof(r->err), "timed out (the run overstayed its bound)");
	for (int i = 0; i < 3; i++) {
		const struct sockops *ops = i == 2 ? r->cli->ops : r->srv->ops;

		if (r->live[i] >= 0 && ops->shutdown)
			ops->shutdown(r->live[i], SHUT_RDWR);
	}
	pthread_mutex_unlock(&r->lock);
}

static void set_ready(struct run *r, int lfd)
{
	pthread_mutex_lock(&r->lock);
	r->lfd = lfd;
	r->live[0] = lfd;
	r->ready = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

static int wait_ready(struct run *r)
{
	int lfd;

	pthread_mutex_lock(&r->lock);
	while (!r->ready)
		pthread_cond_wait(&r->cond, &r->lock);
	lfd = r->lfd;
	pthread_mutex_unlock(&r->lock);
	return lfd;
}

static void opt_int(const struct sockops *ops, int fd, int level, int name, int v)
{
	/* Best effort: a stack without the option still runs the workload. */
	if (ops->setsockopt)
		ops->setsockopt(fd, level, name, &v, sizeof(v));
}

/* The server thread's listener on srv's address and the run's port. */
static int listen_on(struct run *r, int backlog)
{
	const struct endpoint *ep = r->srv;
	struct sockaddr_in sin;
	int fd;

	if (ep_enter(ep) < 0) {
		run_fail(r, ep->what, "setns");
		return -1;
	}
	fd = ep_socket(ep);
	if (fd < 0) {
		run_fail(r, ep->what, "socket");
		return -1;
	}
	opt_int(ep->ops, fd, SOL_SOCKET, SO_REUSEADDR, 1);
	mk_sin(&sin, ep->ip, r->port);
	if (ep->ops->bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		run_fail(r, ep->what, "bind");
		ep->ops->close(fd);
		return -1;
	}
	if (ep->ops->listen(fd, backlog) < 0) {
		run_fail(r, ep->what, "listen");
		ep->ops->close(fd);
		return -1;
	}
	return fd;
}

/* A connected client socket, or -1. */
static int dial(struct run *r)
{
	const struct endpoint *ep = r->cli;
	struct sockaddr_in sin;
	int fd = ep_socket(ep);

	if (fd < 0) {
		run_fail(r, ep->what, "socket");
		return -1;
	}
	mk_sin(&sin, r->srv->ip, r->port);
	track(r, 2, fd);
	if (ep->ops->connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		run_fail(r, ep->what, "connect");
		drop(r, 2, ep->ops, fd);
		return -1;
	}
	return fd;
}

static void run_init(struct run *r, const struct bench_opts *o, const struct endpoint *srv,
                     const struct endpoint *cli, uint16_t port)
{
	memset(r, 0, sizeof(*r));
	r->o = o;
	r->srv = srv;
	r->cli = cli;
	r->port = port;
	r->lfd = -1;
	for (int i = 0; i < 4; i++)
		r->live[i] = -1;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
}

static void run_fini(struct run *r)
{
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	free(r->samples);
}

/* Bound of a whole run: its own time bound plus room for connection setup
 * and teardown. */
static double run_bound(const struct run *r, double secs)
{
	(void)r;
	return secs + 20.0;
}

static bool join_by(pthread_t t, uint64_t deadline_ns)
{
	struct timespec ts;
	uint64_t left = deadline_ns > now_ns() ? deadline_ns - now_ns() : 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(left / 1000000000u);
	ts.tv_nsec += (long)(left % 1000000000u);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return pthread_timedjoin_np(t, NULL, &ts) == 0;
}

/* Starts both threads and joins them. A client that fails wakes the server
 * out of accept by shutting the listener down; a run that overstays its
 * bound has every socket shut down, which wakes both threads. */
static int run_pair(struct run *r, double secs, void *(*srv_fn)(void *), void *(*cli_fn)(void *))
{
	uint64_t deadline = now_ns() + (uint64_t)(run_bound(r, secs) * 1e9);
	pthread_t ts, tc;
	bool failed;

	if (pthread_create(&ts, NULL, srv_fn, r)) {
		snprintf(r->err, sizeof(r->err), "pthread_create failed");
		return -1;
	}
	if (pthread_create(&tc, NULL, cli_fn, r)) {
		snprintf(r->err, sizeof(r->err), "pthread_create failed");
		set_ready(r, -1);
		pthread_join(ts, NULL);
		return -1;
	}
	if (!join_by(tc, deadline)) {
		shut_live(r);
		pthread_join(tc, NULL);
	}
	pthread_mutex_lock(&r->lock);
	failed = r->err[0] != '\0';
	pthread_mutex_unlock(&r->lock);
	if (failed && r->lfd >= 0 && r->srv->ops->shutdown)
		r->srv->ops->shutdown(r->lfd, SHUT_RDWR);
	if (!join_by(ts, now_ns() + 10000000000ull)) {
		shut_live(r);
		pthread_join(ts, NULL);
	}
	return r->err[0] ? -1 : 0;
}

/* --- bulk: one connection, one direction, bounded by time and bytes --- */

static void bulk_send(struct run *r, const struct sockops *ops, int fd)
{
	char *buf = malloc(BULK_CHUNK);
	uint64_t sent = 0, t0 = now_ns(), lim = (uint64_t)(r->o->bulk_secs * 1e9);
	char c;

	if (!buf) {
		errno = ENOMEM;
		run_fail(r, "bulk", "malloc");
		return;
	}
	memset(buf, 'b', BULK_CHUNK);
	while (sent < r->o->bulk_bytes && now_ns() - t0 < lim) {
		ssize_t n = ops->send(fd, buf, BULK_CHUNK, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			run_fail(r, "bulk sender", "send");
			break;
		}
		sent += (uint64_t)n;
	}
	free(buf);
	/* Half-close, then wait for the receiver's close so nothing is reset
	 * with data in flight. */
	ops->shutdown(fd, SHUT_WR);
	while (ops->recv(fd, &c, 1, 0) > 0)
		;
}

static void bulk_recv(struct run *r, const struct sockops *ops, int fd)
{
	char *buf = malloc(BULK_RBUF);
	uint64_t got = 0, t_first = 0, t_last = 0;

	if (!buf) {
		errno = ENOMEM;
		run_fail(r, "bulk", "malloc");
		return;
	}
	for (;;) {
		ssize_t n = ops->recv(fd, buf, BULK_RBUF, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			run_fail(r, "bulk receiver", "recv");
			break;
		}
		if (n == 0)
			break;
		t_last = now_ns();
		if (!got)
			t_first = t_last;
		got += (uint64_t)n;
	}
	free(buf);
	r->bytes = got;
	r->t_first = t_first;
	r->t_last = t_last;
}

static void *bulk_server(void *arg)
{
	struct run *r = arg;
	const struct sockops *ops = r->srv->ops;
	int lfd = listen_on(r, 16), fd;

	set_ready(r, lfd);
	if (lfd < 0)
		return NULL;
	fd = ops->accept(lfd, NULL, NULL);
	if (fd < 0) {
		run_fail(r, r->srv->what, "accept");
	} else {
		track(r, 1, fd);
		if (r->dir == BULK_S2C)
			bulk_send(r, ops, fd);
		else
			bulk_recv(r, ops, fd);
		drop(r, 1, ops, fd);
	}
	drop(r, 0, ops, lfd);
	return NULL;
}

static void *bulk_client(void *arg)
{
	struct run *r = arg;
	const struct sockops *ops = r->cli->ops;
	int fd;

	if (ep_enter(r->cli) < 0) {
		run_fail(r, r->cli->what, "setns");
		return NULL;
	}
	if (wait_ready(r) < 0)
		return NULL;
	fd = dial(r);
	if (fd < 0)
		return NULL;
	if (r->dir == BULK_C2S)
		bulk_send(r, ops, fd);
	else
		bulk_recv(r, ops, fd);
	drop(r, 2, ops, fd);
	return NULL;
}

void run_bulk(const struct bench_opts *o, const struct endpoint *srv, const struct endpoint *cli,
              enum bulk_dir dir, uint16_t port, struct figure *gbps)
{
	struct run r;

	run_init(&r, o, srv, cli, port);
	r.dir = dir;
	if (run_pair(&r, o->bulk_secs, bulk_server, bulk_client) < 0)
		fig_na(gbps, "%s", r.err);
	else if (r.bytes == 0 || r.t_last <= r.t_first)
		fig_na(gbps, "no data arrived");
	else
		fig_set(gbps, (double)r.bytes * 8.0 / (double)(r.t_last - r.t_first));
	run_fini(&r);
}

/* --- crr: connect, 64-byte request, 64-byte response, close --- */

static void *crr_server(void *arg)
{
	struct run *r = arg;
	const struct sockops *ops = r->srv->ops;
	char msg[CRR_MSG];
	int lfd = listen_on(r, 1024);

	set_ready(r, lfd);
	if (lfd < 0)
		return NULL;
	for (;;) {
		int fd = ops->accept(lfd, NULL, NULL);
		ssize_t n;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			run_fail(r, r->srv->what, "accept");
			break;
		}
		track(r, 1, fd);
		n = recv_all(ops, fd, msg, sizeof(msg));
		/* A request starting with 'Q' ends the run. */
		if (n > 0 && msg[0] != 'Q' && send_all(ops, fd, msg, sizeof(msg)) < 0)
			run_fail(r, r->srv->what, "send");
		drop(r, 1, ops, fd);
		if (n > 0 && msg[0] == 'Q')
			break;
	}
	drop(r, 0, ops, lfd);
	return NULL;
}

static int crr_one(struct run *r, char *msg)
{
	const struct sockops *ops = r->cli->ops;
	int fd = dial(r);
	ssize_t n;

	if (fd < 0)
		return -1;
	if (send_all(ops, fd, msg, CRR_MSG) < 0) {
		run_fail(r, r->cli->what, "send");
		drop(r, 2, ops, fd);
		return -1;
	}
	if (msg[0] == 'Q') {
		drop(r, 2, ops, fd);
		return 0;
	}
	n = recv_all(ops, fd, msg, CRR_MSG);
	if (n <= 0) {
		if (n == 0)
			errno = ECONNRESET;
		run_fail(r, r->cli->what, "recv");
	}
	drop(r, 2, ops, fd);
	return n > 0 ? 0 : -1;
}

static void *crr_client(void *arg)
{
	struct run *r = arg;
	char msg[CRR_MSG];
	uint64_t t0, lim = (uint64_t)(r->o->crr_secs * 1e9);

	if (ep_enter(r->cli) < 0) {
		run_fail(r, r->cli->what, "setns");
		return NULL;
	}
	if (wait_ready(r) < 0)
		return NULL;
	t0 = now_ns();
	while (r->count < r->o->crr_max && now_ns() - t0 < lim) {
		memset(msg, 'r', sizeof(msg));
		if (crr_one(r, msg) < 0)
			break;
		r->count++;
	}
	r->t_last = now_ns() - t0;
	memset(msg, 'Q', sizeof(msg));
	crr_one(r, msg);
	return NULL;
}

void run_crr(const struct bench_opts *o, const struct endpoint *srv, const struct endpoint *cli,
             uint16_t port, struct figure *cps)
{
	struct run r;

	run_init(&r, o, srv, cli, port);
	if (run_pair(&r, o->crr_secs, crr_server, crr_client) < 0 && r.count >= CRR_MIN_COUNT &&
	    r.t_last) {
		/* A real rate over the connections made before the failure,
		 * which the why line reports beside it. */
		fig_set(cps, (double)r.count / ((double)r.t_last / 1e9));
		snprintf(cps->why, sizeof(cps->why), "stopped after %llu connections: %.100s",
		         (unsigned long long)r.count, r.err);
	} else if (r.err[0])
		fig_na(cps, "%s (after %llu connections)", r.err, (unsigned long long)r.count);
	else if (r.count == 0 || r.t_last == 0)
		fig_na(cps, "no connection completed");
	else
		fig_set(cps, (double)r.count / ((double)r.t_last / 1e9));
	run_fini(&r);
}

/* --- rr: 1-byte ping-pong on one connection --- */

static void *rr_server(void *arg)
{
	struct run *r = arg;
	const struct sockops *ops = r->srv->ops;
	int lfd = listen_on(r, 16), fd;
	char c;

	set_ready(r, lfd);
	if (lfd < 0)
		return NULL;
	fd = ops->accept(lfd, NULL, NULL);
	if (fd < 0) {
		run_fail(r, r->srv->what, "accept");
	} else {
		track(r, 1, fd);
		opt_int(ops, fd, IPPROTO_TCP, TCP_NODELAY, 1);
		while (recv_all(ops, fd, &c, 1) == 1)
			if (send_all(ops, fd, &c, 1) < 0)
				break;
		drop(r, 1, ops, fd);
	}
	drop(r, 0, ops, lfd);
	return NULL;
}

static void *rr_client(void *arg)
{
	struct run *r = arg;
	const struct sockops *ops = r->cli->ops;
	uint64_t t0, lim = (uint64_t)(r->o->rr_secs * 1e9);
	char c = 'p';
	int fd;

	if (ep_enter(r->cli) < 0) {
		run_fail(r, r->cli->what, "setns");
		return NULL;
	}
	if (wait_ready(r) < 0)
		return NULL;
	fd = dial(r);
	if (fd < 0)
		return NULL;
	opt_int(ops, fd, IPPROTO_TCP, TCP_NODELAY, 1);
	r->samples = calloc(r->o->rr_max, sizeof(*r->samples));
	if (!r->samples) {
		errno = ENOMEM;
		run_fail(r, "rr", "calloc");
		drop(r, 2, ops, fd);
		return NULL;
	}
	for (unsigned i = 0; i < RR_WARMUP; i++) {
		if (send_all(ops, fd, &c, 1) < 0 || recv_all(ops, fd, &c, 1) != 1) {
			run_fail(r, r->cli->what, "warm-up round trip");
			drop(r, 2, ops, fd);
			return NULL;
		}
	}
	t0 = now_ns();
	while (r->nsamples < r->o->rr_max && now_ns() - t0 < lim) {
		uint64_t t = now_ns();

		if (send_all(ops, fd, &c, 1) < 0 || recv_all(ops, fd, &c, 1) != 1) {
			run_fail(r, r->cli->what, "round trip");
			break;
		}
		r->samples[r->nsamples++] = now_ns() - t;
	}
	drop(r, 2, ops, fd);
	return NULL;
}

void run_rr(const struct bench_opts *o, const struct endpoint *srv, const struct endpoint *cli,
            uint16_t port, struct figure *p50_us, struct figure *p99_us)
{
	struct run r;
	double p50, p99;

	run_init(&r, o, srv, cli, port);
	if (run_pair(&r, o->rr_secs, rr_server, rr_client) < 0) {
		fig_na(p50_us, "%s", r.err);
		fig_na(p99_us, "%s", r.err);
	} else if (percentile_us(r.samples, r.nsamples, &p50, &p99) < 0) {
		fig_na(p50_us, "no round trip completed");
		fig_na(p99_us, "no round trip completed");
	} else {
		fig_set(p50_us, p50);
		fig_set(p99_us, p99);
	}
	run_fini(&r);
}
