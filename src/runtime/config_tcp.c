/* USTACK_TCP: the TCP tunables Linux keeps in net.ipv4.tcp_* sysctls, as
 * one comma-separated list of key=value, e.g.
 * "syncookies=0,challenge_ack_limit=100,time_wait=30s". Keys carry the
 * sysctl's name without its tcp_ prefix where one exists. Parsed once at
 * load (a bad item stops ust_init with EINVAL and names it) and applied to
 * the stack's live tcp_config at start. */
#include "runtime/runtime.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "tcp/tcp.h"

enum tcp_key_kind {
	K_FLAG,     /* 0 or 1, a uint8_t */
	K_COUNT8,   /* a uint8_t */
	K_COUNT32,  /* a uint32_t */
	K_US,       /* a duration ("200ms", "60s", "60"), stored in microseconds */
	K_SECS,     /* a duration stored in whole seconds */
};

struct tcp_key {
	const char *name;
	size_t off;
	uint8_t kind;
	uint32_t min, max;
};

#define KEY(n, field, k, lo, hi) { n, offsetof(struct tcp_config, field), k, lo, hi }

static const struct tcp_key tcp_keys[] = {
	/* hardening (RFC 4987, 5961) */
	KEY("syncookies", syncookies, K_FLAG, 0, 1),
	KEY("challenge_ack_limit", challenge_ack_limit, K_COUNT32, 0, UINT32_MAX),
	KEY("rst_rate", rst_rate, K_COUNT32, 0, UINT32_MAX),
	KEY("rst_burst", rst_burst, K_COUNT32, 1, UINT32_MAX),
	/* options offered in a SYN (RFC 2018, 7323) */
	KEY("sack", sack, K_FLAG, 0, 1),
	KEY("timestamps", timestamps, K_FLAG, 0, 1),
	KEY("window_scaling", wscale, K_FLAG, 0, 1),
	/* timers (RFC 6298, 9293) */
	KEY("rto_min", rto_min_us, K_US, 1000, 60000000),
	KEY("rto_initial", rto_initial_us, K_US, 1000, 60000000),
	KEY("rto_max", rto_max_us, K_US, 1000, 600000000),
	KEY("time_wait", time_wait_us, K_US, 0, 600000000),
	KEY("fin_timeout", fin_wait2_us, K_US, 0, 600000000),
	KEY("delack", delack_us, K_US, 1000, 500000),
	KEY("syn_retries", syn_retries, K_COUNT8, 1, 127),
	KEY("synack_retries", synack_retries, K_COUNT8, 1, 127),
	KEY("retries2", retries, K_COUNT8, 1, 127),
	/* keepalive defaults (TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT) */
	KEY("keepalive_time", keepidle_s, K_SECS, 1, 32767),
	KEY("keepalive_intvl", keepintvl_s, K_SECS, 1, 32767),
	KEY("keepalive_probes", keepcnt, K_COUNT8, 1, 127),
	/* memory */
	KEY("somaxconn", backlog_max, K_COUNT32, 1, 1u << 24),
	KEY("ooo_max_segs", ooo_max_segs, K_COUNT32, 1, 1u << 20),
	KEY("wmem_default", sndbuf, K_COUNT32, 4096, 1u << 30),
	KEY("rmem_default", rcvbuf, K_COUNT32, 4096, 1u << 30),
	KEY("mem_max", buf_max, K_COUNT32, 4096, 1u << 30),
};

static const struct tcp_key *find_key(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(tcp_keys) / sizeof(tcp_keys[0]); i++)
		if (strlen(tcp_keys[i].name) == len && !strncmp(tcp_keys[i].name, name, len))
			return &tcp_keys[i];
	return NULL;
}

/* One value into its field; -EINVAL with why. */
static int set_key(struct tcp_config *cfg, const struct tcp_key *k, const char *val,
                   const char **why)
{
	uint64_t v;
	char *end;
	uint8_t *f = (uint8_t *)cfg + k->off;

	if (k->kind == K_US || k->kind == K_SECS) {
		if (rt_parse_duration(val, &v, why) < 0)
			return -EINVAL;
		if (k->kind == K_SECS)
			v /= 1000000u;
	} else {
		errno = 0;
		if (*val < '0' || *val > '9') {
			*why = "not a number";
			return -EINVAL;
		}
		v = strtoull(val, &end, 10);
		if (errno || *end) {
			*why = "not a number";
			return -EINVAL;
		}
	}
	if (v < k->min || v > k->max) {
		*why = "out of range";
		return -EINVAL;
	}
	if (k->kind == K_FLAG || k->kind == K_COUNT8)
		*f = (uint8_t)v;
	else
		memcpy(f, &(uint32_t){ (uint32_t)v }, sizeof(uint32_t));
	return 0;
}

int rt_parse_tcp_opts(const char *s, struct tcp_config *cfg, const char **why)
{
	char item[96];

	while (*s) {
		size_t len = strcspn(s, ",");
		const struct tcp_key *k;
		char *eq;

		if (len == 0 || len >= sizeof(item)) {
			*why = len ? "an item is too long" : "an empty item";
			return -EINVAL;
		}
		memcpy(item, s, len);
		item[len] = '\0';
		eq = strchr(item, '=');
		if (!eq || eq == item) {
			*why = "an item is not key=value";
			return -EINVAL;
		}
		k = find_key(item, (size_t)(eq - item));
		if (!k) {
			*why = "unknown key (see README: USTACK_TCP)";
			return -EINVAL;
		}
		if (set_key(cfg, k, eq + 1, why) < 0)
			return -EINVAL;
		s += len;
		if (*s == ',' && !*++s) {
			*why = "an empty item";
			return -EINVAL;
		}
	}
	/* The retransmission bounds must stay ordered (RFC 6298 2.4, 2.5). */
	if (cfg->rto_min_us > cfg->rto_max_us || cfg->rto_initial_us > cfg->rto_max_us) {
		*why = "rto_min and rto_initial must not exceed rto_max";
		return -EINVAL;
	}
	return 0;
}
