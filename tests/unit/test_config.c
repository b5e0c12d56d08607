/* The runtime's configuration: USTACK_* variables and struct ust_config
 * fields, good and bad values, precedence, and the one-line messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"

static const char *const vars[] = {
	"USTACK_TAP", "USTACK_IP", "USTACK_HOST_IP", "USTACK_GW",
	"USTACK_MAC", "USTACK_MTU", "USTACK_PCAP", "USTACK_IMPAIR",
};

static int clear_env(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
	return 0;
}

#define IP4(a, b, c, d) (((uint32_t)(a) << 24) | ((b) << 16) | ((c) << 8) | (d))

static struct rt_config cfg;
static char msg[512];

static int load_env(const char *var, const char *val)
{
	clear_env(NULL);
	if (var)
		setenv(var, val, 1);
	memset(msg, 0, sizeof(msg));
	return rt_config_load(NULL, &cfg, msg, sizeof(msg));
}

/* A bad value fails with EINVAL and one line naming the variable and value. */
static void expect_bad(const char *var, const char *val)
{
	char want[256];

	snprintf(want, sizeof(want), "ustack: %s=\"%s\": ", var, val);
	assert_int_equal(load_env(var, val), -EINVAL);
	if (strncmp(msg, want, strlen(want)) != 0)
		fail_msg("message for %s=%s: \"%s\"", var, val, msg);
	assert_null(strchr(msg, '\n'));
	assert_true(strlen(msg) > strlen(want));  /* a reason follows */
}

static void test_defaults(void **state)
{
	(void)state;
	assert_int_equal(load_env(NULL, NULL), 0);
	assert_string_equal(cfg.tap, "ustack0");
	assert_int_equal(cfg.stk.ip, IP4(10, 77, 0, 2));
	assert_int_equal(cfg.prefix, 24);
	assert_int_equal(cfg.stk.netmask, 0xffffff00u);
	assert_int_equal(cfg.host_ip, IP4(10, 77, 0, 1));
	assert_int_equal(cfg.host_prefix, 24);
	assert_int_equal(cfg.stk.gateway, IP4(10, 77, 0, 1));
	assert_int_equal(cfg.stk.mtu, 1500);
	assert_false(cfg.has_pcap);
	assert_false(cfg.has_impair);
	/* Random MAC: unicast (bit 0 clear), locally administered (bit 1 set). */
	assert_int_equal(cfg.stk.mac[0] & 3, 2);
	/* The core's own defaults are kept for what the environment does not set. */
	assert_true(cfg.stk.pkt_pool_size > 0);
}

static void test_random_mac_differs(void **state)
{
	uint8_t first[6];

	(void)state;
	assert_int_equal(load_env(NULL, NULL), 0);
	memcpy(first, cfg.stk.mac, 6);
	assert_int_equal(load_env(NULL, NULL), 0);
	/* 46 random bits: equal twice in a row would mean no randomness. */
	assert_memory_not_equal(first, cfg.stk.mac, 6);
}

static void test_empty_is_unset(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		assert_int_equal(load_env(vars[i], ""), 0);
		assert_string_equal(cfg.tap, "ustack0");
		assert_int_equal(cfg.stk.ip, IP4(10, 77, 0, 2));
		assert_int_equal(cfg.stk.mtu, 1500);
		assert_false(cfg.has_pcap);
		assert_false(cfg.has_impair);
	}
}

static void test_tap(void **state)
{
	(void)state;
	assert_int_equal(load_env("USTACK_TAP", "ust12345"), 0);
	assert_string_equal(cfg.tap, "ust12345");
	assert_int_equal(load_env("USTACK_TAP", "abcdefghijklmno"), 0);  /* 15: fits */
	assert_string_equal(cfg.tap, "abcdefghijklmno");
	expect_bad("USTACK_TAP", "abcdefghijklmnop");  /* 16: does not fit IFNAMSIZ */
	expect_bad("USTACK_TAP", "a/b");
	expect_bad("USTACK_TAP", "a b");
	expect_bad("USTACK_TAP", "eth0:1");
	expect_bad("USTACK_TAP", "..");
}

static void test_ip(void **state)
{
	(void)state;
	assert_int_equal(load_env("USTACK_IP", "10.77.0.9/16"), 0);
	assert_int_equal(cfg.stk.ip, IP4(10, 77, 0, 9));
	assert_int_equal(cfg.prefix, 16);
	assert_int_equal(cfg.stk.netmask, 0xffff0000u);
	assert_int_equal(load_env("USTACK_IP", "10.77.0.2/32"), 0);
	assert_int_equal(cfg.stk.netmask, 0xffffffffu);
	/* The default gateway (10.77.0.1) is off a /32: no gateway rather than
	 * an unreachable one. */
	assert_int_equal(cfg.stk.gateway, 0);

	assert_int_equal(load_env("USTACK_IP", "10.77.0.300/24"), -EINVAL);
	assert_string_equal(msg, "ustack: USTACK_IP=\"10.77.0.300/24\": not an IPv4 address/prefix");
	expect_bad("USTACK_IP", "10.77.0.2");
	expect_bad("USTACK_IP", "10.77.0.2/");
	expect_bad("USTACK_IP", "/24");
	expect_bad("USTACK_IP", "10.77.0.2/33");
	expect_bad("USTACK_IP", "10.77.0.2/0");
	expect_bad("USTACK_IP", "10.77.0.2/24x");
	expect_bad("USTACK_IP", "10.77.0.2/-1");
	expect_bad("USTACK_IP", "10.77.2/24");
	expect_bad("USTACK_IP", "hello");
	expect_bad("USTACK_IP", "10.77.0.0/24");    /* network address */
	expect_bad("USTACK_IP", "10.77.0.255/24");  /* broadcast address */
	expect_bad("USTACK_IP", "0.0.0.0/24");
	expect_bad("USTACK_IP", "127.0.0.1/8");
	expect_bad("USTACK_IP", "224.0.0.1/24");
}

static void test_host_ip(void **state)
{
	(void)state;
	assert_int_equal(load_env("USTACK_HOST_IP", "10.77.0.254/24"), 0);
	assert_int_equal(cfg.host_ip, IP4(10, 77, 0, 254));
	assert_int_equal(cfg.host_prefix, 24);
	assert_int_equal(cfg.stk.gateway, IP4(10, 77, 0, 254));  /* follows the host */
	expect_bad("USTACK_HOST_IP", "10.77.0.1");
	expect_bad("USTACK_HOST_IP", "10.77.0.256/24");
	expect_bad("USTACK_HOST_IP", "10.77.0.2/24");  /* the stack's own address */
}

static void test_gw(void **state)
{
	(void)state;
	assert_int_equal(load_env("USTACK_GW", "10.77.0.254"), 0);
	assert_int_equal(cfg.stk.gateway, IP4(10, 77, 0, 254));
	assert_int_equal(load_env("USTACK_GW", "none"), 0);
	assert_int_equal(cfg.stk.gateway, 0);
	expect_bad("USTACK_GW", "10.77.0.254/24");
	expect_bad("USTACK_GW", "10.77.1");
	expect_bad("USTACK_GW", "10.78.0.1");  /* not on the subnet */
	expect_bad("USTACK_GW", "10.77.0.2");  /* ourselves */
}

static void test_mac(void **state)
{
	static const uint8_t want[6] = { 0x02, 0x00, 0x00, 0x77, 0x00, 0xa2 };

	(void)state;
	assert_int_equal(load_env("USTACK_MAC", "02:00:00:77:00:A2"), 0);
	assert_memory_equal(cfg.stk.mac, want, 6);
	expect_bad("USTACK_MAC", "02:00:00:77:00");
	expect_bad("USTACK_MAC", "02:00:00:77:00:02:03");
	expect_bad("USTACK_MAC", "02-00-00-77-00-02");
	expect_bad("USTACK_MAC", "02:00:00:77:00:0g");
	expect_bad("USTACK_MAC", "2:0:0:77:0:2");
	expect_bad("USTACK_MAC", "01:00:5e:00:00:01");  /* multicast */
	expect_bad("USTACK_MAC", "ff:ff:ff:ff:ff:ff");
	expect_bad("USTACK_MAC", "00:00:00:00:00:00");
}

static void test_mtu(void **state)
{
	char max[16];

	(void)state;
	assert_int_equal(load_env("USTACK_MTU", "68"), 0);
	assert_int_equal(cfg.stk.mtu, 68);
	assert_int_equal(load_env("USTACK_MTU", "1400"), 0);
	assert_int_equal(cfg.stk.mtu, 1400);
	snprintf(max, sizeof(max), "%u", (unsigned)RT_MTU_MAX);
	assert_int_equal(load_env("USTACK_MTU", max), 0);
	assert_int_equal(cfg.stk.mtu, RT_MTU_MAX);
	snprintf(max, sizeof(max), "%u", (unsigned)RT_MTU_MAX + 1);
	expect_bad("USTACK_MTU", max);
	expect_bad("USTACK_MTU", "67");
	expect_bad("USTACK_MTU", "0");
	expect_bad("USTACK_MTU", "9001");
	expect_bad("USTACK_MTU", "-1500");
	expect_bad("USTACK_MTU", "1500x");
	expect_bad("USTACK_MTU", " 1500");
	expect_bad("USTACK_MTU", "99999999999999999999");
}

static void test_pcap(void **state)
{
	char longpath[PATH_MAX + 10];

	(void)state;
	assert_int_equal(load_env("USTACK_PCAP", "/tmp/x.pcap"), 0);
	assert_true(cfg.has_pcap);
	assert_string_equal(cfg.pcap, "/tmp/x.pcap");
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(load_env("USTACK_PCAP", longpath), -EINVAL);
	assert_non_null(strstr(msg, "USTACK_PCAP="));
}

static void test_impair(void **state)
{
	(void)state;
	assert_int_equal(load_env("USTACK_IMPAIR", "loss=5%,seed=7"), 0);
	assert_true(cfg.has_impair);
	assert_int_equal(cfg.impair.tx.loss_ppm, 50000);
	assert_int_equal(cfg.impair.rx.loss_ppm, 50000);
	assert_int_equal(cfg.impair.seed, 7);
	expect_bad("USTACK_IMPAIR", "loss=lots");
	expect_bad("USTACK_IMPAIR", "bogus=1");
}

/* A struct field beats the environment, which beats the default. */
static void test_precedence(void **state)
{
	struct ust_config uc = { 0 };

	(void)state;
	clear_env(NULL);
	setenv("USTACK_IP", "10.77.0.3/24", 1);
	setenv("USTACK_MTU", "1300", 1);
	setenv("USTACK_TAP", "envtap", 1);
	uc.ip = "10.77.0.5/24";
	uc.mtu = 1400;
	assert_int_equal(rt_config_load(&uc, &cfg, msg, sizeof(msg)), 0);
	assert_int_equal(cfg.stk.ip, IP4(10, 77, 0, 5));
	assert_int_equal(cfg.stk.mtu, 1400);
	assert_string_equal(cfg.tap, "envtap");  /* field unset: environment */

	uc.ip = "10.77.0.300/24";
	assert_int_equal(rt_config_load(&uc, &cfg, msg, sizeof(msg)), -EINVAL);
	assert_string_equal(msg, "ustack: ust_config.ip=\"10.77.0.300/24\": not an IPv4 address/prefix");
	uc.ip = NULL;
	uc.mtu = 9001;
	assert_int_equal(rt_config_load(&uc, &cfg, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "ust_config.mtu=\"9001\""));
	clear_env(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_defaults, clear_env),
		cmocka_unit_test_setup(test_random_mac_differs, clear_env),
		cmocka_unit_test_setup(test_empty_is_unset, clear_env),
		cmocka_unit_test_setup(test_tap, clear_env),
		cmocka_unit_test_setup(test_ip, clear_env),
		cmocka_unit_test_setup(test_host_ip, clear_env),
		cmocka_unit_test_setup(test_gw, clear_env),
		cmocka_unit_test_setup(test_mac, clear_env),
		cmocka_unit_test_setup(test_mtu, clear_env),
		cmocka_unit_test_setup(test_pcap, clear_env),
		cmocka_unit_test_setup(test_impair, clear_env),
		cmocka_unit_test_setup(test_precedence, clear_env),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
