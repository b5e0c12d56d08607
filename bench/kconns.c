/* Connection scale with kernel clients: N established connections to one
 * listening port from many source addresses. The server is the kernel's
 * (namespace a, clients in namespace b over the veth) or ustack's on its TAP
 * (clients in the TAP namespace).
 *
 * Every connection costs a descriptor on each side and RLIMIT_NOFILE may be
 * small (and not raisable without CAP_SYS_RESOURCE), so both sides are
 * spread over worker processes of at most `per` descriptors each. The
 * server workers share the listener and one epoll instance (inherited across
 * fork), so the parent times one epoll_wait over all N connections.
 *
 * Bytes per connection are the growth of the kernel's slab plus TCP buffer
 * pages (/proc/meminfo Slab, /proc/net/sockstat mem) divided by N, taken in
 * two phases: creating and binding the client sockets (the client side),
 * then connecting, accepting and registering with epoll (the server side,
 * plus the client's small per-connection extras). These are system-wide
 * figures: other work on the machine adds noise, small next to N sockets. */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define PORTS_PER_SRC 60000u
#define PORT_FIRST 2000u
#define FD_HEADROOM 64u        /* descriptors a worker needs besides its slice */
#define WORKER_MAX_FDS 60000u

struct cmd {
	char op;               /* B bind, C connect, A accept, W write, D drain, Q quit */
	uint64_t arg;
};

struct reply {
	int err;               /* errno of the first failure, 0 */
	uint64_t count;
	uint64_t t_last;       /* now_ns() of the last accept */
};

/* One worker process: a slice [lo, hi) of the connections. */
struct worker {
	pid_t pid;
	int sock;              /* the parent's end of a socketpair */
	uint64_t lo, hi;
	bool busy;             /* asked to accept, no reply yet */
};

struct kc {
	const struct bench_opts *o;
	/* where the clients connect from and to */
	uint32_t src_base, dst_ip;
	/* ustack's server (accepting in a thread of this process); NULL: the
	 * kernel's, in server worker processes */
	const struct endpoint *ust;
	uint64_t n, per;
	unsigned nw;                 /* workers per side */
	struct worker *cli, *srv;
	int lfd, ep;
	int *fds;                    /* a worker's own descriptors */
	uint64_t have;
};

static uint64_t fd_budget(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_max == RLIM_INFINITY)
		return 1024;
	/* The soft limit may rise to the hard one without privilege. */
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	return rl.rlim_max;
}

/* --- inside a worker --- */

static int cli_bind(struct kc *k, struct worker *w)
{
	struct linger lg = { 1, 0 };  /* close sends RST: no TIME_WAIT to wait out */

	for (uint64_t i = w->lo; i < w->hi; i++) {
		struct sockaddr_in sin;
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			return errno;
		k->fds[k->have++] = fd;
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		mk_sin(&sin, k->src_base + (uint32_t)(i / PORTS_PER_SRC),
		       (uint16_t)(PORT_FIRST + i % PORTS_PER_SRC));
		if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
			return errno;
	}
	return 0;
}

static int cli_connect(struct kc *k, uint64_t *done)
{
	uint64_t t0 = now_ns(), lim = (uint64_t)(k->o->conns_secs * 1e9);
	struct sockaddr_in sin;

	mk_sin(&sin, k->dst_ip, k->o->port_base);
	for (*done = 0; *done < k->have; (*done)++) {
		if (connect(k->fds[*done], (struct sockaddr *)&sin, sizeof(sin)) < 0)
			return errno;
		if ((*done & 1023) == 0 && now_ns() - t0 > lim)
			return ETIME;
	}
	return 0;
}

static int srv_accept(struct kc *k, struct worker *w, struct reply *rep)
{
	while (k->have < w->hi - w->lo) {
		int fd = accept4(k->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		struct epoll_event ev = { .events = EPOLLIN };

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return errno;
		}
		ev.data.u64 = w->lo + k->have;   /* the connection's global index */
		k->fds[k->have++] = fd;
		rep->t_last = now_ns();
		if (epoll_ctl(k->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
			return errno;
	}
	return 0;
}

/* Connections i of the slice with (lo + i) % every == round. */
static uint64_t first_active(const struct worker *w, uint64_t round, uint64_t every)
{
	return (round + every - w->lo % every) % every;
}

/* Reads the byte of each connection the parent saw ready: cnt global
 * indices follow the command on the socket. */
static int drain(struct kc *k, const struct worker *w, int sock, uint64_t cnt, uint64_t *done)
{
	int err = 0;
	char c;

	for (*done = 0; *done < cnt; (*done)++) {
		uint64_t idx;

		if (read(sock, &idx, sizeof(idx)) != sizeof(idx))
			_exit(1);
		if (idx < w->lo || idx - w->lo >= k->have)
			err = EINVAL;
		else if (read(k->fds[idx - w->lo], &c, 1) != 1 && !err)
			err = errno;
	}
	return err;
}

static void worker_main(struct kc *k, struct worker *w, int sock)
{
	struct cmd cmd;
	struct reply rep;
	uint64_t every = epoll_active_every();

	while (read(sock, &cmd, sizeof(cmd)) == sizeof(cmd)) {
		memset(&rep, 0, sizeof(rep));
		switch (cmd.op) {
		case 'B':
			rep.err = cli_bind(k, w);
			rep.count = k->have;
			break;
		case 'C':
			rep.err = cli_connect(k, &rep.count);
			break;
		case 'A':
			rep.err = srv_accept(k, w, &rep);
			rep.count = k->have;
			break;
		case 'W':
			for (uint64_t i = first_active(w, cmd.arg, every); i < k->have; i += every) {
				if (write(k->fds[i], "x", 1) != 1 && !rep.err)
					rep.err = errno;
				rep.count++;
			}
			break;
		case 'D':
			rep.err = drain(k, w, sock, cmd.arg, &rep.count);
			break;
		default:
			_exit(0);  /* the kernel closes every descriptor */
		}
		if (write(sock, &rep, sizeof(rep)) != sizeof(rep))
			_exit(1);
	}
	_exit(0);
}

/* --- in the parent --- */

/* A copy of fd at 64 or above, out of the way of the final numbers. */
static int lift_fd(int fd)
{
	return fd < 0 ? -1 : fcntl(fd, F_DUPFD, 64);
}

/* Moves a lifted fd to number `to`; -1 stays -1. */
static int keep_fd(int fd, int to)
{
	if (fd < 0)
		return -1;
	return dup2(fd, to) < 0 ? -1 : to;
}

static int spawn(struct kc *k, struct worker *w, bool client, int nscli)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	w->pid = fork();
	if (w->pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (w->pid == 0) {
		/* A worker keeps only what it uses: inherited descriptors (other
		 * workers' sockets, a TAP) would eat its budget or keep them open. */
		int sock = lift_fd(sv[1]), ns = lift_fd(client ? nscli : -1);
		int lfd = lift_fd(client ? -1 : k->lfd), ep = lift_fd(client ? -1 : k->ep);

		sock = keep_fd(sock, 3);
		nscli = keep_fd(ns, 4);
		k->lfd = keep_fd(lfd, 5);
		k->ep = keep_fd(ep, 6);
		close_range(7, ~0u, 0);
		k->fds = calloc(w->hi - w->lo, sizeof(int));
		k->have = 0;
		if (sock < 0 || !k->fds || (client && setns(nscli, CLONE_NEWNET) < 0))
			_exit(1);
		if (client)
			close(nscli);
		worker_main(k, w, sock);
	}
	close(sv[1]);
	w->sock = sv[0];
	return 0;
}

static int send_all_workers(struct worker *ws, unsigned nw, char op, uint64_t arg)
{
	struct cmd c = { op, arg };

	for (unsigned i = 0; i < nw; i++)
		if (write(ws[i].sock, &c, sizeof(c)) != sizeof(c))
			return -1;
	return 0;
}

/* Collects one reply per worker: sum of counts, max of t_last, first err. */
static int gather(struct worker *ws, unsigned nw, struct reply *sum)
{
	memset(sum, 0, sizeof(*sum));
	for (unsigned i = 0; i < nw; i++) {
		struct reply r;

		if (read(ws[i].sock, &r, sizeof(r)) != sizeof(r))
			return -1;
		sum->count += r.count;
		if (r.t_last > sum->t_last)
			sum->t_last = r.t_last;
		if (r.err && !sum->err)
			sum->err = r.err;
	}
	return 0;
}

static int ask_all(struct worker *ws, unsigned nw, char op, uint64_t arg, struct reply *sum)
{
	if (send_all_workers(ws, nw, op, arg) < 0)
		return -1;
	return gather(ws, nw, sum);
}

static int cmp_dbl(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return a < b ? -1 : a > b;
}

/* Hands each server worker the indices of its ready connections to read. */
static int drain_ready(struct kc *k, const struct epoll_event *evs, int got)
{
	struct reply d;

	for (unsigned i = 0; i < k->nw; i++) {
		struct worker *w = &k->srv[i];
		struct cmd c = { 'D', 0 };

		for (int e = 0; e < got; e++)
			c.arg += evs[e].data.u64 / k->per == i;
		if (write(w->sock, &c, sizeof(c)) != sizeof(c))
			return -1;
		for (int e = 0; e < got; e++) {
			uint64_t idx = evs[e].data.u64;

			if (idx / k->per == i && write(w->sock, &idx, sizeof(idx)) != sizeof(idx))
				return -1;
		}
	}
	return gather(k->srv, k->nw, &d) < 0 || d.err ? -1 : 0;
}

/* Rounds: the clients write a byte on 1% of the connections; the parent
 * times one epoll_wait that reports all of them; the server workers read. */
static void epoll_rounds(struct kc *k, uint64_t opened, struct conns_result *r)
{
	uint64_t want = opened / epoll_active_every() + 1;
	struct epoll_event *evs = calloc(want + 16, sizeof(*evs));
	double times[EPOLL_ROUNDS];
	unsigned done = 0;
	struct reply w;

	if (!evs) {
		fig_na(&r->epoll_round_us, "out of memory");
		return;
	}
	for (unsigned round = 0; round < EPOLL_ROUNDS; round++) {
		uint64_t t_end, t = 0;
		int got = -1;

		if (ask_all(k->cli, k->nw, 'W', round, &w) < 0 || w.err)
			break;
		/* Level-triggered: a call that does not see every byte yet is
		 * not timed; those bytes are still on their way. */
		t_end = now_ns() + EPOLL_WAIT_FOR_ALL_NS;
		do {
			t = now_ns();
			got = epoll_wait(k->ep, evs, (int)want + 16, 0);
			t = now_ns() - t;
		} while (got >= 0 && (uint64_t)got < w.count && now_ns() < t_end);
		if (got < 0 || (uint64_t)got < w.count || drain_ready(k, evs, got) < 0)
			break;
		times[done++] = (double)t / 1e3;
	}
	free(evs);
	if (done == 0) {
		fig_na(&r->epoll_round_us, "the active connections never all showed up");
		return;
	}
	qsort(times, done, sizeof(times[0]), cmp_dbl);
	fig_set(&r->epoll_round_us, times[done / 2]);
	epoll_share_note(&r->epoll_round_us);
}

static void na_all(struct conns_result *r, const char *why)
{
	fig_na(&r->cps_open, "%s", why);
	fig_na(&r->server_bytes, "%s", why);
	fig_na(&r->client_bytes, "%s", why);
	fig_na(&r->epoll_round_us, "%s", why);
}

/* Makes 1% of the connections readable: the client workers write. */
static uint64_t activate_workers(void *arg, unsigned round)
{
	struct kc *k = arg;
	struct reply w;

	if (ask_all(k->cli, k->nw, 'W', round, &w) < 0 || w.err)
		return UINT64_MAX;  /* never reached: the round fails */
	return w.count;
}

/* The server is ustack: RSS of this process is its memory. */
static void measure_ust(struct kc *k, struct conns_result *r)
{
	struct uacc a = { .srv = k->ust, .lfd = k->lfd, .n = k->n, .ep = -1 };
	struct reply rb, rc;
	int64_t m0, m1, u0, u1;
	int ep_err;
	pthread_t t;
	uint64_t t0;

	a.fds = calloc(k->n, sizeof(int));
	if (!a.fds) {
		na_all(r, "out of memory");
		return;
	}
	memset(a.fds, 0xff, k->n * sizeof(int));  /* touched before the reading */
	a.ep = ust_epoll_open();
	ep_err = errno;
	m0 = kernel_sock_mem();
	if (ask_all(k->cli, k->nw, 'B', 0, &rb) < 0 || rb.err) {
		na_all(r, rb.err ? strerror(rb.err) : "a client worker died while binding");
		goto out;
	}
	m1 = kernel_sock_mem();
	u0 = rss_bytes();
	if (pthread_create(&t, NULL, uacc_thread, &a)) {
		na_all(r, "pthread_create failed");
		goto out;
	}
	t0 = now_ns();
	if (ask_all(k->cli, k->nw, 'C', 0, &rc) < 0 || rc.count < k->n) {
		/* Shutting the listener wakes the accept thread. */
		k->ust->ops->shutdown(k->lfd, SHUT_RDWR);
		pthread_join(t, NULL);
		na_all(r, rc.err ? strerror(rc.err) : "not every client connected");
		goto out;
	}
	join_acceptor(t, k->ust, k->lfd, 30);
	u1 = rss_bytes();
	r->opened = a.accepted;
	if (a.accepted < k->n) {
		na_all(r, a.err ? strerror(a.err) : "not every connection was accepted");
		goto out;
	}
	fig_set(&r->cps_open, (double)a.accepted / ((double)(a.t_last - t0) / 1e9));
	fig_set(&r->client_bytes, (double)(m1 - m0) / (double)k->n);
	fig_set(&r->server_bytes, (double)(u1 - u0) / (double)a.accepted);
	if (a.ep >= 0)
		ust_epoll_rounds(a.ep, a.fds, a.accepted, activate_workers, k, &r->epoll_round_us);
	else
		fig_na(&r->epoll_round_us, "ust_epoll_create1: %s", strerror(ep_err));
out:
	if (a.ep >= 0)
		k->ust->ops->close(a.ep);
	for (uint64_t i = 0; i < a.accepted; i++)
		k->ust->ops->close(a.fds[i]);
	free(a.fds);
}

static void measure(struct kc *k, struct conns_result *r)
{
	struct reply rb, rc, ra;
	int64_t m0, m1, m2;
	uint64_t t0;

	if (k->ust) {
		measure_ust(k, r);
		return;
	}

	m0 = kernel_sock_mem();
	if (ask_all(k->cli, k->nw, 'B', 0, &rb) < 0 || rb.err) {
		na_all(r, rb.err ? strerror(rb.err) : "a client worker died while binding");
		return;
	}
	m1 = kernel_sock_mem();
	/* Server workers block in accept before the first SYN is sent. */
	for (unsigned i = 0; i < k->nw; i++)
		k->srv[i].busy = true;
	if (send_all_workers(k->srv, k->nw, 'A', 0) < 0) {
		na_all(r, "a server worker died");
		return;
	}
	t0 = now_ns();
	if (ask_all(k->cli, k->nw, 'C', 0, &rc) < 0) {
		na_all(r, "a client worker died while connecting");
		return;
	}
	if (rc.count < k->n) {
		/* Workers short of their quota would wait forever in accept. */
		fprintf(stderr, "kernel conns: %llu of %llu connected (%s)\n",
		        (unsigned long long)rc.count, (unsigned long long)k->n,
		        rc.err ? strerror(rc.err) : "?");
		na_all(r, "not every client connected within the bound");
		return;
	}
	if (gather(k->srv, k->nw, &ra) < 0 || ra.err) {
		na_all(r, ra.err ? strerror(ra.err) : "a server worker died while accepting");
		return;
	}
	for (unsigned i = 0; i < k->nw; i++)
		k->srv[i].busy = false;
	m2 = kernel_sock_mem();
	r->opened = ra.count;
	fig_set(&r->cps_open, (double)ra.count / ((double)(ra.t_last - t0) / 1e9));
	fig_set(&r->client_bytes, (double)(m1 - m0) / (double)k->n);
	fig_set(&r->server_bytes, (double)(m2 - m1) / (double)ra.count);
	epoll_rounds(k, ra.count, r);
}

/* ustack's listener on its TAP address. */
static int make_ust_listener(struct kc *k)
{
	struct sockaddr_in sin;

	k->lfd = ep_socket(k->ust);
	if (k->lfd < 0)
		return -1;
	mk_sin(&sin, k->dst_ip, k->o->port_base);
	if (k->ust->ops->bind(k->lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    k->ust->ops->listen(k->lfd, 65535) < 0)
		return -1;
	return 0;
}

/* The listener and the shared epoll instance, made inside namespace a. */
static int make_listener(struct kc *k)
{
	if (k->ust)
		return make_ust_listener(k);

	int back = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	int nsa = open_ns(k->o->ns_a), one = 1, rc = -1;
	struct sockaddr_in sin;

	if (back >= 0 && nsa >= 0 && setns(nsa, CLONE_NEWNET) == 0) {
		k->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		setsockopt(k->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		mk_sin(&sin, k->o->ip_a, k->o->port_base);
		if (k->lfd >= 0 && bind(k->lfd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
		    listen(k->lfd, 65535) == 0)
			rc = 0;
		if (setns(back, CLONE_NEWNET) < 0)
			rc = -1;
	}
	if (back >= 0)
		close(back);
	if (nsa >= 0)
		close(nsa);
	k->ep = epoll_create1(EPOLL_CLOEXEC);
	return rc == 0 && k->ep >= 0 ? 0 : -1;
}

static void stop_workers(struct worker *ws, unsigned nw)
{
	struct cmd q = { 'Q', 0 };
	int status;

	for (unsigned i = 0; i < nw; i++) {
		if (ws[i].pid <= 0)
			continue;
		/* One still blocked in accept does not read commands. */
		if (ws[i].busy || write(ws[i].sock, &q, sizeof(q)) != sizeof(q))
			kill(ws[i].pid, SIGKILL);
		close(ws[i].sock);
		waitpid(ws[i].pid, &status, 0);
	}
}

static void conns_run(struct kc *k, const char *cli_ns, unsigned src_count,
                      struct conns_result *r)
{
	uint64_t budget = fd_budget(), n = k->n;
	int nscli = open_ns(cli_ns);
	bool ok = true;

	memset(r, 0, sizeof(*r));
	k->lfd = k->ep = -1;
	k->per = budget > FD_HEADROOM * 2 ? budget - FD_HEADROOM : 0;
	if (k->per > WORKER_MAX_FDS)
		k->per = WORKER_MAX_FDS;
	if (n > (uint64_t)PORTS_PER_SRC * src_count || k->per == 0 || nscli < 0) {
		na_all(r, nscli < 0 ? "the client namespace is missing" :
		          k->per == 0 ? "RLIMIT_NOFILE too small" :
		                        "not enough client source addresses");
		goto out;
	}
	k->nw = (unsigned)((n + k->per - 1) / k->per);
	k->cli = calloc(k->nw, sizeof(*k->cli));
	k->srv = calloc(k->nw, sizeof(*k->srv));
	if (!k->cli || !k->srv || make_listener(k) < 0) {
		na_all(r, "cannot make the listener");
		goto out;
	}
	/* Workers start before the first reading, so their own cost is not
	 * counted. (glibc keeps malloc usable in a child of a threaded parent;
	 * a worker makes no other call that could need another thread's lock.) */
	for (unsigned i = 0; i < k->nw && ok; i++) {
		uint64_t lo = i * k->per, hi = lo + k->per < n ? lo + k->per : n;

		k->cli[i] = (struct worker){ .lo = lo, .hi = hi };
		k->srv[i] = (struct worker){ .lo = lo, .hi = hi };
		ok = spawn(k, &k->cli[i], true, nscli) == 0 &&
		     (k->ust || spawn(k, &k->srv[i], false, nscli) == 0);
	}
	if (!ok)
		na_all(r, "cannot start the worker processes");
	else
		measure(k, r);
out:
	/* Clients first: their RSTs release the server sockets quickly. */
	if (k->cli)
		stop_workers(k->cli, k->nw);
	if (k->srv)
		stop_workers(k->srv, k->nw);
	free(k->cli);
	free(k->srv);
	if (k->lfd >= 0 && k->ust)
		k->ust->ops->close(k->lfd);
	else if (k->lfd >= 0)
		close(k->lfd);
	if (k->ep >= 0)
		close(k->ep);
	if (nscli >= 0)
		close(nscli);
}

void kernel_conns(const struct bench_opts *o, uint64_t n, struct conns_result *r)
{
	struct kc k = { .o = o, .n = n, .src_base = o->conns_src_base, .dst_ip = o->ip_a };

	conns_run(&k, o->ns_b, o->conns_src_count, r);
}

void tap_conns(const struct bench_opts *o, uint64_t n, const struct endpoint *ust,
               struct conns_result *r)
{
	struct kc k = { .o = o, .n = n, .src_base = o->tap_src_base, .dst_ip = o->tap_stack_ip,
	                .ust = ust };

	conns_run(&k, o->ns_tap, o->conns_src_count, r);
}
