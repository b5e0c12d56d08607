/* The control socket behind `ustack stat`: AF_UNIX stream at
 * /run/ustack/<tap>.sock, answered by a thread of its own so a slow client
 * never holds up the stack thread. Request: one line, "stat" or
 * "stat verbose". Reply: text, then the server closes. */
#include "runtime/runtime.h"
#include "runtime/sock.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define CTL_CLIENT_TIMEOUT_MS 2000  /* for the request line and the reply */

static void fmt_ip(char *b, size_t n, uint32_t ip)
{
	snprintf(b, n, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
}

static void fmt_mac(char *b, size_t n, const uint8_t m[6])
{
	snprintf(b, n, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

static void stat_iface(struct ust_runtime *rt, FILE *out)
{
	const struct rt_config *c = &rt->cfg;
	char ip[16], host[16], gw[16], mac[18];

	fmt_ip(ip, sizeof(ip), c->stk.ip);
	fmt_ip(host, sizeof(host), c->host_ip);
	fmt_ip(gw, sizeof(gw), c->stk.gateway);
	fmt_mac(mac, sizeof(mac), c->stk.mac);
	fprintf(out, "interface %s\n", c->tap[0] ? c->tap : (rt->link ? rt->link->name : "?"));
	fprintf(out, "  address %s/%u\n", ip, c->prefix);
	fprintf(out, "  mac %s\n", mac);
	fprintf(out, "  gateway %s\n", c->stk.gateway ? gw : "none");
	fprintf(out, "  mtu %u\n", c->stk.mtu);
	if (c->host_ip)
		fprintf(out, "  host %s/%u\n", host, c->host_prefix);
	if (c->has_pcap)
		fprintf(out, "  pcap %s\n", c->pcap);
}

static void stat_arp(struct ust_stack *stk, FILE *out, uint64_t now)
{
	const struct arp_table *t = &stk->arp;
	char ip[16], mac[18];
	unsigned n = 0;

	fprintf(out, "arp\n");
	for (uint32_t i = 0; t->entries && i < t->size; i++) {
		const struct arp_entry *e = &t->entries[i];

		if (e->state == ARP_FREE)
			continue;
		n++;
		fmt_ip(ip, sizeof(ip), e->ip);
		if (e->state == ARP_REACHABLE) {
			fmt_mac(mac, sizeof(mac), e->mac);
			fprintf(out, "  %s %s reachable expires-in %llus\n", ip, mac,
			        (unsigned long long)(e->expires > now ? (e->expires - now) / 1000000u : 0));
		} else {
			fprintf(out, "  %s (incomplete) retries %u queued %u\n", ip, e->retries,
			        e->pending.count);
		}
	}
	if (!n)
		fprintf(out, "  (empty)\n");
}

/* Counter lines are "name value" from the first column, so scripts pick one
 * with awk '$1 == "name"' or grep '^name '. */
static void stat_counters(struct ust_stack *stk, FILE *out, bool verbose)
{
	fprintf(out, "counters%s\n", verbose ? "" : " (non-zero)");
	for (int i = 0; i < CNT__COUNT; i++)
		if (verbose || stk->cnt[i])
			fprintf(out, "%s %llu\n", stk_counter_names[i],
			        (unsigned long long)stk->cnt[i]);
}

static void stat_link(struct link *l, FILE *out)
{
	char buf[512];

	fprintf(out, "link %s\n", l->name);
	fprintf(out, "  link_rx_frames %llu\n", (unsigned long long)l->rx_frames);
	fprintf(out, "  link_tx_frames %llu\n", (unsigned long long)l->tx_frames);
	fprintf(out, "  link_tx_drops %llu\n", (unsigned long long)l->tx_drops);
	fprintf(out, "  link_rx_drops %llu\n", (unsigned long long)l->rx_drops);
	if (impair_stats(l, buf, sizeof(buf)) > 0)
		fputs(buf, out);
}

void rt_stat(struct ust_runtime *rt, FILE *out, bool verbose)
{
	pthread_mutex_lock(&rt->lock);
	stat_iface(rt, out);
	if (rt->stk) {
		stat_arp(rt->stk, out, rt_now_us());
		stat_counters(rt->stk, out, verbose);
		rt_tcp_stat(rt, out, verbose);
	}
	if (rt->link)
		stat_link(rt->link, out);
	pthread_mutex_unlock(&rt->lock);
	rt_stat_sockets(rt, out);
}

/* --- the socket --- */

static int ctl_addr(const char *tap, struct sockaddr_un *sun, char *path, size_t pathlen)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if ((size_t)snprintf(sun->sun_path, sizeof(sun->sun_path), "%s/%s.sock", RT_CTL_DIR, tap) >=
	    sizeof(sun->sun_path))
		return -ENAMETOOLONG;
	snprintf(path, pathlen, "%s", sun->sun_path);
	return 0;
}

/* Whether a live process answers on the socket file; *pid is that process
 * when known (SO_PEERCRED: the one that listens), else 0. Non-blocking, so
 * a full backlog of a busy owner answers "alive" instead of hanging us. */
static bool ctl_alive(const struct sockaddr_un *sun, pid_t *pid)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	struct ucred cr;
	socklen_t len = sizeof(cr);
	bool alive;

	*pid = 0;
	if (fd < 0)
		return true;  /* cannot tell: do not remove someone's socket */
	alive = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0;
	if (alive && getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0)
		*pid = cr.pid;
	else if (!alive)
		alive = errno != ECONNREFUSED;
	close(fd);
	return alive;
}

int rt_ctl_open(const char *tap, int *fdp, char *path, size_t pathlen, char *eb, size_t el)
{
	struct sockaddr_un sun;
	pid_t owner;
	int fd, rc;

	*fdp = -1;
	rc = ctl_addr(tap, &sun, path, pathlen);
	if (rc < 0)
		goto fail;
	if (mkdir(RT_CTL_DIR, 0755) < 0 && errno != EEXIST) {
		rc = -errno;
		goto fail;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		goto fail;
	}
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 && errno == EADDRINUSE) {
		if (ctl_alive(&sun, &owner)) {
			close(fd);
			/* /run is shared by network namespaces, TAP names are not:
			 * an owner in another namespace drives another device. */
			if (owner > 0 && !rt_pid_in_our_netns(owner)) {
				snprintf(eb, el, "ustack: control socket %s is held by pid %d, a "
				         "stack in another network namespace (ustack stat will "
				         "not see this stack)", sun.sun_path, (int)owner);
				return -EEXIST;
			}
			rt_owner_msg(eb, el, tap, owner, "its control socket answers");
			return -EADDRINUSE;
		}
		/* Left by a process that died without ust_fini: ours now. */
		unlink(sun.sun_path);
		if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
			errno = 0;
	} else {
		errno = 0;
	}
	if (errno || listen(fd, 8) < 0) {
		rc = -errno;
		close(fd);
		goto fail;
	}
	*fdp = fd;
	return 0;
fail:
	snprintf(eb, el, "ustack: control socket %s/%s.sock: %s (ustack stat will not see this stack)",
	         RT_CTL_DIR, tap, strerror(-rc));
	return rc;
}

/* Reads the request line (bounded in size and time) and answers it. */
static void ctl_serve(struct ust_runtime *rt, int c)
{
	struct pollfd p = { .fd = c, .events = POLLIN };
	char req[64];
	size_t got = 0;
	char *text = NULL;
	size_t len = 0, off = 0;
	FILE *out;
	ssize_t n;

	while (got < sizeof(req) - 1 && !memchr(req, '\n', got)) {
		if (poll(&p, 1, CTL_CLIENT_TIMEOUT_MS) <= 0)
			break;
		n = read(c, req + got, sizeof(req) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	req[got] = '\0';
	req[strcspn(req, "\r\n")] = '\0';
	out = open_memstream(&text, &len);
	if (!out)
		return;
	if (!strcmp(req, "stat") || !strcmp(req, "stat verbose"))
		rt_stat(rt, out, req[4] != '\0');
	else
		fprintf(out, "error: unknown request \"%s\" (want \"stat\" or \"stat verbose\")\n", req);
	fclose(out);
	p.events = POLLOUT;
	while (off < len) {
		if (poll(&p, 1, CTL_CLIENT_TIMEOUT_MS) <= 0)
			break;
		n = send(c, text + off, len - off, MSG_NOSIGNAL);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	free(text);
}

static void *ctl_thread(void *arg)
{
	struct ust_runtime *rt = arg;
	struct pollfd p[2] = {
		{ .fd = rt->ctl_fd, .events = POLLIN },
		{ .fd = rt->ctl_evfd, .events = POLLIN },
	};
	int c;

	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		c = accept4(rt->ctl_fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		ctl_serve(rt, c);
		close(c);
	}
	return NULL;
}

int rt_ctl_start(struct ust_runtime *rt, int fd, const char *path)
{
	int rc;

	rt->ctl_fd = fd;
	snprintf(rt->ctl_path, sizeof(rt->ctl_path), "%s", path);
	rt->ctl_evfd = eventfd(0, EFD_CLOEXEC);
	if (rt->ctl_evfd < 0) {
		rt_ctl_stop(rt);
		return -errno;
	}
	rc = rt_spawn(&rt->ctl_thread, ctl_thread, rt);
	if (rc) {
		rt_ctl_stop(rt);
		return -rc;
	}
	rt->ctl_started = true;
	return 0;
}

void rt_ctl_stop(struct ust_runtime *rt)
{
	uint64_t one = 1;

	if (rt->ctl_started) {
		/* An eventfd write fails only on counter overflow: not here. */
		if (write(rt->ctl_evfd, &one, sizeof(one)) == sizeof(one))
			pthread_join(rt->ctl_thread, NULL);
		rt->ctl_started = false;
	}
	if (rt->ctl_evfd >= 0)
		close(rt->ctl_evfd);
	rt->ctl_evfd = -1;
	if (rt->ctl_fd >= 0) {
		close(rt->ctl_fd);
		unlink(rt->ctl_path);
	}
	rt->ctl_fd = -1;
}
