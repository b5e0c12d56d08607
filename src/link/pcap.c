/* pcap tee: every frame the stack receives or sends, written to a capture
 * file with libpcap's dump API. Flushed after each burst so tcpdump -r (or a
 * test) sees the frames while the stack runs. */
#include "link/link.h"
#include "link/wrap.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PCAP_SNAPLEN 65535

struct pcap_link {
	struct link l;
	struct link *inner;
	pcap_t *pd;
	pcap_dumper_t *dumper;
	int64_t wall_offset;  /* wall-clock us minus the stack's `now` */
	int anchored;
};

/* The stack's time is monotonic (or virtual in tests); a capture wants
 * dates. Anchor `now` to the wall clock at the first frame and keep the
 * offset, so intervals in the capture stay the stack's own. */
static uint64_t wall_us(struct pcap_link *c, uint64_t now)
{
	if (!c->anchored) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		c->wall_offset = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 - (int64_t)now;
		c->anchored = 1;
	}
	return (uint64_t)((int64_t)now + c->wall_offset);
}

static void dump(struct pcap_link *c, const struct pkt *p, uint64_t now)
{
	uint64_t t = wall_us(c, now);
	struct pcap_pkthdr h = {
		.ts.tv_sec = (time_t)(t / 1000000u),
		.ts.tv_usec = (suseconds_t)(t % 1000000u),
		.caplen = p->len < PCAP_SNAPLEN ? p->len : PCAP_SNAPLEN,
		.len = p->len,
	};
	pcap_dump((u_char *)c->dumper, &h, p->data);
}

static unsigned pcap_rx_burst(struct link *l, struct pkt_pool *pool, struct pkt **pkts,
                              unsigned max, uint64_t now)
{
	struct pcap_link *c = (struct pcap_link *)l;
	unsigned n = link_rx_burst(c->inner, pool, pkts, max, now);
	for (unsigned i = 0; i < n; i++)
		dump(c, pkts[i], now);
	if (n)
		pcap_dump_flush(c->dumper);
	l->rx_frames += n;
	return n;
}

static unsigned pcap_tx_burst(struct link *l, struct pkt **pkts, unsigned n, uint64_t now)
{
	struct pcap_link *c = (struct pcap_link *)l;
	/* Recorded as handed to the link, before the inner link may drop. */
	for (unsigned i = 0; i < n; i++)
		dump(c, pkts[i], now);
	if (n)
		pcap_dump_flush(c->dumper);
	unsigned sent = link_tx_burst(c->inner, pkts, n, now);
	l->tx_frames += sent;
	l->tx_drops += n - sent;
	return sent;
}

static unsigned pcap_tx_room(struct link *l, unsigned want, uint64_t now)
{
	return link_tx_room(((struct pcap_link *)l)->inner, want, now);
}

static void pcap_set_tx_hook(struct link *l, void (*fn)(void *ctx), void *ctx)
{
	link_set_tx_hook(((struct pcap_link *)l)->inner, fn, ctx);
}

static int pcap_fd(struct link *l)
{
	return link_fd(((struct pcap_link *)l)->inner);
}

static uint64_t pcap_next_deadline(struct link *l)
{
	return link_next_deadline(((struct pcap_link *)l)->inner);
}

static void pcap_close_link(struct link *l)
{
	struct pcap_link *c = (struct pcap_link *)l;
	pcap_dump_close(c->dumper);
	pcap_close(c->pd);
	link_close(c->inner);
	free(c);
}

static const struct link_ops pcap_ops = {
	.rx_burst = pcap_rx_burst,
	.tx_burst = pcap_tx_burst,
	.tx_room = pcap_tx_room,
	.set_tx_hook = pcap_set_tx_hook,
	.fd = pcap_fd,
	.next_deadline = pcap_next_deadline,
	.close = pcap_close_link,
};

struct link *link_pcap_inner(struct link *l)
{
	return l && l->ops == &pcap_ops ? ((struct pcap_link *)l)->inner : NULL;
}

static struct link *pcap_fail(struct pcap_link *c, int e, int *err, char *errbuf, size_t errlen,
                              const char *path, const char *why)
{
	if (errbuf && errlen)
		snprintf(errbuf, errlen, "pcap %s: %s", path ? path : "(null)", why);
	if (c) {
		if (c->pd)
			pcap_close(c->pd);
		free(c);
	}
	if (err)
		*err = -e;
	return NULL;
}

struct link *link_pcap_wrap(struct link *inner, const char *path, int *err, char *errbuf,
                            size_t errlen)
{
	struct pcap_link *c;

	if (!inner || !path || !*path)
		return pcap_fail(NULL, EINVAL, err, errbuf, errlen, path, "no link or no file name");
	c = calloc(1, sizeof(*c));
	if (!c)
		return pcap_fail(NULL, ENOMEM, err, errbuf, errlen, path, strerror(ENOMEM));
	c->pd = pcap_open_dead(DLT_EN10MB, PCAP_SNAPLEN);
	if (!c->pd)
		return pcap_fail(c, ENOMEM, err, errbuf, errlen, path, "pcap_open_dead failed");
	errno = 0;
	c->dumper = pcap_dump_open(c->pd, path);
	if (!c->dumper) {
		/* libpcap's message already names the file; keep only the reason
		 * when it has the usual "path: reason" shape. */
		int e = errno ? errno : EIO;
		const char *msg = pcap_geterr(c->pd);
		size_t pl = strlen(path);
		if (!strncmp(msg, path, pl) && !strncmp(msg + pl, ": ", 2))
			msg += pl + 2;
		char why[PCAP_ERRBUF_SIZE];
		snprintf(why, sizeof(why), "%s", msg);
		return pcap_fail(c, e, err, errbuf, errlen, path, why);
	}
	c->inner = inner;
	c->l.ops = &pcap_ops;
	c->l.mtu = inner->mtu;
	memcpy(c->l.mac, inner->mac, sizeof(c->l.mac));
	snprintf(c->l.name, sizeof(c->l.name), "%s", inner->name);
	return &c->l;
}
