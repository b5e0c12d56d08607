/* Two stacks joined by a frame-passing loop on virtual time: handshakes,
 * bulk transfer with an exact byte check (clean and under loss), the
 * RFC 9293 state diagram (simultaneous open and close, half-close,
 * CLOSE_WAIT, LAST_ACK, TIME_WAIT), the backlog, keepalive and timeouts.
 * ARP is resolved by the stacks themselves. A = 10.77.0.2, B = 10.77.0.1. */
#include "tcp_test.h"

#include "tcp/tcp_int.h"

static void sync_now(struct pair *pr)
{
	pr->a->now = pr->now;
	pr->b->now = pr->now;
}

struct tcb_pair {
	struct tcb *c;   /* client on A */
	struct tcb *s;   /* accepted on B */
	struct tcb *l;   /* listener on B */
};

static int is_established(void *arg)
{
	struct tcb *t = arg;
	return tcp_state(t) == TCPS_ESTABLISHED;
}

static int not_syn_sent(void *arg)
{
	return tcp_state((struct tcb *)arg) != TCPS_SYN_SENT;
}

/* B listens on port 80, A connects to it; both ends ESTABLISHED. */
static void open_conn(struct pair *pr, struct tcb_pair *tp, int backlog)
{
	sync_now(pr);
	tp->l = tcp_tcb_new(pr->b, NULL);
	assert_int_equal(tcp_bind(pr->b, tp->l, 0, 80), 0);
	assert_int_equal(tcp_listen(pr->b, tp->l, backlog), 0);
	tp->c = tcp_tcb_new(pr->a, NULL);
	assert_int_equal(tcp_connect(pr->a, tp->c, PEER_IP, 80), 0);
	assert_true(pair_run_until(pr, is_established, tp->c, pr->now + 10 * SEC));
	tp->s = tcp_accept(pr->b, tp->l);
	assert_non_null(tp->s);
	assert_int_equal(tcp_state(tp->s), TCPS_ESTABLISHED);
}

static uint8_t pattern(uint64_t i, unsigned salt)
{
	return (uint8_t)((i * 7 + salt + (i >> 12)) % 251);
}

/* Moves `total` bytes from src to dst through the loop; checks each byte. */
struct xfer {
	struct ust_stack *sstk, *dstk;
	struct tcb *src, *dst;
	uint64_t total, sent, rcvd;
	unsigned salt;
	int bad;
};

static void xfer_pump(struct xfer *x)
{
	static uint8_t buf[65536];
	long n;

	while (x->sent < x->total) {
		size_t k = x->total - x->sent < sizeof(buf) ? (size_t)(x->total - x->sent) : sizeof(buf);
		for (size_t i = 0; i < k; i++)
			buf[i] = pattern(x->sent + i, x->salt);
		n = tcp_send(x->sstk, x->src, buf, k, 0);
		if (n <= 0)
			break;
		x->sent += (uint64_t)n;
	}
	while ((n = tcp_recv(x->dstk, x->dst, buf, sizeof(buf), 0)) > 0) {
		for (long i = 0; i < n; i++)
			if (buf[i] != pattern(x->rcvd + (uint64_t)i, x->salt))
				x->bad++;
		x->rcvd += (uint64_t)n;
	}
}

/* Pumps both transfers until done; returns 1 when all bytes arrived. */
static int run_xfers(struct pair *pr, struct xfer *x, int nx, uint64_t until)
{
	for (;;) {
		int done = 1;
		sync_now(pr);
		for (int i = 0; i < nx; i++) {
			xfer_pump(&x[i]);
			done &= x[i].rcvd == x[i].total;
		}
		if (done)
			return 1;
		if (!pair_shuttle(pr)) {
			sync_now(pr);
			for (int i = 0; i < nx; i++)
				xfer_pump(&x[i]);
			if (!pair_shuttle(pr) && !pair_step(pr, until))
				return 0;
		}
	}
}

static int gone_a(void *arg)
{
	struct pair *pr = arg;
	return tcp_conn_count(pr->a) == 0;
}

static void bulk_both_ways(struct pair *pr, uint64_t a2b, uint64_t b2a)
{
	struct tcb_pair tp;
	struct xfer x[2];
	char buf[16];

	open_conn(pr, &tp, 8);
	memset(x, 0, sizeof(x));
	x[0] = (struct xfer){pr->a, pr->b, tp.c, tp.s, a2b, 0, 0, 1, 0};
	x[1] = (struct xfer){pr->b, pr->a, tp.s, tp.c, b2a, 0, 0, 2, 0};
	assert_true(run_xfers(pr, x, 2, pr->now + 600 * SEC));
	assert_int_equal(x[0].bad, 0);
	assert_int_equal(x[1].bad, 0);
	assert_int_equal(x[0].rcvd, a2b);
	assert_int_equal(x[1].rcvd, b2a);
	printf("transfer done at %.3f virtual s\n", (double)pr->now / 1e6);
	/* Graceful teardown: A closes first and ends in TIME_WAIT. */
	sync_now(pr);
	tcp_close(pr->a, tp.c);
	pair_settle(pr);
	assert_int_equal(tcp_state(tp.s), TCPS_CLOSE_WAIT);
	assert_int_equal(tcp_recv(pr->b, tp.s, buf, sizeof(buf), 0), 0);
	tcp_close(pr->b, tp.s);
	pair_settle(pr);
	assert_int_equal(tcp_conn_count(pr->b), 0);
	assert_int_equal(tcp_state(tp.c), TCPS_TIME_WAIT);
	assert_true(pair_run_until(pr, gone_a, pr, pr->now + 61 * SEC));
	sync_now(pr);
	tcp_close(pr->b, tp.l);
}

static void transfer_4mb(void **state)
{
	struct pair pr;
	(void)state;
	pair_init(&pr);
	bulk_both_ways(&pr, 4u << 20, 1u << 20);
	printf("4 MiB + 1 MiB, then 60 s of TIME_WAIT: %.3f virtual s, %llu+%llu frames\n",
	       (double)pr.now / 1e6,
	       (unsigned long long)pr.moved[0], (unsigned long long)pr.moved[1]);
	assert_int_equal(CNT(pr.a, tcp_retransmits), 0);
	pair_fini(&pr);
}

/* The send buffer grows with cwnd (twice it, as Linux's
 * tcp_sndbuf_expand) up to buf_max, so a bulk sender is not held to one
 * buffer per round trip; one set with SO_SNDBUF stays as set. */
static void sndbuf_follows_cwnd(void **state)
{
	for (int set = 0; set < 2; set++) {
		struct pair pr;
		struct tcb_pair tp;
		struct xfer x;
		int v = 0;
		(void)state;
		pair_init(&pr);
		open_conn(&pr, &tp, 8);
		if (set)
			assert_int_equal(tcp_setopt(pr.a, tp.c, TCP_OPT_SNDBUF, 40000), 0);
		x = (struct xfer){pr.a, pr.b, tp.c, tp.s, 4u << 20, 0, 0, 3, 0};
		assert_true(run_xfers(&pr, &x, 1, pr.now + 600 * SEC));
		assert_int_equal(x.bad, 0);
		assert_int_equal(tcp_getopt(pr.a, tp.c, TCP_OPT_SNDBUF, &v), 0);
		if (set) {
			assert_int_equal(v, 80000);
		} else {
			assert_true((uint32_t)v > tcp_conf(pr.a)->sndbuf);
			assert_true((uint32_t)v <= tcp_conf(pr.a)->buf_max);
			assert_true((uint64_t)v >= (uint64_t)tp.c->cwnd ||
			            (uint32_t)v == tcp_conf(pr.a)->buf_max);
		}
		pair_fini(&pr);
	}
}

/* Every 13th data segment from A is lost, every 17th ACK from B. */
static int lossy(struct pair *pr, int dir, const struct tseg *s, void *arg)
{
	static uint64_t n[2];
	(void)pr;
	(void)arg;
	if (dir == 0 && s->len)
		return ++n[0] % 13 == 0;
	if (dir == 1 && !s->len)
		return ++n[1] % 17 == 0;
	return 0;
}

static void transfer_under_loss(void **state)
{
	struct pair pr;
	(void)state;
	pair_init(&pr);
	pr.drop = lossy;
	bulk_both_ways(&pr, 2u << 20, 256u << 10);
	printf("2 MiB under loss: %llu dropped, %llu retransmits, %.3f virtual s\n",
	       (unsigned long long)(pr.dropped[0] + pr.dropped[1]),
	       (unsigned long long)CNT(pr.a, tcp_retransmits), (double)pr.now / 1e6);
	assert_true(pr.dropped[0] > 0);
	assert_true(CNT(pr.a, tcp_retransmits) >= pr.dropped[0] / 2);
	pair_fini(&pr);
}

/* Moves the frames queued on one side only (dir 0: A->B). */
static unsigned move_one_way(struct pair *pr, int dir)
{
	struct ust_stack *from = dir ? pr->b : pr->a, *to = dir ? pr->a : pr->b;
	struct pkt *p[64];
	unsigned n = stk_tx_take(from, p, 64);

	for (unsigned i = 0; i < n; i++) {
		struct pkt *q = pkt_alloc(&to->pool);
		memcpy(pkt_put(q, p[i]->len), p[i]->data, p[i]->len);
		pkt_free(p[i]);
		stk_rx_burst(to, &q, 1, pr->now);
	}
	return n;
}

/* Both connect at once: SYN_SENT -> SYN_RCVD -> ESTABLISHED on each. */
static void simultaneous_open(void **state)
{
	struct pair pr;
	struct tcb *a, *b;
	char buf[8];
	(void)state;
	pair_init(&pr);
	/* Resolve ARP first so both SYNs are in flight together. */
	sync_now(&pr);
	a = tcp_tcb_new(pr.a, NULL);
	b = tcp_tcb_new(pr.b, NULL);
	assert_int_equal(tcp_bind(pr.a, a, 0, 5000), 0);
	assert_int_equal(tcp_bind(pr.b, b, 0, 6000), 0);
	{
		/* A refused connection each way resolves ARP on both sides. */
		struct tcb *w1 = tcp_tcb_new(pr.a, NULL), *w2 = tcp_tcb_new(pr.b, NULL);
		tcp_connect(pr.a, w1, PEER_IP, 1);
		tcp_connect(pr.b, w2, US_IP, 1);
		pair_settle(&pr);
		assert_int_equal(tcp_take_error(w1), ECONNREFUSED);
		assert_int_equal(tcp_take_error(w2), ECONNREFUSED);
		tcp_close(pr.a, w1);
		tcp_close(pr.b, w2);
	}
	assert_int_equal(tcp_connect(pr.a, a, PEER_IP, 6000), 0);
	assert_int_equal(tcp_connect(pr.b, b, US_IP, 5000), 0);
	/* The SYNs cross: each side sees a SYN without ACK. */
	move_one_way(&pr, 0);
	assert_int_equal(tcp_state(b), TCPS_SYN_RCVD);
	move_one_way(&pr, 1);  /* B's SYN and SYN,ACK */
	assert_int_equal(tcp_state(a), TCPS_ESTABLISHED);
	pair_settle(&pr);
	assert_int_equal(tcp_state(a), TCPS_ESTABLISHED);
	assert_int_equal(tcp_state(b), TCPS_ESTABLISHED);
	sync_now(&pr);
	assert_int_equal(tcp_send(pr.a, a, "ping", 4, 0), 4);
	pair_settle(&pr);
	assert_int_equal(tcp_recv(pr.b, b, buf, sizeof(buf), 0), 4);
	assert_memory_equal(buf, "ping", 4);
	tcp_close(pr.a, a);
	tcp_close(pr.b, b);
	pair_advance(&pr, pr.now + 120 * SEC);
	assert_int_equal(tcp_conn_count(pr.a) + tcp_conn_count(pr.b), 0);
	pair_fini(&pr);
}

/* Simultaneous open, and A closes while in SYN_RCVD: its FIN waits for
 * the handshake to finish, then SYN_RCVD -> FIN_WAIT_1 -> FIN_WAIT_2. */
static void close_in_syn_rcvd(void **state)
{
	struct pair pr;
	struct tcb *a, *b, *w1, *w2;
	char buf[4];
	(void)state;
	pair_init(&pr);
	sync_now(&pr);
	w1 = tcp_tcb_new(pr.a, NULL);
	w2 = tcp_tcb_new(pr.b, NULL);
	tcp_connect(pr.a, w1, PEER_IP, 1);
	tcp_connect(pr.b, w2, US_IP, 1);
	pair_settle(&pr);
	tcp_close(pr.a, w1);
	tcp_close(pr.b, w2);
	a = tcp_tcb_new(pr.a, NULL);
	b = tcp_tcb_new(pr.b, NULL);
	assert_int_equal(tcp_bind(pr.a, a, 0, 5000), 0);
	assert_int_equal(tcp_bind(pr.b, b, 0, 6000), 0);
	assert_int_equal(tcp_connect(pr.a, a, PEER_IP, 6000), 0);
	assert_int_equal(tcp_connect(pr.b, b, US_IP, 5000), 0);
	/* Only B's SYN reaches A: A goes SYN_SENT -> SYN_RCVD. */
	{
		struct pkt *p;
		assert_int_equal(stk_tx_take(pr.a, &p, 1), 1);
		pkt_free(p);  /* A's SYN is lost */
	}
	move_one_way(&pr, 1);
	assert_int_equal(tcp_state(a), TCPS_SYN_RCVD);
	tcp_shutdown(pr.a, a, SHUT_WR);
	assert_int_equal(tcp_state(a), TCPS_SYN_RCVD);  /* FIN queued */
	pair_settle(&pr);
	assert_int_equal(tcp_state(a), TCPS_FIN_WAIT_2);
	assert_int_equal(tcp_state(b), TCPS_CLOSE_WAIT);
	sync_now(&pr);
	assert_int_equal(tcp_recv(pr.b, b, buf, sizeof(buf), 0), 0);
	tcp_close(pr.b, b);
	pair_settle(&pr);
	assert_int_equal(tcp_state(a), TCPS_TIME_WAIT);
	tcp_close(pr.a, a);
	pair_advance(&pr, pr.now + 61 * SEC);
	assert_int_equal(tcp_conn_count(pr.a) + tcp_conn_count(pr.b), 0);
	pair_fini(&pr);
}

/* Both close at once: FIN_WAIT_1 -> CLOSING -> TIME_WAIT on each. */
static void simultaneous_close(void **state)
{
	struct pair pr;
	struct tcb_pair tp;
	(void)state;
	pair_init(&pr);
	open_conn(&pr, &tp, 8);
	sync_now(&pr);
	tcp_close(pr.a, tp.c);
	tcp_close(pr.b, tp.s);
	assert_int_equal(tcp_state(tp.c), TCPS_FIN_WAIT_1);
	assert_int_equal(tcp_state(tp.s), TCPS_FIN_WAIT_1);
	move_one_way(&pr, 0);
	assert_int_equal(tcp_state(tp.s), TCPS_CLOSING);
	move_one_way(&pr, 1);  /* B's FIN then B's ACK of A's FIN */
	assert_int_equal(tcp_state(tp.c), TCPS_TIME_WAIT);
	move_one_way(&pr, 0);
	assert_int_equal(tcp_state(tp.s), TCPS_TIME_WAIT);
	pair_settle(&pr);
	assert_int_equal(tcp_conn_count(pr.a), 1);
	assert_int_equal(tcp_conn_count(pr.b), 1);
	pair_advance(&pr, pr.now + 60 * SEC);
	assert_int_equal(tcp_conn_count(pr.a) + tcp_conn_count(pr.b), 0);
	tcp_close(pr.b, tp.l);
	pair_fini(&pr);
}

/* shutdown(SHUT_WR) on A: B reads EOF and sits in CLOSE_WAIT while it
 * still sends; A in FIN_WAIT_2 receives it all; B's close ends it. */
static void half_close(void **state)
{
	struct pair pr;
	struct tcb_pair tp;
	struct xfer x;
	char buf[8];
	(void)state;
	pair_init(&pr);
	open_conn(&pr, &tp, 8);
	sync_now(&pr);
	assert_int_equal(tcp_shutdown(pr.a, tp.c, SHUT_WR), 0);
	assert_int_equal(tcp_send(pr.a, tp.c, "x", 1, 0), -EPIPE);
	pair_settle(&pr);
	assert_int_equal(tcp_state(tp.c), TCPS_FIN_WAIT_2);
	assert_int_equal(tcp_state(tp.s), TCPS_CLOSE_WAIT);
	assert_int_equal(tcp_recv(pr.b, tp.s, buf, sizeof(buf), 0), 0);
	assert_true(tcp_poll(tp.s) & SOCK_EV_RDHUP);
	x = (struct xfer){pr.b, pr.a, tp.s, tp.c, 300000, 0, 0, 3, 0};
	assert_true(run_xfers(&pr, &x, 1, pr.now + 60 * SEC));
	assert_int_equal(x.bad, 0);
	/* CLOSE_WAIT holds as long as B does not close. */
	pair_advance(&pr, pr.now + 600 * SEC);
	assert_int_equal(tcp_state(tp.s), TCPS_CLOSE_WAIT);
	assert_int_equal(tcp_state(tp.c), TCPS_FIN_WAIT_2);
	sync_now(&pr);
	tcp_close(pr.b, tp.s);
	assert_int_equal(tcp_state(tp.s), TCPS_LAST_ACK);
	pair_settle(&pr);
	assert_int_equal(tcp_state(tp.c), TCPS_TIME_WAIT);
	assert_int_equal(tcp_conn_count(pr.b), 0);
	assert_int_equal(tcp_recv(pr.a, tp.c, buf, sizeof(buf), 0), 0);
	tcp_close(pr.a, tp.c);
	tcp_close(pr.b, tp.l);
	pair_fini(&pr);
}

static void refused(void **state)
{
	struct pair pr;
	struct tcb *c;
	(void)state;
	pair_init(&pr);
	sync_now(&pr);
	c = tcp_tcb_new(pr.a, &pr);  /* an app pointer: events are reported */
	assert_int_equal(tcp_connect(pr.a, c, PEER_IP, 81), 0);
	assert_true(pair_run_until(&pr, not_syn_sent, c, 10 * SEC));
	assert_int_equal(tcp_state(c), TCPS_CLOSED);
	assert_int_equal(tcp_take_error(c), ECONNREFUSED);
	assert_true(pr.events & SOCK_EV_ERR);
	tcp_close(pr.a, c);
	pair_fini(&pr);
}

/* Backlog 1 and five clients at once: the queues overflow (counted), and
 * the clients' retransmissions complete every connection as the server
 * accepts; none is lost. */
static void backlog_overflow(void **state)
{
	struct pair pr;
	struct tcb *l, *c[5], *s[5];
	struct tcp_listen_info li;
	int accepted = 0;
	(void)state;
	pair_init(&pr);
	sync_now(&pr);
	l = tcp_tcb_new(pr.b, NULL);
	assert_int_equal(tcp_bind(pr.b, l, 0, 80), 0);
	assert_int_equal(tcp_listen(pr.b, l, 1), 0);
	for (int i = 0; i < 5; i++) {
		c[i] = tcp_tcb_new(pr.a, NULL);
		assert_int_equal(tcp_connect(pr.a, c[i], PEER_IP, 80), 0);
	}
	pair_advance(&pr, pr.now + 2 * SEC);
	tcp_listen_info(l, &li);
	assert_int_equal(li.accept_queue, 2);
	assert_true(CNT(pr.b, drop_tcp_syn_queue_full) + CNT(pr.b, drop_tcp_accept_queue_full) +
	            CNT(pr.b, tcp_syncookies_sent) > 0);
	while (accepted < 5 && pr.now < 300 * SEC) {
		struct tcb *t;
		sync_now(&pr);
		while (accepted < 5 && (t = tcp_accept(pr.b, l)))
			s[accepted++] = t;
		if (accepted == 5 || !pair_step(&pr, 300 * SEC))
			break;
	}
	assert_int_equal(accepted, 5);
	sync_now(&pr);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(tcp_state(c[i]), TCPS_ESTABLISHED);
		assert_int_equal(tcp_send(pr.a, c[i], "k", 1, 0), 1);
	}
	pair_settle(&pr);
	for (int i = 0; i < 5; i++) {
		char b;
		assert_int_equal(tcp_recv(pr.b, s[i], &b, 1, 0), 1);
	}
	printf("backlog 1, 5 clients: syn drops %llu, accept drops %llu, all accepted at %.1f s\n",
	       (unsigned long long)CNT(pr.b, drop_tcp_syn_queue_full),
	       (unsigned long long)CNT(pr.b, drop_tcp_accept_queue_full), (double)pr.now / 1e6);
	pair_fini(&pr);
}

static int drop_all_b2a(struct pair *pr, int dir, const struct tseg *s, void *arg)
{
	(void)pr;
	(void)s;
	(void)arg;
	return dir == 1;
}

static int closed_c(void *arg)
{
	return tcp_state((struct tcb *)arg) == TCPS_CLOSED;
}

/* Keepalive: idle 10 s, 1 s interval, 3 probes; the peer goes silent. */
static void keepalive_timeout(void **state)
{
	struct pair pr;
	struct tcb_pair tp;
	uint64_t t0;
	(void)state;
	pair_init(&pr);
	open_conn(&pr, &tp, 8);
	sync_now(&pr);
	assert_int_equal(tcp_setopt(pr.a, tp.c, TCP_OPT_KEEPIDLE, 10), 0);
	assert_int_equal(tcp_setopt(pr.a, tp.c, TCP_OPT_KEEPINTVL, 1), 0);
	assert_int_equal(tcp_setopt(pr.a, tp.c, TCP_OPT_KEEPCNT, 3), 0);
	assert_int_equal(tcp_setopt(pr.a, tp.c, TCP_OPT_KEEPALIVE, 1), 0);
	t0 = pr.now;
	/* While the peer answers, probes keep the connection up. */
	pair_advance(&pr, t0 + 100 * SEC);
	assert_int_equal(tcp_state(tp.c), TCPS_ESTABLISHED);
	assert_true(pr.moved[0] > 5);
	pr.drop = drop_all_b2a;
	t0 = pr.now;
	assert_true(pair_run_until(&pr, closed_c, tp.c, t0 + 60 * SEC));
	assert_int_equal(tcp_take_error(tp.c), ETIMEDOUT);
	printf("keepalive gave up after %.1f s of silence\n", (double)(pr.now - t0) / 1e6);
	assert_true(pr.now - t0 <= 14 * SEC);
	tcp_close(pr.a, tp.c);
	tcp_close(pr.b, tp.s);
	tcp_close(pr.b, tp.l);
	pair_fini(&pr);
}

/* Data never acknowledged: retransmissions back off and end in ETIMEDOUT. */
static void retransmit_gives_up(void **state)
{
	struct pair pr;
	struct tcb_pair tp;
	uint64_t t0;
	(void)state;
	pair_init(&pr);
	open_conn(&pr, &tp, 8);
	pr.drop = drop_all_b2a;
	sync_now(&pr);
	t0 = pr.now;
	assert_int_equal(tcp_send(pr.a, tp.c, "lost", 4, 0), 4);
	assert_true(pair_run_until(&pr, closed_c, tp.c, t0 + 3600 * SEC));
	assert_int_equal(tcp_take_error(tp.c), ETIMEDOUT);
	assert_int_equal(CNT(pr.a, tcp_retransmits), 15);
	printf("gave up after 15 retransmissions, %.1f s\n", (double)(pr.now - t0) / 1e6);
	tcp_close(pr.a, tp.c);
	tcp_close(pr.b, tp.s);
	tcp_close(pr.b, tp.l);
	pair_fini(&pr);
}

/* A small receive buffer that is not read: the sender stops at a zero
 * window, probes, and resumes when the reader drains it. */
static void zero_window_recovers(void **state)
{
	struct pair pr;
	struct tcb_pair tp;
	struct xfer x;
	(void)state;
	pair_init(&pr);
	sync_now(&pr);
	/* The listener's buffer is inherited, so the first window is small. */
	tp.l = tcp_tcb_new(pr.b, NULL);
	tcp_setopt(pr.b, tp.l, TCP_OPT_RCVBUF, 4096);
	assert_int_equal(tcp_bind(pr.b, tp.l, 0, 80), 0);
	assert_int_equal(tcp_listen(pr.b, tp.l, 8), 0);
	tp.c = tcp_tcb_new(pr.a, NULL);
	assert_int_equal(tcp_connect(pr.a, tp.c, PEER_IP, 80), 0);
	assert_true(pair_run_until(&pr, is_established, tp.c, pr.now + 10 * SEC));
	tp.s = tcp_accept(pr.b, tp.l);
	assert_non_null(tp.s);
	x = (struct xfer){pr.a, pr.b, tp.c, tp.s, 200000, 0, 0, 5, 0};
	/* Send without reading for a while. */
	for (int i = 0; i < 50; i++) {
		sync_now(&pr);
		while (x.sent < x.total) {
			uint8_t b[4096];
			for (size_t k = 0; k < sizeof(b); k++)
				b[k] = pattern(x.sent + k, x.salt);
			long n = tcp_send(pr.a, tp.c, b, sizeof(b), 0);
			if (n <= 0)
				break;
			x.sent += (uint64_t)n;
		}
		if (!pair_step(&pr, pr.now + 100 * SEC))
			break;
	}
	printf("unread: %u bytes held, %llu sent, %llu probes-time s\n", tcp_rx_bytes(tp.s),
	       (unsigned long long)x.sent, (unsigned long long)(pr.now / SEC));
	assert_true(tcp_rx_bytes(tp.s) <= 8192);
	assert_true(tcp_rx_bytes(tp.s) > 0);
	assert_true(x.sent < x.total);
	assert_true(run_xfers(&pr, &x, 1, pr.now + 3600 * SEC));
	assert_int_equal(x.bad, 0);
	tcp_close(pr.a, tp.c);
	tcp_close(pr.b, tp.s);
	tcp_close(pr.b, tp.l);
	pair_fini(&pr);
}

/* Ten thousand concurrent connections to one port: the table grows while
 * connections keep arriving, every one echoes its byte, all close, and
 * TIME_WAIT empties both tables. */
static void ten_thousand(void **state)
{
	enum { N = 10000, BATCH = 1000 };
	struct pair pr;
	struct tcb_pair tp;
	static struct tcb *c[N], *s[N];
	int na = 0, ok = 0;
	(void)state;
	pair_init(&pr);
	open_conn(&pr, &tp, 4096);  /* also resolves ARP */
	for (int b = 0; b < N; b += BATCH) {
		sync_now(&pr);
		for (int i = b; i < b + BATCH; i++) {
			c[i] = tcp_tcb_new(pr.a, NULL);
			assert_int_equal(tcp_connect(pr.a, c[i], PEER_IP, 80), 0);
		}
		pair_settle(&pr);
		struct tcb *t;
		while (na < N && (t = tcp_accept(pr.b, tp.l)))
			s[na++] = t;
	}
	assert_int_equal(na, N);
	assert_int_equal(tcp_conn_count(pr.a), N + 1);
	assert_int_equal(tcp_conn_count(pr.b), N + 1);
	/* In batches: every byte received waits in a packet buffer until it
	 * is read, and the pools hold 4096 buffers each. */
	for (int b = 0; b < N; b += BATCH) {
		sync_now(&pr);
		for (int i = b; i < b + BATCH; i++) {
			uint8_t v = (uint8_t)i;
			assert_int_equal(tcp_send(pr.a, c[i], &v, 1, 0), 1);
		}
		pair_settle(&pr);
		sync_now(&pr);
		for (int i = b; i < b + BATCH; i++) {
			uint8_t v;
			if (tcp_recv(pr.b, s[i], &v, 1, 0) == 1 && tcp_send(pr.b, s[i], &v, 1, 0) == 1)
				ok++;
		}
		pair_settle(&pr);
		sync_now(&pr);
		for (int i = b; i < b + BATCH; i++) {
			uint8_t v = 0;
			assert_int_equal(tcp_recv(pr.a, c[i], &v, 1, 0), 1);
			assert_int_equal(v, (uint8_t)i);
		}
	}
	assert_int_equal(ok, N);
	for (int b = 0; b < N; b += BATCH) {
		sync_now(&pr);
		for (int i = b; i < b + BATCH; i++)
			tcp_close(pr.a, c[i]);
		pair_settle(&pr);
	}
	for (int b = 0; b < N; b += BATCH) {
		sync_now(&pr);
		for (int i = b; i < b + BATCH; i++)
			tcp_close(pr.b, s[i]);
		pair_settle(&pr);
	}
	assert_int_equal(tcp_conn_count(pr.b), 1);
	assert_int_equal(tcp_conn_count(pr.a), N + 1);  /* TIME_WAIT */
	printf("10000 connections: table %u buckets, %llu frames, syn drops %llu\n",
	       pr.a->tcp->ct.cur_mask + 1, (unsigned long long)(pr.moved[0] + pr.moved[1]),
	       (unsigned long long)CNT(pr.b, drop_tcp_syn_queue_full));
	pair_advance(&pr, pr.now + 61 * SEC);
	assert_int_equal(tcp_conn_count(pr.a), 1);
	sync_now(&pr);
	tcp_close(pr.a, tp.c);
	tcp_close(pr.b, tp.s);
	tcp_close(pr.b, tp.l);
	pair_settle(&pr);
	pair_fini(&pr);
}

/* --- chaos: loss, duplication and reordering from a seeded generator --- */

struct chaos {
	uint64_t rng;
	struct pkt *held[2];  /* a frame held back, delivered after the next */
	uint64_t lost, duped, reordered;
};

static uint32_t chaos_rand(struct chaos *ch)
{
	ch->rng ^= ch->rng << 13;
	ch->rng ^= ch->rng >> 7;
	ch->rng ^= ch->rng << 17;
	return (uint32_t)(ch->rng >> 32);
}

static void deliver(struct pair *pr, struct ust_stack *to, const struct pkt *p)
{
	struct pkt *q = pkt_alloc(&to->pool);
	assert_non_null(q);
	memcpy(pkt_put(q, p->len), p->data, p->len);
	stk_rx_burst(to, &q, 1, pr->now);
}

/* One pass in each direction through the chaos; frames moved. */
static unsigned chaos_shuttle(struct pair *pr, struct chaos *ch)
{
	unsigned moved = 0;

	for (int dir = 0; dir < 2; dir++) {
		struct ust_stack *from = dir ? pr->b : pr->a, *to = dir ? pr->a : pr->b;
		struct pkt *p[64];
		unsigned n = stk_tx_take(from, p, 64);

		for (unsigned i = 0; i < n; i++) {
			uint32_t r = chaos_rand(ch) % 1000;
			moved++;
			if (r < 30) {                      /* 3% lost */
				ch->lost++;
				pkt_free(p[i]);
				continue;
			}
			if (r < 60 && !ch->held[dir]) {    /* 3% held behind the next */
				ch->reordered++;
				ch->held[dir] = p[i];
				continue;
			}
			deliver(pr, to, p[i]);
			if (r < 80) {                      /* 2% twice */
				ch->duped++;
				deliver(pr, to, p[i]);
			}
			pkt_free(p[i]);
			if (ch->held[dir]) {
				deliver(pr, to, ch->held[dir]);
				pkt_free(ch->held[dir]);
				ch->held[dir] = NULL;
			}
		}
	}
	return moved;
}

static void chaos_flush(struct pair *pr, struct chaos *ch)
{
	for (int dir = 0; dir < 2; dir++)
		if (ch->held[dir]) {
			deliver(pr, dir ? pr->a : pr->b, ch->held[dir]);
			pkt_free(ch->held[dir]);
			ch->held[dir] = NULL;
		}
}

static void chaos_transfer(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 20; seed++) {
		struct pair pr;
		struct tcb_pair tp;
		struct chaos ch = {.rng = seed * 0x9e3779b97f4a7c15ull};
		struct xfer x[2];
		int done = 0;

		pair_init(&pr);
		open_conn(&pr, &tp, 8);
		x[0] = (struct xfer){pr.a, pr.b, tp.c, tp.s, 1u << 20, 0, 0, 7, 0};
		x[1] = (struct xfer){pr.b, pr.a, tp.s, tp.c, 300000, 0, 0, 9, 0};
		while (!done && pr.now < 3600 * SEC) {
			sync_now(&pr);
			xfer_pump(&x[0]);
			xfer_pump(&x[1]);
			done = x[0].rcvd == x[0].total && x[1].rcvd == x[1].total;
			if (!done && !chaos_shuttle(&pr, &ch)) {
				uint64_t da, db, d;
				chaos_flush(&pr, &ch);
				sync_now(&pr);
				xfer_pump(&x[0]);
				xfer_pump(&x[1]);
				if (chaos_shuttle(&pr, &ch))
					continue;
				da = stk_next_deadline(pr.a);
				db = stk_next_deadline(pr.b);
				d = da < db ? da : db;
				if (d == TIMER_NEVER)
					break;
				if (d > pr.now)
					pr.now = d;
				stk_run_timers(pr.a, pr.now);
				stk_run_timers(pr.b, pr.now);
			}
		}
		if (!done) {
			struct tcb *t[2] = {tp.c, tp.s};
			for (int k = 0; k < 2; k++)
				printf("stall: now %.1f st %d una %u nxt %u max %u sb %u wnd %u cwnd %u rcv_nxt %u adv %u rb %u ooo %u tk %d tmain %llu\n",
				       (double)pr.now / 1e6, t[k]->state, t[k]->snd_una, t[k]->snd_nxt, t[k]->snd_max, tcp_ring_len(t[k]->sb), t[k]->snd_wnd, t[k]->cwnd, t[k]->rcv_nxt - t[k]->irs, t[k]->rcv_adv - t[k]->rcv_nxt, tcp_ring_len(t[k]->rb), tcp_ooo_count(t[k]), t[k]->tkind, (unsigned long long)t[k]->t_main);
			printf("x0 sent %llu rcvd %llu x1 sent %llu rcvd %llu\n", (unsigned long long)x[0].sent, (unsigned long long)x[0].rcvd, (unsigned long long)x[1].sent, (unsigned long long)x[1].rcvd);
		}
		assert_true(done);
		assert_int_equal(x[0].bad + x[1].bad, 0);
		printf("seed %llu: 1 MiB + 300 kB exact in %.1f virtual s; lost %llu, duplicated %llu, "
		       "reordered %llu\n", (unsigned long long)seed, (double)pr.now / 1e6,
		       (unsigned long long)ch.lost, (unsigned long long)ch.duped,
		       (unsigned long long)ch.reordered);
		chaos_flush(&pr, &ch);
		sync_now(&pr);
		tcp_close(pr.a, tp.c);
		tcp_close(pr.b, tp.s);
		tcp_close(pr.b, tp.l);
		pair_settle(&pr);
		pair_fini(&pr);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(transfer_4mb),
		cmocka_unit_test(sndbuf_follows_cwnd),
		cmocka_unit_test(transfer_under_loss),
		cmocka_unit_test(simultaneous_open),
		cmocka_unit_test(close_in_syn_rcvd),
		cmocka_unit_test(simultaneous_close),
		cmocka_unit_test(half_close),
		cmocka_unit_test(refused),
		cmocka_unit_test(backlog_overflow),
		cmocka_unit_test(keepalive_timeout),
		cmocka_unit_test(retransmit_gives_up),
		cmocka_unit_test(zero_window_recovers),
		cmocka_unit_test(ten_thousand),
		cmocka_unit_test(chaos_transfer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
