/* The timer wheel on virtual time: arm, cancel, re-arm, deadlines past one
 * round of the wheel, next_deadline, callbacks that re-arm themselves. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/timer.h"

struct probe {
	struct timer t;
	unsigned fired;
	uint64_t at;
	uint64_t rearm;  /* re-arm this far ahead when fired, if nonzero */
	struct timer_wheel *w;
};

static void probe_fn(struct ust_stack *stk, struct timer *t, uint64_t now)
{
	struct probe *p = (struct probe *)t;
	(void)stk;
	p->fired++;
	p->at = now;
	if (p->rearm)
		timer_arm(p->w, t, now + p->rearm);
}

static struct timer_wheel wheel;

static void probe_init(struct probe *p)
{
	timer_init(&p->t);
	p->fired = 0;
	p->at = 0;
	p->rearm = 0;
	p->w = &wheel;
}

static void arm_fire_once(void **state)
{
	struct probe a;
	(void)state;
	timer_wheel_init(&wheel, 1000000, probe_fn);
	probe_init(&a);
	assert_int_equal(timer_next_deadline(&wheel), TIMER_NEVER);
	timer_arm(&wheel, &a.t, 1005500);
	assert_true(timer_armed(&a.t));
	assert_true(timer_next_deadline(&wheel) <= 1005500);
	assert_true(timer_next_deadline(&wheel) >= 1005000);
	assert_int_equal(timer_run(&wheel, NULL, 1005499), 0);
	assert_int_equal(a.fired, 0);
	assert_int_equal(timer_run(&wheel, NULL, 1005500), 1);
	assert_int_equal(a.fired, 1);
	assert_false(timer_armed(&a.t));
	assert_int_equal(timer_run(&wheel, NULL, 2000000), 0);
	assert_int_equal(a.fired, 1);
	assert_int_equal(timer_next_deadline(&wheel), TIMER_NEVER);
}

static void cancel_and_rearm(void **state)
{
	struct probe a, b;
	(void)state;
	timer_wheel_init(&wheel, 0, probe_fn);
	probe_init(&a);
	probe_init(&b);
	timer_arm(&wheel, &a.t, 10000);
	timer_arm(&wheel, &b.t, 20000);
	timer_cancel(&wheel, &a.t);
	assert_false(timer_armed(&a.t));
	timer_cancel(&wheel, &a.t); /* twice is harmless */
	assert_int_equal(wheel.armed, 1);
	/* Re-arming moves: b now fires at 5 ms, not 20 ms. */
	timer_arm(&wheel, &b.t, 5000);
	assert_int_equal(wheel.armed, 1);
	assert_int_equal(timer_next_deadline(&wheel), 5000);
	assert_int_equal(timer_run(&wheel, NULL, 30000), 1);
	assert_int_equal(a.fired, 0);
	assert_int_equal(b.fired, 1);
	assert_int_equal(b.at, 30000);
	/* Re-arm later than before, then earlier. */
	timer_arm(&wheel, &a.t, 100000);
	timer_arm(&wheel, &a.t, 40000);
	assert_int_equal(timer_run(&wheel, NULL, 39999), 0);
	assert_int_equal(timer_run(&wheel, NULL, 40000), 1);
	assert_int_equal(a.fired, 1);
}

static void far_deadlines(void **state)
{
	struct probe a, b;
	uint64_t t;
	(void)state;
	timer_wheel_init(&wheel, 0, probe_fn);
	probe_init(&a);
	probe_init(&b);
	/* 10 s and 60 s are 10000 and 60000 ticks: several rounds away. */
	timer_arm(&wheel, &a.t, 10 * 1000000ull);
	timer_arm(&wheel, &b.t, 60 * 1000000ull + 123);
	assert_int_equal(timer_next_deadline(&wheel), 10 * 1000000ull);
	/* Step in 1 ms ticks through the first rounds: nothing early. */
	for (t = 1000; t < 10 * 1000000ull; t += 1000)
		assert_int_equal(timer_run(&wheel, NULL, t), 0);
	assert_int_equal(timer_run(&wheel, NULL, 10 * 1000000ull), 1);
	assert_int_equal(a.fired, 1);
	assert_int_equal(b.fired, 0);
	assert_true(timer_next_deadline(&wheel) <= 60 * 1000000ull + 123);
	/* A jump far ahead runs it once. */
	assert_int_equal(timer_run(&wheel, NULL, 59 * 1000000ull), 0);
	assert_int_equal(timer_run(&wheel, NULL, 3600 * 1000000ull), 1);
	assert_int_equal(b.fired, 1);
	assert_int_equal(b.at, 3600 * 1000000ull);
}

static void next_deadline_is_earliest(void **state)
{
	struct probe p[5];
	static const uint64_t when[5] = {9000000, 7000, 5000001, 7000, 123456};
	(void)state;
	timer_wheel_init(&wheel, 0, probe_fn);
	for (int i = 0; i < 5; i++) {
		probe_init(&p[i]);
		timer_arm(&wheel, &p[i].t, when[i]);
	}
	assert_int_equal(timer_next_deadline(&wheel), 7000);
	assert_int_equal(timer_run(&wheel, NULL, 7000), 2);
	assert_int_equal(timer_next_deadline(&wheel), 123456);
	timer_cancel(&wheel, &p[4].t);
	assert_int_equal(timer_next_deadline(&wheel), 5000001);
	assert_int_equal(timer_run(&wheel, NULL, 9000000), 2);
	assert_int_equal(timer_next_deadline(&wheel), TIMER_NEVER);
}

static void self_rearming_timer(void **state)
{
	struct probe a;
	(void)state;
	timer_wheel_init(&wheel, 0, probe_fn);
	probe_init(&a);
	a.rearm = 1000;
	timer_arm(&wheel, &a.t, 1000);
	/* A periodic 1 ms timer run once at 10 ms fires once, not ten times:
	 * the re-arm lands after `now`. */
	assert_int_equal(timer_run(&wheel, NULL, 10000), 1);
	assert_true(timer_armed(&a.t));
	assert_int_equal(timer_next_deadline(&wheel), 11000);
	for (uint64_t t = 11000; t <= 20000; t += 1000)
		timer_run(&wheel, NULL, t);
	assert_int_equal(a.fired, 11);
	/* A deadline already past fires on the next run. */
	a.rearm = 0;
	timer_arm(&wheel, &a.t, 5);
	assert_int_equal(timer_run(&wheel, NULL, 20000), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(arm_fire_once),
		cmocka_unit_test(cancel_and_rearm),
		cmocka_unit_test(far_deadlines),
		cmocka_unit_test(next_deadline_is_earliest),
		cmocka_unit_test(self_rearming_timer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
