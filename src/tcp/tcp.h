/* TCP (RFC 9293): the core's connection machine and the calls the runtime
 * makes on it. Everything here runs on the stack's thread (the runtime holds
 * its stack mutex around each call); nothing blocks. The calls below take the
 * current time from stk->now: the runtime sets stk->now before calling (as
 * stk_rx_burst and stk_run_timers do). Errors are negative errno values.
 *
 * Readiness changes reach the runtime through stk_sock_event(stk, app, ev)
 * with ev = tcp_poll(tcb): from stk_rx_burst and stk_run_timers, and also
 * synchronously from tcp_shutdown; the hook must not call back into the
 * stack (it runs under the same mutex). TCBs without an app pointer (not
 * yet accepted, or closed by the application) report nothing; a listener
 * reports SOCK_EV_IN when its accept queue gains a connection. */
#ifndef USTACK_TCP_TCP_H
#define USTACK_TCP_TCP_H

#include <stddef.h>
#include <stdint.h>

#include "core/pkt.h"

struct ust_stack;
struct ipv4_repr;
struct tcb;

/* --- between the stack and TCP --- */

int tcp_init(struct ust_stack *stk);    /* 0 or -ENOMEM; uses tcp_config_default */
/* Frees every TCB in the tables (connections, listeners, bound sockets),
 * the application's included: no tcb pointer is valid afterwards. A TCB the
 * application holds outside every table (never bound, or reset) is freed
 * only by its tcp_close: the runtime closes its sockets first. */
void tcp_fini(struct ust_stack *stk);
/* Connections wait for room in the link's queue (tcp_tx_wait)... */
int tcp_tx_waiting(const struct ust_stack *stk);
/* ... and send what they have, oldest first, while there is room. */
void tcp_tx_resume(struct ust_stack *stk);
/* p->data at the TCP header; ip describes the datagram. Consumes p. */
void tcp_input(struct ust_stack *stk, struct pkt *p, const struct ipv4_repr *ip);
/* An ICMP error about a segment we sent (icmp.c; arp.c for a next hop that
 * never answered): laddr and raddr from the quoted IP header, th the first
 * eight bytes of the quoted TCP header. */
void tcp_icmp_error(struct ust_stack *stk, uint8_t type, uint8_t code, uint32_t laddr,
                    uint32_t raddr, const uint8_t th[8]);

/* --- tunables: one documented default each, in tcp_config_default() --- */

struct tcp_config {
	uint64_t secret;          /* ISN key (RFC 6528); the runtime seeds it at start */
	uint32_t sndbuf;          /* default send buffer, bytes (SO_SNDBUF) */
	uint32_t rcvbuf;          /* default receive buffer, bytes (SO_RCVBUF) */
	uint32_t buf_max;         /* upper bound of SO_SNDBUF/SO_RCVBUF */
	uint32_t rto_initial_us;  /* RFC 6298 (2.1): 1 s */
	uint32_t rto_min_us;      /* Linux: 200 ms */
	uint32_t rto_max_us;      /* Linux: 120 s */
	uint32_t time_wait_us;    /* 2*MSL; Linux: 60 s */
	uint32_t fin_wait2_us;    /* orphaned FIN_WAIT_2 lifetime; Linux: 60 s */
	uint32_t delack_us;       /* delayed ACK bound (RFC 9293 3.8.6.3): 40 ms */
	uint8_t syn_retries;      /* SYN retransmissions; Linux: 6 */
	uint8_t synack_retries;   /* SYN-ACK retransmissions; Linux: 5 */
	uint8_t retries;          /* data retransmissions before ETIMEDOUT; Linux: 15 */
	uint8_t keepcnt;          /* TCP_KEEPCNT default: 9 */
	uint32_t keepidle_s;      /* TCP_KEEPIDLE default: 7200 */
	uint32_t keepintvl_s;     /* TCP_KEEPINTVL default: 75 */
	uint32_t backlog_max;     /* somaxconn: 4096 */
	uint32_t ooo_max_segs;    /* cap on out-of-order segments held per
	                           * connection (a receive buffer of full ones) */
	uint32_t rcv_pool_reserve_pct; /* below this % of free packet buffers,
	                                * incoming payload that needs a buffer of
	                                * its own is dropped (drop_tcp_rcv_mem)
	                                * so ACKs keep flowing; default 12 */
	uint16_t ephemeral_lo;    /* ephemeral port range; Linux: 32768..60999 */
	uint16_t ephemeral_hi;
	uint32_t table_initial;   /* connection hash buckets at start (power of two) */
	uint8_t wscale;           /* offer window scaling (RFC 7323) */
	uint8_t timestamps;       /* offer timestamps (RFC 7323) */
	/* hardening (issue 7) */
	uint8_t syncookies;       /* RFC 4987: 1 when the SYN queue is full
	                           * (Linux tcp_syncookies default 1), 0 never */
	uint32_t challenge_ack_limit; /* RFC 5961 7: challenge ACKs per second
	                               * per stack; Linux 4.7..5.x
	                               * tcp_challenge_ack_limit: 1000. 0: no limit */
	uint32_t rst_rate;        /* RSTs to segments for no connection, per
	                           * second (FreeBSD icmplim 200); 0: no limit */
	uint32_t rst_burst;       /* bucket size of rst_rate */
	/* loss recovery (issue 5) */
	uint8_t sack;             /* offer SACK (RFC 2018); Linux tcp_sack: 1 */
};

void tcp_config_default(struct tcp_config *cfg);
/* The live configuration of a stack's TCP; change it after tcp_init, before
 * sockets are made (e.g. secret, time_wait_us in tests). */
struct tcp_config *tcp_conf(struct ust_stack *stk);

/* --- states: the values Linux reports in tcp_info.tcpi_state --- */

enum tcp_state_id {
	TCPS_ESTABLISHED = 1,
	TCPS_SYN_SENT = 2,
	TCPS_SYN_RCVD = 3,
	TCPS_FIN_WAIT_1 = 4,
	TCPS_FIN_WAIT_2 = 5,
	TCPS_TIME_WAIT = 6,
	TCPS_CLOSED = 7,
	TCPS_CLOSE_WAIT = 8,
	TCPS_LAST_ACK = 9,
	TCPS_LISTEN = 10,
	TCPS_CLOSING = 11,
};

const char *tcp_state_name(int state);  /* "ESTAB", "SYN-SENT", ... as ss prints */

/* --- the socket's life, called by the runtime --- */

/* A new TCB in CLOSED, owned by the application (app is its socket, passed
 * back in stk_sock_event). NULL when out of memory. */
struct tcb *tcp_tcb_new(struct ust_stack *stk, void *app);
void tcp_set_app(struct tcb *tcb, void *app);  /* after tcp_accept */
void *tcp_get_app(const struct tcb *tcb);

/* addr/port host order; addr 0 is INADDR_ANY; port 0 picks an ephemeral one.
 * -EINVAL (already bound, or not CLOSED), -EADDRNOTAVAIL (not our address),
 * -EADDRINUSE. SO_REUSEADDR (tcp_setopt) is honoured as Linux does. */
int tcp_bind(struct ust_stack *stk, struct tcb *tcb, uint32_t addr, uint16_t port);
/* Binds an ephemeral port when unbound. -EINVAL when connected or
 * connecting; a second listen only updates the backlog. */
int tcp_listen(struct ust_stack *stk, struct tcb *tcb, int backlog);
/* Sends SYN; 0 means in progress (the runtime waits for SOCK_EV_OUT or
 * SOCK_EV_ERR, then reads tcp_take_error). -EISCONN (connected or
 * listening), -EALREADY (SYN_SENT), -EADDRNOTAVAIL (no ephemeral port),
 * -EINVAL (bad address), -ENOBUFS. */
int tcp_connect(struct ust_stack *stk, struct tcb *tcb, uint32_t addr, uint16_t port);
/* The oldest completed connection, NULL when none. The caller then gives it
 * its app pointer with tcp_set_app. -EINVAL case: use tcp_state != LISTEN. */
struct tcb *tcp_accept(struct ust_stack *stk, struct tcb *listener);
/* Copies up to len bytes into the send buffer; bytes queued, or -EAGAIN
 * (buffer full, or still connecting), -EPIPE (shut down for writing, closed,
 * or never connected: Linux's tcp_sendmsg answers EPIPE there, not
 * ENOTCONN), -ECONNRESET or another pending error (consumed, as Linux).
 * The runtime raises SIGPIPE for -EPIPE unless MSG_NOSIGNAL. MSG_MORE holds
 * a partial segment until a send without it, shutdown or close, as Linux. */
long tcp_send(struct ust_stack *stk, struct tcb *tcb, const void *buf, size_t len, int flags);
/* Copies up to len bytes out (MSG_PEEK leaves them). 0 at EOF (FIN read, or
 * shut down for reading), -EAGAIN when nothing yet, -ENOTCONN, -ECONNRESET. */
long tcp_recv(struct ust_stack *stk, struct tcb *tcb, void *buf, size_t len, int flags);
/* how: SHUT_RD, SHUT_WR, SHUT_RDWR (-EINVAL otherwise). As Linux: -ENOTCONN
 * when CLOSED; a listener stops listening on SHUT_RD/SHUT_RDWR (0); a
 * connect in progress is dropped (0). SHUT_WR queues the FIN after the data. */
int tcp_shutdown(struct ust_stack *stk, struct tcb *tcb, int how);
/* The application lets go of tcb; it must not use it afterwards. A graceful
 * FIN, or RST when unread data remains or SO_LINGER is on with 0 seconds.
 * The TCB lives on (FIN_WAIT_*, LAST_ACK, TIME_WAIT) until the core frees it. */
void tcp_close(struct ust_stack *stk, struct tcb *tcb);

/* SOCK_EV_* bits (stack.h) as poll() would report them. */
uint32_t tcp_poll(const struct tcb *tcb);
/* SO_ERROR: the pending error (positive errno) or 0, and clears it. */
int tcp_take_error(struct tcb *tcb);
int tcp_state(const struct tcb *tcb);  /* enum tcp_state_id */
/* Addresses, host order; 0/0 when not bound / not connected. */
void tcp_local_addr(const struct tcb *tcb, uint32_t *addr, uint16_t *port);
void tcp_peer_addr(const struct tcb *tcb, uint32_t *addr, uint16_t *port);
/* Bytes readable now / bytes in the send buffer not yet acknowledged. */
uint32_t tcp_rx_bytes(const struct tcb *tcb);
uint32_t tcp_tx_bytes(const struct tcb *tcb);

/* --- options --- */

enum tcp_opt {
	TCP_OPT_REUSEADDR,  /* SO_REUSEADDR, 0/1 */
	TCP_OPT_KEEPALIVE,  /* SO_KEEPALIVE, 0/1 */
	TCP_OPT_SNDBUF,     /* SO_SNDBUF: set doubles the value as Linux; get returns it */
	TCP_OPT_RCVBUF,     /* SO_RCVBUF: idem */
	TCP_OPT_LINGER,     /* SO_LINGER: -1 off, else seconds (0: close sends RST) */
	TCP_OPT_NODELAY,    /* TCP_NODELAY, 0/1 */
	TCP_OPT_MAXSEG,     /* TCP_MAXSEG: 0 (default) or 88..32767 */
	TCP_OPT_KEEPIDLE,   /* seconds, 1..32767 */
	TCP_OPT_KEEPINTVL,  /* seconds, 1..32767 */
	TCP_OPT_KEEPCNT,    /* 1..127 */
};
/* 0 or -EINVAL (value out of range) / -ENOPROTOOPT. */
int tcp_setopt(struct ust_stack *stk, struct tcb *tcb, enum tcp_opt opt, int val);
int tcp_getopt(const struct ust_stack *stk, const struct tcb *tcb, enum tcp_opt opt, int *val);
/* TCP_CONGESTION: "reno" (NewReno) or "cubic" (the default), as Linux
 * names them. 0, or -ENOENT for a name not known. The name is static. */
int tcp_set_congestion(struct tcb *tcb, const char *name);
const char *tcp_get_congestion(const struct tcb *tcb);

/* The fields of Linux's struct tcp_info a user reads first. */
struct tcp_info_lite {
	uint8_t state;          /* enum tcp_state_id */
	uint8_t retransmits;    /* consecutive timeouts of the current segment */
	uint8_t backoff;
	uint8_t snd_wscale, rcv_wscale;
	uint8_t options;        /* TCPI_OPT_TIMESTAMPS 1, TCPI_OPT_WSCALE 4 */
	uint32_t rto_us;
	uint32_t rtt_us;        /* smoothed */
	uint32_t rttvar_us;
	uint32_t snd_mss, rcv_mss;
	uint32_t snd_cwnd;      /* segments */
	uint32_t snd_ssthresh;  /* segments */
	uint32_t unacked;       /* segments in flight (approx.) */
	uint32_t total_retrans;
	uint32_t snd_wnd, rcv_wnd;
};
void tcp_get_info(const struct ust_stack *stk, const struct tcb *tcb, struct tcp_info_lite *info);

/* --- introspection for `ustack stat` --- */

/* Calls fn for every TCB the stack knows (listeners, connections in any
 * state including SYN_RCVD and TIME_WAIT, bound sockets). */
void tcp_foreach(struct ust_stack *stk, void (*fn)(void *arg, const struct tcb *tcb), void *arg);
/* One line as `ss -tan` prints it: state, Recv-Q, Send-Q, local, peer, and
 * the running timer; for a listener its SYN and accept queue lengths and
 * overflow counts. Returns the length snprintf would. */
int tcp_format(const struct ust_stack *stk, const struct tcb *tcb, char *buf, size_t len);
size_t tcp_tcb_size(void);  /* sizeof(struct tcb), for `ustack stat --verbose` */

/* Listener figures (0 for a non-listener). */
struct tcp_listen_info {
	uint32_t syn_queue, accept_queue, backlog;
	uint64_t syn_overflows, accept_overflows;
};
void tcp_listen_info(const struct tcb *tcb, struct tcp_listen_info *li);

/* Number of TCBs in the connection table (every non-listening TCB with a
 * 4-tuple, SYN_RCVD and TIME_WAIT included). */
uint64_t tcp_conn_count(const struct ust_stack *stk);

#endif
