/* USTACK_TCP: the TCP tunables as key=value items, each checked at load and
 * applied to a stack's live configuration at start. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "link/link.h"
#include "runtime/runtime.h"
#include "tcp/tcp.h"

static struct tcp_config tc;
static const char *why;

static int parse(const char *s)
{
	tcp_config_default(&tc);
	why = NULL;
	return rt_parse_tcp_opts(s, &tc, &why);
}

static void test_good_items(void **state)
{
	(void)state;
	assert_int_equal(parse("syncookies=0,challenge_ack_limit=100,time_wait=30s,"
	                       "rto_min=50ms,keepalive_time=600,keepalive_probes=3,sack=0"), 0);
	assert_int_equal(tc.syncookies, 0);
	assert_int_equal(tc.challenge_ack_limit, 100);
	assert_int_equal(tc.time_wait_us, 30000000);
	assert_int_equal(tc.rto_min_us, 50000);
	assert_int_equal(tc.keepidle_s, 600);
	assert_int_equal(tc.keepcnt, 3);
	assert_int_equal(tc.sack, 0);
	/* What was not named keeps Linux's default. */
	assert_int_equal(tc.rst_rate, 200);
	assert_int_equal(tc.syn_retries, 6);
	assert_int_equal(parse(""), 0);
}

static void test_bad_items(void **state)
{
	static const char *const bad[] = {
		"syncookies=2",            /* a flag */
		"nosuch=1",                /* unknown key */
		"syncookies",              /* no value */
		"=1",                      /* no key */
		"challenge_ack_limit=-1",  /* not a number */
		"challenge_ack_limit=1x",
		"time_wait=10 s",
		"sack=1,",                 /* empty item */
		",sack=1",
		"sack=1,,timestamps=1",
		"rto_min=0",               /* below its range */
		"rto_min=70s",             /* above its range */
		"rto_min=10s,rto_max=5s",  /* unordered bounds */
		"syn_retries=300",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(bad[i]), -EINVAL);
		assert_non_null(why);
	}
}

/* A bad USTACK_TCP stops loading with a message naming the variable. */
static void test_load_env(void **state)
{
	struct rt_config cfg;
	char msg[512] = "";

	(void)state;
	setenv("USTACK_TCP", "syncookies=0,time_wait=5s", 1);
	assert_int_equal(rt_config_load(NULL, &cfg, msg, sizeof(msg)), 0);
	assert_string_equal(cfg.tcp_opts, "syncookies=0,time_wait=5s");
	setenv("USTACK_TCP", "time_wait=forever", 1);
	assert_int_equal(rt_config_load(NULL, &cfg, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "USTACK_TCP=\"time_wait=forever\""));
	unsetenv("USTACK_TCP");
}

/* rt_start applies the items to the stack it makes. */
static void test_applied_at_start(void **state)
{
	struct rt_config cfg;
	struct link *la, *lb;
	struct ust_runtime *rt;
	char msg[512] = "";
	int err = 0;

	(void)state;
	setenv("USTACK_TCP", "challenge_ack_limit=7,syncookies=0,rst_rate=3", 1);
	assert_int_equal(rt_config_load(NULL, &cfg, msg, sizeof(msg)), 0);
	unsetenv("USTACK_TCP");
	assert_int_equal(link_memlink_pair(1500, 64, &la, &lb), 0);
	rt = rt_start(&cfg, la, &err);
	assert_non_null(rt);
	assert_int_equal(tcp_conf(rt->stk)->challenge_ack_limit, 7);
	assert_int_equal(tcp_conf(rt->stk)->syncookies, 0);
	assert_int_equal(tcp_conf(rt->stk)->rst_rate, 3);
	rt_stop(rt);
	rt_put(rt);
	link_close(lb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_items),
		cmocka_unit_test(test_bad_items),
		cmocka_unit_test(test_load_env),
		cmocka_unit_test(test_applied_at_start),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
