/* TCP: configuration, the connection/listener/bind tables, the TCB's life,
 * and the calls the runtime makes (bind, listen, connect, accept, send,
 * recv, shutdown, close, poll, options, introspection). */
#include "tcp/tcp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/siphash.h"
#include "core/stack.h"
#include "tcp/tcp_int.h"

void tcp_config_default(struct tcp_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->secret = 0x6a09e667f3bcc908ull;
	cfg->sndbuf = 65536;
	cfg->rcvbuf = 131072;
	cfg->buf_max = 4u << 20;
	cfg->rto_initial_us = 1000000;
	cfg->rto_min_us = 200000;
	cfg->rto_max_us = 120000000;
	cfg->time_wait_us = 60000000;
	cfg->fin_wait2_us = 60000000;
	cfg->delack_us = 40000;
	cfg->syn_retries = 6;
	cfg->synack_retries = 5;
	cfg->retries = 15;
	cfg->keepcnt = 9;
	cfg->keepidle_s = 7200;
	cfg->keepintvl_s = 75;
	cfg->backlog_max = 4096;
	cfg->ooo_max_segs = 4096;
	cfg->rcv_pool_reserve_pct = 12;
	cfg->ephemeral_lo = 32768;
	cfg->ephemeral_hi = 60999;
	cfg->table_initial = 1024;
	cfg->wscale = 1;
	cfg->timestamps = 1;
	cfg->syncookies = 1;
	cfg->challenge_ack_limit = 1000;
	cfg->rst_rate = 200;
	cfg->rst_burst = 50;
	cfg->sack = 1;
}

struct tcp_config *tcp_conf(struct ust_stack *stk)
{
	return &stk->tcp->cfg;
}

int tcp_init(struct ust_stack *stk)
{
	struct tcp_state *ts = calloc(1, sizeof(*ts));

	if (!ts)
		return -ENOMEM;
	tcp_config_default(&ts->cfg);
	ts->ct.cur_mask = ts->cfg.table_initial - 1;
	ts->ct.cur = calloc(ts->cfg.table_initial, sizeof(struct tcb *));
	ts->port_users = calloc(65536, sizeof(uint32_t));
	if (!ts->ct.cur || !ts->port_users) {
		free(ts->ct.cur);
		free(ts->port_users);
		free(ts);
		return -ENOMEM;
	}
	timer_wheel_init(&stk->tcp_timers, stk->now, tcp_timer_fire);
	stk->tcp = ts;
	return 0;
}

static void tcb_free_mem(struct ust_stack *stk, struct tcb *tcb)
{
	timer_cancel(&stk->tcp_timers, &tcb->timer);
	tcp_sb_free(tcb);
	tcp_ring_free(&tcb->rb);
	tcp_lossx_free(tcb);
	if (!(tcb->flags & TF_PASSIVE))
		free(tcb->lq);
	if (tcb->flags & TF_OWN_OPTS)
		free(tcb->opt);
	if (tcb->flags & TF_TXWAIT) {
		tcb->flags |= TF_TXDEAD;  /* tcp_tx_resume frees it */
		return;
	}
	free(tcb);
}

static void free_chain(struct ust_stack *stk, struct tcb *t, int bind_links)
{
	while (t) {
		struct tcb *n = bind_links ? t->bnext : t->hnext;
		if (!bind_links || !(t->flags & TF_INQ))
			tcb_free_mem(stk, t);
		t = n;
	}
}

/* Frees every TCB reachable from the tables. TCBs the application still
 * holds but that are in no table (fresh, or closed by a reset) are the
 * runtime's to close before destroying the stack. */
void tcp_fini(struct ust_stack *stk)
{
	struct tcp_state *ts = stk->tcp;

	if (!ts)
		return;
	tcp_tx_wait_fini(stk);
	/* Bind-only owners first (bound, listening): those not in the ctable. */
	for (uint32_t i = 0; i < TCP_BHASH; i++)
		free_chain(stk, ts->bhash[i], 1);
	for (uint32_t i = 0; i <= ts->ct.cur_mask; i++)
		free_chain(stk, ts->ct.cur[i], 0);
	if (ts->ct.old)
		for (uint32_t i = ts->ct.migrate; i <= ts->ct.old_mask; i++)
			free_chain(stk, ts->ct.old[i], 0);
	free(ts->ct.cur);
	free(ts->ct.old);
	free(ts->port_users);
	free(ts);
	stk->tcp = NULL;
}

/* --- the connection table --- */

static uint32_t tuple_hash(const struct tcp_state *ts, uint32_t laddr, uint16_t lport,
                           uint32_t raddr, uint16_t rport)
{
	/* Keyed so that a peer cannot aim many tuples at one chain. */
	uint64_t x = ((uint64_t)raddr << 32 | (uint64_t)rport << 16 | lport) ^ ts->cfg.secret;
	x ^= (uint64_t)laddr * 0x9e3779b97f4a7c15ull;
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return (uint32_t)x;
}

static struct tcb **ct_bucket(struct tcp_ctable *ct, uint32_t h)
{
	if (ct->old && (h & ct->old_mask) >= ct->migrate)
		return &ct->old[h & ct->old_mask];
	return &ct->cur[h & ct->cur_mask];
}

/* Chains are singly linked: the table keeps about one TCB per bucket, so
 * unlinking walks a chain of one or two and a TCB saves a back pointer. */
static void chain_add(struct tcb **head, struct tcb *t)
{
	t->hnext = *head;
	*head = t;
}

static void chain_del(struct tcb **head, struct tcb *t)
{
	while (*head && *head != t)
		head = &(*head)->hnext;
	if (*head)
		*head = t->hnext;
	t->hnext = NULL;
}

/* Moves a few old buckets into the new table: a doubling completes within
 * old-size/2 inserts, long before the next one is due. */
static void ct_migrate(struct tcp_state *ts, unsigned steps)
{
	struct tcp_ctable *ct = &ts->ct;

	while (ct->old && steps--) {
		struct tcb *t = ct->old[ct->migrate];
		ct->old[ct->migrate] = NULL;
		ct->migrate++;
		while (t) {
			struct tcb *n = t->hnext;
			uint32_t h = tuple_hash(ts, t->laddr, t->lport, t->raddr, t->rport);
			chain_add(&ct->cur[h & ct->cur_mask], t);
			t = n;
		}
		if (ct->migrate > ct->old_mask) {
			free(ct->old);
			ct->old = NULL;
		}
	}
}

static void ct_maybe_grow(struct tcp_state *ts)
{
	struct tcp_ctable *ct = &ts->ct;
	struct tcb **n;

	if (ct->old || ct->count <= (uint64_t)ct->cur_mask + 1 || ct->cur_mask >= (1u << 30))
		return;
	n = calloc(((size_t)ct->cur_mask + 1) * 2, sizeof(*n));
	if (!n)
		return;  /* chains grow longer; lookups stay correct */
	ct->old = ct->cur;
	ct->old_mask = ct->cur_mask;
	ct->cur = n;
	ct->cur_mask = ct->cur_mask * 2 + 1;
	ct->migrate = 0;
}

struct tcb *tcp_ct_lookup(struct ust_stack *stk, uint32_t laddr, uint16_t lport, uint32_t raddr,
                          uint16_t rport)
{
	struct tcp_state *ts = stk->tcp;
	uint32_t h = tuple_hash(ts, laddr, lport, raddr, rport);

	for (struct tcb *t = *ct_bucket(&ts->ct, h); t; t = t->hnext)
		if (t->rport == rport && t->lport == lport && t->raddr == raddr && t->laddr == laddr)
			return t;
	return NULL;
}

int tcp_ct_insert(struct ust_stack *stk, struct tcb *tcb)
{
	struct tcp_state *ts = stk->tcp;
	uint32_t h;

	if (tcp_ct_lookup(stk, tcb->laddr, tcb->lport, tcb->raddr, tcb->rport))
		return -EADDRINUSE;
	ct_migrate(ts, 2);
	ct_maybe_grow(ts);
	h = tuple_hash(ts, tcb->laddr, tcb->lport, tcb->raddr, tcb->rport);
	chain_add(ct_bucket(&ts->ct, h), tcb);
	tcb->flags |= TF_INQ;
	ts->ct.count++;
	return 0;
}

void tcp_ct_remove(struct ust_stack *stk, struct tcb *tcb)
{
	struct tcp_state *ts = stk->tcp;

	if (!(tcb->flags & TF_INQ))
		return;
	chain_del(ct_bucket(&ts->ct, tuple_hash(ts, tcb->laddr, tcb->lport, tcb->raddr, tcb->rport)),
	          tcb);
	tcb->flags &= ~TF_INQ;
	stk->tcp->ct.count--;
}

uint64_t tcp_conn_count(const struct ust_stack *stk)
{
	return stk->tcp->ct.count;
}

/* --- listeners and bound ports --- */

struct tcb *tcp_listener_lookup(struct ust_stack *stk, uint32_t laddr, uint16_t lport)
{
	struct tcb *wild = NULL;

	for (struct tcb *t = stk->tcp->lhash[lport & (TCP_LHASH - 1)]; t; t = t->hnext) {
		if (t->lport != lport)
			continue;
		if (t->laddr == laddr)
			return t;
		if (t->laddr == 0)
			wild = t;
	}
	return wild;
}

void tcp_port_ref(struct ust_stack *stk, uint16_t port)
{
	stk->tcp->port_users[port]++;
}

static void port_unref(struct ust_stack *stk, struct tcb *tcb)
{
	if (tcb->flags & TF_BOUND) {
		*tcb->bpprev = tcb->bnext;
		if (tcb->bnext)
			tcb->bnext->bpprev = tcb->bpprev;
		tcb->flags &= ~TF_BOUND;
	}
	if (tcb->lport)
		stk->tcp->port_users[tcb->lport]--;
}

/* Linux's rule: two sockets may share a port when their addresses differ,
 * or when both set SO_REUSEADDR and the other is not listening. */
static int bind_conflict(struct ust_stack *stk, const struct tcb *tcb, uint32_t addr,
                         uint16_t port)
{
	struct tcp_state *ts = stk->tcp;
	int reuse = !!(tcb->flags & TF_REUSEADDR);
	uint32_t owners = 0;

	for (struct tcb *o = ts->bhash[port & (TCP_BHASH - 1)]; o; o = o->bnext) {
		if (o->lport != port || o == tcb)
			continue;
		owners++;
		if (o->laddr && addr && o->laddr != addr)
			continue;
		if (!(reuse && (o->flags & TF_REUSEADDR) && o->state != TCPS_LISTEN))
			return 1;
	}
	/* Connections accepted on the port (established, TIME_WAIT...) */
	return ts->port_users[port] > owners && !reuse;
}

static void bind_take(struct ust_stack *stk, struct tcb *tcb, uint32_t addr, uint16_t port)
{
	struct tcb **head = &stk->tcp->bhash[port & (TCP_BHASH - 1)];

	tcb->laddr = addr;
	tcb->lport = port;
	tcb->bnext = *head;
	if (tcb->bnext)
		tcb->bnext->bpprev = &tcb->bnext;
	tcb->bpprev = head;
	*head = tcb;
	tcb->flags |= TF_BOUND;
	tcp_port_ref(stk, port);
}

/* RFC 6056 3.3.3 (Algorithm 3, "simple hash-based"): the search starts at
 * a keyed hash of the destination plus a counter, so ports are not
 * sequential nor guessable off-path, and successive connections to one
 * peer still walk the range before reusing a port. Without a destination
 * (bind to port 0) the hash covers the counter alone (Algorithm 1-like,
 * as Linux picks a random start for bind). */
static int pick_ephemeral(struct ust_stack *stk, uint32_t raddr, uint16_t rport, uint16_t *port)
{
	struct tcp_state *ts = stk->tcp;
	uint32_t lo = ts->cfg.ephemeral_lo, hi = ts->cfg.ephemeral_hi;
	uint32_t n = hi >= lo ? hi - lo + 1 : 1;
	uint64_t m[2] = { (uint64_t)raddr << 16 | rport, raddr ? 0 : ts->eph_counter };
	uint32_t off = (uint32_t)siphash_secret(ts->cfg.secret ^ 0x7e5d, m, 2);

	for (uint32_t i = 0; i < n; i++) {
		uint16_t p = (uint16_t)(lo + (off + ts->eph_counter + i) % n);
		if (ts->port_users[p] == 0) {
			ts->eph_counter += i + 1;
			*port = p;
			return 0;
		}
	}
	return -EADDRNOTAVAIL;
}

/* --- the TCB's life --- */

struct tcb *tcp_tcb_alloc(struct ust_stack *stk)
{
	struct tcp_config *cfg = &stk->tcp->cfg;
	struct tcb *tcb = calloc(1, sizeof(*tcb));

	if (!tcb)
		return NULL;
	tcb->state = TCPS_CLOSED;
	timer_init(&tcb->timer);
	tcb->t_main = TIMER_NEVER;
	/* The defaults follow the configuration, which a program may have
	 * changed since the last TCB was made. */
	stk->tcp->dflt = (struct tcp_opts){
		.sndbuf = cfg->sndbuf,
		.rcvbuf = cfg->rcvbuf,
		.keepidle_s = (uint16_t)cfg->keepidle_s,
		.keepintvl_s = (uint16_t)cfg->keepintvl_s,
		.keepcnt = cfg->keepcnt,
	};
	tcb->opt = &stk->tcp->dflt;
	tcb->mss = TCP_DEFAULT_MSS;
	tcb->ssthresh = UINT32_MAX;
	return tcb;
}

struct tcp_opts *tcp_opts_own(struct tcb *tcb)
{
	struct tcp_opts *o;

	if (tcb->flags & TF_OWN_OPTS)
		return tcb->opt;
	o = malloc(sizeof(*o));
	if (!o)
		return NULL;
	*o = *tcb->opt;
	tcb->opt = o;
	tcb->flags |= TF_OWN_OPTS;
	return o;
}

struct tcb *tcp_tcb_new(struct ust_stack *stk, void *app)
{
	struct tcb *tcb = tcp_tcb_alloc(stk);

	if (tcb)
		tcb->app = app;
	return tcb;
}

void tcp_set_app(struct tcb *tcb, void *app) { tcb->app = app; }
void *tcp_get_app(const struct tcb *tcb) { return tcb->app; }

void tcp_set_state(struct ust_stack *stk, struct tcb *tcb, int state)
{
	(void)stk;
	tcb->state = (uint8_t)state;
	if (tcp_synchronized(state))
		tcb->flags |= TF_WAS_CONN;
}

void tcp_notify(struct ust_stack *stk, struct tcb *tcb)
{
	if (tcb->app)
		stk_sock_event(stk, tcb->app, tcp_poll(tcb));
}

static void unlink_from_parent(struct tcb *tcb)
{
	struct tcp_listen *lq;

	if (!(tcb->flags & TF_PASSIVE) || !tcb->parent)
		return;
	lq = tcb->parent->lq;
	if (tcb->flags & TF_ACCEPTQ)
		return;  /* stays queued: accept hands it over, reset or not */
	if (tcb->qprev)
		tcb->qprev->qnext = tcb->qnext;
	else
		lq->syn_head = tcb->qnext;
	if (tcb->qnext)
		tcb->qnext->qprev = tcb->qprev;
	tcb->qnext = tcb->qprev = NULL;
	lq->syn_len--;
	tcb->parent = NULL;
}

void tcp_done(struct ust_stack *stk, struct tcb *tcb, int err)
{
	tcp_ct_remove(stk, tcb);
	timer_cancel(&stk->tcp_timers, &tcb->timer);
	tcb->t_main = TIMER_NEVER;
	tcb->flags &= ~TF_DELACK;
	tcb->tkind = TK_NONE;
	tcp_sb_free(tcb);
	tcp_lossx_free(tcb);
	tcb->state = TCPS_CLOSED;
	tcb->flags |= TF_SHUT_RD | TF_SHUT_WR;
	if (err)
		tcb->error = (uint8_t)err;
	unlink_from_parent(tcb);
	if (tcb->flags & TF_ORPHAN) {
		port_unref(stk, tcb);
		tcb_free_mem(stk, tcb);
		return;
	}
	if (tcb->flags & TF_ACCEPTQ)
		return;
	tcp_notify(stk, tcb);
}

/* RFC 6528 3: ISN = M + F(localip, localport, remoteip, remoteport,
 * secretkey), F a keyed PRF (SipHash-2-4 here), M a clock ticking every
 * 4 microseconds (RFC 793 3.3): a later connection on the same 4-tuple
 * starts above an earlier one, and an off-path attacker who sees ISNs of
 * other tuples learns nothing about this one. */
uint32_t tcp_isn(const struct ust_stack *stk, const struct tcb *tcb, uint64_t now)
{
	uint64_t m[2] = {
		(uint64_t)tcb->laddr << 32 | tcb->raddr,
		(uint64_t)tcb->lport << 16 | tcb->rport,
	};

	return (uint32_t)siphash_secret(stk->tcp->cfg.secret, m, 2) + (uint32_t)(now / 4);
}

uint32_t tcp_sndbuf_free(const struct tcb *tcb)
{
	uint32_t sndbuf = tcb->opt->sndbuf;

	return tcp_ring_len(tcb->sb) >= sndbuf ? 0 : sndbuf - tcp_ring_len(tcb->sb);
}

/* --- calls from the runtime --- */

int tcp_bind(struct ust_stack *stk, struct tcb *tcb, uint32_t addr, uint16_t port)
{
	if (tcb->state != TCPS_CLOSED || tcb->lport)
		return -EINVAL;
	if (addr && !ipv4_is_local(stk, addr))
		return -EADDRNOTAVAIL;
	if (port == 0) {
		int err = pick_ephemeral(stk, 0, 0, &port);
		if (err)
			return err;
	} else if (bind_conflict(stk, tcb, addr, port)) {
		return -EADDRINUSE;
	}
	bind_take(stk, tcb, addr, port);
	return 0;
}

int tcp_listen(struct ust_stack *stk, struct tcb *tcb, int backlog)
{
	struct tcp_state *ts = stk->tcp;
	uint32_t bl = (uint32_t)backlog;  /* negative: huge, clamped (Linux) */

	if (bl > ts->cfg.backlog_max)
		bl = ts->cfg.backlog_max;
	if (tcb->state == TCPS_LISTEN) {
		tcb->lq->backlog = bl;
		return 0;
	}
	if (tcb->state != TCPS_CLOSED || (tcb->flags & TF_WAS_CONN))
		return -EINVAL;
	tcb->raddr = 0;  /* a failed connect leaves its peer behind */
	tcb->rport = 0;
	if (!tcb->lport) {
		int err = tcp_bind(stk, tcb, 0, 0);
		if (err)
			return err;
	} else if (tcp_listener_lookup(stk, tcb->laddr, tcb->lport) &&
	           tcp_listener_lookup(stk, tcb->laddr, tcb->lport)->laddr == tcb->laddr) {
		return -EADDRINUSE;
	}
	tcb->lq = calloc(1, sizeof(*tcb->lq));
	if (!tcb->lq)
		return -ENOBUFS;
	tcb->lq->backlog = bl;
	tcb->state = TCPS_LISTEN;
	chain_add(&ts->lhash[tcb->lport & (TCP_LHASH - 1)], tcb);
	return 0;
}

int tcp_connect(struct ust_stack *stk, struct tcb *tcb, uint32_t addr, uint16_t port)
{
	int err;

	switch (tcb->state) {
	case TCPS_CLOSED:
		break;
	case TCPS_SYN_SENT:
	case TCPS_SYN_RCVD:
		return -EALREADY;
	default:
		return -EISCONN;
	}
	if (tcb->flags & TF_WAS_CONN)
		return -EISCONN;
	if (addr == 0 || port == 0 || addr == 0xffffffffu)
		return -EINVAL;
	if (!tcb->lport) {
		uint16_t p;
		if ((err = pick_ephemeral(stk, addr, port, &p)))
			return err;
		bind_take(stk, tcb, stk->cfg.ip, p);
	} else if (!tcb->laddr) {
		tcb->laddr = stk->cfg.ip;
	}
	tcb->raddr = addr;
	tcb->rport = port;
	if (tcp_ct_insert(stk, tcb)) {
		tcb->raddr = 0;
		tcb->rport = 0;
		return -EADDRNOTAVAIL;
	}
	tcb->error = 0;
	tcb->flags &= ~(TF_SHUT_RD | TF_SHUT_WR);
	tcb->snd_una = tcb->snd_nxt = tcb->snd_max = tcp_isn(stk, tcb, stk->now);
	tcb->rcv_mss = tcp_mss_for_mtu(stk);
	if (tcb->opt->user_mss && tcb->opt->user_mss < tcb->rcv_mss)
		tcb->rcv_mss = tcb->opt->user_mss;
	tcp_set_state(stk, tcb, TCPS_SYN_SENT);
	stk_count(stk, CNT_tcp_active_opens);
	tcp_send_syn(stk, tcb);
	tcp_rearm_rexmit(stk, tcb);
	return 0;
}

struct tcb *tcp_accept(struct ust_stack *stk, struct tcb *listener)
{
	struct tcp_listen *lq = listener->lq;
	struct tcb *c;

	(void)stk;
	if (listener->state != TCPS_LISTEN || !lq || !lq->acc_head)
		return NULL;
	c = lq->acc_head;
	lq->acc_head = c->qnext;
	if (!lq->acc_head)
		lq->acc_tail = NULL;
	lq->acc_len--;
	c->qnext = c->qprev = NULL;
	c->parent = NULL;
	c->flags &= ~TF_ACCEPTQ;
	return c;
}

/* --- byte rings (send and receive buffers) --- */

static int ring_grow(struct tcp_ring **rp, uint32_t need, uint32_t min_cap)
{
	struct tcp_ring *r = *rp, *n;
	uint32_t cap = r ? r->cap : min_cap;

	while (cap < need)
		cap *= 2;
	if (r && cap == r->cap)
		return 0;
	n = malloc(sizeof(*n) + cap);
	if (!n)
		return -ENOBUFS;
	n->cap = cap;
	n->head = 0;
	n->len = tcp_ring_len(r);
	if (n->len)
		tcp_ring_copy(r, 0, n->buf, n->len);
	free(r);
	*rp = n;
	return 0;
}

int tcp_ring_put(struct tcp_ring **rp, const void *src, uint32_t n, uint32_t min_cap)
{
	const uint8_t *s = src;
	struct tcp_ring *r;
	uint32_t pos, first;

	if (!n)
		return 0;
	if ((!*rp || (*rp)->cap - (*rp)->len < n) && ring_grow(rp, tcp_ring_len(*rp) + n, min_cap))
		return -ENOBUFS;
	r = *rp;
	pos = (r->head + r->len) & (r->cap - 1);
	first = r->cap - pos < n ? r->cap - pos : n;
	memcpy(r->buf + pos, s, first);
	memcpy(r->buf, s + first, n - first);
	r->len += n;
	return 0;
}

void tcp_ring_copy(const struct tcp_ring *r, uint32_t off, void *dst, uint32_t n)
{
	uint8_t *d = dst;
	uint32_t pos, first;

	if (!n)
		return;
	pos = (r->head + off) & (r->cap - 1);
	first = r->cap - pos < n ? r->cap - pos : n;
	memcpy(d, r->buf + pos, first);
	memcpy(d + first, r->buf, n - first);
}

void tcp_ring_consume(struct tcp_ring **rp, uint32_t n)
{
	struct tcp_ring *r = *rp;

	if (!r)
		return;
	if (n > r->len)
		n = r->len;
	r->len -= n;
	r->head = (r->head + n) & (r->cap - 1);
	/* Drained: give the memory back (buffers only while data exists). */
	if (!r->len)
		tcp_ring_free(rp);
}

void tcp_ring_free(struct tcp_ring **rp)
{
	free(*rp);
	*rp = NULL;
}

void tcp_sb_free(struct tcb *tcb)
{
	tcp_ring_free(&tcb->sb);
}

static int pending_error(struct tcb *tcb)
{
	int e = tcb->error;
	tcb->error = 0;
	return e;
}

long tcp_send(struct ust_stack *stk, struct tcb *tcb, const void *buf, size_t len, int flags)
{
	const uint8_t *src = buf;
	uint32_t n, room;

	if (tcb->error)
		return -pending_error(tcb);
	if (tcb->state == TCPS_SYN_SENT || tcb->state == TCPS_SYN_RCVD)
		return -EAGAIN;
	/* Linux answers EPIPE, not ENOTCONN, for a stream never connected. */
	if ((tcb->flags & TF_SHUT_WR) ||
	    (tcb->state != TCPS_ESTABLISHED && tcb->state != TCPS_CLOSE_WAIT))
		return -EPIPE;
	/* MSG_MORE (Linux): the caller has more to send, so a partial segment
	 * waits for it; the next send without the flag, a shutdown or a close
	 * sends what waits (the FIN then rides on it). */
	if (flags & MSG_MORE) {
		tcb->flags |= TF_MORE;
	} else if (tcb->flags & TF_MORE) {
		tcb->flags &= ~TF_MORE;
		if (len == 0)
			tcp_output(stk, tcb);
	}
	room = tcp_sndbuf_free(tcb);
	if (room == 0)
		return -EAGAIN;
	if (len == 0)
		return 0;
	n = len < room ? (uint32_t)len : room;
	if (tcp_ring_put(&tcb->sb, src, n, 4096))
		return -ENOBUFS;
	tcp_output(stk, tcb);
	return n;
}

/* Receive window advertised after the application read: RFC 9293 3.8.6.2.2,
 * update only when it opens by a full segment or half the buffer. */
static void maybe_window_update(struct ust_stack *stk, struct tcb *tcb)
{
	uint32_t adv = tcb->rcv_adv - tcb->rcv_nxt;
	uint32_t wnd = tcp_rcv_window(stk, tcb);
	uint32_t half = tcp_rcv_space(stk, tcb) / 2;
	uint32_t step = tcb->rcv_mss;

	if (!tcp_synchronized(tcb->state) || (tcb->flags & TF_FIN_RCVD))
		return;
	if (half < step)
		step = half;
	if (wnd > adv && wnd - adv >= step && (adv < step * 2 || wnd - adv >= half))
		tcp_send_ack(stk, tcb);
}

long tcp_recv(struct ust_stack *stk, struct tcb *tcb, void *buf, size_t len, int flags)
{
	uint32_t n;

	if (tcb->state == TCPS_LISTEN)
		return -ENOTCONN;
	if (tcp_ring_len(tcb->rb) == 0) {
		if (tcb->error)
			return -pending_error(tcb);
		if (tcb->flags & (TF_FIN_RCVD | TF_SHUT_RD))
			return 0;
		if (tcb->state == TCPS_CLOSED)
			return (tcb->flags & TF_WAS_CONN) ? 0 : -ENOTCONN;
		return -EAGAIN;  /* connecting, or nothing yet */
	}
	n = len < tcp_ring_len(tcb->rb) ? (uint32_t)len : tcp_ring_len(tcb->rb);
	tcp_ring_copy(tcb->rb, 0, buf, n);
	if (!(flags & MSG_PEEK)) {
		tcp_ring_consume(&tcb->rb, n);
		tcp_rcv_space_adjust(stk, tcb, n);
		maybe_window_update(stk, tcb);
	}
	return (long)n;
}

static void queue_fin(struct ust_stack *stk, struct tcb *tcb)
{
	if (tcb->flags & TF_FIN_QUEUED)
		return;
	tcb->flags |= TF_FIN_QUEUED | TF_SHUT_WR;
	switch (tcb->state) {
	case TCPS_ESTABLISHED:
		tcp_set_state(stk, tcb, TCPS_FIN_WAIT_1);
		break;
	case TCPS_CLOSE_WAIT:
		tcp_set_state(stk, tcb, TCPS_LAST_ACK);
		break;
	default:
		break;
	}
	/* RFC 9293 3.10.4: in SYN_RCVD the FIN is queued "for processing after
	 * entering ESTABLISHED"; the handshake's ACK then moves it straight to
	 * FIN_WAIT_1 (syn_rcvd_ack) and the FIN goes out. */
	tcp_output(stk, tcb);
}

static void abort_conn(struct ust_stack *stk, struct tcb *tcb)
{
	if (tcp_synchronized(tcb->state) || tcb->state == TCPS_SYN_RCVD)
		tcp_send_rst(stk, tcb);
	tcp_done(stk, tcb, 0);
}

static void close_listener(struct ust_stack *stk, struct tcb *tcb)
{
	struct tcp_listen *lq = tcb->lq;

	chain_del(&stk->tcp->lhash[tcb->lport & (TCP_LHASH - 1)], tcb);
	/* Half-open children vanish; completed ones are reset (Linux). */
	while (lq->syn_head) {
		struct tcb *c = lq->syn_head;
		c->flags |= TF_ORPHAN;
		tcp_done(stk, c, 0);
	}
	while (lq->acc_head) {
		struct tcb *c = tcp_accept(stk, tcb);
		c->flags |= TF_ORPHAN;
		abort_conn(stk, c);
	}
	tcb->state = TCPS_CLOSED;
}

/* Linux's inet_shutdown: ENOTCONN when closed (the flags still apply); a
 * listener stops listening on SHUT_RD; a connect in progress is dropped. */
int tcp_shutdown(struct ust_stack *stk, struct tcb *tcb, int how)
{
	if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR)
		return -EINVAL;
	switch (tcb->state) {
	case TCPS_CLOSED:
		tcb->flags |= (how != SHUT_WR ? TF_SHUT_RD : 0) | (how != SHUT_RD ? TF_SHUT_WR : 0);
		tcp_notify(stk, tcb);
		return -ENOTCONN;
	case TCPS_LISTEN:
		if (how == SHUT_WR)
			return 0;
		close_listener(stk, tcb);
		free(tcb->lq);
		tcb->lq = NULL;
		tcb->flags |= TF_SHUT_RD | TF_SHUT_WR;
		tcp_notify(stk, tcb);
		return 0;
	case TCPS_SYN_SENT:
		tcp_done(stk, tcb, 0);
		return 0;
	default:
		break;
	}
	if (how != SHUT_WR)
		tcb->flags |= TF_SHUT_RD;
	if (how != SHUT_RD)
		queue_fin(stk, tcb);
	tcp_notify(stk, tcb);
	return 0;
}

void tcp_close(struct ust_stack *stk, struct tcb *tcb)
{
	tcb->app = NULL;
	tcb->flags |= TF_ORPHAN;
	switch (tcb->state) {
	case TCPS_LISTEN:
		close_listener(stk, tcb);
		tcp_done(stk, tcb, 0);
		return;
	case TCPS_CLOSED:
	case TCPS_SYN_SENT:
		tcp_done(stk, tcb, 0);
		return;
	default:
		break;
	}
	/* RFC 2525 2.17 and Linux: unread data, or linger 0, resets. */
	if (tcp_ring_len(tcb->rb) || ((tcb->flags & TF_LINGER) && tcb->opt->linger_s == 0)) {
		abort_conn(stk, tcb);
		return;
	}
	queue_fin(stk, tcb);
	if (tcb->state == TCPS_FIN_WAIT_2 && tcb->tkind != TK_FIN_WAIT_2)
		tcp_set_main(stk, tcb, TK_FIN_WAIT_2, stk->now + stk->tcp->cfg.fin_wait2_us);
}

/* --- readiness and status --- */

uint32_t tcp_poll(const struct tcb *tcb)
{
	uint32_t ev = 0;
	int st = tcb->state;

	if (st == TCPS_LISTEN)
		return tcb->lq && tcb->lq->acc_len ? SOCK_EV_IN : 0;
	/* The rules of Linux's tcp_poll. */
	if (st == TCPS_CLOSED || ((tcb->flags & TF_SHUT_RD) && (tcb->flags & TF_SHUT_WR)))
		ev |= SOCK_EV_HUP;
	if (tcb->flags & (TF_SHUT_RD | TF_FIN_RCVD))
		ev |= SOCK_EV_IN | SOCK_EV_RDHUP;
	if (st != TCPS_SYN_SENT && st != TCPS_SYN_RCVD) {
		if (tcp_ring_len(tcb->rb))
			ev |= SOCK_EV_IN;
		if (tcb->flags & TF_SHUT_WR)
			ev |= SOCK_EV_OUT;
		else if (tcp_sndbuf_free(tcb) >= tcp_ring_len(tcb->sb) / 2 && tcp_sndbuf_free(tcb) > 0)
			ev |= SOCK_EV_OUT;
	}
	if (tcb->error)
		ev |= SOCK_EV_ERR;
	return ev;
}

int tcp_take_error(struct tcb *tcb) { return pending_error(tcb); }
int tcp_state(const struct tcb *tcb) { return tcb->state; }

void tcp_local_addr(const struct tcb *tcb, uint32_t *addr, uint16_t *port)
{
	*addr = tcb->laddr;
	*port = tcb->lport;
}

void tcp_peer_addr(const struct tcb *tcb, uint32_t *addr, uint16_t *port)
{
	*addr = tcb->raddr;
	*port = tcb->rport;
}

uint32_t tcp_rx_bytes(const struct tcb *tcb) { return tcp_ring_len(tcb->rb); }
uint32_t tcp_tx_bytes(const struct tcb *tcb) { return tcp_ring_len(tcb->sb); }

int tcp_setopt(struct ust_stack *stk, struct tcb *tcb, enum tcp_opt opt, int val)
{
	uint32_t max = stk->tcp->cfg.buf_max;
	struct tcp_opts *o;

	switch (opt) {
	case TCP_OPT_REUSEADDR:
		tcb->flags = val ? tcb->flags | TF_REUSEADDR : tcb->flags & ~TF_REUSEADDR;
		return 0;
	case TCP_OPT_KEEPALIVE:
		tcb->flags = val ? tcb->flags | TF_KEEPALIVE : tcb->flags & ~TF_KEEPALIVE;
		tcp_rearm_rexmit(stk, tcb);
		return 0;
	case TCP_OPT_NODELAY:
		tcb->flags = val ? tcb->flags | TF_NODELAY : tcb->flags & ~TF_NODELAY;
		if (val && tcp_synchronized(tcb->state))
			tcp_output(stk, tcb);
		return 0;
	case TCP_OPT_SNDBUF:
	case TCP_OPT_RCVBUF: {
		/* Linux doubles the request (bookkeeping overhead) and clamps. */
		uint64_t v = val < 0 ? 0 : (uint64_t)val * 2;
		uint32_t min = opt == TCP_OPT_SNDBUF ? 4608 : 2304;
		if (v > max)
			v = max;
		if (v < min)
			v = min;
		if (!(o = tcp_opts_own(tcb)))
			return -ENOMEM;
		if (opt == TCP_OPT_SNDBUF)
			o->sndbuf = (uint32_t)v;
		else
			o->rcvbuf = (uint32_t)v;
		/* Auto-tuning stops there. */
		tcb->flags |= opt == TCP_OPT_RCVBUF ? TF_RCVBUF_SET : TF_SNDBUF_SET;
		return 0;
	}
	case TCP_OPT_LINGER:
		if (val < 0) {
			tcb->flags &= ~TF_LINGER;
		} else {
			if (!(o = tcp_opts_own(tcb)))
				return -ENOMEM;
			tcb->flags |= TF_LINGER;
			o->linger_s = val > 255 ? 255 : (uint8_t)val;
		}
		return 0;
	case TCP_OPT_MAXSEG:
		if (val != 0 && (val < 88 || val > 32767))
			return -EINVAL;
		if (!(o = tcp_opts_own(tcb)))
			return -ENOMEM;
		o->user_mss = (uint16_t)val;
		return 0;
	case TCP_OPT_KEEPIDLE:
	case TCP_OPT_KEEPINTVL:
		if (val < 1 || val > 32767)
			return -EINVAL;
		if (!(o = tcp_opts_own(tcb)))
			return -ENOMEM;
		if (opt == TCP_OPT_KEEPIDLE)
			o->keepidle_s = (uint16_t)val;
		else
			o->keepintvl_s = (uint16_t)val;
		tcp_rearm_rexmit(stk, tcb);
		return 0;
	case TCP_OPT_KEEPCNT:
		if (val < 1 || val > 127)
			return -EINVAL;
		if (!(o = tcp_opts_own(tcb)))
			return -ENOMEM;
		o->keepcnt = (uint8_t)val;
		return 0;
	}
	return -ENOPROTOOPT;
}

int tcp_getopt(const struct ust_stack *stk, const struct tcb *tcb, enum tcp_opt opt, int *val)
{
	(void)stk;
	switch (opt) {
	case TCP_OPT_REUSEADDR: *val = !!(tcb->flags & TF_REUSEADDR); return 0;
	case TCP_OPT_KEEPALIVE: *val = !!(tcb->flags & TF_KEEPALIVE); return 0;
	case TCP_OPT_NODELAY: *val = !!(tcb->flags & TF_NODELAY); return 0;
	case TCP_OPT_SNDBUF: *val = (int)tcb->opt->sndbuf; return 0;
	case TCP_OPT_RCVBUF: *val = (int)tcb->opt->rcvbuf; return 0;
	case TCP_OPT_LINGER: *val = (tcb->flags & TF_LINGER) ? tcb->opt->linger_s : -1; return 0;
	case TCP_OPT_MAXSEG:
		*val = tcp_synchronized(tcb->state) ? tcb->mss : (tcb->opt->user_mss ? tcb->opt->user_mss : 536);
		return 0;
	case TCP_OPT_KEEPIDLE: *val = tcb->opt->keepidle_s; return 0;
	case TCP_OPT_KEEPINTVL: *val = tcb->opt->keepintvl_s; return 0;
	case TCP_OPT_KEEPCNT: *val = tcb->opt->keepcnt; return 0;
	}
	return -ENOPROTOOPT;
}

void tcp_get_info(const struct ust_stack *stk, const struct tcb *tcb, struct tcp_info_lite *info)
{
	uint32_t mss = tcb->mss ? tcb->mss : TCP_DEFAULT_MSS;

	memset(info, 0, sizeof(*info));
	info->state = tcb->state;
	info->retransmits = tcb->rexmits;
	info->backoff = tcb->rexmits;
	info->snd_wscale = (tcb->flags & TF_WSCALE) ? tcb->snd_wscale : 0;
	info->rcv_wscale = (tcb->flags & TF_WSCALE) ? tcb->rcv_wscale : 0;
	info->options = ((tcb->flags & TF_TS) ? 1 : 0) | ((tcb->flags & TF_WSCALE) ? 4 : 0);
	info->rto_us = tcp_rto(tcb, &stk->tcp->cfg);
	info->rtt_us = tcb->srtt_us;
	info->rttvar_us = tcb->rttvar_us;
	info->snd_mss = mss;
	info->rcv_mss = tcb->rcv_mss;
	info->snd_cwnd = tcb->cwnd / mss;
	info->snd_ssthresh = tcb->ssthresh == UINT32_MAX ? 0x7fffffff : tcb->ssthresh / mss;
	info->unacked = (tcp_flight(tcb) + mss - 1) / mss;
	info->total_retrans = tcb->lx ? tcb->lx->total_retrans : 0;
	info->snd_wnd = tcb->snd_wnd;
	info->rcv_wnd = tcb->rcv_adv - tcb->rcv_nxt;
}

void tcp_listen_info(const struct tcb *tcb, struct tcp_listen_info *li)
{
	memset(li, 0, sizeof(*li));
	if (tcb->state != TCPS_LISTEN || !tcb->lq)
		return;
	li->syn_queue = tcb->lq->syn_len;
	li->accept_queue = tcb->lq->acc_len;
	li->backlog = tcb->lq->backlog;
	li->syn_overflows = tcb->lq->syn_overflows;
	li->accept_overflows = tcb->lq->acc_overflows;
}

void tcp_foreach(struct ust_stack *stk, void (*fn)(void *arg, const struct tcb *tcb), void *arg)
{
	struct tcp_state *ts = stk->tcp;

	/* Port owners not in the connection table: listeners, bound sockets. */
	for (uint32_t i = 0; i < TCP_BHASH; i++)
		for (struct tcb *t = ts->bhash[i]; t; t = t->bnext)
			if (!(t->flags & TF_INQ))
				fn(arg, t);
	for (uint32_t i = 0; i <= ts->ct.cur_mask; i++)
		for (struct tcb *t = ts->ct.cur[i]; t; t = t->hnext)
			fn(arg, t);
	if (ts->ct.old)
		for (uint32_t i = ts->ct.migrate; i <= ts->ct.old_mask; i++)
			for (struct tcb *t = ts->ct.old[i]; t; t = t->hnext)
				fn(arg, t);
}

const char *tcp_state_name(int state)
{
	static const char *const names[] = {
		[TCPS_ESTABLISHED] = "ESTAB", [TCPS_SYN_SENT] = "SYN-SENT",
		[TCPS_SYN_RCVD] = "SYN-RECV", [TCPS_FIN_WAIT_1] = "FIN-WAIT-1",
		[TCPS_FIN_WAIT_2] = "FIN-WAIT-2", [TCPS_TIME_WAIT] = "TIME-WAIT",
		[TCPS_CLOSED] = "UNCONN", [TCPS_CLOSE_WAIT] = "CLOSE-WAIT",
		[TCPS_LAST_ACK] = "LAST-ACK", [TCPS_LISTEN] = "LISTEN",
		[TCPS_CLOSING] = "CLOSING",
	};
	if (state < TCPS_ESTABLISHED || state > TCPS_CLOSING)
		return "?";
	return names[state];
}

static const char *timer_name(const struct tcb *tcb)
{
	static const char *const names[] = {
		[TK_NONE] = NULL, [TK_REXMIT] = "on", [TK_PERSIST] = "persist",
		[TK_KEEPALIVE] = "keepalive", [TK_TIME_WAIT] = "timewait",
		[TK_FIN_WAIT_2] = "timewait",
		[TK_RACK] = "on", [TK_TLP] = "on",  /* ss shows them as "on" too */
	};
	if (tcb->tkind != TK_NONE && tcb->t_main != TIMER_NEVER)
		return names[tcb->tkind];
	if (tcb->flags & TF_DELACK)
		return "delack";
	return NULL;
}

static int fmt_addr(char *b, size_t n, uint32_t a, uint16_t p)
{
	if (!a && !p)
		return snprintf(b, n, "*:*");
	if (!a)
		return snprintf(b, n, "*:%u", p);
	return snprintf(b, n, "%u.%u.%u.%u:%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255,
	                p);
}

int tcp_format(const struct ust_stack *stk, const struct tcb *tcb, char *buf, size_t len)
{
	char la[32], ra[32], tm[64] = "";
	const char *tn = timer_name(tcb);

	fmt_addr(la, sizeof(la), tcb->laddr, tcb->lport);
	fmt_addr(ra, sizeof(ra), tcb->raddr, tcb->rport);
	if (tn) {
		uint64_t at = tcb->tkind != TK_NONE && tcb->t_main != TIMER_NEVER ? tcb->t_main
		                                                                : tcp_delack_at(tcb, stk->now);
		uint64_t left = at > stk->now ? at - stk->now : 0;
		snprintf(tm, sizeof(tm), " timer:(%s,%llums,%u)", tn,
		         (unsigned long long)(left / 1000), tcb->rexmits);
	}
	if (tcb->state == TCPS_LISTEN && tcb->lq) {
		const struct tcp_listen *lq = tcb->lq;
		return snprintf(buf, len,
		                "%-10s %-6u %-6u %-21s %-21s syn_q:%u acc_q:%u/%u"
		                " syn_drops:%llu acc_drops:%llu",
		                "LISTEN", lq->acc_len, lq->backlog, la, ra, lq->syn_len, lq->acc_len,
		                lq->backlog, (unsigned long long)lq->syn_overflows,
		                (unsigned long long)lq->acc_overflows);
	}
	return snprintf(buf, len, "%-10s %-6u %-6u %-21s %-21s%s", tcp_state_name(tcb->state),
	                tcp_ring_len(tcb->rb), tcp_ring_len(tcb->sb), la, ra, tm);
}

size_t tcp_tcb_size(void)
{
	return sizeof(struct tcb);
}
