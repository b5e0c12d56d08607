/* The errno table of issue 3 point 6: each misuse of the socket API run
 * once against the kernel's sockets and once against ustack's, printing
 *   CASE kernel=ERRNO ustack=ERRNO ok|MISMATCH
 * Exit 0 only when every case gives the same result on both.
 *
 * Both columns run the same case function over a table of socket calls
 * (struct api). The peers are the same for both: a kernel listener on the
 * TAP's kernel address (10.77.0.1), reached by the kernel's sockets through
 * the local route and by ustack's over the TAP; cases that need a listener
 * of the API under test bind it on that API's own address (10.77.0.1 for
 * the kernel, 10.77.0.2 for ustack) with a kernel socket as the client.
 * Runs inside the test's network namespace (tests/interop/tcp_errno.sh);
 * the stack starts from the USTACK_* environment. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ustack/ustack.h>

#define PORT_BASE 20000
#define SIGPIPE_SEEN 0x10000   /* or-ed into a result when SIGPIPE arrived */
#define SETUP_FAILED (-1)
#define MAXFD 8

struct api {
	const char *name;
	in_addr_t self;        /* where this API's own listeners bind */
	int unused_fd;         /* in the API's fd range, never opened */
	int (*socket)(int, int, int);
	int (*bind)(int, const struct sockaddr *, socklen_t);
	int (*listen)(int, int);
	int (*accept)(int, struct sockaddr *, socklen_t *);
	int (*connect)(int, const struct sockaddr *, socklen_t);
	ssize_t (*send)(int, const void *, size_t, int);
	ssize_t (*recv)(int, void *, size_t, int);
	int (*shutdown)(int, int);
	int (*close)(int);
	int (*setsockopt)(int, int, int, const void *, socklen_t);
	int (*getsockname)(int, struct sockaddr *, socklen_t *);
};

/* glibc declares these with transparent-union address types under
 * _GNU_SOURCE; the wrappers give them the plain POSIX signatures. */
static int k_bind(int fd, const struct sockaddr *a, socklen_t l)
{
	return bind(fd, a, l);
}

static int k_accept(int fd, struct sockaddr *a, socklen_t *l)
{
	return accept(fd, a, l);
}

static int k_connect(int fd, const struct sockaddr *a, socklen_t l)
{
	return connect(fd, a, l);
}

static int k_getsockname(int fd, struct sockaddr *a, socklen_t *l)
{
	return getsockname(fd, a, l);
}

static const struct api kernel_api = {
	"kernel", 0, 900, socket, k_bind, listen, k_accept, k_connect, send, recv,
	shutdown, close, setsockopt, k_getsockname,
};

static const struct api ustack_api = {
	"ustack", 0, 1900000, ust_socket, ust_bind, ust_listen, ust_accept, ust_connect, ust_send,
	ust_recv, ust_shutdown, ust_close, ust_setsockopt, ust_getsockname,
};

/* One run of a case: the API under test, its ports, and every fd it opened
 * (closed at the end whatever happened). */
struct ctx {
	const struct api *a;
	int port;              /* first of 10 ports this run may use */
	int fds[MAXFD], nfds;  /* the API's */
	int kfds[MAXFD], nkfds;/* kernel peers */
	const char *failed;    /* the setup step that failed */
};

static volatile sig_atomic_t sigpipes;
static in_addr_t host_ip, stack_ip;

static void on_sigpipe(int sig)
{
	(void)sig;
	sigpipes++;
}

static struct sockaddr_in sin_of(in_addr_t ip, int port)
{
	struct sockaddr_in s = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };

	s.sin_addr.s_addr = ip;
	return s;
}

#define SA(p) ((struct sockaddr *)(p))

/* Setup steps: on failure the case stops and reports which step failed. */
#define STEP(c, expr) do { if ((expr) < 0) { (c)->failed = #expr; return SETUP_FAILED; } } while (0)

static int track(struct ctx *c, int fd)
{
	if (fd >= 0 && c->nfds < MAXFD)
		c->fds[c->nfds++] = fd;
	return fd;
}

static int ktrack(struct ctx *c, int fd)
{
	if (fd >= 0 && c->nkfds < MAXFD)
		c->kfds[c->nkfds++] = fd;
	return fd;
}

/* The result of the call under test: 0 or its errno. */
static int res(long rc)
{
	return rc < 0 ? errno : 0;
}

/* A kernel listener on the kernel's TAP address, the peer of both columns. */
static int peer_listen(struct ctx *c, int port)
{
	struct sockaddr_in a = sin_of(host_ip, port);
	struct timeval tv = { .tv_sec = 5 };
	int one = 1, fd = ktrack(c, socket(AF_INET, SOCK_STREAM, 0));

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    bind(fd, SA(&a), sizeof(a)) < 0 || listen(fd, 16) < 0)
		return -1;
	return fd;
}

/* A socket of the API under test connected to a fresh peer listener. */
static int connected(struct ctx *c, int port)
{
	struct sockaddr_in p = sin_of(host_ip, port);
	int fd;

	if (peer_listen(c, port) < 0)
		return -1;
	fd = track(c, c->a->socket(AF_INET, SOCK_STREAM, 0));
	if (fd < 0 || c->a->connect(fd, SA(&p), sizeof(p)) < 0)
		return -1;
	return fd;
}

/* --- the cases; each returns the result of the call under test --- */

static int connect_on_listener(struct ctx *c)
{
	struct sockaddr_in me = sin_of(htonl(INADDR_ANY), c->port);
	struct sockaddr_in p = sin_of(host_ip, c->port + 1);
	int fd;

	STEP(c, peer_listen(c, c->port + 1));
	STEP(c, fd = track(c, c->a->socket(AF_INET, SOCK_STREAM, 0)));
	STEP(c, c->a->bind(fd, SA(&me), sizeof(me)));
	STEP(c, c->a->listen(fd, 5));
	return res(c->a->connect(fd, SA(&p), sizeof(p)));
}

static int connect_twice(struct ctx *c)
{
	struct sockaddr_in p = sin_of(host_ip, c->port);
	int fd;

	STEP(c, fd = connected(c, c->port));
	return res(c->a->connect(fd, SA(&p), sizeof(p)));
}

static int connect_refused(struct ctx *c)
{
	struct sockaddr_in p = sin_of(host_ip, c->port);  /* nobody listens */
	int fd;

	STEP(c, fd = track(c, c->a->socket(AF_INET, SOCK_STREAM, 0)));
	return res(c->a->connect(fd, SA(&p), sizeof(p)));
}

/* An on-link address nobody holds: ARP gets no answer, and Linux fails
 * the connect with EHOSTUNREACH after its probes (about 3 s). */
static int connect_no_neighbour(struct ctx *c)
{
	struct sockaddr_in p = sin_of(htonl((ntohl(host_ip) & 0xffffff00u) | 99u), c->port);
	int fd;

	STEP(c, fd = track(c, c->a->socket(AF_INET, SOCK_STREAM, 0)));
	return res(c->a->connect(fd, SA(&p), sizeof(p)));
}

static int listen_on_connected(struct ctx *c)
{
	int fd;

	STEP(c, fd = connected(c, c->port));
	return res(c->a->listen(fd, 5));
}

static int accept_not_listening(struct ctx *c)
{
	int fd;

	STEP(c, fd = track(c, c->a->socket(AF_INET, SOCK_STREAM, 0)));
	return res(c->a->accept(fd, NULL, NULL));
}

static int accept_on_connected(struct ctx *c)
{
	int fd;

	STEP(c, fd = connected(c, c->port));
	return res(c->a->accept(fd, NULL, NULL));
}

static int send_unconnected(struct ctx *c)
{
	int fd;

	STEP(c, fd = track(c, c->a->socket(AF_INET, SOCK_STREAM, 0)));
	return res(c->a->send(fd, "x", 1, MSG_NOSIGNAL));
}

static int recv_unconnected(struct ctx *c)
{
	char b[4];
	int fd;

	STEP(c, fd = track(c, c->a->socket(AF_INET, SOCK_STREAM, 0)));
	return res(c->a->recv(fd, b, sizeof(b), 0));
}

static int send_after_shut_wr(struct ctx *c)
{
	int fd;

	STEP(c, fd = connected(c, c->port));
	STEP(c, c->a->shutdown(fd, SHUT_WR));
	return res(c->a->send(fd, "x", 1, MSG_NOSIGNAL));
}

/* Without MSG_NOSIGNAL the failed send also raises SIGPIPE. */
static int send_after_shut_wr_sigpipe(struct ctx *c)
{
	sig_atomic_t before = sigpipes;
	int fd, r;

	STEP(c, fd = connected(c, c->port));
	STEP(c, c->a->shutdown(fd, SHUT_WR));
	r = res(c->a->send(fd, "x", 1, 0));
	return sigpipes != before ? r | SIGPIPE_SEEN : r;
}

static int bind_in_use(struct ctx *c)
{
	struct sockaddr_in me = sin_of(htonl(INADDR_ANY), c->port);
	int a, b;

	STEP(c, a = track(c, c->a->socket(AF_INET, SOCK_STREAM, 0)));
	STEP(c, c->a->bind(a, SA(&me), sizeof(me)));
	STEP(c, c->a->listen(a, 5));
	STEP(c, b = track(c, c->a->socket(AF_INET, SOCK_STREAM, 0)));
	return res(c->a->bind(b, SA(&me), sizeof(me)));
}

/* SO_REUSEADDR on both does not let a second socket share a listener's
 * port. */
static int bind_in_use_reuseaddr(struct ctx *c)
{
	struct sockaddr_in me = sin_of(htonl(INADDR_ANY), c->port);
	int one = 1, a, b;

	STEP(c, a = track(c, c->a->socket(AF_INET, SOCK_STREAM, 0)));
	STEP(c, c->a->setsockopt(a, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)));
	STEP(c, c->a->bind(a, SA(&me), sizeof(me)));
	STEP(c, c->a->listen(a, 5));
	STEP(c, b = track(c, c->a->socket(AF_INET, SOCK_STREAM, 0)));
	STEP(c, c->a->setsockopt(b, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)));
	return res(c->a->bind(b, SA(&me), sizeof(me)));
}

/* Leaves a connection of the API under test in TIME_WAIT on its own
 * address and port c->port: a listener with SO_REUSEADDR accepts a kernel
 * client, closes first, the client answers with its FIN; once the client
 * reaches CLOSED our FIN was acked and its FIN arrived, so our side is in
 * TIME_WAIT. The listener is closed: only the TIME_WAIT holds the port. */
static int make_time_wait(struct ctx *c)
{
	struct sockaddr_in me = sin_of(c->a->self, c->port);
	struct timeval tv = { .tv_sec = 5 };
	struct tcp_info ti;
	socklen_t tl;
	int one = 1, l, k, s;
	char b;

	STEP(c, l = c->a->socket(AF_INET, SOCK_STREAM, 0));
	STEP(c, c->a->setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)));
	STEP(c, c->a->bind(l, SA(&me), sizeof(me)));
	STEP(c, c->a->listen(l, 5));
	STEP(c, k = ktrack(c, socket(AF_INET, SOCK_STREAM, 0)));
	STEP(c, setsockopt(k, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
	STEP(c, connect(k, SA(&me), sizeof(me)));
	STEP(c, s = c->a->accept(l, NULL, NULL));
	STEP(c, c->a->close(l));
	STEP(c, c->a->close(s));
	STEP(c, recv(k, &b, 1, 0) == 0 ? 0 : -1);  /* our FIN */
	STEP(c, shutdown(k, SHUT_WR));
	for (int i = 0;; i++) {
		tl = sizeof(ti);
		STEP(c, getsockopt(k, IPPROTO_TCP, TCP_INFO, &ti, &tl));
		if (ti.tcpi_state == TCP_CLOSE)
			return 0;
		STEP(c, i < 500 ? 0 : -1);  /* 5 s for the last ACK */
		poll(NULL, 0, 10);
	}
}

static int bind_over_time_wait(struct ctx *c)
{
	struct sockaddr_in me = sin_of(c->a->self, c->port);
	int fd;

	STEP(c, make_time_wait(c));
	STEP(c, fd = track(c, c->a->socket(AF_INET, SOCK_STREAM, 0)));
	return res(c->a->bind(fd, SA(&me), sizeof(me)));
}

static int bind_over_time_wait_reuseaddr(struct ctx *c)
{
	struct sockaddr_in me = sin_of(c->a->self, c->port);
	int one = 1, fd, r;

	STEP(c, make_time_wait(c));
	STEP(c, fd = track(c, c->a->socket(AF_INET, SOCK_STREAM, 0)));
	STEP(c, c->a->setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)));
	r = res(c->a->bind(fd, SA(&me), sizeof(me)));
	return r ? r : res(c->a->listen(fd, 5));
}

static int send_bad_fd(struct ctx *c)
{
	return res(c->a->send(-1, "x", 1, MSG_NOSIGNAL));
}

static int recv_unused_fd(struct ctx *c)
{
	char b[4];

	return res(c->a->recv(c->a->unused_fd, b, sizeof(b), 0));
}

static int close_closed_fd(struct ctx *c)
{
	int fd;

	STEP(c, fd = c->a->socket(AF_INET, SOCK_STREAM, 0));
	STEP(c, c->a->close(fd));
	return res(c->a->close(fd));
}

static int connect_closed_fd(struct ctx *c)
{
	struct sockaddr_in p = sin_of(host_ip, c->port);
	int fd;

	STEP(c, peer_listen(c, c->port));
	STEP(c, fd = c->a->socket(AF_INET, SOCK_STREAM, 0));
	STEP(c, c->a->close(fd));
	return res(c->a->connect(fd, SA(&p), sizeof(p)));
}

static int bind_addrlen_3(struct ctx *c)
{
	struct sockaddr_in me = sin_of(htonl(INADDR_ANY), c->port);
	int fd;

	STEP(c, fd = track(c, c->a->socket(AF_INET, SOCK_STREAM, 0)));
	return res(c->a->bind(fd, SA(&me), 3));
}

static int bind_wrong_family(struct ctx *c)
{
	struct sockaddr_in me = sin_of(htonl(INADDR_LOOPBACK), c->port);
	int fd;

	me.sin_family = AF_INET6;
	STEP(c, fd = track(c, c->a->socket(AF_INET, SOCK_STREAM, 0)));
	return res(c->a->bind(fd, SA(&me), sizeof(me)));
}

static int connect_null_addr(struct ctx *c)
{
	int fd;

	STEP(c, fd = track(c, c->a->socket(AF_INET, SOCK_STREAM, 0)));
	return res(c->a->connect(fd, NULL, sizeof(struct sockaddr_in)));
}

/* Data is waiting (seen with MSG_PEEK), so the only fault is the buffer. */
static int recv_null_buf(struct ctx *c)
{
	int fd, pfd;
	char b;

	STEP(c, fd = connected(c, c->port));
	STEP(c, pfd = ktrack(c, accept(c->kfds[0], NULL, NULL)));
	STEP(c, send(pfd, "data", 4, 0));
	STEP(c, c->a->recv(fd, &b, 1, MSG_PEEK));
	return res(c->a->recv(fd, NULL, 16, 0));
}

static int send_null_buf(struct ctx *c)
{
	int fd;

	STEP(c, fd = connected(c, c->port));
	return res(c->a->send(fd, NULL, 16, MSG_NOSIGNAL));
}

static int getsockname_null_len(struct ctx *c)
{
	struct sockaddr_in me;
	int fd;

	STEP(c, fd = track(c, c->a->socket(AF_INET, SOCK_STREAM, 0)));
	return res(c->a->getsockname(fd, SA(&me), NULL));
}

static int setsockopt_short_len(struct ctx *c)
{
	int one = 1, fd;

	STEP(c, fd = track(c, c->a->socket(AF_INET, SOCK_STREAM, 0)));
	return res(c->a->setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, 2));
}

struct kase {
	const char *name;
	int (*fn)(struct ctx *);
	int expect;  /* what issue 3 (and Linux) say; the kernel's answer rules */
};

static const struct kase cases[] = {
	{ "connect_on_listener", connect_on_listener, EISCONN },
	{ "connect_twice", connect_twice, EISCONN },
	{ "connect_refused", connect_refused, ECONNREFUSED },
	{ "connect_no_neighbour", connect_no_neighbour, EHOSTUNREACH },
	{ "listen_on_connected", listen_on_connected, EINVAL },
	{ "accept_not_listening", accept_not_listening, EINVAL },
	{ "accept_on_connected", accept_on_connected, EINVAL },
	/* Issue 3 says ENOTCONN; Linux's tcp_sendmsg answers EPIPE for a socket
	 * that never connected (sk_stream_wait_connect). Linux rules. */
	{ "send_unconnected", send_unconnected, EPIPE },
	{ "recv_unconnected", recv_unconnected, ENOTCONN },
	{ "send_after_shut_wr", send_after_shut_wr, EPIPE },
	{ "send_after_shut_wr_sigpipe", send_after_shut_wr_sigpipe, EPIPE | SIGPIPE_SEEN },
	{ "bind_in_use", bind_in_use, EADDRINUSE },
	{ "bind_in_use_reuseaddr", bind_in_use_reuseaddr, EADDRINUSE },
	{ "bind_over_time_wait", bind_over_time_wait, EADDRINUSE },
	{ "bind_over_time_wait_reuseaddr", bind_over_time_wait_reuseaddr, 0 },
	{ "send_bad_fd", send_bad_fd, EBADF },
	{ "recv_unused_fd", recv_unused_fd, EBADF },
	{ "close_closed_fd", close_closed_fd, EBADF },
	{ "connect_closed_fd", connect_closed_fd, EBADF },
	{ "bind_addrlen_3", bind_addrlen_3, EINVAL },
	{ "bind_wrong_family", bind_wrong_family, EAFNOSUPPORT },
	{ "connect_null_addr", connect_null_addr, EFAULT },
	{ "recv_null_buf", recv_null_buf, EFAULT },
	{ "send_null_buf", send_null_buf, EFAULT },
	{ "getsockname_null_len", getsockname_null_len, EFAULT },
	{ "setsockopt_short_len", setsockopt_short_len, EINVAL },
};

static const char *result_name(int r, char *buf, size_t len)
{
	const char *e;

	if (r == SETUP_FAILED)
		return "SETUP-FAILED";
	if ((r & ~SIGPIPE_SEEN) == 0)
		e = "0";
	else
		e = strerrorname_np(r & ~SIGPIPE_SEEN);
	snprintf(buf, len, "%s%s", e ? e : "?", r & SIGPIPE_SEEN ? "+SIGPIPE" : "");
	return buf;
}

static int run(const struct kase *k, const struct api *a, int port)
{
	struct ctx c = { .a = a, .port = port };
	int r = k->fn(&c);

	if (r == SETUP_FAILED)
		fprintf(stderr, "errno_table: %s (%s): setup step failed: %s: %s\n", k->name,
		        a->name, c.failed, strerror(errno));
	for (int i = 0; i < c.nfds; i++)
		a->close(c.fds[i]);
	for (int i = 0; i < c.nkfds; i++)
		close(c.kfds[i]);
	return r;
}

/* The TAP's kernel address exists once the stack has opened its link. */
static int wait_host_ip(void)
{
	struct sockaddr_in a = sin_of(host_ip, 0);

	for (int i = 0; i < 500; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0), rc;

		rc = bind(fd, SA(&a), sizeof(a));
		close(fd);
		if (rc == 0)
			return 0;
		poll(NULL, 0, 10);
	}
	return -1;
}

static in_addr_t env_ip(const char *var, const char *def)
{
	const char *v = getenv(var);
	char buf[32];

	snprintf(buf, sizeof(buf), "%s", v && *v ? v : def);
	buf[strcspn(buf, "/")] = 0;
	return inet_addr(buf);
}

int main(void)
{
	struct sigaction sa = { .sa_handler = on_sigpipe };
	struct api k = kernel_api, u = ustack_api;
	char kb[48], ub[48], eb[48];
	unsigned bad = 0;

	sigaction(SIGPIPE, &sa, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	host_ip = env_ip("USTACK_HOST_IP", "10.77.0.1");
	stack_ip = env_ip("USTACK_IP", "10.77.0.2");
	k.self = host_ip;
	u.self = stack_ip;
	if (ust_init(NULL) < 0 && errno != EALREADY) {
		perror("errno_table: ust_init");
		return 2;
	}
	if (wait_host_ip() < 0) {
		fprintf(stderr, "errno_table: the TAP's kernel address never appeared\n");
		return 2;
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int port = PORT_BASE + (int)i * 20;
		int kr = run(&cases[i], &k, port);
		int ur = run(&cases[i], &u, port + 10);
		int ok = kr == ur && kr != SETUP_FAILED;

		bad += !ok;
		printf("%s kernel=%s ustack=%s %s", cases[i].name, result_name(kr, kb, sizeof(kb)),
		       result_name(ur, ub, sizeof(ub)), ok ? "ok" : "MISMATCH");
		if (kr != cases[i].expect)
			printf(" (expected %s)", result_name(cases[i].expect, eb, sizeof(eb)));
		printf("\n");
	}
	printf("%zu cases, %u mismatched\n", sizeof(cases) / sizeof(cases[0]), bad);
	return bad ? 1 : 0;
}
