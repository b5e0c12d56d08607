/* ustack's endpoints: a pair of runtimes joined by a memlink in this
 * process, or one runtime on a TAP inside the TAP namespace. The TCP socket
 * calls are looked up weakly: the benchmark builds and runs its kernel
 * columns before they exist, and reports why the ustack ones are NA. */
#include "bench.h"

#include <errno.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include "runtime/runtime.h"
#include "runtime/sock.h"

/* POSIX signatures; weak so a library without them still links (the
 * benchmark links every object of the library, so a defined one resolves). */
#pragma weak ust_listen
#pragma weak ust_accept
#pragma weak ust_setsockopt
#pragma weak ust_shutdown
int ust_listen(int fd, int backlog);
int ust_accept(int fd, struct sockaddr *addr, socklen_t *addrlen);
int ust_setsockopt(int fd, int level, int optname, const void *optval, socklen_t optlen);
int ust_shutdown(int fd, int how);

#define MEMLINK_MTU 1500
#define MEMLINK_DEPTH 1024
#define UST_POOL 8192
#define IP_MA 0x0a580001u  /* 10.88.0.1: memlink side a (server) */
#define IP_MB 0x0a580002u  /* 10.88.0.2: memlink side b (client) */

static int k_close(int fd) { return close(fd); }

const struct sockops kernel_ops = {
	.bind = bind,
	.listen = listen,
	.accept = accept,
	.connect = connect,
	.send = send,
	.recv = recv,
	.shutdown = shutdown,
	.close = k_close,
	.setsockopt = setsockopt,
};

static struct sockops ust_ops;

int ep_socket(const struct endpoint *ep)
{
	if (ep->rt)
		return rt_socket(ep->rt, AF_INET, SOCK_STREAM, 0);
	return socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
}

const struct sockops *ustack_ops(char *why, size_t len)
{
	if (!ust_listen || !ust_accept) {
		snprintf(why, len, "ustack has no TCP socket API yet (ust_listen/ust_accept "
		                   "are not in the library)");
		return NULL;
	}
	ust_ops = (struct sockops){
		.bind = ust_bind,
		.listen = ust_listen,
		.accept = ust_accept,
		.connect = ust_connect,
		.send = ust_send,
		.recv = ust_recv,
		.shutdown = ust_shutdown,
		.close = ust_close,
		.setsockopt = ust_setsockopt,
	};
	return &ust_ops;
}

/* The stack accepts SOCK_STREAM: probe with one socket. */
static int probe_stream(struct ust_runtime *rt, char *why, size_t len)
{
	int fd = rt_socket(rt, AF_INET, SOCK_STREAM, 0);

	if (fd < 0) {
		snprintf(why, len, "ustack refuses SOCK_STREAM sockets yet (ust_socket: %s)",
		         strerror(errno));
		return -1;
	}
	ust_close(fd);
	return 0;
}

static void mk_cfg(struct rt_config *c, uint32_t ip, uint8_t last)
{
	memset(c, 0, sizeof(*c));
	stk_config_default(&c->stk);
	c->stk.ip = ip;
	/* /16: the client's extra addresses (10.88.1.1 and up) are on-link. */
	c->stk.netmask = 0xffff0000u;
	c->stk.mac[0] = 0x02;
	c->stk.mac[4] = 0xbe;
	c->stk.mac[5] = last;
	c->stk.mtu = MEMLINK_MTU;
	c->stk.pkt_pool_size = UST_POOL;
	c->prefix = 16;
	/* USTACK_BUSY_POLL, USTACK_CPU apply to both stacks; a bad value is
	 * left at its default (the TAP runtime reports it). */
	rt_config_load_perf(c, NULL, 0);
}

int ustack_memlink_pair(struct endpoint *a, struct endpoint *b, char *why, size_t len)
{
	return ustack_memlink_pair_extra(a, b, 0, why, len);
}

int ustack_memlink_pair_extra(struct endpoint *a, struct endpoint *b, uint32_t b_extra,
                              char *why, size_t len)
{
	struct rt_config ca, cb;
	struct link *la, *lb;
	int err = 0;

	memset(a, 0, sizeof(*a));
	memset(b, 0, sizeof(*b));
	if (!ustack_ops(why, len))
		return -1;
	mk_cfg(&ca, IP_MA, 1);
	mk_cfg(&cb, IP_MB, 2);
	if (b_extra) {
		cb.stk.extra_ips[0].first = UST_MB_EXTRA_FIRST;
		cb.stk.extra_ips[0].count = b_extra;
		/* The server's ARP cache holds one entry per client address. */
		ca.stk.arp_table_size = b_extra + 64;
	}
	err = link_memlink_pair(MEMLINK_MTU, MEMLINK_DEPTH, &la, &lb);
	if (err < 0) {
		snprintf(why, len, "link_memlink_pair: %s", strerror(-err));
		return -1;
	}
	a->rt = rt_start(&ca, la, &err);
	if (!a->rt) {
		link_close(lb);
		snprintf(why, len, "rt_start: %s", strerror(err));
		return -1;
	}
	b->rt = rt_start(&cb, lb, &err);
	if (!b->rt) {
		ustack_stop(a);
		snprintf(why, len, "rt_start: %s", strerror(err));
		return -1;
	}
	a->what = "ustack memlink a";
	b->what = "ustack memlink b";
	a->ops = b->ops = &ust_ops;
	a->nsfd = b->nsfd = -1;
	a->ip = IP_MA;
	b->ip = IP_MB;
	if (probe_stream(a->rt, why, len) < 0) {
		ustack_stop(a);
		ustack_stop(b);
		return -1;
	}
	return 0;
}

struct tap_start {
	const struct bench_opts *o;
	int nsfd;
	struct ust_runtime *rt;
	char why[160];
};

/* Runs in a thread of its own that enters the TAP namespace, so the TAP,
 * its address and the stack thread (which inherits it) live there. */
static void *tap_thread(void *arg)
{
	struct tap_start *ts = arg;
	char sip[INET_ADDRSTRLEN + 4], hip[INET_ADDRSTRLEN + 4], b1[INET_ADDRSTRLEN];
	struct ust_config uc = { 0 };
	struct rt_config rc;
	struct tap_params tp;
	struct link *l;
	int err = 0;

	if (setns(ts->nsfd, CLONE_NEWNET) < 0) {
		snprintf(ts->why, sizeof(ts->why), "setns(tap namespace): %s", strerror(errno));
		return NULL;
	}
	snprintf(sip, sizeof(sip), "%s/24", ipstr(ts->o->tap_stack_ip, b1));
	snprintf(hip, sizeof(hip), "%s/24", ipstr(ts->o->tap_host_ip, b1));
	uc.tap = ts->o->tap_name;
	uc.ip = sip;
	uc.host_ip = hip;
	uc.mac = "02:00:00:be:00:02";
	if (rt_config_load(&uc, &rc, ts->why, sizeof(ts->why)) < 0)
		return NULL;
	rc.stk.pkt_pool_size = UST_POOL;
	tp = (struct tap_params){ .name = rc.tap, .host_ip = rc.host_ip,
	                          .host_prefix = rc.host_prefix, .mtu = rc.stk.mtu,
	                          .offload = rc.offload };
	l = link_tap_open(&tp, &err, ts->why, sizeof(ts->why));
	if (!l) {
		if (!ts->why[0])
			snprintf(ts->why, sizeof(ts->why), "link_tap_open: %s", strerror(-err));
		return NULL;
	}
	ts->rt = rt_start(&rc, l, &err);
	if (!ts->rt)
		snprintf(ts->why, sizeof(ts->why), "rt_start: %s", strerror(err));
	return NULL;
}

int ustack_tap(const struct bench_opts *o, struct endpoint *ep, char *why, size_t len)
{
	struct tap_start ts = { .o = o };
	pthread_t t;

	memset(ep, 0, sizeof(*ep));
	if (!ustack_ops(why, len))
		return -1;
	ts.nsfd = open_ns(o->ns_tap);
	if (ts.nsfd < 0) {
		snprintf(why, len, "%s: %s", o->ns_tap, strerror(errno));
		return -1;
	}
	if (pthread_create(&t, NULL, tap_thread, &ts)) {
		close(ts.nsfd);
		snprintf(why, len, "pthread_create failed");
		return -1;
	}
	pthread_join(t, NULL);
	close(ts.nsfd);
	if (!ts.rt) {
		snprintf(why, len, "%s", ts.why);
		return -1;
	}
	ep->rt = ts.rt;
	ep->what = "ustack tap";
	ep->ops = &ust_ops;
	ep->nsfd = -1;
	ep->ip = o->tap_stack_ip;
	if (probe_stream(ep->rt, why, len) < 0) {
		ustack_stop(ep);
		return -1;
	}
	return 0;
}

size_t bench_sock_size(void)
{
	return sizeof(struct rt_sock);
}

void ustack_stop(struct endpoint *ep)
{
	if (!ep->rt)
		return;
	rt_stop(ep->rt);
	rt_put(ep->rt);
	ep->rt = NULL;
}
