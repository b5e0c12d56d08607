/* TCP internals shared by tcp.c (tables, API), tcp_input.c (the state
 * machine), tcp_output.c (segments out) and tcp_timer.c. Not for the runtime. */
#ifndef USTACK_TCP_TCP_INT_H
#define USTACK_TCP_TCP_INT_H

#include <stdint.h>

#include "core/pkt.h"
#include "core/ratelimit.h"
#include "core/timer.h"
#include "tcp/tcp.h"

/* --- sequence space (RFC 9293 3.4): modular comparisons, in one place --- */

static inline int seq_lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static inline int seq_le(uint32_t a, uint32_t b) { return (int32_t)(a - b) <= 0; }
static inline int seq_gt(uint32_t a, uint32_t b) { return (int32_t)(a - b) > 0; }
static inline int seq_ge(uint32_t a, uint32_t b) { return (int32_t)(a - b) >= 0; }
/* lo <= s < hi */
static inline int seq_in(uint32_t s, uint32_t lo, uint32_t hi)
{
	return seq_le(lo, s) && seq_lt(s, hi);
}

/* --- wire --- */

enum {
	TH_FIN = 0x01, TH_SYN = 0x02, TH_RST = 0x04, TH_PSH = 0x08,
	TH_ACK = 0x10, TH_URG = 0x20, TH_ECE = 0x40, TH_CWR = 0x80,
};

#define TCP_HDR_LEN 20
#define TCP_DEFAULT_MSS 536  /* RFC 9293 3.7.1: when the peer sends no MSS option */

/* A validated segment: what the state machine sees instead of bytes. */
struct tcp_seg {
	uint32_t src, dst;        /* IP addresses, host order */
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint16_t wnd;             /* raw, unscaled */
	uint8_t flags;
	uint8_t hdr_len;
	/* options (RFC 9293 3.2, RFC 7323) */
	uint16_t mss;             /* 0: absent */
	uint8_t wscale;           /* 0xff: absent */
	uint8_t sack_ok;
	uint8_t has_ts;
	uint32_t tsval, tsecr;
	uint8_t nsack;            /* RFC 2018 blocks, as received (issue 5) */
	uint32_t sack[4][2];      /* [i][0] left edge, [i][1] right edge */
	const uint8_t *data;      /* payload */
	uint32_t len;             /* payload bytes */
};

/* 0, or the drop counter (enum stk_counter) saying why the bytes are not a
 * valid TCP segment from src to dst. csum_ok: the link vouched for the
 * checksum (PKT_F_CSUM_OK), which is then not summed again. */
int tcp_parse(const uint8_t *buf, size_t len, uint32_t src, uint32_t dst, int csum_ok,
              struct tcp_seg *seg);

/* --- the TCB --- */

/* tcb->flags */
enum {
	TF_REUSEADDR = 1u << 0,
	TF_KEEPALIVE = 1u << 1,
	TF_NODELAY = 1u << 2,
	TF_ORPHAN = 1u << 3,      /* the application closed it; the core frees it */
	TF_SHUT_RD = 1u << 4,
	TF_FIN_QUEUED = 1u << 5,  /* SHUT_WR or close: FIN follows the data */
	TF_FIN_ACKED = 1u << 6,   /* our FIN is acknowledged */
	TF_FIN_RCVD = 1u << 7,    /* rcv_nxt is past the peer's FIN */
	TF_PASSIVE = 1u << 8,     /* born from a listener */
	TF_WSCALE = 1u << 9,      /* RFC 7323 window scaling in use */
	TF_TS = 1u << 10,         /* RFC 7323 timestamps in use */
	TF_BOUND = 1u << 11,      /* owns a local port (in the bind hash) */
	TF_LINGER = 1u << 12,
	TF_ACK_NOW = 1u << 13,    /* an ACK is owed at the end of this input */
	TF_RTT_TIMING = 1u << 14, /* rtt_seq is being timed (Karn: never a retransmission) */
	TF_INQ = 1u << 15,        /* in the connection table */
	TF_WAS_CONN = 1u << 16,   /* reached a synchronized state once (send: EPIPE not ENOTCONN) */
	TF_ACCEPTQ = 1u << 17,    /* on its listener's accept queue */
	TF_FASTREC = 1u << 18,    /* in fast recovery (RFC 5681 3.2) */
	TF_SHUT_WR = 1u << 19,    /* no more sends: EPIPE (Linux SEND_SHUTDOWN) */
	TF_HAVE_RTT = 1u << 20,   /* srtt/rttvar hold a measurement */
	TF_RCVBUF_SET = 1u << 21, /* SO_RCVBUF set: auto-tuning stops there */
	TF_MORE = 1u << 22,       /* MSG_MORE: a partial segment waits for more */
	TF_DELACK = 1u << 23,     /* a delayed ACK is due at delack_lo */
	TF_OWN_OPTS = 1u << 24,   /* opt is the TCB's own copy, not the stack's */
	TF_SNDBUF_SET = 1u << 25, /* SO_SNDBUF set: the send buffer does not grow */
	/* loss recovery (issue 5) */
	TF_SACK = 1u << 26,       /* RFC 2018 SACK permitted both ways */
	TF_SACKREC = 1u << 27,    /* TF_FASTREC driven by the scoreboard (RFC 6675) */
	/* backpressure: a TCB waiting for room for a frame (tcp_tx_wait) */
	TF_TXWAIT = 1u << 28,     /* on the queue of senders waiting for room */
	TF_TXDEAD = 1u << 29,     /* freed while on it: the queue frees the memory */
};

/* What the main deadline means (one at a time; delayed ACK has its own). */
enum tcp_tkind {
	TK_NONE, TK_REXMIT, TK_PERSIST, TK_KEEPALIVE, TK_TIME_WAIT, TK_FIN_WAIT_2,
	TK_RACK, TK_TLP,  /* RFC 8985: reordering window, tail loss probe (issue 5) */
};

struct tcp_listen;

/* Socket options a TCB reads but rarely has changed. A TCB points to the
 * stack's defaults (tcp_state.dflt, kept equal to tcp_config) until a
 * setsockopt gives it its own copy (tcp_opts_own): 16 bytes a connection
 * become 8, and a connection that set nothing follows the stack's
 * defaults as a Linux socket follows the sysctls. */
struct tcp_opts {
	uint32_t sndbuf, rcvbuf;      /* SO_SNDBUF, SO_RCVBUF (doubled, clamped) */
	uint16_t user_mss;            /* TCP_MAXSEG; 0: none */
	uint16_t keepidle_s, keepintvl_s;
	uint8_t keepcnt;
	uint8_t linger_s;             /* SO_LINGER's time (TF_LINGER: on) */
};

/* A byte ring grown on demand (power-of-two capacity), freed when drained,
 * so an idle TCB holds a NULL pointer, not a descriptor: the send buffer
 * (byte i from SND.UNA) and the receive buffer (bytes in order, not yet
 * read). Byte i is buf[(head + i) & (cap - 1)]. */
struct tcp_ring {
	uint32_t cap, head, len;
	uint8_t buf[];
};
static inline uint32_t tcp_ring_len(const struct tcp_ring *r) { return r ? r->len : 0; }

/* Hot fields first: what every segment touches, then what data transfer
 * touches, then the rarely used. 208 bytes, no holes: with its table slot
 * and the runtime's socket an idle connection stays within 256 bytes
 * (issue 6). What a connection needs only sometimes lives behind a
 * pointer: the rings while data is queued, *lx after loss or reordering,
 * *opt once a socket option is set. */
struct tcb {
	struct tcb *hnext;            /* connection table, or listener table */
	uint32_t laddr, raddr;        /* host order */
	uint16_t lport, rport;
	uint8_t state;                /* enum tcp_state_id */
	uint8_t tkind;                /* enum tcp_tkind */
	uint8_t snd_wscale, rcv_wscale;
	uint32_t flags;

	/* send sequence space (RFC 9293 3.3.1); ISS is SND.UNA until the
	 * SYN is acknowledged, and SND.WL2 is never above SND.UNA: neither
	 * is kept */
	uint32_t snd_una, snd_nxt, snd_max;
	uint32_t snd_wnd, snd_wl1;
	/* receive sequence space */
	uint32_t rcv_nxt, rcv_adv, irs;
	uint32_t ts_recent;           /* RFC 7323 4.3 */

	uint16_t mss;                 /* effective send MSS */
	uint16_t rcv_mss;             /* what we announced */
	uint8_t dupacks;
	uint8_t segs_unacked;         /* delayed ACK: full segments not yet acked */
	uint8_t rexmits;              /* consecutive timeouts (backoff shift) */
	uint8_t error;                /* pending SO_ERROR, positive errno */

	/* congestion control (RFC 5681) and RTT (RFC 6298) */
	uint32_t cwnd, ssthresh;
	uint32_t srtt_us, rttvar_us;  /* the RTO follows from them: tcp_rto */
	/* RTT timing of one segment (RFC 6298 3, Karn) is for connections
	 * without timestamps; PAWS's 24-day rule (RFC 7323 5.5) only for
	 * those with them (TF_TS): they share the space. */
	union {
		uint32_t rtt_seq;
		uint32_t ts_recent_age;   /* stk->now in seconds when ts_recent was set */
	};
	uint32_t rtt_start_ms;
	uint32_t max_wnd;             /* largest window the peer offered (SWS) */
	uint32_t delack_lo;           /* the delayed ACK's deadline, low 32 bits
	                               * (always within a second of now):
	                               * tcp_delack_at */
	uint32_t last_send_ms;        /* last data sent: restart after idle */
	uint8_t probes;               /* keepalive or zero-window probes unanswered */
	uint8_t cc_id;                /* index in tcp_cc_table; 0: cubic */
	uint8_t soft_error;           /* errno an ICMP error left (tcp_icmp.c):
	                               * reported instead of ETIMEDOUT, as Linux */

	struct timer timer;           /* at min(t_main, the delayed ACK) */
	uint64_t t_main;              /* deadline of tkind */

	struct tcp_ring *sb;          /* NULL: nothing unacknowledged or unsent */
	struct tcp_ring *rb;          /* received in order, not yet read */
	struct tcp_opts *opt;         /* never NULL */
	void *app;

	/* Relations, by role. A passive child (TF_PASSIVE) points to its
	 * listener while on its SYN or accept list (qnext, qprev); it shares
	 * its listener's port and never owns one. Every other TCB that owns a
	 * local port (TF_BOUND: bound, connecting or listening) is in the bind
	 * hash; a listener also has its queues (lq). */
	union {
		struct {
			struct tcb *parent;
			struct tcb *qnext, *qprev;
		};
		struct {
			struct tcb *bnext, **bpprev;
			struct tcp_listen *lq;  /* only for LISTEN */
		};
	};

	/* loss recovery (issue 5): SACK scoreboard, RACK, PRR, CUBIC's
	 * state, the out-of-order queue; allocated at the first loss, SACK
	 * block or out-of-order segment */
	struct tcp_lossx *lx;         /* NULL until needed (tcp_lossx_get) */
};

struct tcp_listen {
	struct tcb *syn_head;         /* SYN_RCVD children */
	struct tcb *acc_head, *acc_tail;
	uint32_t syn_len, acc_len, backlog;
	uint64_t syn_overflows, acc_overflows;
	uint64_t cookie_us;           /* 1 + when a SYN cookie was last sent; 0: never */
};

/* Connection table: 4-tuple hash that grows by doubling with incremental
 * migration (a few buckets per operation), so no insert ever rehashes
 * everything at once. */
struct tcp_ctable {
	struct tcb **cur, **old;
	uint32_t cur_mask, old_mask;
	uint32_t migrate;             /* old buckets below this are moved */
	uint64_t count;
};

#define TCP_LHASH 1024u    /* listener buckets, by port */
/* Bind buckets: one per port, so a bind walks only the owners of its own
 * port. With 4096 buckets, ten million client sockets bound to distinct
 * addresses (bench conns) put about 2,400 TCBs in each bucket, and every
 * bind walked its bucket (99% of that run's time in tcp_bind). */
#define TCP_BHASH 65536u

struct tcp_state {
	struct tcp_config cfg;
	struct tcp_ctable ct;
	struct tcp_opts dflt;         /* what TCBs without options of their own read */
	struct tcb *lhash[TCP_LHASH];
	struct tcb *bhash[TCP_BHASH];
	uint32_t *port_users;         /* [65536]: TCBs holding each local port */

	/* hardening (issue 7) */
	uint32_t eph_counter;         /* RFC 6056 3.3.3 "next_ephemeral" */
	uint32_t chack_left;          /* RFC 5961 7: challenge ACKs left this second */
	uint64_t chack_sec;           /* the second chack_left belongs to */
	struct ratelimit rst_rl;      /* RSTs to segments for no connection */

	/* Connections that found no room for a frame (stk_tx_ok), oldest
	 * first: a ring of wait_cap slots (a power of two, grown on demand). */
	struct tcb **wait;
	uint32_t wait_head, wait_len, wait_cap;
};

/* --- tcp.c: tables and lifecycle --- */
struct tcb *tcp_ct_lookup(struct ust_stack *stk, uint32_t laddr, uint16_t lport, uint32_t raddr,
                          uint16_t rport);
int tcp_ct_insert(struct ust_stack *stk, struct tcb *tcb);
void tcp_ct_remove(struct ust_stack *stk, struct tcb *tcb);
struct tcb *tcp_listener_lookup(struct ust_stack *stk, uint32_t laddr, uint16_t lport);
struct tcb *tcp_tcb_alloc(struct ust_stack *stk);
/* The TCB's own options, copied from what it read until now on first use
 * (NULL: out of memory). */
struct tcp_opts *tcp_opts_own(struct tcb *tcb);
void tcp_port_ref(struct ust_stack *stk, uint16_t port);
/* Moves tcb to CLOSED: out of the tables, timers stopped, buffers freed;
 * frees it when the application has let go. err: SO_ERROR to report. */
void tcp_done(struct ust_stack *stk, struct tcb *tcb, int err);
void tcp_set_state(struct ust_stack *stk, struct tcb *tcb, int state);
void tcp_notify(struct ust_stack *stk, struct tcb *tcb);
uint32_t tcp_isn(const struct ust_stack *stk, const struct tcb *tcb, uint64_t now);
void tcp_sb_free(struct tcb *tcb);

/* --- tcp_syncookie.c (RFC 4987 3.6) --- */
/* Answers a SYN for listener l with a SYN-ACK whose ISN is a cookie;
 * nothing is stored. */
void tcp_cookie_send(struct ust_stack *stk, const struct tcb *l, const struct tcp_seg *seg);
/* An ACK for listener l with no connection: when seg->ack - 1 is one of our
 * recent cookies, fills syn with the SYN options the cookie kept (mss,
 * wscale, sack_ok, has_ts, tsval) and returns 0; -1 otherwise. */
int tcp_cookie_check(struct ust_stack *stk, const struct tcp_seg *seg, struct tcp_seg *syn);
uint8_t tcp_wscale_for(uint32_t buf);  /* the shift we announce for buf */
/* Rings: append n bytes growing to at least min_cap (0, or -ENOBUFS);
 * copy n bytes from offset off; drop n bytes from the front (freeing the
 * memory when empty); free. */
int tcp_ring_put(struct tcp_ring **r, const void *src, uint32_t n, uint32_t min_cap);
void tcp_ring_copy(const struct tcp_ring *r, uint32_t off, void *dst, uint32_t n);
void tcp_ring_consume(struct tcp_ring **r, uint32_t n);
void tcp_ring_free(struct tcp_ring **r);
uint32_t tcp_sndbuf_free(const struct tcb *tcb);

/* --- tcp_output.c --- */
void tcp_output(struct ust_stack *stk, struct tcb *tcb);   /* send what may be sent */
void tcp_send_ack(struct ust_stack *stk, struct tcb *tcb);
void tcp_send_syn(struct ust_stack *stk, struct tcb *tcb); /* SYN or SYN-ACK at iss */
void tcp_send_rst(struct ust_stack *stk, struct tcb *tcb); /* <SEQ=SND.NXT><CTL=RST,ACK> */
/* RST in reply to a segment for no connection (RFC 9293 3.10.7.1). */
void tcp_reply_rst(struct ust_stack *stk, const struct tcp_seg *seg);
/* One segment: seq, up to len payload bytes from the send buffer, flags.
 * 0, or -ENOBUFS when there is no room for it (stk_tx_ok): then nothing
 * changed and tcb waits for room (tcp_tx_wait). */
int tcp_xmit(struct ust_stack *stk, struct tcb *tcb, uint32_t seq, uint32_t len, uint8_t flags);
/* Queues tcb to send when room comes back (once; TF_TXWAIT). */
void tcp_tx_wait(struct ust_stack *stk, struct tcb *tcb);
void tcp_tx_wait_fini(struct ust_stack *stk);  /* from tcp_fini, before the tables */
void tcp_retransmit_head(struct ust_stack *stk, struct tcb *tcb);
/* RFC 6675 NextSeg rule 1 while pipe < cwnd: resends lost holes; force:
 * one segment regardless of cwnd (the head when nothing is known lost). */
void tcp_sack_send_lost(struct ust_stack *stk, struct tcb *tcb, int force);
uint32_t tcp_rcv_window(const struct ust_stack *stk, const struct tcb *tcb);
void tcp_sb_consume(struct tcb *tcb, uint32_t n);
uint16_t tcp_mss_for_mtu(const struct ust_stack *stk);

/* --- tcp_rcvbuf.c: receive window auto-tuning --- */
uint32_t tcp_rcv_space(const struct ust_stack *stk, const struct tcb *tcb); /* window now */
void tcp_rcv_rtt_sample(struct ust_stack *stk, struct tcb *tcb, const struct tcp_seg *seg);
void tcp_rcv_space_adjust(struct ust_stack *stk, struct tcb *tcb, uint32_t n); /* n bytes read */
void tcp_sndbuf_expand(const struct ust_stack *stk, struct tcb *tcb);  /* after cwnd grew */

/* --- tcp_timer.c --- */
void tcp_timer_fire(struct ust_stack *stk, struct timer *t, uint64_t now);
void tcp_timer_update(struct ust_stack *stk, struct tcb *tcb);  /* re-arm the wheel */
void tcp_set_main(struct ust_stack *stk, struct tcb *tcb, enum tcp_tkind kind, uint64_t when);
void tcp_rearm_rexmit(struct ust_stack *stk, struct tcb *tcb);  /* after sends/ACKs */
void tcp_rtt_sample(struct tcb *tcb, uint32_t rtt_us);
/* RFC 6298 (2.1)-(2.4): the RTO from SRTT and RTTVAR (the initial one
 * before a measurement), and (5.5) doubled per consecutive timeout. */
uint32_t tcp_rto(const struct tcb *tcb, const struct tcp_config *cfg);
uint32_t tcp_rto_backed(const struct tcb *tcb, const struct tcp_config *cfg);

/* --- congestion control ops: "reno" (NewReno, RFC 5681 + 6582) and
 * "cubic" (RFC 9438, the default as in Linux) --- */
struct tcp_cc_ops {
	const char *name;
	void (*init)(struct tcb *tcb);
	/* new data acknowledged, while cwnd limits the sender; now in us */
	void (*on_ack)(struct tcb *tcb, uint32_t acked, uint64_t now);
	void (*on_dupacks)(struct tcb *tcb);              /* third duplicate ACK */
	void (*on_timeout)(struct tcb *tcb);              /* RTO fired */
	void (*on_recovery_end)(struct tcb *tcb);
};
extern const struct tcp_cc_ops tcp_cc_reno;
extern const struct tcp_cc_ops tcp_cc_cubic;
#define TCP_CC_COUNT 2
extern const struct tcp_cc_ops *const tcp_cc_table[TCP_CC_COUNT];  /* [0]: the default */
static inline const struct tcp_cc_ops *tcp_cc(const struct tcb *tcb)
{
	return tcp_cc_table[tcb->cc_id < TCP_CC_COUNT ? tcb->cc_id : 0];
}
uint32_t tcp_cc_smss(const struct tcb *tcb);  /* payload bytes per segment */

/* --- tcp_sack.c: SACK (RFC 2018, 2883) and SACK-based recovery (RFC
 * 6675); the side structure of a TCB that has seen loss --- */
#define TCP_SB_MAX 32      /* SACKed ranges kept by the sender */
#define TCP_SACK_RECENT 4  /* receiver: recently reported blocks */
struct tcp_lossx {
	/* sender scoreboard: SACKed ranges above SND.UNA, sorted, disjoint */
	uint32_t sb[TCP_SB_MAX][2];
	uint8_t nsb;
	uint8_t nrecent;
	uint8_t dsack;              /* a D-SACK block is owed */
	uint32_t high_rxt;          /* RFC 6675 HighRxt */
	/* RFC 6582 `recover`, one past it: snd_max at the last congestion
	 * event; SND.UNA when the structure was made (no event yet) */
	uint32_t recover;
	uint32_t fack;              /* highest SACKed byte + 1, kept or not */
	/* receiver: starts of the out-of-order blocks last changed, most
	 * recent first (RFC 2018 4), and the duplicate to report */
	uint32_t recent[TCP_SACK_RECENT];
	uint32_t dsack_lo, dsack_hi;
	/* CUBIC (RFC 9438 4), in segments and microseconds */
	double w_max, k_s, w_est, cwnd_epoch;
	double cwnd_prior;          /* cwnd at the last congestion event (4.6) */
	uint64_t epoch_us;          /* 0: no epoch */
	/* RACK (RFC 8985 6): holes below rack_hi are lost by time */
	uint32_t rack_hi;
	uint32_t rack_pend;         /* fack when the reordering window started */
	uint32_t rxt_mark;          /* SND.MAX at the last retransmission */
	uint8_t rack_on;
	uint8_t by_time;            /* RTT known: RACK alone declares loss */
	/* PRR (RFC 6937 3): bytes delivered and sent since recovery began,
	 * and the flight then */
	uint32_t prr_delivered, prr_out, recover_fs;
	/* HyStart++ (RFC 9406 4) for CUBIC's slow start: the round ends when
	 * SND.UNA passes hs_end; minimum RTT of this round and the last */
	uint32_t rtt_last_us;       /* this ACK's RTT sample; 0: none */
	uint32_t hs_end, hs_cur_min, hs_last_min;
	uint8_t hs_samples, hs_on;
	/* receive window auto-tuning (tcp_rcvbuf.c): the window now (0: not
	 * tuned yet), bytes read since rcv_t0 (us), the receiver's RTT */
	uint32_t rcv_space, rcv_copied, rcv_rtt_us;
	uint64_t rcv_t0;
	/* undo of a spurious reduction (RFC 2883 section 4.1, Linux's D-SACK
	 * undo): cwnd and ssthresh before it, and the retransmissions since
	 * that no D-SACK has yet shown to be needless */
	uint32_t undo_cwnd, undo_ssthresh;
	int32_t undo_retrans;
	uint8_t undo_on;
	/* receiver: segments held out of order, sorted (meta = seq, ts bit 0
	 * = FIN), and how many */
	struct pkt *ooo;
	uint16_t ooo_count;
	/* segments retransmitted over the connection's life (TCP_INFO) */
	uint32_t total_retrans;
};
struct tcp_lossx *tcp_lossx_get(struct tcb *tcb);  /* NULL when out of memory */
void tcp_lossx_free(struct tcb *tcb);  /* and the segments held out of order */
/* Whether seq is below `recover`: inside the window of the last congestion
 * event, whose losses were paid for (RFC 6582 3.2 (2)). */
static inline int tcp_below_recover(const struct tcb *tcb, uint32_t seq)
{
	return tcb->lx && (int32_t)(seq - tcb->lx->recover) < 0;
}
/* A congestion event: its window ends at SND.MAX. */
void tcp_mark_recover(struct tcb *tcb);
static inline struct pkt *tcp_ooo_head(const struct tcb *tcb)
{
	return tcb->lx ? tcb->lx->ooo : NULL;
}
static inline uint32_t tcp_ooo_count(const struct tcb *tcb)
{
	return tcb->lx ? tcb->lx->ooo_count : 0;
}
/* A segment was sent again: counted for TCP_INFO when the side structure
 * can be had (a count, not state: nothing depends on it). */
static inline void tcp_count_retrans(struct tcb *tcb)
{
	struct tcp_lossx *x = tcp_lossx_get(tcb);

	if (x)
		x->total_retrans++;
}
/* Sender: takes the SACK blocks of an acceptable ACK into the scoreboard;
 * 1 when they told something new. */
int tcp_sack_update(struct tcb *tcb, const struct tcp_seg *seg);
void tcp_sack_trim(struct tcb *tcb);        /* after SND.UNA moved */
int tcp_sack_lost_head(const struct tcb *tcb); /* RFC 6675 IsLost(SND.UNA) */
uint32_t tcp_sack_bytes(const struct tcb *tcb);  /* SACKed bytes above SND.UNA */
/* RFC 6937: an ACK in SACK recovery delivered `delivered` bytes; sets
 * cwnd to pipe plus what PRR lets go out now. */
void tcp_prr_ack(struct tcb *tcb, uint32_t delivered);
/* Undo (RFC 2883 4.1): before a window reduction, remember what to go
 * back to; after a loss episode, go back when every retransmission in
 * it was reported a duplicate. */
void tcp_undo_save(struct tcb *tcb);
void tcp_undo_check(struct tcb *tcb);
uint32_t tcp_sack_pipe(const struct tcb *tcb);  /* RFC 6675 pipe */
/* SND.NXT - SND.UNA less what is SACKed below SND.NXT: the flight of
 * go-back-N after an RTO, which skips SACKed data. */
uint32_t tcp_sack_flight(const struct tcb *tcb);
/* The end of the SACKed range holding seq, or seq when none does; *lim
 * gets the start of the next SACKed range above seq (or snd_max). */
uint32_t tcp_sack_skip(const struct tcb *tcb, uint32_t seq, uint32_t *lim);
/* RFC 6675 NextSeg rule 1: a lost hole's next bytes to resend; 0 if none. */
int tcp_sack_next_lost(const struct tcb *tcb, uint32_t mss, uint32_t *seq, uint32_t *len);
/* Enters SACK-based recovery (tcp_input.c); 0 when it cannot. */
int tcp_sack_enter(struct ust_stack *stk, struct tcb *tcb);
/* --- tcp_rack.c: RACK-TLP (RFC 8985), on the scoreboard --- */
void tcp_rack_arm(struct ust_stack *stk, struct tcb *tcb);    /* a hole is known */
void tcp_rack_timeout(struct ust_stack *stk, struct tcb *tcb);
/* The deadline of the retransmission timer: a tail loss probe (TK_TLP)
 * when one is due, else the RTO (TK_REXMIT). */
void tcp_rack_arm_pto(struct ust_stack *stk, struct tcb *tcb);
void tcp_tlp_fire(struct ust_stack *stk, struct tcb *tcb);
/* Receiver: an out-of-order segment was queued / a duplicate came. */
void tcp_sack_rcv_ooo(struct tcb *tcb, uint32_t seq);
void tcp_sack_rcv_dup(struct tcb *tcb, uint32_t lo, uint32_t hi);
/* Writes the SACK option (NOP NOP 5 len blocks) into o, at most room
 * bytes; returns its length (0: nothing to say). */
size_t tcp_sack_option(struct tcb *tcb, uint8_t *o, size_t room);

/* The delayed ACK's deadline (TIMER_NEVER: none). now is within 2^31 us
 * of it: a delayed ACK is at most delack_us (at most a second) away. */
static inline uint64_t tcp_delack_at(const struct tcb *tcb, uint64_t now)
{
	if (!(tcb->flags & TF_DELACK))
		return TIMER_NEVER;
	return now + (uint64_t)(int64_t)(int32_t)(tcb->delack_lo - (uint32_t)now);
}
static inline void tcp_delack_set(struct tcb *tcb, uint64_t at)
{
	tcb->delack_lo = (uint32_t)at;
	tcb->flags |= TF_DELACK;
}

static inline uint32_t tcp_flight(const struct tcb *tcb) { return tcb->snd_nxt - tcb->snd_una; }

static inline int tcp_synchronized(int state)
{
	return state != TCPS_CLOSED && state != TCPS_LISTEN && state != TCPS_SYN_SENT &&
	       state != TCPS_SYN_RCVD;
}

#endif
