/* Extra local addresses (USTACK_EXTRA_IPS): the stack answers ARP and echo
 * for each of them from that address, takes IP for them and for no other;
 * the list parser and the performance switches of rt_config_load. */
#include "core_test.h"

#include <stdlib.h>

#include "core/ipv4.h"
#include "runtime/runtime.h"

#define EXTRA_FIRST 0x0a4e0001u /* 10.78.0.1 */

static struct ust_stack *mkstack_extra(void)
{
	struct stk_config cfg;

	stk_config_default(&cfg);
	cfg.pkt_pool_size = 512;
	cfg.netmask = 0xff000000u;  /* 10/8: the extras are on-link */
	cfg.extra_ips[0].first = EXTRA_FIRST;
	cfg.extra_ips[0].count = 1000;
	cfg.extra_ips[1].first = 0x0a500005u;  /* 10.80.0.5 alone */
	cfg.extra_ips[1].count = 1;
	return mkstack_cfg(&cfg, 0);
}

static void ours(void **state)
{
	struct ust_stack *stk = mkstack_extra();
	(void)state;
	assert_true(ipv4_is_ours(stk, US_IP));
	assert_true(ipv4_is_ours(stk, EXTRA_FIRST));
	assert_true(ipv4_is_ours(stk, EXTRA_FIRST + 999));
	assert_false(ipv4_is_ours(stk, EXTRA_FIRST + 1000));
	assert_false(ipv4_is_ours(stk, EXTRA_FIRST - 1));
	assert_true(ipv4_is_ours(stk, 0x0a500005u));
	assert_false(ipv4_is_ours(stk, 0x0a500006u));
	assert_false(ipv4_is_ours(stk, PEER_IP));
	assert_true(ipv4_is_local(stk, EXTRA_FIRST + 5));
	stk_destroy(stk);
}

static void arp_for_extra(void **state)
{
	static const uint8_t zero[6];
	uint8_t in[64], out[128], want[64];
	struct ust_stack *stk = mkstack_extra();
	uint32_t a = EXTRA_FIRST + 17;
	(void)state;
	drain(stk);
	feed(stk, in, mk_arp(in, bcast_mac, 1, peer_mac, PEER_IP, zero, a), 0);
	/* The reply names the address asked for as its sender. */
	assert_int_equal(take(stk, out, sizeof(out)), mk_arp(want, peer_mac, 2, us_mac, a, peer_mac, PEER_IP));
	assert_memory_equal(out, want, 42);
	/* Not ours: no reply. */
	feed(stk, in, mk_arp(in, bcast_mac, 1, peer_mac, PEER_IP, zero, EXTRA_FIRST + 1000), 0);
	assert_int_equal(drain(stk), 0);
	assert_int_equal(CNT(stk, drop_arp_not_for_us), 1);
	stk_destroy(stk);
}

static void echo_from_extra(void **state)
{
	static uint8_t in[256], out[256];
	struct ust_stack *stk = mkstack_extra();
	uint32_t a = 0x0a500005u;
	long n;
	(void)state;
	learn_peer(stk, 0);
	feed(stk, in, mk_echo(in, 8, 7, 1, 16, PEER_IP, a), 10);
	n = take(stk, out, sizeof(out));
	assert_int_equal(n, 14 + 20 + 8 + 16);
	assert_int_equal(get32(out + 14 + 12), a);        /* source: the extra address */
	assert_int_equal(get32(out + 14 + 16), PEER_IP);
	assert_int_equal(out[14 + 20], 0);                /* echo reply */
	/* An address next to the range is not ours: dropped, no reply. */
	feed(stk, in, mk_echo(in, 8, 7, 2, 16, PEER_IP, a + 1), 20);
	assert_int_equal(drain(stk), 0);
	assert_int_equal(CNT(stk, drop_ip_not_for_us), 1);
	stk_destroy(stk);
}

static void parse_ranges(void **state)
{
	struct stk_ip_range r[STK_EXTRA_IP_RANGES];
	const char *why;
	(void)state;
	assert_int_equal(rt_parse_ip_ranges("10.78.0.0/16", r, STK_EXTRA_IP_RANGES, &why), 0);
	assert_int_equal(r[0].first, 0x0a4e0001u);
	assert_int_equal(r[0].count, 65534);
	assert_int_equal(r[1].count, 0);
	assert_int_equal(rt_parse_ip_ranges("10.0.0.5-10.0.0.9,10.1.2.3,10.2.0.0/31", r,
	                                    STK_EXTRA_IP_RANGES, &why), 0);
	assert_int_equal(r[0].first, 0x0a000005u);
	assert_int_equal(r[0].count, 5);
	assert_int_equal(r[1].first, 0x0a010203u);
	assert_int_equal(r[1].count, 1);
	assert_int_equal(r[2].first, 0x0a020000u);
	assert_int_equal(r[2].count, 2);
	assert_int_equal(rt_parse_ip_ranges("10.0.0.9-10.0.0.5", r, 8, &why), -EINVAL);
	assert_int_equal(rt_parse_ip_ranges("127.0.0.1", r, 8, &why), -EINVAL);
	assert_int_equal(rt_parse_ip_ranges("224.0.0.0/8", r, 8, &why), -EINVAL);
	assert_int_equal(rt_parse_ip_ranges("10.0.0.1/0", r, 8, &why), -EINVAL);
	assert_int_equal(rt_parse_ip_ranges("10.0.0", r, 8, &why), -EINVAL);
	assert_int_equal(rt_parse_ip_ranges(",", r, 8, &why), -EINVAL);
	assert_int_equal(rt_parse_ip_ranges("1.1.1.1,1.1.1.2,1.1.1.3", r, 2, &why), -EINVAL);
}

static void perf_switches(void **state)
{
	struct rt_config c;
	char eb[256];
	(void)state;
	unsetenv("USTACK_BUSY_POLL");
	unsetenv("USTACK_CPU");
	unsetenv("USTACK_OFFLOAD");
	unsetenv("USTACK_EXTRA_IPS");
	assert_int_equal(rt_config_load(NULL, &c, eb, sizeof(eb)), 0);
	assert_int_equal(c.busy_poll_us, 0);
	assert_false(c.pin);
	assert_true(c.offload);
	assert_int_equal(c.stk.extra_ips[0].count, 0);

	setenv("USTACK_BUSY_POLL", "1", 1);
	setenv("USTACK_CPU", "1", 1);
	setenv("USTACK_OFFLOAD", "0", 1);
	setenv("USTACK_EXTRA_IPS", "10.77.1.0/24", 1);
	assert_int_equal(rt_config_load(NULL, &c, eb, sizeof(eb)), 0);
	assert_int_equal(c.busy_poll_us, RT_BUSY_POLL_DEFAULT_US);
	assert_true(c.pin);
	assert_int_equal(c.cpu, 1);
	assert_false(c.offload);
	assert_int_equal(c.stk.extra_ips[0].first, 0x0a4d0101u);
	assert_int_equal(c.stk.extra_ips[0].count, 254);

	setenv("USTACK_BUSY_POLL", "50", 1);
	assert_int_equal(rt_config_load(NULL, &c, eb, sizeof(eb)), 0);
	assert_int_equal(c.busy_poll_us, 50);
	setenv("USTACK_BUSY_POLL", "fast", 1);
	assert_int_equal(rt_config_load(NULL, &c, eb, sizeof(eb)), -EINVAL);
	assert_non_null(strstr(eb, "USTACK_BUSY_POLL"));
	unsetenv("USTACK_BUSY_POLL");
	setenv("USTACK_OFFLOAD", "2", 1);
	assert_int_equal(rt_config_load(NULL, &c, eb, sizeof(eb)), -EINVAL);
	assert_non_null(strstr(eb, "USTACK_OFFLOAD"));
	unsetenv("USTACK_OFFLOAD");
	unsetenv("USTACK_CPU");
	setenv("USTACK_EXTRA_IPS", "10.77.1.9-10.77.1.1", 1);
	assert_int_equal(rt_config_load(NULL, &c, eb, sizeof(eb)), -EINVAL);
	assert_non_null(strstr(eb, "USTACK_EXTRA_IPS"));
	unsetenv("USTACK_EXTRA_IPS");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ours),
		cmocka_unit_test(arp_for_extra),
		cmocka_unit_test(echo_from_extra),
		cmocka_unit_test(parse_ranges),
		cmocka_unit_test(perf_switches),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
