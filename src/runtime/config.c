/* struct ust_config and the USTACK_* environment -> struct rt_config.
 * Precedence: struct field, then environment, then default. A bad value is
 * reported on one line naming its source and the value; never fatal. */
#include "runtime/runtime.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "tcp/tcp.h"

#define DEF_TAP "ustack0"
#define DEF_IP "10.77.0.2/24"
#define DEF_HOST_IP "10.77.0.1/24"

static uint32_t prefix_mask(uint8_t prefix)
{
	return prefix ? ~(uint32_t)0 << (32 - prefix) : 0;
}

/* Strict dotted quad: inet_pton(AF_INET) takes exactly four decimal parts. */
int rt_parse_ip(const char *s, uint32_t *ip, const char **why)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1) {
		*why = "not an IPv4 address";
		return -EINVAL;
	}
	*ip = ntohl(a.s_addr);
	return 0;
}

/* Addresses a host cannot take as its own (RFC 1122 3.2.1.3). */
static const char *bad_host_addr(uint32_t ip, uint8_t prefix)
{
	uint32_t host = ip & ~prefix_mask(prefix);

	if (ip == 0)
		return "the unspecified address is not a host address";
	if ((ip >> 24) == 127)
		return "a loopback address is not a host address";
	if ((ip >> 28) >= 14)
		return "a multicast or reserved address is not a host address";
	if (prefix <= 30 && (host == 0 || host == ~prefix_mask(prefix)))
		return "the network or broadcast address of its prefix is not a host address";
	return NULL;
}

int rt_parse_ip_prefix(const char *s, uint32_t *ip, uint8_t *prefix, const char **why)
{
	char buf[INET_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	const char *p;
	size_t n;
	unsigned v = 0;

	*why = "not an IPv4 address/prefix";
	if (!slash || slash == s || !slash[1])
		return -EINVAL;
	n = (size_t)(slash - s);
	if (n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (rt_parse_ip(buf, ip, why) < 0) {
		*why = "not an IPv4 address/prefix";
		return -EINVAL;
	}
	for (p = slash + 1; *p; p++) {
		if (!isdigit((unsigned char)*p) || p - slash > 2)
			return -EINVAL;
		v = v * 10 + (unsigned)(*p - '0');
	}
	if (v < 1 || v > 32) {
		*why = "prefix length must be 1..32";
		return -EINVAL;
	}
	*prefix = (uint8_t)v;
	*why = bad_host_addr(*ip, *prefix);
	return *why ? -EINVAL : 0;
}

int rt_parse_mac(const char *s, uint8_t mac[6], const char **why)
{
	unsigned v[6];
	char tail;

	*why = "not a MAC address (xx:xx:xx:xx:xx:xx)";
	if (strlen(s) != 17)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		if (!isxdigit((unsigned char)s[3 * i]) || !isxdigit((unsigned char)s[3 * i + 1]) ||
		    (i < 5 && s[3 * i + 2] != ':'))
			return -EINVAL;
	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
	           &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	if (mac[0] & 1) {
		*why = "a multicast MAC address cannot be a station's address";
		return -EINVAL;
	}
	if (!(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5])) {
		*why = "the all-zero MAC address is not a station's address";
		return -EINVAL;
	}
	return 0;
}

int rt_parse_mtu(const char *s, uint16_t *mtu, const char **why)
{
	static char msg[64];
	char *end;
	unsigned long v;

	if (!isdigit((unsigned char)s[0]))
		goto bad;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end)
		goto bad;
	if (v < RT_MTU_MIN || v > RT_MTU_MAX)
		goto bad;
	*mtu = (uint16_t)v;
	return 0;
bad:
	/* The upper bound is what a packet buffer holds (PKT_DATA_MAX). */
	snprintf(msg, sizeof(msg), "not an MTU in %u..%u", RT_MTU_MIN, (unsigned)RT_MTU_MAX);
	*why = msg;
	return -EINVAL;
}

/* The kernel's rules for a device name (dev_valid_name). */
int rt_parse_ifname(const char *s, const char **why)
{
	if (strlen(s) >= IFNAMSIZ) {
		*why = "interface name longer than 15 characters";
		return -EINVAL;
	}
	if (!strcmp(s, ".") || !strcmp(s, "..")) {
		*why = "not an interface name";
		return -EINVAL;
	}
	for (const char *p = s; *p; p++)
		if (*p == '/' || *p == ':' || isspace((unsigned char)*p) || !isprint((unsigned char)*p)) {
			*why = "interface name contains '/', ':', a space or a control character";
			return -EINVAL;
		}
	return 0;
}

/* One item of USTACK_EXTRA_IPS: "A", "A/len" or "A-B". */
static int parse_one_range(char *item, struct stk_ip_range *r, const char **why)
{
	char *sep = strpbrk(item, "/-");
	uint32_t a, b;
	uint8_t prefix;

	if (sep && *sep == '/') {
		/* A prefix gives its host addresses: not the network or the
		 * broadcast address (RFC 1122 3.2.1.3) unless /31 or /32. */
		if (rt_parse_ip_prefix(item, &a, &prefix, why) < 0 && *why &&
		    strcmp(*why, "the network or broadcast address of its prefix is not a host address"))
			return -EINVAL;
		r->first = a & prefix_mask(prefix);
		r->count = (uint32_t)((uint64_t)1 << (32 - prefix)) - (prefix <= 30 ? 2u : 0u);
		r->first += prefix <= 30;
		if (!r->count)  /* /0: all of IPv4 cannot be ours */
			goto bad;
		return 0;
	}
	if (sep)
		*sep = '\0';
	if (rt_parse_ip(item, &a, why) < 0)
		return -EINVAL;
	b = a;
	if (sep && rt_parse_ip(sep + 1, &b, why) < 0)
		return -EINVAL;
	if (b < a)
		goto bad;
	if ((*why = bad_host_addr(a, 32)) || (*why = bad_host_addr(b, 32)))
		return -EINVAL;
	r->first = a;
	r->count = b - a + 1;
	return r->count ? 0 : -EINVAL;
bad:
	*why = "not an address range (A, A/len or A-B, comma-separated)";
	return -EINVAL;
}

int rt_parse_ip_ranges(const char *s, struct stk_ip_range *r, unsigned max, const char **why)
{
	char buf[512], *item, *save = NULL;
	unsigned n = 0;

	*why = "list too long";
	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%s", s);
	memset(r, 0, max * sizeof(*r));
	for (item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		if (n == max) {
			*why = "more ranges than a stack holds (8)";
			return -EINVAL;
		}
		if (parse_one_range(item, &r[n], why) < 0)
			return -EINVAL;
		n++;
	}
	if (!n) {
		*why = "no address in the list";
		return -EINVAL;
	}
	return 0;
}

/* A value and where it came from, for the message. */
struct src {
	const char *val;
	const char *name;
};

static struct src pick(const char *field, const char *field_name, const char *env)
{
	struct src s = { NULL, env };
	const char *e;

	if (field) {
		s.val = field;
		s.name = field_name;
		return s;
	}
	e = getenv(env);
	if (e && *e)
		s.val = e;
	return s;
}

static int bad(char *errbuf, size_t errlen, const struct src *s, const char *why)
{
	if (errbuf)
		snprintf(errbuf, errlen, "ustack: %s=\"%s\": %s", s->name, s->val, why);
	return -EINVAL;
}

static int random_mac(uint8_t mac[6])
{
	if (getrandom(mac, 6, 0) != 6)
		return -errno;
	mac[0] = (uint8_t)((mac[0] & 0xfe) | 0x02);  /* unicast, locally administered */
	return 0;
}

static int load_addrs(const struct ust_config *c, struct rt_config *o, char *eb, size_t el)
{
	struct src s;
	const char *why;
	uint32_t gw;

	s = pick(c ? c->ip : NULL, "ust_config.ip", "USTACK_IP");
	if (!s.val)
		s.val = DEF_IP;
	if (rt_parse_ip_prefix(s.val, &o->stk.ip, &o->prefix, &why) < 0)
		return bad(eb, el, &s, why);
	o->stk.netmask = prefix_mask(o->prefix);

	s = pick(c ? c->host_ip : NULL, "ust_config.host_ip", "USTACK_HOST_IP");
	if (!s.val)
		s.val = DEF_HOST_IP;
	if (rt_parse_ip_prefix(s.val, &o->host_ip, &o->host_prefix, &why) < 0)
		return bad(eb, el, &s, why);
	if (o->host_ip == o->stk.ip)
		return bad(eb, el, &s, "the host side cannot take the stack's own address");

	s = pick(c ? c->gw : NULL, "ust_config.gw", "USTACK_GW");
	if (!s.val) {
		gw = o->host_ip;
	} else if (!strcmp(s.val, "none")) {
		gw = 0;
	} else {
		if (rt_parse_ip(s.val, &gw, &why) < 0)
			return bad(eb, el, &s, "not an IPv4 address (or \"none\")");
		if (gw == o->stk.ip)
			return bad(eb, el, &s, "the gateway cannot be the stack's own address");
	}
	/* RFC 1122 3.3.1.1: a gateway must be on a connected network. The
	 * default (the host side) is dropped quietly when it is not. */
	if (gw && (gw & o->stk.netmask) != (o->stk.ip & o->stk.netmask)) {
		if (!s.val)
			gw = 0;
		else
			return bad(eb, el, &s, "gateway not on the stack's subnet");
	}
	o->stk.gateway = gw;
	return 0;
}

static int load_link(const struct ust_config *c, struct rt_config *o, char *eb, size_t el)
{
	struct src s;
	const char *why;
	char ierr[160];

	s = pick(c ? c->tap : NULL, "ust_config.tap", "USTACK_TAP");
	if (!s.val)
		s.val = DEF_TAP;
	if (rt_parse_ifname(s.val, &why) < 0)
		return bad(eb, el, &s, why);
	snprintf(o->tap, sizeof(o->tap), "%s", s.val);

	s = pick(c ? c->pcap : NULL, "ust_config.pcap", "USTACK_PCAP");
	if (s.val) {
		if (strlen(s.val) >= sizeof(o->pcap))
			return bad(eb, el, &s, "path too long");
		o->has_pcap = true;
		snprintf(o->pcap, sizeof(o->pcap), "%s", s.val);
	}

	s = pick(c ? c->impair : NULL, "ust_config.impair", "USTACK_IMPAIR");
	if (s.val) {
		ierr[0] = '\0';
		if (impair_parse(s.val, &o->impair, ierr, sizeof(ierr)) < 0)
			return bad(eb, el, &s, ierr[0] ? ierr : "not an impairment spec");
		o->has_impair = true;
	}
	return 0;
}

/* A decimal number in 0..max from the environment; 0 or -EINVAL. */
static int env_uint(const struct src *s, unsigned long max, unsigned long *v)
{
	char *end;

	if (!isdigit((unsigned char)s->val[0]))
		return -EINVAL;
	errno = 0;
	*v = strtoul(s->val, &end, 10);
	return errno || *end || *v > max ? -EINVAL : 0;
}

int rt_config_load_perf(struct rt_config *o, char *eb, size_t el)
{
	struct src s;
	const char *why;
	unsigned long v;

	o->offload = true;
	s = pick(NULL, NULL, "USTACK_EXTRA_IPS");
	if (s.val && rt_parse_ip_ranges(s.val, o->stk.extra_ips, STK_EXTRA_IP_RANGES, &why) < 0)
		return bad(eb, el, &s, why);
	s = pick(NULL, NULL, "USTACK_BUSY_POLL");
	if (s.val) {
		if (env_uint(&s, RT_BUSY_POLL_MAX_US, &v) < 0)
			return bad(eb, el, &s, "not 0, 1 or a budget in microseconds (at most 1000000)");
		o->busy_poll_us = v == 1 ? RT_BUSY_POLL_DEFAULT_US : (uint32_t)v;
	}
	s = pick(NULL, NULL, "USTACK_CPU");
	if (s.val) {
		if (env_uint(&s, CPU_SETSIZE - 1, &v) < 0)
			return bad(eb, el, &s, "not a CPU number");
		o->pin = true;
		o->cpu = (int)v;
	}
	s = pick(NULL, NULL, "USTACK_OFFLOAD");
	if (s.val) {
		if (env_uint(&s, 1, &v) < 0)
			return bad(eb, el, &s, "not 0 or 1");
		o->offload = v;
	}
	return 0;
}

int rt_config_load(const struct ust_config *c, struct rt_config *o, char *eb, size_t el)
{
	struct src s;
	const char *why;
	char num[16];
	int rc;

	memset(o, 0, sizeof(*o));
	stk_config_default(&o->stk);
	if (eb && el)
		eb[0] = '\0';

	rc = load_addrs(c, o, eb, el);
	if (rc < 0)
		return rc;
	rc = load_link(c, o, eb, el);
	if (rc < 0)
		return rc;
	rc = rt_config_load_perf(o, eb, el);
	if (rc < 0)
		return rc;

	if (c && c->mtu) {
		snprintf(num, sizeof(num), "%u", c->mtu);
		s.val = num;
		s.name = "ust_config.mtu";
	} else {
		s = pick(NULL, NULL, "USTACK_MTU");
	}
	o->stk.mtu = 1500;
	if (s.val && rt_parse_mtu(s.val, &o->stk.mtu, &why) < 0)
		return bad(eb, el, &s, why);

	/* Exit drains: how long the stack outlives the program (lifecycle.c). */
	s = pick(c ? c->exit_linger : NULL, "ust_config.exit_linger", "USTACK_EXIT_LINGER");
	o->exit_linger_us = RT_EXIT_LINGER_DEFAULT_US;
	if (s.val && rt_parse_duration(s.val, &o->exit_linger_us, &why) < 0)
		return bad(eb, el, &s, why);

	/* TCP tunables, checked here against a scratch copy so a bad item
	 * stops ust_init; the runtime applies them to the stack at start. */
	s = pick(NULL, NULL, "USTACK_TCP");
	if (s.val) {
		struct tcp_config scratch;

		if (strlen(s.val) >= sizeof(o->tcp_opts))
			return bad(eb, el, &s, "too long");
		tcp_config_default(&scratch);
		if (rt_parse_tcp_opts(s.val, &scratch, &why) < 0)
			return bad(eb, el, &s, why);
		strcpy(o->tcp_opts, s.val);
	}

	s = pick(c ? c->mac : NULL, "ust_config.mac", "USTACK_MAC");
	if (s.val) {
		if (rt_parse_mac(s.val, o->stk.mac, &why) < 0)
			return bad(eb, el, &s, why);
	} else {
		rc = random_mac(o->stk.mac);
		if (rc < 0) {
			if (eb)
				snprintf(eb, el, "ustack: getrandom for a MAC address: %s", strerror(-rc));
			return rc;
		}
	}
	return 0;
}
