/* Small helpers every benchmark part shares: clocks, figures and their
 * printing, namespaces, memory readings. */
#include "bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

unsigned epoll_active_every(void)
{
	const char *e = getenv("BENCH_EPOLL_EVERY");
	unsigned long v = e ? strtoul(e, NULL, 10) : 0;

	return v >= 1 && v <= 1000000 ? (unsigned)v : EPOLL_ACTIVE_EVERY_DEFAULT;
}

void epoll_share_note(struct figure *f)
{
	unsigned k = epoll_active_every();

	if (fig_ok(f) && k != EPOLL_ACTIVE_EVERY_DEFAULT)
		snprintf(f->why, sizeof(f->why), "1 in %u connections active (BENCH_EPOLL_EVERY), "
		         "not 1%%", k);
}

double secs_since(uint64_t t0_ns)
{
	return (double)(now_ns() - t0_ns) / 1e9;
}

void fig_set(struct figure *f, double v)
{
	f->v = v;
	f->why[0] = '\0';
}

void fig_na(struct figure *f, const char *fmt, ...)
{
	va_list ap;

	f->v = NAN;
	va_start(ap, fmt);
	vsnprintf(f->why, sizeof(f->why), fmt, ap);
	va_end(ap);
}

bool fig_ok(const struct figure *f)
{
	return !isnan(f->v);
}

void put_kv(FILE *out, const char *key, const struct figure *f, int prec)
{
	if (fig_ok(f))
		fprintf(out, " %s=%.*f", key, prec, f->v);
	else
		fprintf(out, " %s=NA", key);
}

void put_ratio(FILE *out, const char *key, const struct figure *a, const struct figure *b)
{
	if (fig_ok(a) && fig_ok(b) && b->v > 0)
		fprintf(out, " %s=%.3f", key, a->v / b->v);
	else
		fprintf(out, " %s=NA", key);
}

void put_why(FILE *out, const char *name, const struct figure *f)
{
	/* One line per distinct reason: a line's figures often share one. */
	static char last[256];
	char line[256];

	if (!f->why[0])
		return;
	snprintf(line, sizeof(line), "# %s: %s%s", name, fig_ok(f) ? "note: " : "", f->why);
	if (strcmp(line, last) == 0)
		return;
	memcpy(last, line, sizeof(last));
	fprintf(out, "%s\n", line);
}

int open_ns(const char *path)
{
	return open(path, O_RDONLY | O_CLOEXEC);
}

int ep_enter(const struct endpoint *ep)
{
	if (ep->nsfd < 0)
		return 0;
	/* Per thread: sockets made afterwards belong to that namespace. */
	return setns(ep->nsfd, CLONE_NEWNET);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int percentile_us(uint64_t *ns, size_t n, double *p50, double *p99)
{
	if (n == 0)
		return -1;
	qsort(ns, n, sizeof(*ns), cmp_u64);
	*p50 = (double)ns[n / 2] / 1e3;
	*p99 = (double)ns[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1] / 1e3;
	return 0;
}

int64_t meminfo_kb(const char *key)
{
	char line[256];
	size_t kl = strlen(key);
	int64_t v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
			v = strtoll(line + kl + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

/* TCP "mem" of /proc/net/sockstat: pages of socket buffers, system-wide. */
static int64_t sockstat_tcp_pages(void)
{
	char line[256];
	int64_t v = 0;
	FILE *f = fopen("/proc/net/sockstat", "r");
	char *p;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "TCP:", 4) == 0 && (p = strstr(line, " mem ")))
			v = strtoll(p + 5, NULL, 10);
	}
	fclose(f);
	return v;
}

int64_t kernel_sock_mem(void)
{
	int64_t slab = meminfo_kb("Slab");

	if (slab < 0)
		return -1;
	return slab * 1024 + sockstat_tcp_pages() * sysconf(_SC_PAGESIZE);
}

int64_t rss_bytes(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return -1;
	if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
		rss = -1;
	fclose(f);
	return rss < 0 ? -1 : (int64_t)rss * sysconf(_SC_PAGESIZE);
}

void mk_sin(struct sockaddr_in *s, uint32_t ip, uint16_t port)
{
	memset(s, 0, sizeof(*s));
	s->sin_family = AF_INET;
	s->sin_addr.s_addr = htonl(ip);
	s->sin_port = htons(port);
}

ssize_t send_all(const struct sockops *ops, int fd, const void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = ops->send(fd, (const char *)buf + done, len - done, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

ssize_t recv_all(const struct sockops *ops, int fd, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = ops->recv(fd, (char *)buf + done, len - done, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

const char *ipstr(uint32_t ip, char *buf)
{
	struct in_addr a = { .s_addr = htonl(ip) };

	return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

void join_acceptor(pthread_t t, const struct endpoint *ep, int lfd, double secs)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)secs;
	if (pthread_timedjoin_np(t, NULL, &ts) == 0)
		return;
	ep->ops->shutdown(lfd, SHUT_RDWR);
	pthread_join(t, NULL);
}
