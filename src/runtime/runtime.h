/* The runtime: wraps a core stack (src/core/stack.h) for POSIX semantics.
 * One stack thread drives the core and its link; application threads call
 * the core under the stack's mutex for short critical sections and sleep on
 * hashed wait queues. Internal to the library; the CLI and tests use it. */
#ifndef USTACK_RUNTIME_RUNTIME_H
#define USTACK_RUNTIME_RUNTIME_H

#include <limits.h>
#include <net/if.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "core/stack.h"
#include "link/link.h"
#include "ustack/ustack.h"

/* --- configuration (config.c) --- */

struct rt_config {
	struct stk_config stk;   /* ip, netmask, gateway, mac, mtu + core defaults */
	uint8_t prefix;          /* of stk.ip */
	char tap[IFNAMSIZ];
	uint32_t host_ip;        /* kernel side of the TAP, host order */
	uint8_t host_prefix;
	bool has_pcap;
	char pcap[PATH_MAX];
	bool has_impair;
	struct impair_spec impair;
	/* performance (config.c load_perf): USTACK_BUSY_POLL, USTACK_CPU,
	 * USTACK_OFFLOAD; extra addresses go to stk.extra_ips */
	uint32_t busy_poll_us;     /* stack thread and blocked callers spin this long */
	bool pin;                  /* pin the stack thread to cpu */
	int cpu;
	bool offload;              /* TAP: IFF_VNET_HDR + checksum offload */
	uint64_t exit_linger_us;   /* USTACK_EXIT_LINGER (lifecycle.c) */
	char tcp_opts[512];        /* USTACK_TCP, checked at load (config_tcp.c) */
};

/* Fills out from cfg (may be NULL), then the USTACK_* environment, then the
 * defaults: a struct field wins over the environment, which wins over the
 * default. An empty environment value counts as unset. 0, or -EINVAL with
 * one line for the user in errbuf, naming the variable and the value. */
int rt_config_load(const struct ust_config *cfg, struct rt_config *out, char *errbuf,
                   size_t errlen);

/* Only the performance switches (environment only; README's table):
 * USTACK_EXTRA_IPS, USTACK_BUSY_POLL, USTACK_CPU, USTACK_OFFLOAD. Called by
 * rt_config_load; programs that fill struct rt_config themselves (bench)
 * may call it too. */
int rt_config_load_perf(struct rt_config *o, char *eb, size_t el);

/* Parsers, exposed for the unit tests. Each returns 0 or -EINVAL and writes
 * the reason (without the variable's name) to why. */
int rt_parse_ip_prefix(const char *s, uint32_t *ip, uint8_t *prefix, const char **why);
int rt_parse_ip(const char *s, uint32_t *ip, const char **why);
int rt_parse_mac(const char *s, uint8_t mac[6], const char **why);
int rt_parse_mtu(const char *s, uint16_t *mtu, const char **why);
int rt_parse_ifname(const char *s, const char **why);
#define RT_BUSY_POLL_DEFAULT_US 200u   /* USTACK_BUSY_POLL=1 */
#define RT_BUSY_POLL_MAX_US 1000000u
/* USTACK_EXTRA_IPS: comma-separated "A", "A/len" (its host addresses) or
 * "A-B"; at most STK_EXTRA_IP_RANGES items. */
int rt_parse_ip_ranges(const char *s, struct stk_ip_range *r, unsigned max, const char **why);
/* "10" (seconds), "10s", "500ms"; at most RT_EXIT_LINGER_MAX_US. */
int rt_parse_duration(const char *s, uint64_t *us, const char **why);
/* USTACK_TCP, "key=value,...": applies each item to cfg (README's list of
 * keys); 0, or -EINVAL with why (cfg may be partly changed). */
struct tcp_config;
int rt_parse_tcp_opts(const char *s, struct tcp_config *cfg, const char **why);

/* The largest MTU a packet buffer holds (frame = MTU + Ethernet header). */
#define RT_MTU_MIN 68u            /* RFC 791: every host must take 68 bytes */
#define RT_MTU_MAX_WANTED 9000u
#define RT_MTU_MAX (PKT_DATA_MAX - 14u < RT_MTU_MAX_WANTED ? PKT_DATA_MAX - 14u : RT_MTU_MAX_WANTED)

#define RT_CTL_DIR "/run/ustack"

/* --- a running stack (runtime.c) --- */

/* Wait queue buckets per stack: a waiter sleeps on bucket (socket id %
 * RT_WQ_BUCKETS) with the stack mutex and rechecks its own socket on wake-up;
 * a socket costs no condvar of its own (DESIGN.md, the budget). */
#define RT_WQ_BUCKETS 256u
#define RT_BURST 32u
/* Passes a lock holder runs for frames that came in meanwhile before it
 * leaves the rest to the stack thread: a bound on a socket call's detour. */
#define RT_INLINE_PASSES 4

struct rt_sock;

struct ust_runtime {
	pthread_mutex_t lock;          /* protects stk and every socket of it */
	uint16_t id;                   /* its slot in rt_ids (sockets keep it) */
	struct ust_stack *stk;         /* NULL once the runtime is stopped */
	struct link *link;
	struct rt_config cfg;
	pthread_cond_t wq[RT_WQ_BUCKETS];
	/* While the stack thread runs a pass, wake-ups are collected here and
	 * sent once per bucket at its end (DESIGN.md: batched wake-ups). */
	bool in_pass;
	uint64_t wake_pending[RT_WQ_BUCKETS / 64];
	pthread_cond_t txspace;        /* broadcast after each tx burst */
	uint32_t txspace_waiters;
	uint64_t tx_gen;               /* tx bursts done, for txspace waiters */
	int evfd;                      /* wakes the stack thread */
	bool kicked;                   /* an eventfd write is pending */
	bool rx_starved;               /* the pool ran dry: kick when freeing */
	/* The time the stack thread looks again by itself (its ppoll
	 * deadline): rt_kick wakes it only for an earlier timer. Under lock. */
	uint64_t sleep_dl;
	unsigned app_polling;          /* callers busy-polling the link (rt_wait) */
	/* Set by the link's rx hook (memlink): frames came in while a thread
	 * held the lock; a holder in a socket call runs them before it lets
	 * go or sleeps (rt_unhold, rt_wait). Cleared by every pass. */
	_Atomic bool rx_hint;
	bool link_unwatched;           /* the stack thread sleeps without the link fd */
	/* Bumped by every rt_wake of a bucket: busy-polling waiters watch it
	 * without the lock (USTACK_BUSY_POLL). */
	_Atomic uint32_t wake_gen[RT_WQ_BUCKETS];
	bool stop;
	bool thread_started;
	pthread_t thread;
	unsigned refs;                 /* the owner + one per socket; under lock */
	/* rt_drain (lifecycle.c) sleeps on drain_cv; while draining the stack
	 * thread broadcasts it after each pass. */
	pthread_cond_t drain_cv;
	unsigned draining;
	/* control socket (ctl.c); -1 when there is none */
	int ctl_fd;
	int ctl_evfd;
	bool ctl_started;
	pthread_t ctl_thread;
	char ctl_path[108];
};

/* Live runtimes by id: a slot is set by rt_start, before any socket of
 * the runtime exists, and cleared when its memory goes, after the last. */
#define RT_IDS 65536u
extern _Atomic(struct ust_runtime *) rt_ids[RT_IDS];
static inline struct ust_runtime *rt_by_id(uint16_t id)
{
	return atomic_load_explicit(&rt_ids[id], memory_order_acquire);
}

uint64_t rt_now_us(void);
/* pthread_create with every signal blocked in the new thread: signals
 * belong to the application's threads. 0 or a positive errno. */
int rt_spawn(pthread_t *t, void *(*fn)(void *), void *arg);

/* Starts a runtime on link (owned from then on, closed on failure too).
 * NULL with a positive errno in *err on failure. rcfg may carry only stk;
 * its other fields are shown by `ustack stat`. */
struct ust_runtime *rt_start(const struct rt_config *rcfg, struct link *link, int *err);
/* Closes every socket of rt (waking their waiters, who get EBADF), stops and
 * joins its threads, closes the link, destroys the stack. rt's memory lives
 * on until the last socket reference is gone. */
void rt_stop(struct ust_runtime *rt);

/* Drops one reference (taken by rt_start or by a socket); frees at zero. */
void rt_put(struct ust_runtime *rt);

/* Wakes the stack thread so it sends what the caller queued. Under rt->lock. */
void rt_kick(struct ust_runtime *rt);
/* Runs the frames the link's rx hook saw come in while the lock was held
 * (rt->rx_hint), before the caller lets the lock go. Under rt->lock. */
void rt_settle(struct ust_runtime *rt);
/* The calling thread holds rt->lock for a socket call from rt_hold to
 * rt_unhold (which settles): frames the peer answers with meanwhile need
 * no wake-up of the stack thread. Every rt_hold is paired before the
 * unlock (rt_sock_lock, rt_sock_unlock). */
void rt_hold(struct ust_runtime *rt);
void rt_unhold(struct ust_runtime *rt);
/* Wakes every waiter of bucket `id` (at the end of the stack thread's
 * pass when called from inside it). Under rt->lock. */
void rt_wake(struct ust_runtime *rt, uint32_t id);
/* Sleeps on bucket `id` until woken or `deadline` (rt_now_us clock;
 * UINT64_MAX: none): 0, or ETIMEDOUT. Under rt->lock. */
int rt_wait(struct ust_runtime *rt, uint32_t id, uint64_t deadline);

/* The process's runtime used by the ust_* calls, with a reference the caller
 * drops with rt_put: started by ust_init or implicitly by the first call
 * (once; its error is kept). NULL with errno set when it does not run. */
struct ust_runtime *rt_global_get(void);

/* --- process lifecycle (lifecycle.c) --- */

#define RT_EXIT_LINGER_DEFAULT_US 10000000u           /* USTACK_EXIT_LINGER: 10 s */
#define RT_EXIT_LINGER_MAX_US (86400ull * 1000000u)   /* a day */

/* Exit drains: closes every socket of rt as close(2) does (FIN; RST for
 * unread data or SO_LINGER 0), then waits, on the stack thread's passes,
 * until every connection of the stack has had its data and FIN acknowledged
 * (TIME_WAIT is not waited for) or its bound passes: SO_LINGER's seconds
 * for a socket that set them, linger_us otherwise, counted from the call.
 * Returns the connections still unfinished at their bound. */
unsigned rt_drain(struct ust_runtime *rt, uint64_t linger_us);
/* The one-line refusal of a second stack on tap, naming the process that
 * drives it (pid 0: unknown) and how that was found. */
void rt_owner_msg(char *errbuf, size_t errlen, const char *tap, pid_t pid, const char *how);
/* The process in our network namespace holding a tun fd attached to tap
 * (its /proc/PID/fdinfo), or 0. */
pid_t rt_tap_holder(const char *tap);
/* Whether pid lives in our network namespace (true when we cannot tell). */
bool rt_pid_in_our_netns(pid_t pid);

/* --- sockets (socket.c) --- */

/* ustack fds are RT_FD_BASE_DEFAULT + index, far above what the kernel
 * hands out, so a preload shim tells them apart with one compare. */
#define RT_FD_BASE_DEFAULT 1000000
/* Table capacity: 32M sockets. Ten million connections between two stacks
 * in one process (bench conns) take twenty million sockets. */
#define RT_FD_MAX (1u << 25)

/* Changes the first fd number; EBUSY once a socket exists, EINVAL when
 * base + capacity does not fit an int. */
int rt_fd_set_base(int base);
int rt_fd_base(void);
/* Whether fd is in ustack's range (not whether it is open). */
bool rt_fd_is_ours(int fd);

/* ust_socket on a given runtime (tests drive a memlink runtime with it). */
int rt_socket(struct ust_runtime *rt, int domain, int type, int protocol);
/* Closes every socket of rt; used by rt_stop. */
void rt_close_all(struct ust_runtime *rt);
/* Threads asleep on fd (0 for a bad fd): tests wait for a blocked caller
 * with it instead of sleeping. */
unsigned rt_sock_waiters(int fd);
/* Called by the core under rt->lock when a socket's readiness changes. */
void rt_sock_event(void *ctx, void *app, uint32_t events);

/* `ustack stat`: one line per socket (UDP now; TCP adds its lines here). */
void rt_stat_sockets(struct ust_runtime *rt, FILE *out);

/* --- control socket and stat (ctl.c) --- */

/* Writes the stat report of rt (rt->lock taken inside). */
void rt_stat(struct ust_runtime *rt, FILE *out, bool verbose);
/* Binds RT_CTL_DIR/<tap>.sock before the link opens, so a second stack on
 * the same TAP is refused: 0, -EADDRINUSE (a live stack owns it; message in
 * errbuf) or another negative errno (no control socket; the stack runs). */
int rt_ctl_open(const char *tap, int *fd, char *path, size_t pathlen, char *errbuf,
                size_t errlen);
/* Starts the thread that answers on fd (taken over by rt). */
int rt_ctl_start(struct ust_runtime *rt, int fd, const char *path);
/* Stops and joins the control thread, removes the socket file. */
void rt_ctl_stop(struct ust_runtime *rt);

#endif
