/* ustack-bench: ustack against the Linux kernel on the same work, in the
 * same run. Subcommands bulk, crr, rr and conns print one machine-readable
 * line per figure:
 *
 *   NAME ustack_X=... kernel_X=... ratio=...
 *
 * ratio is always ustack / kernel: above 1 is better for throughput and
 * rates (gbps, cps), below 1 is better for latency (rr) and bytes. A figure
 * that could not be measured prints NA, and a "# NAME: why" line says why.
 *
 * The kernel runs kernel<->kernel over a veth between two namespaces (a, b)
 * and over loopback inside a namespace of its own (lo); ustack runs on a TAP
 * inside a fourth namespace (tap) against that namespace's kernel, and
 * ustack<->ustack over a memlink in this process. bench/run.sh makes and
 * removes the namespaces; this program only enters them (setns per thread),
 * so it never touches the host's interfaces. */
#include "bench.h"

#include "tcp/tcp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define PORT_BULK 5101
#define PORT_CRR 5201
#define PORT_RR 5301
#define PORT_CONNS 5401

static void usage(void)
{
	fprintf(stderr,
	        "usage: ustack-bench [--quick] --ns-a P --ns-b P --ns-lo P --ns-tap P\n"
	        "                    [--tap-name N] [--src-count K] [--conns N] bulk|crr|rr|conns\n"
	        "  namespaces are /run/netns paths made by bench/run.sh:\n"
	        "  a=%s b=%s (veth), conns sources %s.. in b, tap: kernel %s, ustack %s\n",
	        "10.99.0.1", "10.99.0.2", "10.99.1.1", "10.98.0.1", "10.98.0.2");
}

static uint32_t ip4(const char *s)
{
	struct in_addr a;

	return inet_pton(AF_INET, s, &a) == 1 ? ntohl(a.s_addr) : 0;
}

static void defaults(struct bench_opts *o, bool quick)
{
	o->quick = quick;
	o->bulk_secs = quick ? 2.0 : 10.0;
	o->bulk_bytes = 2ull << 30;  /* the issue: 10 s or 2 GB */
	o->crr_secs = quick ? 1.5 : 5.0;
	o->crr_max = quick ? 50000 : 500000;
	o->rr_secs = quick ? 1.0 : 5.0;
	o->rr_max = quick ? 50000 : 500000;
	o->conns_secs = quick ? 20.0 : 300.0;
	o->ip_a = ip4("10.99.0.1");
	o->ip_b = ip4("10.99.0.2");
	o->conns_src_base = ip4("10.99.1.1");
	o->ip_lo = ip4("127.0.0.1");
	o->tap_host_ip = ip4("10.98.0.1");
	o->tap_stack_ip = ip4("10.98.0.2");
	o->tap_src_base = ip4("10.98.1.1");
	o->port_base = PORT_CONNS;
}

/* A kernel endpoint in namespace path with address ip. */
static int kep(struct endpoint *ep, const char *what, const char *path, uint32_t ip)
{
	memset(ep, 0, sizeof(*ep));
	ep->what = what;
	ep->ops = &kernel_ops;
	ep->ip = ip;
	ep->nsfd = open_ns(path);
	if (ep->nsfd < 0)
		fprintf(stderr, "ustack-bench: namespace %s: %s\n", path, strerror(errno));
	return ep->nsfd < 0 ? -1 : 0;
}

static void kep_close(struct endpoint *ep)
{
	if (ep->nsfd >= 0)
		close(ep->nsfd);
	ep->nsfd = -1;
}

/* The kernel endpoints every figure may use. */
struct keps {
	struct endpoint a, b, lo, tap;
};

static int keps_open(const struct bench_opts *o, struct keps *k)
{
	int rc = 0;

	rc |= kep(&k->a, "kernel veth a", o->ns_a, o->ip_a);
	rc |= kep(&k->b, "kernel veth b", o->ns_b, o->ip_b);
	rc |= kep(&k->lo, "kernel loopback", o->ns_lo, o->ip_lo);
	rc |= kep(&k->tap, "kernel tap side", o->ns_tap, o->tap_host_ip);
	return rc;
}

static void keps_close(struct keps *k)
{
	kep_close(&k->a);
	kep_close(&k->b);
	kep_close(&k->lo);
	kep_close(&k->tap);
}

static void print_pair(const char *name, const char *unit, int prec, const struct figure *u,
                       const struct figure *k)
{
	char ku[48], kk[48];

	snprintf(ku, sizeof(ku), "ustack_%s", unit);
	snprintf(kk, sizeof(kk), "kernel_%s", unit);
	printf("%s", name);
	put_kv(stdout, ku, u, prec);
	put_kv(stdout, kk, k, prec);
	put_ratio(stdout, "ratio", u, k);
	printf("\n");
	put_why(stdout, name, u);
	put_why(stdout, name, k);
	fflush(stdout);
}

static void cmd_bulk(const struct bench_opts *o, struct keps *k)
{
	struct figure u, kf;
	struct endpoint us, ua, ub;
	char why[160];
	bool tap = ustack_tap(o, &us, why, sizeof(why)) == 0;

	/* tx: ustack sends to the kernel; the kernel figure is b -> a. */
	run_bulk(o, &k->a, &k->b, BULK_C2S, PORT_BULK, &kf);
	if (tap)
		run_bulk(o, &k->tap, &us, BULK_C2S, PORT_BULK, &u);
	else
		fig_na(&u, "%s", why);
	print_pair("bulk_tap_tx", "gbps", 3, &u, &kf);

	run_bulk(o, &k->a, &k->b, BULK_S2C, PORT_BULK + 1, &kf);
	if (tap)
		run_bulk(o, &k->tap, &us, BULK_S2C, PORT_BULK + 1, &u);
	else
		fig_na(&u, "%s", why);
	print_pair("bulk_tap_rx", "gbps", 3, &u, &kf);
	if (tap)
		ustack_stop(&us);

	run_bulk(o, &k->lo, &k->lo, BULK_C2S, PORT_BULK + 2, &kf);
	if (ustack_memlink_pair(&ua, &ub, why, sizeof(why)) == 0) {
		run_bulk(o, &ua, &ub, BULK_C2S, PORT_BULK + 2, &u);
		ustack_stop(&ua);
		ustack_stop(&ub);
	} else {
		fig_na(&u, "%s", why);
	}
	print_pair("bulk_memlink", "gbps", 3, &u, &kf);
}

static void cmd_crr(const struct bench_opts *o, struct keps *k)
{
	struct figure u, kf;
	struct endpoint us, ua, ub;
	char why[160];

	/* ustack serves, the kernel connects: mTCP's workload. */
	run_crr(o, &k->a, &k->b, PORT_CRR, &kf);
	if (ustack_tap(o, &us, why, sizeof(why)) == 0) {
		run_crr(o, &us, &k->tap, PORT_CRR, &u);
		ustack_stop(&us);
	} else {
		fig_na(&u, "%s", why);
	}
	print_pair("crr_tap", "cps", 0, &u, &kf);

	run_crr(o, &k->lo, &k->lo, PORT_CRR + 1, &kf);
	if (ustack_memlink_pair(&ua, &ub, why, sizeof(why)) == 0) {
		run_crr(o, &ua, &ub, PORT_CRR + 1, &u);
		ustack_stop(&ua);
		ustack_stop(&ub);
	} else {
		fig_na(&u, "%s", why);
	}
	print_pair("crr_memlink", "cps", 0, &u, &kf);
}

static void print_rr(const char *name, const struct figure *u50, const struct figure *k50,
                     const struct figure *u99, const struct figure *k99)
{
	printf("%s", name);
	put_kv(stdout, "ustack_p50_us", u50, 1);
	put_kv(stdout, "kernel_p50_us", k50, 1);
	put_kv(stdout, "ustack_p99_us", u99, 1);
	put_kv(stdout, "kernel_p99_us", k99, 1);
	put_ratio(stdout, "ratio", u50, k50);
	printf("\n");
	put_why(stdout, name, u50);
	put_why(stdout, name, k50);
	fflush(stdout);
}

static void cmd_rr(const struct bench_opts *o, struct keps *k)
{
	struct figure u50, u99, k50, k99;
	struct endpoint us, ua, ub;
	char why[160];

	run_rr(o, &k->a, &k->b, PORT_RR, &k50, &k99);
	if (ustack_tap(o, &us, why, sizeof(why)) == 0) {
		run_rr(o, &us, &k->tap, PORT_RR, &u50, &u99);
		ustack_stop(&us);
	} else {
		fig_na(&u50, "%s", why);
		fig_na(&u99, "%s", why);
	}
	print_rr("rr_tap", &u50, &k50, &u99, &k99);

	run_rr(o, &k->lo, &k->lo, PORT_RR + 1, &k50, &k99);
	if (ustack_memlink_pair(&ua, &ub, why, sizeof(why)) == 0) {
		run_rr(o, &ua, &ub, PORT_RR + 1, &u50, &u99);
		ustack_stop(&ua);
		ustack_stop(&ub);
	} else {
		fig_na(&u50, "%s", why);
		fig_na(&u99, "%s", why);
	}
	print_rr("rr_memlink", &u50, &k50, &u99, &k99);
}

static const char *n_label(uint64_t n, char *buf, size_t len)
{
	if (n % 1000000 == 0)
		snprintf(buf, len, "%lluM", (unsigned long long)(n / 1000000));
	else if (n % 1000 == 0)
		snprintf(buf, len, "%lluk", (unsigned long long)(n / 1000));
	else
		snprintf(buf, len, "%llu", (unsigned long long)n);
	return buf;
}

static void print_conns(uint64_t n, const struct conns_result *u, const struct conns_result *k)
{
	char name[64], lb[24];

	snprintf(name, sizeof(name), "conns_memlink_%s", n_label(n, lb, sizeof(lb)));
	printf("%s", name);
	put_kv(stdout, "ustack_cps_open", &u->cps_open, 0);
	put_kv(stdout, "server_bytes_per_conn", &u->server_bytes, 0);
	put_kv(stdout, "client_bytes_per_conn", &u->client_bytes, 0);
	put_kv(stdout, "epoll_round_us", &u->epoll_round_us, 1);
	put_kv(stdout, "kernel_cps_open", &k->cps_open, 0);
	put_kv(stdout, "kernel_server_bytes_per_conn", &k->server_bytes, 0);
	put_kv(stdout, "kernel_client_bytes_per_conn", &k->client_bytes, 0);
	put_kv(stdout, "kernel_epoll_round_us", &k->epoll_round_us, 1);
	put_ratio(stdout, "ratio_cps", &u->cps_open, &k->cps_open);
	put_ratio(stdout, "ratio_server_bytes", &u->server_bytes, &k->server_bytes);
	/* DESIGN.md: keep sizeof(struct tcb) beside the bytes per connection. */
	printf(" ustack_opened=%llu kernel_opened=%llu tcb_bytes=%zu sock_bytes=%zu\n",
	       (unsigned long long)u->opened, (unsigned long long)k->opened, tcp_tcb_size(),
	       bench_sock_size());
	put_why(stdout, name, &u->cps_open);
	put_why(stdout, name, &u->epoll_round_us);
	put_why(stdout, name, &k->cps_open);
	put_why(stdout, name, &k->epoll_round_us);
	fflush(stdout);
}

/* Kernel clients over the TAP to ustack's server; k: the kernel's own
 * server figures for the same N (veth). */
static void print_conns_tap(uint64_t n, const struct conns_result *t, const struct conns_result *k)
{
	char name[64], lb[24];

	snprintf(name, sizeof(name), "conns_tap_%s", n_label(n, lb, sizeof(lb)));
	printf("%s", name);
	put_kv(stdout, "ustack_cps_open", &t->cps_open, 0);
	put_kv(stdout, "server_bytes_per_conn", &t->server_bytes, 0);
	put_kv(stdout, "kernel_cps_open", &k->cps_open, 0);
	put_kv(stdout, "kernel_server_bytes_per_conn", &k->server_bytes, 0);
	put_kv(stdout, "tap_client_kernel_bytes_per_conn", &t->client_bytes, 0);
	put_kv(stdout, "epoll_round_us", &t->epoll_round_us, 1);
	put_kv(stdout, "kernel_epoll_round_us", &k->epoll_round_us, 1);
	put_ratio(stdout, "ratio_cps", &t->cps_open, &k->cps_open);
	put_ratio(stdout, "ratio_server_bytes", &t->server_bytes, &k->server_bytes);
	printf(" ustack_opened=%llu\n", (unsigned long long)t->opened);
	put_why(stdout, name, &t->cps_open);
	put_why(stdout, name, &t->epoll_round_us);
	put_why(stdout, name, &k->cps_open);
	fflush(stdout);
}

static void run_tap_conns(const struct bench_opts *o, uint64_t n, struct conns_result *t)
{
	struct endpoint us;
	char why[160];

	memset(t, 0, sizeof(*t));
	if (n > 1000000) {
		/* The kernel clients alone would need about 5 KB each. */
		fig_na(&t->cps_open, "kernel clients for N=%llu do not fit in memory",
		       (unsigned long long)n);
		t->server_bytes = t->client_bytes = t->epoll_round_us = t->cps_open;
		return;
	}
	if (ustack_tap(o, &us, why, sizeof(why)) < 0) {
		fig_na(&t->cps_open, "%s", why);
		t->server_bytes = t->client_bytes = t->epoll_round_us = t->cps_open;
		return;
	}
	tap_conns(o, n, &us, t);
	ustack_stop(&us);
}

/* Runs fn in a child process and copies its result back. RSS growth is
 * ustack's memory only in a fresh process: in this one, heap freed by an
 * earlier run stays resident and would be reused unseen. */
static void in_child(const struct bench_opts *o, uint64_t n,
                     void (*fn)(const struct bench_opts *, uint64_t, struct conns_result *),
                     struct conns_result *r)
{
	int p[2], status;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	fflush(stdout);
	if (pipe(p) < 0 || (pid = fork()) < 0) {
		fig_na(&r->cps_open, "fork: %s", strerror(errno));
		r->server_bytes = r->client_bytes = r->epoll_round_us = r->cps_open;
		return;
	}
	if (pid == 0) {
		close(p[0]);
		fn(o, n, r);
		_exit(write(p[1], r, sizeof(*r)) == sizeof(*r) ? 0 : 1);
	}
	close(p[1]);
	if (read(p[0], r, sizeof(*r)) != sizeof(*r)) {
		fig_na(&r->cps_open, "the measuring process died");
		r->server_bytes = r->client_bytes = r->epoll_round_us = r->cps_open;
	}
	close(p[0]);
	waitpid(pid, &status, 0);
}

/* Whether n kernel connections fit: the memory a smaller run measured, with
 * a margin, under MemAvailable. */
static bool kernel_conns_fit(uint64_t n, double pair_bytes, char *why, size_t len)
{
	int64_t avail = meminfo_kb("MemAvailable") * 1024;

	if (pair_bytes <= 0)
		pair_bytes = 8192;  /* about what this kernel spends per pair */
	if (pair_bytes * (double)n * 1.5 > (double)avail * 0.7) {
		snprintf(why, len, "needs about %.1f GiB (%.0f B per pair x N x 1.5), %.1f GiB available",
		         pair_bytes * (double)n * 1.5 / 1073741824.0, pair_bytes,
		         (double)avail / 1073741824.0);
		return false;
	}
	return true;
}

static void cmd_conns(const struct bench_opts *o)
{
	uint64_t list[3] = { 10000, 1000000, 10000000 };
	unsigned count = o->quick ? 1 : 3;
	double pair = 0;

	if (o->conns_n) {
		list[0] = o->conns_n;
		count = 1;
	}
	for (unsigned i = 0; i < count; i++) {
		uint64_t n = list[i];
		struct conns_result u, k;
		char why[200];

		memset(&k, 0, sizeof(k));
		if (kernel_conns_fit(n, pair, why, sizeof(why))) {
			kernel_conns(o, n, &k);
			if (fig_ok(&k.server_bytes) && fig_ok(&k.client_bytes))
				pair = k.server_bytes.v + k.client_bytes.v;
		} else {
			fig_na(&k.cps_open, "kernel N=%llu skipped: %s", (unsigned long long)n, why);
			fig_na(&k.server_bytes, "skipped");
			fig_na(&k.client_bytes, "skipped");
			fig_na(&k.epoll_round_us, "skipped");
		}
		in_child(o, n, ustack_conns, &u);
		print_conns(n, &u, &k);
		in_child(o, n, run_tap_conns, &u);
		print_conns_tap(n, &u, &k);
	}
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "quick", no_argument, NULL, 'q' },    { "ns-a", required_argument, NULL, 'a' },
		{ "ns-b", required_argument, NULL, 'b' }, { "ns-lo", required_argument, NULL, 'l' },
		{ "ns-tap", required_argument, NULL, 't' },
		{ "tap-name", required_argument, NULL, 'n' },
		{ "src-count", required_argument, NULL, 's' },
		{ "conns", required_argument, NULL, 'c' }, { NULL, 0, NULL, 0 },
	};
	struct bench_opts o = { 0 };
	bool quick = false;
	const char *ns[4] = { NULL, NULL, NULL, NULL }, *tap = "ustb0";
	unsigned src_count = 1;
	uint64_t conns_n = 0;
	struct keps k;
	int c, rc = 0;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'q': quick = true; break;
		case 'a': ns[0] = optarg; break;
		case 'b': ns[1] = optarg; break;
		case 'l': ns[2] = optarg; break;
		case 't': ns[3] = optarg; break;
		case 'n': tap = optarg; break;
		case 's': src_count = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'c': conns_n = strtoull(optarg, NULL, 10); break;
		default: usage(); return 2;
		}
	}
	if (optind != argc - 1 || !ns[0] || !ns[1] || !ns[2] || !ns[3]) {
		usage();
		return 2;
	}
	/* A peer that goes away must show as an error, not kill the run. */
	signal(SIGPIPE, SIG_IGN);
	defaults(&o, quick);
	o.ns_a = ns[0];
	o.ns_b = ns[1];
	o.ns_lo = ns[2];
	o.ns_tap = ns[3];
	o.tap_name = tap;
	o.conns_src_count = src_count;
	o.conns_n = conns_n;
	if (strcmp(argv[optind], "conns") == 0) {
		cmd_conns(&o);
		return 0;
	}
	if (keps_open(&o, &k) < 0)
		return 1;
	if (strcmp(argv[optind], "bulk") == 0)
		cmd_bulk(&o, &k);
	else if (strcmp(argv[optind], "crr") == 0)
		cmd_crr(&o, &k);
	else if (strcmp(argv[optind], "rr") == 0)
		cmd_rr(&o, &k);
	else {
		usage();
		rc = 2;
	}
	keps_close(&k);
	return rc;
}
