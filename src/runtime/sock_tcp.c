/* SOCK_STREAM: the TCP side of the socket calls. socket.c owns the fd
 * table and dispatches on s->type; here the calls drive the core's TCB
 * (src/tcp/tcp.h) under the stack mutex, with stk->now set first, and sleep
 * on the socket's wait queue bucket when they must block. The core reports
 * every readiness change through stk_sock_event (rt_sock_event), which wakes
 * the bucket once per stack pass; each wait below re-reads the TCB (state,
 * queue lengths, pending error) after waking, so a spurious or shared
 * wake-up costs a recheck and nothing else.
 *
 * Linux's socket-level state (SS_UNCONNECTED / SS_CONNECTING / SS_CONNECTED,
 * in __inet_stream_connect) is s->connecting / s->connected: it decides what
 * a second connect() answers, apart from the TCB's state. */
#include "runtime/sock.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

/* The core with its clock set, as tcp.h asks of every call. Locked. */
static struct ust_stack *core(struct rt_sock *s)
{
	struct ust_stack *stk = sock_rt(s)->stk;

	stk->now = rt_now_us();
	return stk;
}

/* After a wait: whether the socket was closed (or its stack stopped). */
static bool gone(const struct rt_sock *s)
{
	return s->closed || !sock_rt(s)->stk || !s->u.tcb;
}

static bool syn_state(int st)
{
	return st == TCPS_SYN_SENT || st == TCPS_SYN_RCVD;
}

int rt_tcp_create(struct rt_sock *s, struct tcb *adopt)
{
	if (adopt) {
		s->u.tcb = adopt;
		tcp_set_app(adopt, s);
		return 0;
	}
	s->u.tcb = tcp_tcb_new(sock_rt(s)->stk, s);
	return s->u.tcb ? 0 : ENOMEM;
}

/* close(2): the core takes the TCB over (FIN, or RST for unread data or
 * SO_LINGER 0) and keeps it in its tables until it is done. */
void rt_tcp_release(struct rt_sock *s)
{
	struct tcb *t = s->u.tcb;

	s->u.tcb = NULL;
	if (!t || !sock_rt(s)->stk)
		return;  /* a stopped stack freed its TCBs (tcp_fini) */
	tcp_close(core(s), t);
	rt_kick(sock_rt(s));
}

void rt_tcp_linger(struct rt_sock *s)
{
	uint64_t deadline;
	int st;

	if (!s->linger_on || rt_sock_linger_s(s) <= 0 || s->nonblock || !s->u.tcb)
		return;
	st = tcp_state(s->u.tcb);
	/* Unread data makes close reset (RFC 2525 2.17): nothing to wait for. */
	if ((st != TCPS_ESTABLISHED && st != TCPS_CLOSE_WAIT) || tcp_rx_bytes(s->u.tcb))
		return;
	tcp_shutdown(core(s), s->u.tcb, SHUT_WR);  /* the FIN, after the data */
	rt_kick(sock_rt(s));
	deadline = rt_now_us() + (uint64_t)rt_sock_linger_s(s) * 1000000u;
	while (!gone(s)) {
		st = tcp_state(s->u.tcb);
		if (st != TCPS_FIN_WAIT_1 && st != TCPS_CLOSING && st != TCPS_LAST_ACK)
			break;
		if (rt_sock_wait(s, deadline))
			break;
	}
}

int rt_tcp_bind(struct rt_sock *s, uint32_t ip, uint16_t port)
{
	struct ust_stack *stk = core(s);
	int rc;

	/* __inet_bind: the address is checked before the socket's state. */
	if (ip && !ipv4_is_local(stk, ip))
		return EADDRNOTAVAIL;
	rc = tcp_bind(stk, s->u.tcb, ip, port);
	if (rc < 0)
		return -rc;
	s->bound = true;
	return 0;
}

/* tcp_v4_connect routes first (ip_route_connect): with no route to the
 * network, connect fails at once with ENETUNREACH instead of retrying a
 * SYN that can never leave. The routes are the interface's subnet and the
 * default gateway (ipv4.c's ip_route). */
static bool routable(const struct ust_stack *stk, uint32_t ip)
{
	const struct stk_config *c = &stk->cfg;

	return c->gateway || (ip & c->netmask) == (c->ip & c->netmask) || ip == 0xffffffffu ||
	       ipv4_is_local(stk, ip);
}

/* __inet_stream_connect, with the TCB's state standing for sk_state. */
int rt_tcp_connect(struct rt_sock *s, uint32_t ip, uint16_t port)
{
	uint64_t deadline;
	int err, rc;

	if (s->connected)
		return EISCONN;
	if (s->connecting) {
		err = EALREADY;
	} else {
		if (!routable(sock_rt(s)->stk, ip))
			return ENETUNREACH;
		rc = tcp_connect(core(s), s->u.tcb, ip, port);
		if (rc < 0)
			return -rc;
		rt_kick(sock_rt(s));  /* the SYN is queued; its timer is armed */
		s->connecting = true;
		s->bound = true;
		err = EINPROGRESS;
	}
	if (syn_state(tcp_state(s->u.tcb))) {
		if (s->nonblock)
			return err;
		/* SO_SNDTIMEO bounds a blocking connect; on expiry Linux answers
		 * EINPROGRESS and the handshake goes on. */
		deadline = rt_deadline(rt_sock_sndtimeo(s));
		while (syn_state(tcp_state(s->u.tcb))) {
			if (rt_sock_wait(s, deadline))
				return err;
			if (gone(s))
				return EBADF;
		}
	}
	s->connecting = false;
	if (tcp_state(s->u.tcb) == TCPS_CLOSED) {
		/* RST (ECONNREFUSED), timeout (ETIMEDOUT), ICMP unreachable. */
		err = tcp_take_error(s->u.tcb);
		return err ? err : ECONNABORTED;
	}
	s->connected = true;
	return 0;
}

int rt_tcp_listen(struct rt_sock *s, int backlog)
{
	int rc;

	/* inet_listen: only an unconnected socket listens. */
	if (s->connected || s->connecting)
		return EINVAL;
	rc = tcp_listen(core(s), s->u.tcb, backlog);
	if (rc < 0)
		return -rc;
	s->bound = true;
	return 0;
}

/* The next connection of listener s, waiting for one when s blocks. Locked. */
static int take_conn(struct rt_sock *s, struct tcb **c)
{
	uint64_t deadline = rt_deadline(rt_sock_rcvtimeo(s));
	int err;

	for (;;) {
		if (tcp_state(s->u.tcb) != TCPS_LISTEN)
			return EINVAL;  /* not listening, or shut down meanwhile */
		*c = tcp_accept(core(s), s->u.tcb);
		if (*c)
			return 0;
		if (s->nonblock)
			return EAGAIN;
		err = rt_sock_wait(s, deadline);
		if (err)
			return err;
		if (gone(s))
			return EBADF;
	}
}

int rt_tcp_accept(struct rt_sock *s, struct sockaddr *addr, socklen_t *addrlen, int flags)
{
	struct ust_runtime *rt = sock_rt(s);
	struct rt_sock *n = NULL;
	struct tcb *c = NULL;
	uint32_t ip = 0;
	uint16_t port = 0;
	int err, fd;

	if (addr && !addrlen)
		return rt_fail(EFAULT);
	if (addr && (int)*addrlen < 0)
		return rt_fail(EINVAL);
	err = rt_sock_lock(s);
	if (err)
		return rt_fail(err);
	err = take_conn(s, &c);
	if (!err) {
		n = rt_sock_new(rt, SOCK_STREAM, flags, c, &err);
		if (!n) {
			tcp_close(core(s), c);  /* a connection we cannot hold: RST */
			rt_kick(rt);
		}
	}
	if (n) {
		/* sk_clone_lock copies the socket's options; O_NONBLOCK and
		 * FD_CLOEXEC are the file's and come from accept4's flags only. */
		n->reuseaddr = s->reuseaddr;
		n->reuseport = s->reuseport;
		n->keepalive = s->keepalive;
		n->linger_on = s->linger_on;
		n->bound = n->connected = true;
		tcp_peer_addr(c, &ip, &port);
		if (s->opt && rt_sock_opts_get(n))
			*n->opt = *s->opt;
	}
	rt_sock_unlock(s);
	if (!n)
		return rt_fail(err);
	fd = s->opt && !n->opt ? -ENOMEM : rt_sock_install(n);
	if (fd < 0) {
		pthread_mutex_lock(&rt->lock);
		n->closed = true;
		rt_tcp_release(n);
		pthread_mutex_unlock(&rt->lock);
		rt_sock_put(n);
		return rt_fail(-fd);
	}
	if (addr)
		rt_put_sin(addr, addrlen, ip, port);
	return fd;
}

int rt_tcp_shutdown(struct rt_sock *s, int how)
{
	int rc = tcp_shutdown(core(s), s->u.tcb, how);

	rt_kick(sock_rt(s));  /* a FIN may be queued */
	if (how != SHUT_WR)
		s->shut_rd = true;
	if (how != SHUT_RD)
		s->shut_wr = true;
	/* A connect in progress is dropped: the socket is unconnected again. */
	if (s->connecting && tcp_state(s->u.tcb) == TCPS_CLOSED)
		s->connecting = false;
	if (s->waiters)
		rt_wake(sock_rt(s), s->idx);
	return rc < 0 ? -rc : 0;
}

int rt_tcp_name(struct rt_sock *s, bool peer, uint32_t *ip, uint16_t *port)
{
	int st = tcp_state(s->u.tcb);

	if (!peer) {
		tcp_local_addr(s->u.tcb, ip, port);
		return 0;
	}
	/* inet_getname: no peer before the handshake's SYN-ACK or after. */
	tcp_peer_addr(s->u.tcb, ip, port);
	if (!*port || st == TCPS_CLOSED || st == TCPS_SYN_SENT || st == TCPS_LISTEN)
		return ENOTCONN;
	return 0;
}

uint32_t rt_tcp_poll(struct rt_sock *s)
{
	return s->u.tcb ? tcp_poll(s->u.tcb) : 0;
}

/* --- data --- */

static void sigpipe(int err, int flags)
{
	/* Linux's sk_stream_error: EPIPE raises SIGPIPE at the calling thread
	 * unless MSG_NOSIGNAL. Raised with the lock dropped, so a handler may
	 * make socket calls. */
	if (err == EPIPE && !(flags & MSG_NOSIGNAL))
		raise(SIGPIPE);
}

/* A blocking send queues everything (tcp_sendmsg waits for room, segment
 * after segment); it returns short only when an error or SO_SNDTIMEO stops
 * it after some bytes went in, and then it reports those bytes. */
ssize_t rt_tcp_send(struct rt_sock *s, const struct iovec *iov, int iovcnt, int flags)
{
	uint64_t deadline;
	size_t done = 0, off = 0;
	int i = 0, err = 0;
	bool nonblock;
	long n;

	err = rt_sock_lock(s);
	if (err)
		return rt_fail(err);
	nonblock = s->nonblock || (flags & MSG_DONTWAIT);
	deadline = rt_deadline(rt_sock_sndtimeo(s));
	for (;;) {
		while (i < iovcnt && off == iov[i].iov_len) {
			i++;
			off = 0;
		}
		if (i == iovcnt && done)
			break;
		/* Nothing at all to send still reports the socket's errors. */
		n = i == iovcnt ? tcp_send(core(s), s->u.tcb, "", 0, flags)
		                : tcp_send(core(s), s->u.tcb, (const char *)iov[i].iov_base + off,
		                           iov[i].iov_len - off, flags);
		if (n >= 0) {
			rt_kick(sock_rt(s));
			done += (size_t)n;
			off += (size_t)n;
			if (i == iovcnt)
				break;
			continue;
		}
		if (n != -EAGAIN) {
			err = (int)-n;
			break;
		}
		if (nonblock) {
			err = EAGAIN;
			break;
		}
		err = rt_sock_wait(s, deadline);
		if (!err && gone(s))
			err = EBADF;
		if (err)
			break;
	}
	rt_sock_unlock(s);
	if (done)
		return (ssize_t)done;
	if (err) {
		sigpipe(err, flags);
		return rt_fail(err);
	}
	return 0;
}

/* MSG_PEEK: the first bytes, copied out without consuming them; with
 * MSG_WAITALL it waits until the whole length is there (or EOF/error). */
static long peek_into(struct rt_sock *s, const struct iovec *iov, int iovcnt, size_t total)
{
	uint32_t avail = tcp_rx_bytes(s->u.tcb);
	size_t want = avail < total ? avail : total, left;
	char *buf, *p;
	long n;

	if (iovcnt == 1 || want <= iov[0].iov_len)
		return tcp_recv(core(s), s->u.tcb, iov[0].iov_base, want, MSG_PEEK);
	buf = malloc(want);
	if (!buf)
		return -ENOBUFS;
	n = tcp_recv(core(s), s->u.tcb, buf, want, MSG_PEEK);
	p = buf;
	left = n > 0 ? (size_t)n : 0;
	for (int i = 0; i < iovcnt && left; i++) {
		size_t k = iov[i].iov_len < left ? iov[i].iov_len : left;

		memcpy(iov[i].iov_base, p, k);
		p += k;
		left -= k;
	}
	free(buf);
	return n;
}

/* Returns bytes read; 0 at EOF. Bytes already read are returned before a
 * pending error, which the next call reports (tcp_recvmsg). */
ssize_t rt_tcp_recv(struct rt_sock *s, const struct iovec *iov, int iovcnt, int flags)
{
	bool nonblock;
	bool waitall = (flags & MSG_WAITALL) != 0, peek = (flags & MSG_PEEK) != 0;
	uint64_t deadline;
	size_t total = 0, done = 0, off = 0;
	int i = 0, err = 0;
	uint32_t ev;
	char dummy;
	long n;

	for (int k = 0; k < iovcnt; k++)
		total += iov[k].iov_len;
	err = rt_sock_lock(s);
	if (err)
		return rt_fail(err);
	nonblock = s->nonblock || (flags & MSG_DONTWAIT);
	deadline = rt_deadline(rt_sock_rcvtimeo(s));
	for (;;) {
		while (i < iovcnt && off == iov[i].iov_len) {
			i++;
			off = 0;
		}
		if (i == iovcnt && (done || !total))
			break;
		if (tcp_rx_bytes(s->u.tcb)) {
			ev = tcp_poll(s->u.tcb);
			if (peek && (!waitall || tcp_rx_bytes(s->u.tcb) >= total ||
			             (ev & (SOCK_EV_RDHUP | SOCK_EV_ERR | SOCK_EV_HUP)))) {
				n = peek_into(s, iov, iovcnt, total);
				if (n < 0)
					err = (int)-n;
				else
					done = (size_t)n;
				break;
			}
			if (!peek) {
				n = tcp_recv(core(s), s->u.tcb, (char *)iov[i].iov_base + off,
				             iov[i].iov_len - off, 0);
				if (n < 0) {
					err = (int)-n;
					break;
				}
				/* The read may open the window (an ACK to send) or
				 * free buffers a starved stack thread waits for. */
				rt_kick(sock_rt(s));
				done += (size_t)n;
				off += (size_t)n;
				continue;
			}
		} else if (done) {
			if (!waitall)
				break;
			/* MSG_WAITALL stops short at EOF or an error, which stays
			 * pending for the next call. */
			if (tcp_poll(s->u.tcb) & (SOCK_EV_RDHUP | SOCK_EV_ERR | SOCK_EV_HUP))
				break;
		} else {
			/* Nothing queued: EOF (0), a pending error (consumed),
			 * ENOTCONN, or EAGAIN (nothing yet). */
			n = tcp_recv(core(s), s->u.tcb, &dummy, 1, 0);
			if (n == 0)
				break;
			if (n != -EAGAIN) {
				err = (int)-n;
				break;
			}
		}
		if (nonblock) {
			err = done ? 0 : EAGAIN;
			break;
		}
		err = rt_sock_wait(s, deadline);
		if (!err && gone(s))
			err = EBADF;
		if (err) {
			if (done)
				err = 0;
			break;
		}
	}
	rt_sock_unlock(s);
	if (err && !done)
		return rt_fail(err);
	return (ssize_t)done;
}

/* --- options --- */

static int int_opt(const void *val, socklen_t len, int *v)
{
	if (len < sizeof(int))
		return EINVAL;
	memcpy(v, val, sizeof(*v));
	return 0;
}

static int core_set(struct rt_sock *s, enum tcp_opt o, int v)
{
	int rc = tcp_setopt(core(s), s->u.tcb, o, v);

	rt_kick(sock_rt(s));  /* TCP_NODELAY may push data; keepalive rearms a timer */
	return rc < 0 ? -rc : 0;
}

/* TCP_CONGESTION (tcp(7)): a name, not necessarily NUL-terminated within
 * len; ENOENT for one the stack does not know, as Linux. */
#define CC_NAME_MAX 16  /* Linux TCP_CA_NAME_MAX */
static int cc_set(struct rt_sock *s, const void *val, socklen_t len)
{
	char name[CC_NAME_MAX];
	size_t n = len < CC_NAME_MAX - 1 ? len : CC_NAME_MAX - 1;

	memcpy(name, val, n);
	name[n] = 0;
	return -tcp_set_congestion(s->u.tcb, name);
}

/* The caller (sockopt.c) copies min(optlen, *len) bytes out, as Linux. */
static int cc_get(struct rt_sock *s, void *val, socklen_t *len)
{
	char name[CC_NAME_MAX] = {0};
	const char *cur = tcp_get_congestion(s->u.tcb);

	memcpy(name, cur, strlen(cur) < CC_NAME_MAX ? strlen(cur) : CC_NAME_MAX - 1);
	memcpy(val, name, CC_NAME_MAX);
	*len = CC_NAME_MAX;
	return 0;
}

/* SOL_SOCKET: called after sockopt.c stored the value in s (and checked it);
 * the options the TCB honours are handed on. IPPROTO_TCP: all here. */
int rt_tcp_setsockopt(struct rt_sock *s, int level, int name, const void *val, socklen_t len)
{
	int v, err;

	if (level == SOL_SOCKET) {
		switch (name) {
		case SO_REUSEADDR: return core_set(s, TCP_OPT_REUSEADDR, s->reuseaddr);
		case SO_KEEPALIVE: return core_set(s, TCP_OPT_KEEPALIVE, s->keepalive);
		case SO_LINGER: return core_set(s, TCP_OPT_LINGER, s->linger_on ? rt_sock_linger_s(s) : -1);
		case SO_SNDBUF:
		case SO_RCVBUF:
			memcpy(&v, val, sizeof(v));
			return core_set(s, name == SO_SNDBUF ? TCP_OPT_SNDBUF : TCP_OPT_RCVBUF, v);
		default:
			return 0;
		}
	}
	err = int_opt(val, len, &v);
	switch (name) {
	case TCP_CONGESTION: return cc_set(s, val, len);
	case TCP_NODELAY: return err ? err : core_set(s, TCP_OPT_NODELAY, v != 0);
	case TCP_MAXSEG: return err ? err : core_set(s, TCP_OPT_MAXSEG, v);
	case TCP_KEEPIDLE: return err ? err : core_set(s, TCP_OPT_KEEPIDLE, v);
	case TCP_KEEPINTVL: return err ? err : core_set(s, TCP_OPT_KEEPINTVL, v);
	case TCP_KEEPCNT: return err ? err : core_set(s, TCP_OPT_KEEPCNT, v);
	default: return ENOPROTOOPT;
	}
}

static void fill_info(const struct ust_stack *stk, const struct tcb *t, struct tcp_info *ti)
{
	struct tcp_info_lite li;

	tcp_get_info(stk, t, &li);
	memset(ti, 0, sizeof(*ti));
	ti->tcpi_state = li.state;
	ti->tcpi_retransmits = li.retransmits;
	ti->tcpi_backoff = li.backoff;
	ti->tcpi_options = li.options;
	ti->tcpi_snd_wscale = li.snd_wscale & 15;
	ti->tcpi_rcv_wscale = li.rcv_wscale & 15;
	ti->tcpi_rto = li.rto_us;
	ti->tcpi_snd_mss = li.snd_mss;
	ti->tcpi_rcv_mss = li.rcv_mss;
	ti->tcpi_unacked = li.unacked;
	ti->tcpi_rtt = li.rtt_us;
	ti->tcpi_rttvar = li.rttvar_us;
	ti->tcpi_snd_ssthresh = li.snd_ssthresh;
	ti->tcpi_snd_cwnd = li.snd_cwnd;
	ti->tcpi_advmss = li.rcv_mss;
	ti->tcpi_total_retrans = li.total_retrans;
}

/* ENOPROTOOPT for a SOL_SOCKET name sockopt.c answers from s alone. */
int rt_tcp_getsockopt(struct rt_sock *s, int level, int name, void *val, socklen_t *len)
{
	enum tcp_opt o;
	int v, rc;

	if (level == SOL_SOCKET) {
		switch (name) {
		case SO_SNDBUF: o = TCP_OPT_SNDBUF; break;
		case SO_RCVBUF: o = TCP_OPT_RCVBUF; break;
		case SO_ERROR:
			v = tcp_take_error(s->u.tcb);
			goto out;
		case SO_ACCEPTCONN:
			v = tcp_state(s->u.tcb) == TCPS_LISTEN;
			goto out;
		default:
			return ENOPROTOOPT;
		}
	} else {
		switch (name) {
		case TCP_NODELAY: o = TCP_OPT_NODELAY; break;
		case TCP_MAXSEG: o = TCP_OPT_MAXSEG; break;
		case TCP_KEEPIDLE: o = TCP_OPT_KEEPIDLE; break;
		case TCP_KEEPINTVL: o = TCP_OPT_KEEPINTVL; break;
		case TCP_KEEPCNT: o = TCP_OPT_KEEPCNT; break;
		case TCP_CONGESTION:
			return cc_get(s, val, len);
		case TCP_INFO:
			fill_info(core(s), s->u.tcb, val);
			*len = sizeof(struct tcp_info);
			return 0;
		default:
			return ENOPROTOOPT;
		}
	}
	rc = tcp_getopt(sock_rt(s)->stk, s->u.tcb, o, &v);
	if (rc < 0)
		return -rc;
out:
	memcpy(val, &v, sizeof(v));
	*len = sizeof(v);
	return 0;
}

/* --- `ustack stat` --- */

struct stat_ctx {
	struct ust_stack *stk;
	FILE *out;
	unsigned n;
};

static void stat_line(void *arg, const struct tcb *t)
{
	struct stat_ctx *c = arg;
	const struct rt_sock *s = tcp_get_app(t);
	char line[256];

	tcp_format(c->stk, t, line, sizeof(line));
	c->n++;
	/* An fd for sockets the application holds; none for the core's
	 * orphans (closed: FIN_WAIT_*, LAST_ACK, TIME_WAIT) and for
	 * connections still in a listener's queues. */
	if (s)
		fprintf(c->out, "  %s fd:%d\n", line, rt_fd_base() + (int)s->idx);
	else
		fprintf(c->out, "  %s\n", line);
}

void rt_tcp_stat(struct ust_runtime *rt, FILE *out, bool verbose)
{
	struct stat_ctx c = { .stk = rt->stk, .out = out };

	if (!rt->stk)
		return;
	rt->stk->now = rt_now_us();  /* the timers' time left */
	fprintf(out, "tcp (%llu in the connection table)\n",
	        (unsigned long long)tcp_conn_count(rt->stk));
	fprintf(out, "  %-10s %-6s %-6s %-21s %-21s %s\n", "State", "Recv-Q", "Send-Q",
	        "Local Address:Port", "Peer Address:Port", "Timer / queues");
	tcp_foreach(rt->stk, stat_line, &c);
	if (!c.n)
		fprintf(out, "  (none)\n");
	if (verbose)
		fprintf(out, "tcb_size %zu\n", tcp_tcb_size());
}
