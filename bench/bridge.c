/* bridge: joins two TAP devices through ustack's impairment wrapper, so two
 * kernel namespaces talk across the same loss, delay and reordering that
 * USTACK_IMPAIR gives ustack: the kernel-to-kernel baseline of
 * bench/impair.sh. Frames from tap A go out on tap B impaired by B's
 * wrapper (its tx direction), and the other way round; the two directions
 * draw from differently seeded generators.
 *
 *   bridge TAP_A TAP_B IMPAIR_SPEC
 *
 * The TAPs are made in the bridge's namespace; the script moves each into
 * its kernel namespace (the file descriptors stay valid) once "ready" is
 * printed. Runs until SIGTERM or SIGINT; prints the impairment counters. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/pkt.h"
#include "link/link.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static struct link *open_side(const char *name, struct impair_spec *spec)
{
	struct tap_params tp = {.name = name, .mtu = 1500};
	char eb[128];
	int err = 0;
	struct link *tap = link_tap_open(&tp, &err, eb, sizeof(eb)), *l;

	if (!tap) {
		fprintf(stderr, "bridge: %s: %s\n", name, eb);
		return NULL;
	}
	l = link_impair_wrap(tap, spec, &err);
	if (!l) {
		fprintf(stderr, "bridge: impair: %s\n", strerror(-err));
		link_close(tap);
	}
	return l;
}

/* Frames received on `from` go out on `to`. */
static unsigned forward(struct link *from, struct link *to, struct pkt_pool *pool, uint64_t now)
{
	struct pkt *p[64];
	unsigned n, moved = 0;

	while ((n = link_rx_burst(from, pool, p, 64, now)) > 0) {
		link_tx_burst(to, p, n, now);
		moved += n;
	}
	/* Delayed frames of `to` leave when their time comes. */
	link_tx_burst(to, p, 0, now);
	return moved;
}

int main(int argc, char **argv)
{
	struct impair_spec spec;
	struct pkt_pool pool;
	struct link *a, *b;
	char eb[128], st[256];

	if (argc != 4) {
		fprintf(stderr, "usage: bridge TAP_A TAP_B IMPAIR_SPEC\n");
		return 2;
	}
	if (impair_parse(argv[3], &spec, eb, sizeof(eb))) {
		fprintf(stderr, "bridge: %s\n", eb);
		return 2;
	}
	memset(&spec.rx, 0, sizeof(spec.rx));  /* each direction impaired once */
	if (pkt_pool_init(&pool, 8192)) {
		fprintf(stderr, "bridge: out of memory\n");
		return 1;
	}
	a = open_side(argv[1], &spec);
	spec.seed = spec.seed * 31 + 17;
	b = a ? open_side(argv[2], &spec) : NULL;
	if (!a || !b) {
		link_close(a);
		pkt_pool_fini(&pool);
		return 1;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	printf("ready\n");
	fflush(stdout);
	while (!stop) {
		struct pollfd pfd[2] = {{.fd = link_fd(a), .events = POLLIN},
		                        {.fd = link_fd(b), .events = POLLIN}};
		uint64_t now = now_us(), d = link_next_deadline(a);
		int timeout = 100;

		if (link_next_deadline(b) < d)
			d = link_next_deadline(b);
		if (d != UINT64_MAX)
			timeout = d <= now ? 0 : (int)((d - now + 999) / 1000);
		if (timeout > 100)
			timeout = 100;
		if (poll(pfd, 2, timeout) < 0 && errno != EINTR)
			break;
		now = now_us();
		forward(a, b, &pool, now);
		forward(b, a, &pool, now);
	}
	if (impair_stats(a, st, sizeof(st)) > 0)
		fprintf(stderr, "bridge %s side: %s", argv[1], st);
	if (impair_stats(b, st, sizeof(st)) > 0)
		fprintf(stderr, "bridge %s side: %s", argv[2], st);
	link_close(a);
	link_close(b);
	pkt_pool_fini(&pool);
	return 0;
}
