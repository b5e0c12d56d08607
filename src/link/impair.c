/* Impairment wrapper: loss, duplication, reordering, corruption, delay,
 * jitter and a rate limit, per direction, reproducible from a seed. It is
 * our netem (the test kernel has none) and what the core tests script their
 * bad networks with. Time comes from the callers' `now`, so the same code
 * runs on a virtual clock over a memlink and on real time over a TAP.
 *
 * A frame goes: loss -> corruption -> duplication -> reordering -> the
 * held queue (rate limit, then delay and jitter) -> released when `now`
 * reaches its release time, on a later rx_burst/tx_burst call. */
#include "link/link.h"
#include "link/wrap.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ETH_HDR_LEN 14u
/* Frames held per direction (delay, rate): beyond it the tail drops, as at
 * a bottleneck queue; netem's default limit is the same. */
#define IMPAIR_QUEUE_LIMIT 1000u
/* A frame chosen for reordering waits at most this long for a follower. */
#define IMPAIR_REORDER_HOLD_US 1000u
/* Frames handed to the inner link per tx call. */
#define IMPAIR_TX_CHUNK 64u
#define PPM 1000000u

/* Read by `ustack stat` from another thread while the link's thread
 * writes them: relaxed atomics, one writer. */
struct impair_counts {
	_Atomic uint64_t dropped, duplicated, reordered, corrupted, delayed;
};

struct impair_state {
	struct impair_dir cfg;
	uint64_t rng;
	struct pkt_queue q;        /* held frames, release times (p->ts) non-decreasing */
	struct pkt *hold;          /* reorder: waits behind the next frame */
	uint64_t hold_until;
	uint64_t last_release;     /* jitter never reorders; reorder= does that */
	uint64_t wire_free_ns;     /* rate: when the wire has sent the previous frame */
	struct impair_counts c;
	uint64_t *link_drops;      /* the wrapper's tx_drops or rx_drops */
};

struct impair_link {
	struct link l;
	struct link *inner;
	struct impair_state tx, rx;
	/* Due frames wait because the inner link has no room (tx_room): no
	 * deadline of theirs wakes us, the inner link's tx hook does. */
	bool tx_stalled;
};

static void cnt_inc(_Atomic uint64_t *c)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
	                      memory_order_relaxed);
}

/* splitmix64: small, fast, good enough to decide which frame to hurt. */
static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static bool chance(struct impair_state *st, uint32_t ppm)
{
	if (!ppm)
		return false;
	if (ppm >= PPM)
		return true;
	return (((rnd(&st->rng) >> 32) * PPM) >> 32) < ppm;
}

static void drop(struct impair_state *st, struct pkt *p)
{
	pkt_free(p);
	cnt_inc(&st->c.dropped);
	(*st->link_drops)++;
}

/* Rate limit, then delay and jitter: the release time of p. */
static void enqueue(struct impair_state *st, struct pkt *p, uint64_t now)
{
	const struct impair_dir *d = &st->cfg;
	uint64_t t = now;

	if (st->q.count >= IMPAIR_QUEUE_LIMIT) {
		drop(st, p);
		return;
	}
	if (d->rate_bps) {
		uint64_t now_ns = now * 1000u;
		if (st->wire_free_ns < now_ns)
			st->wire_free_ns = now_ns;
		st->wire_free_ns += (uint64_t)p->len * 8u * 1000000000u / d->rate_bps;
		t = (st->wire_free_ns + 999u) / 1000u;
	}
	int64_t extra = d->delay_us;
	if (d->jitter_us) {
		uint64_t span = 2u * (uint64_t)d->jitter_us + 1u;
		extra += (int64_t)(rnd(&st->rng) % span) - (int64_t)d->jitter_us;
	}
	if (extra > 0)
		t += (uint64_t)extra;
	if (t < st->last_release)
		t = st->last_release;
	st->last_release = t;
	if (t > now)
		cnt_inc(&st->c.delayed);
	p->ts = t;
	pktq_push(&st->q, p);
}

/* The held frame goes out behind the one that follows it. */
static void reorder(struct impair_state *st, struct pkt *p, uint64_t now)
{
	if (st->hold) {
		struct pkt *h = st->hold;
		st->hold = NULL;
		enqueue(st, p, now);
		enqueue(st, h, now);
		return;
	}
	if (chance(st, st->cfg.reorder_ppm)) {
		st->hold = p;
		st->hold_until = now + IMPAIR_REORDER_HOLD_US;
		cnt_inc(&st->c.reordered);
		return;
	}
	enqueue(st, p, now);
}

static void hold_expire(struct impair_state *st, uint64_t now)
{
	if (st->hold && now >= st->hold_until) {
		struct pkt *h = st->hold;
		st->hold = NULL;
		enqueue(st, h, now);
	}
}

static void impair_frame(struct impair_state *st, struct pkt *p, uint64_t now)
{
	const struct impair_dir *d = &st->cfg;

	if (chance(st, d->loss_ppm)) {
		drop(st, p);
		return;
	}
	/* Past the Ethernet header, which has no checksum of its own: the IP,
	 * ICMP, UDP or TCP checksum is what must catch it. */
	if (chance(st, d->corrupt_ppm) && p->len > ETH_HDR_LEN) {
		uint64_t r = rnd(&st->rng);
		uint32_t at = ETH_HDR_LEN + (uint32_t)(r % (p->len - ETH_HDR_LEN));
		p->data[at] ^= (uint8_t)(1u + (r >> 32) % 255u);
		p->flags &= ~PKT_F_CSUM_OK;  /* the checksum must catch it now */
		cnt_inc(&st->c.corrupted);
	}
	struct pkt *copy = NULL;
	if (chance(st, d->dup_ppm)) {
		copy = pkt_clone(p->pool, p);
		if (copy)
			cnt_inc(&st->c.duplicated);
	}
	reorder(st, p, now);
	if (copy)
		reorder(st, copy, now);
}

/* Due frames go to the inner link as far as it has room; the rest wait
 * at the head of the queue (a full local link loses nothing). */
static void flush_tx(struct impair_link *il, uint64_t now)
{
	struct impair_state *st = &il->tx;
	struct pkt *out[IMPAIR_TX_CHUNK];

	hold_expire(st, now);
	il->tx_stalled = false;
	while (st->q.head && st->q.head->ts <= now) {
		unsigned k = 0, due = 0, room;
		for (struct pkt *p = st->q.head; p && p->ts <= now && due < IMPAIR_TX_CHUNK; p = p->next)
			due++;
		room = link_tx_room(il->inner, due, now);
		if (!room) {
			il->tx_stalled = true;
			return;
		}
		while (k < due && k < room)
			out[k++] = pktq_pop(&st->q);
		unsigned sent = link_tx_burst(il->inner, out, k, now);
		il->l.tx_frames += sent;
		il->l.tx_drops += k - sent;
	}
}

/* What is held goes first: no room while any of it waits. */
static unsigned impair_tx_room(struct link *l, unsigned want, uint64_t now)
{
	struct impair_link *il = (struct impair_link *)l;

	flush_tx(il, now);
	return il->tx_stalled ? 0 : link_tx_room(il->inner, want, now);
}

static void impair_set_tx_hook(struct link *l, void (*fn)(void *ctx), void *ctx)
{
	link_set_tx_hook(((struct impair_link *)l)->inner, fn, ctx);
}

static unsigned impair_tx_burst(struct link *l, struct pkt **pkts, unsigned n, uint64_t now)
{
	struct impair_link *il = (struct impair_link *)l;
	uint64_t before = atomic_load_explicit(&il->tx.c.dropped, memory_order_relaxed);

	hold_expire(&il->tx, now);
	for (unsigned i = 0; i < n; i++)
		impair_frame(&il->tx, pkts[i], now);
	flush_tx(il, now);
	/* Drops here may include an earlier frame (a reorder hold that hit
	 * the queue limit): never report fewer than zero sent. */
	uint64_t dropped = atomic_load_explicit(&il->tx.c.dropped, memory_order_relaxed) - before;
	return dropped < n ? n - (unsigned)dropped : 0;
}

static unsigned impair_rx_burst(struct link *l, struct pkt_pool *pool, struct pkt **pkts,
                                unsigned max, uint64_t now)
{
	struct impair_link *il = (struct impair_link *)l;
	struct impair_state *st = &il->rx;
	unsigned n = 0;

	/* The runtime calls rx_burst when it wakes up, deadlines included. */
	flush_tx(il, now);
	hold_expire(st, now);
	/* pkts[] is scratch until the held queue hands frames back. */
	unsigned k = link_rx_burst(il->inner, pool, pkts, max, now);
	for (unsigned i = 0; i < k; i++) {
		/* Dropped or reordered, a split frame's segments no longer
		 * come as one run: each is ACKed as any other. */
		pkts[i]->flags &= ~PKT_F_SEG_MORE;
		impair_frame(st, pkts[i], now);
	}
	while (n < max && st->q.head && st->q.head->ts <= now)
		pkts[n++] = pktq_pop(&st->q);
	l->rx_frames += n;
	return n;
}

static int impair_fd(struct link *l)
{
	return link_fd(((struct impair_link *)l)->inner);
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t state_deadline(const struct impair_state *st)
{
	uint64_t t = st->q.head ? st->q.head->ts : UINT64_MAX;
	return st->hold ? min_u64(t, st->hold_until) : t;
}

static uint64_t impair_next_deadline(struct link *l)
{
	struct impair_link *il = (struct impair_link *)l;
	uint64_t t = link_next_deadline(il->inner);
	uint64_t tx = il->tx_stalled ? (il->tx.hold ? il->tx.hold_until : UINT64_MAX)
	                             : state_deadline(&il->tx);
	return min_u64(t, min_u64(tx, state_deadline(&il->rx)));
}

static void state_fini(struct impair_state *st)
{
	pktq_free(&st->q);
	pkt_free(st->hold);
	st->hold = NULL;
}

static void impair_close(struct link *l)
{
	struct impair_link *il = (struct impair_link *)l;
	state_fini(&il->tx);
	state_fini(&il->rx);
	link_close(il->inner);
	free(il);
}

static const struct link_ops impair_ops = {
	.rx_burst = impair_rx_burst,
	.tx_burst = impair_tx_burst,
	.tx_room = impair_tx_room,
	.set_tx_hook = impair_set_tx_hook,
	.fd = impair_fd,
	.next_deadline = impair_next_deadline,
	.close = impair_close,
};

struct link *link_impair_wrap(struct link *inner, const struct impair_spec *spec, int *err)
{
	struct impair_link *il;
	uint64_t s;

	if (!inner || !spec) {
		if (err)
			*err = -EINVAL;
		return NULL;
	}
	il = calloc(1, sizeof(*il));
	if (!il) {
		if (err)
			*err = -ENOMEM;
		return NULL;
	}
	il->inner = inner;
	il->l.ops = &impair_ops;
	il->l.mtu = inner->mtu;
	memcpy(il->l.mac, inner->mac, sizeof(il->l.mac));
	snprintf(il->l.name, sizeof(il->l.name), "%s", inner->name);
	il->tx.cfg = spec->tx;
	il->rx.cfg = spec->rx;
	/* Each direction its own stream, so tx traffic does not change which
	 * rx frames are hit. */
	s = spec->seed;
	il->tx.rng = rnd(&s);
	il->rx.rng = rnd(&s);
	il->tx.link_drops = &il->l.tx_drops;
	il->rx.link_drops = &il->l.rx_drops;
	return &il->l;
}

static int dir_stats(const struct impair_state *st, const char *dir, char *buf, size_t len)
{
	const struct impair_counts *c = &st->c;
	return snprintf(buf, len,
	                "impair %s: dropped=%" PRIu64 " duplicated=%" PRIu64 " reordered=%" PRIu64
	                " corrupted=%" PRIu64 " delayed=%" PRIu64 "\n",
	                dir, atomic_load_explicit(&c->dropped, memory_order_relaxed),
	                atomic_load_explicit(&c->duplicated, memory_order_relaxed),
	                atomic_load_explicit(&c->reordered, memory_order_relaxed),
	                atomic_load_explicit(&c->corrupted, memory_order_relaxed),
	                atomic_load_explicit(&c->delayed, memory_order_relaxed));
}

int impair_stats(struct link *l, char *buf, size_t len)
{
	while (l && l->ops != &impair_ops)
		l = link_pcap_inner(l);
	if (!l)
		return -ENOENT;
	struct impair_link *il = (struct impair_link *)l;
	char dummy[1];
	if (!buf || !len) {
		buf = dummy;
		len = sizeof(dummy);
	}
	int a = dir_stats(&il->tx, "tx", buf, len);
	size_t off = (size_t)a < len ? (size_t)a : len - 1;
	int b = dir_stats(&il->rx, "rx", buf + off, len - off);
	return a + b;
}

/* --- parsing "loss=5%,delay=20ms,..." --- */

enum impair_unit { U_PERCENT, U_TIME, U_RATE };

struct impair_key {
	const char *name;
	enum impair_unit unit;
	size_t off;                  /* within struct impair_dir */
};

static const struct impair_key impair_keys[] = {
	{ "loss", U_PERCENT, offsetof(struct impair_dir, loss_ppm) },
	{ "dup", U_PERCENT, offsetof(struct impair_dir, dup_ppm) },
	{ "reorder", U_PERCENT, offsetof(struct impair_dir, reorder_ppm) },
	{ "corrupt", U_PERCENT, offsetof(struct impair_dir, corrupt_ppm) },
	{ "delay", U_TIME, offsetof(struct impair_dir, delay_us) },
	{ "jitter", U_TIME, offsetof(struct impair_dir, jitter_us) },
	{ "rate", U_RATE, offsetof(struct impair_dir, rate_bps) },
};

static const char *const unit_want[] = {
	[U_PERCENT] = "a percentage such as 5% or 0.1%",
	[U_TIME] = "a time such as 20ms or 500us",
	[U_RATE] = "a rate such as 100kbit, 10mbit or 1gbit",
};

#define MICRO 1000000u

/* A decimal with up to six fraction digits as value * 10^6; digits past
 * the sixth are ignored. NULL when there is no number or it is too big. */
static const char *parse_decimal(const char *s, uint64_t *micro)
{
	uint64_t ip = 0, frac = 0, scale = MICRO;
	const char *p = s;

	if (!isdigit((unsigned char)*p) && !(*p == '.' && isdigit((unsigned char)p[1])))
		return NULL;
	for (; isdigit((unsigned char)*p); p++) {
		if (ip > (UINT64_MAX / MICRO - 9) / 10)
			return NULL;
		ip = ip * 10 + (uint64_t)(*p - '0');
	}
	if (*p == '.') {
		for (p++; isdigit((unsigned char)*p); p++) {
			if (scale > 1) {
				scale /= 10;
				frac += (uint64_t)(*p - '0') * scale;
			}
		}
	}
	*micro = ip * MICRO + frac;
	return p;
}

static int parse_value(enum impair_unit unit, const char *v, uint64_t *out)
{
	uint64_t m;
	const char *suf = parse_decimal(v, &m);

	if (!suf)
		return -EINVAL;
	switch (unit) {
	case U_PERCENT:
		if (strcmp(suf, "%") || m > 100u * MICRO)
			return -EINVAL;
		*out = m / 100u; /* percent * 10^6 / 100 = ppm */
		return 0;
	case U_TIME:
		if (!strcmp(suf, "us"))
			*out = m / MICRO;
		else if (!strcmp(suf, "ms"))
			*out = m / 1000u;
		else if (!strcmp(suf, "s"))
			*out = m;
		else
			return -EINVAL;
		return *out > UINT32_MAX ? -EINVAL : 0;
	case U_RATE: {
		static const struct { const char *suf; uint64_t mult; } rates[] = {
			{ "bit", 1 }, { "kbit", 1000 }, { "mbit", 1000000 }, { "gbit", 1000000000 },
		};
		for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
			if (strcasecmp(suf, rates[i].suf))
				continue;
			if (m / MICRO > UINT64_MAX / 2 / rates[i].mult)
				return -EINVAL;
			*out = m / MICRO * rates[i].mult + m % MICRO * rates[i].mult / MICRO;
			return 0;
		}
		return -EINVAL;
	}
	}
	return -EINVAL;
}

static void set_field(struct impair_dir *d, const struct impair_key *k, uint64_t v)
{
	char *f = (char *)d + k->off;
	if (k->unit == U_RATE)
		memcpy(f, &v, sizeof(uint64_t));
	else {
		uint32_t v32 = (uint32_t)v;
		memcpy(f, &v32, sizeof(uint32_t));
	}
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

__attribute__((format(printf, 3, 4)))
static int bad(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (errbuf && errlen) {
		va_start(ap, fmt);
		vsnprintf(errbuf, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int parse_seed(const char *v, uint64_t *seed)
{
	char *end;
	if (!isdigit((unsigned char)*v))
		return -EINVAL;
	errno = 0;
	unsigned long long s = strtoull(v, &end, 0);
	if (errno || *end)
		return -EINVAL;
	*seed = s;
	return 0;
}

static int parse_item(char *item, struct impair_spec *spec, char *errbuf, size_t errlen)
{
	char *eq = strchr(item, '=');
	if (!eq)
		return bad(errbuf, errlen, "impair: '%s' is not key=value", item);
	*eq = '\0';
	char *key = trim(item), *val = trim(eq + 1);
	const char *name = key;
	bool tx = true, rx = true;

	if (!strncmp(name, "tx-", 3) || !strncmp(name, "rx-", 3)) {
		tx = name[0] == 't';
		rx = !tx;
		name += 3;
	}
	if (!strcmp(key, "seed")) {
		if (parse_seed(val, &spec->seed))
			return bad(errbuf, errlen, "impair: bad value '%s' for %s: want an unsigned integer",
			           val, key);
		return 0;
	}
	for (size_t i = 0; i < sizeof(impair_keys) / sizeof(impair_keys[0]); i++) {
		const struct impair_key *k = &impair_keys[i];
		uint64_t v;
		if (strcmp(name, k->name))
			continue;
		if (parse_value(k->unit, val, &v))
			return bad(errbuf, errlen, "impair: bad value '%s' for %s: want %s", val, key,
			           unit_want[k->unit]);
		if (tx)
			set_field(&spec->tx, k, v);
		if (rx)
			set_field(&spec->rx, k, v);
		return 0;
	}
	return bad(errbuf, errlen,
	           "impair: unknown key '%s' (keys: loss dup reorder corrupt delay jitter rate"
	           " seed; tx- or rx- before one sets a single direction)",
	           key);
}

int impair_parse(const char *text, struct impair_spec *spec, char *errbuf, size_t errlen)
{
	char buf[512];
	char *save = NULL, *item;

	if (!spec)
		return -EINVAL;
	memset(spec, 0, sizeof(*spec));
	if (!text)
		return 0;
	if (strlen(text) >= sizeof(buf))
		return bad(errbuf, errlen, "impair: specification longer than %zu bytes",
		           sizeof(buf) - 1);
	snprintf(buf, sizeof(buf), "%s", text);
	if (!*trim(buf))
		return 0;
	/* strtok_r would skip empty items; an empty item is a typo to report. */
	for (item = buf; item; item = save) {
		save = strchr(item, ',');
		if (save)
			*save++ = '\0';
		char *t = trim(item);
		if (!*t)
			return bad(errbuf, errlen, "impair: empty item in '%s'", text);
		int rc = parse_item(t, spec, errbuf, errlen);
		if (rc)
			return rc;
	}
	return 0;
}
