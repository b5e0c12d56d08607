/* The benchmark suite: one workload, two stacks. Every figure runs the same
 * code over a pair of endpoints (server, client); an endpoint is either a
 * kernel socket factory inside a network namespace, or a ustack runtime
 * (memlink or TAP). Only the endpoints differ between the ustack and the
 * kernel column of a line, so the ratio compares stacks, not programs. */
#ifndef USTACK_BENCH_BENCH_H
#define USTACK_BENCH_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <netinet/in.h>

struct ust_runtime;

/* The socket calls a workload makes; POSIX signatures, so the kernel's
 * functions and ustack's ust_* fill the same table. */
struct sockops {
	int (*bind)(int, const struct sockaddr *, socklen_t);
	int (*listen)(int, int);
	int (*accept)(int, struct sockaddr *, socklen_t *);
	int (*connect)(int, const struct sockaddr *, socklen_t);
	ssize_t (*send)(int, const void *, size_t, int);
	ssize_t (*recv)(int, void *, size_t, int);
	int (*shutdown)(int, int);
	int (*close)(int);
	int (*setsockopt)(int, int, int, const void *, socklen_t);
};

struct endpoint {
	const char *what;            /* for messages: "kernel veth a" */
	const struct sockops *ops;
	int nsfd;                    /* kernel: namespace a thread enters; -1: none */
	struct ust_runtime *rt;      /* ustack: the runtime sockets belong to */
	uint32_t ip;                 /* host order: this side's address */
};

/* A new TCP socket of ep, created in the calling thread's context (a
 * kernel endpoint's thread has entered its namespace with ep_enter). */
int ep_socket(const struct endpoint *ep);
/* Called first by every thread that works for ep: enters its namespace. */
int ep_enter(const struct endpoint *ep);

extern const struct sockops kernel_ops;

/* --- options of a run --- */

struct bench_opts {
	bool quick;
	double bulk_secs;            /* per direction */
	uint64_t bulk_bytes;
	double crr_secs;
	uint64_t crr_max;
	double rr_secs;
	uint64_t rr_max;
	uint64_t conns_n;            /* 0: the mode's default list */
	double conns_secs;           /* bound of the opening phase */
	/* kernel namespaces (paths under /run/netns) */
	const char *ns_a, *ns_b, *ns_lo, *ns_tap;
	uint32_t ip_a, ip_b;         /* veth ends, host order */
	uint32_t conns_src_base;     /* extra source addresses in ns b ... */
	unsigned conns_src_count;    /* ... how many (as many in the TAP ns) */
	uint32_t tap_src_base;       /* source addresses on lo of the TAP ns */
	uint32_t ip_lo;              /* 127.0.0.1 */
	/* the TAP namespace: the kernel side and ustack's address */
	uint32_t tap_host_ip, tap_stack_ip;
	const char *tap_name;
	uint16_t port_base;
};

/* --- results --- */

/* A figure that was not measured carries NAN and a reason; a measured one
 * may carry a note in why. */
struct figure {
	double v;
	char why[160];
};

void fig_set(struct figure *f, double v);
void fig_na(struct figure *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool fig_ok(const struct figure *f);

/* Writes "key=value" (or key=NA) to out with prec decimals. */
void put_kv(FILE *out, const char *key, const struct figure *f, int prec);
/* Writes "key=a/b" or key=NA. */
void put_ratio(FILE *out, const char *key, const struct figure *a, const struct figure *b);
/* One "# NAME: why" line per NA figure with a reason ("# NAME: note: ..."
 * for a measured figure that carries a remark). */
void put_why(FILE *out, const char *name, const struct figure *f);

/* --- workloads (work.c): each returns 0 or -1 with a reason in the figure --- */

enum bulk_dir { BULK_C2S, BULK_S2C };
void run_bulk(const struct bench_opts *o, const struct endpoint *srv, const struct endpoint *cli,
              enum bulk_dir dir, uint16_t port, struct figure *gbps);
void run_crr(const struct bench_opts *o, const struct endpoint *srv, const struct endpoint *cli,
             uint16_t port, struct figure *cps);
void run_rr(const struct bench_opts *o, const struct endpoint *srv, const struct endpoint *cli,
            uint16_t port, struct figure *p50_us, struct figure *p99_us);

/* --- connection scale --- */

struct conns_result {
	struct figure cps_open;
	struct figure server_bytes, client_bytes;   /* per connection */
	struct figure epoll_round_us;
	uint64_t opened;
};
/* The kernel: server in ns a, client process in ns b (kconns.c). */
void kernel_conns(const struct bench_opts *o, uint64_t n, struct conns_result *r);
/* Kernel clients in the TAP namespace, ustack's server ust on the TAP. */
void tap_conns(const struct bench_opts *o, uint64_t n, const struct endpoint *ust,
               struct conns_result *r);
/* ustack <-> ustack over a memlink in this process (uconns.c). */
void ustack_conns(const struct bench_opts *o, uint64_t n, struct conns_result *r);

/* ustack's epoll for the conns rounds (uconns.c): -1 with errno ENOSYS
 * while ustack has none. A round: activate() makes 1% of the connections
 * readable and returns how many; one ust_epoll_wait reporting them all is
 * timed; the server sockets (sfds[data]) are read. Median of the rounds. */
#define EPOLL_ROUNDS 5u
/* One connection in epoll_active_every() is active in a round: 100 (1%),
 * or BENCH_EPOLL_EVERY (a larger share loads the links more; the figure
 * then carries a note). */
#define EPOLL_ACTIVE_EVERY_DEFAULT 100u
unsigned epoll_active_every(void);
/* Notes a share other than the default on a measured epoll figure. */
void epoll_share_note(struct figure *f);
#define EPOLL_WAIT_FOR_ALL_NS 10000000000ull  /* bound for the bytes of a round to arrive */
int ust_epoll_open(void);
int ust_epoll_add(int ep, int fd, uint64_t data);
/* ustack's server side of conns: a thread accepting n connections on lfd
 * into fds[], each registered with epoll ep (when >= 0) under its index;
 * t_last is when the last one came, err the errno that stopped it. */
struct uacc {
	const struct endpoint *srv;
	int lfd, ep;
	int *fds;
	uint64_t n, accepted, t_last;
	int err;
};
void *uacc_thread(void *arg);
void ust_epoll_rounds(int ep, const int *sfds, uint64_t n,
                      uint64_t (*activate)(void *arg, unsigned round), void *arg,
                      struct figure *f);

/* --- ustack endpoints (ust.c) --- */

/* NULL when ustack's TCP socket API is not usable yet; otherwise why the
 * calls are missing goes to why. */
const struct sockops *ustack_ops(char *why, size_t len);
/* Two runtimes joined by a memlink; 0 or -1 with why. */
int ustack_memlink_pair(struct endpoint *a, struct endpoint *b, char *why, size_t len);
/* The same, b (the client) holding b_extra more addresses from
 * UST_MB_EXTRA_FIRST up, on the same /16. */
int ustack_memlink_pair_extra(struct endpoint *a, struct endpoint *b, uint32_t b_extra,
                              char *why, size_t len);
#define UST_MB_EXTRA_FIRST 0x0a580101u
/* A runtime on a TAP created inside the TAP namespace. */
int ustack_tap(const struct bench_opts *o, struct endpoint *ep, char *why, size_t len);
void ustack_stop(struct endpoint *ep);
/* sizeof(struct rt_sock): the runtime's per-socket object. */
size_t bench_sock_size(void);

/* --- util.c --- */

uint64_t now_ns(void);
double secs_since(uint64_t t0_ns);
int open_ns(const char *path);  /* O_RDONLY fd of /run/netns/NAME, or -1 */
int percentile_us(uint64_t *ns, size_t n, double *p50, double *p99);
/* /proc/meminfo "Slab:" plus /proc/net/sockstat TCP "mem" pages, bytes. */
int64_t kernel_sock_mem(void);
int64_t meminfo_kb(const char *key);
int64_t rss_bytes(void);
/* Fills a sockaddr_in; ip, port host order. */
void mk_sin(struct sockaddr_in *s, uint32_t ip, uint16_t port);
/* Sends / receives exactly len bytes with ops: len, 0 at EOF, -1 on error. */
ssize_t send_all(const struct sockops *ops, int fd, const void *buf, size_t len);
ssize_t recv_all(const struct sockops *ops, int fd, void *buf, size_t len);
const char *ipstr(uint32_t ip, char *buf);
/* Joins an accept thread within secs; past that, shuts the listener down
 * (which wakes a blocked accept) and joins. */
void join_acceptor(pthread_t t, const struct endpoint *ep, int lfd, double secs);

#endif
