/* Hashed timing wheel: O(1) arm and cancel, no scan of all timers per tick.
 * Timer nodes are embedded in their owners (one per TCB, re-armed for the
 * earliest deadline). Every timer of a wheel has the same callback, kept
 * once in the wheel rather than in each of a million nodes: an owner of
 * another kind gets a wheel of its own. Time is an argument: the wheel
 * never reads a clock. */
#ifndef USTACK_CORE_TIMER_H
#define USTACK_CORE_TIMER_H

#include <stdint.h>

#define TIMER_TICK_US 1000u  /* 1 ms granularity: delayed ACK 40 ms, RTO >= 200 ms */
#define TIMER_SLOTS 4096u    /* power of two; later deadlines wait extra rounds */
#define TIMER_NEVER UINT64_MAX

struct ust_stack;
struct timer;
typedef void (*timer_fn)(struct ust_stack *stk, struct timer *t, uint64_t now);

struct timer {
	struct timer *next, **pprev; /* pprev == NULL: not armed */
	uint64_t expires;            /* microseconds, virtual or real */
};

struct timer_wheel {
	struct timer *slot[TIMER_SLOTS];
	uint64_t busy[TIMER_SLOTS / 64]; /* bitmap of non-empty slots for next_deadline */
	uint64_t tick;                   /* every tick below this has been run */
	uint32_t armed;
	timer_fn fn;                     /* what a due timer runs */
};

void timer_wheel_init(struct timer_wheel *w, uint64_t now, timer_fn fn);
void timer_init(struct timer *t);
/* (Re)arm t to fire at `expires` (absolute, us). Re-arming moves it. */
void timer_arm(struct timer_wheel *w, struct timer *t, uint64_t expires);
void timer_cancel(struct timer_wheel *w, struct timer *t);
static inline int timer_armed(const struct timer *t) { return t->pprev != 0; }
/* Runs every timer whose deadline is <= now; returns how many ran. */
unsigned timer_run(struct timer_wheel *w, struct ust_stack *stk, uint64_t now);
/* A time at or before the earliest deadline (TIMER_NEVER when none):
 * the runtime sleeps until then. */
uint64_t timer_next_deadline(const struct timer_wheel *w);

#endif
