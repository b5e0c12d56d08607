#include "core/timer.h"

#include <string.h>

#define SLOT_MASK (TIMER_SLOTS - 1u)

static inline uint64_t tick_of(uint64_t us) { return us / TIMER_TICK_US; }

void timer_wheel_init(struct timer_wheel *w, uint64_t now, timer_fn fn)
{
	memset(w, 0, sizeof(*w));
	w->tick = tick_of(now);
	w->fn = fn;
}

void timer_init(struct timer *t)
{
	t->next = NULL;
	t->pprev = NULL;
	t->expires = TIMER_NEVER;
}

static void slot_mark(struct timer_wheel *w, uint32_t i)
{
	if (w->slot[i])
		w->busy[i / 64] |= 1ull << (i % 64);
	else
		w->busy[i / 64] &= ~(1ull << (i % 64));
}

static void unlink_timer(struct timer_wheel *w, struct timer *t)
{
	*t->pprev = t->next;
	if (t->next)
		t->next->pprev = t->pprev;
	t->next = NULL;
	t->pprev = NULL;
	w->armed--;
	slot_mark(w, (uint32_t)(tick_of(t->expires) < w->tick ? w->tick & SLOT_MASK
	                                                      : tick_of(t->expires) & SLOT_MASK));
}

static void link_timer(struct timer_wheel *w, struct timer *t)
{
	uint64_t tk = tick_of(t->expires);
	/* A deadline already past goes to the current slot and runs next time. */
	uint32_t i = (uint32_t)((tk < w->tick ? w->tick : tk) & SLOT_MASK);
	t->next = w->slot[i];
	if (t->next)
		t->next->pprev = &t->next;
	t->pprev = &w->slot[i];
	w->slot[i] = t;
	w->busy[i / 64] |= 1ull << (i % 64);
	w->armed++;
}

void timer_cancel(struct timer_wheel *w, struct timer *t)
{
	if (t->pprev)
		unlink_timer(w, t);
}

void timer_arm(struct timer_wheel *w, struct timer *t, uint64_t expires)
{
	if (t->pprev)
		unlink_timer(w, t);
	t->expires = expires;
	link_timer(w, t);
}

/* Detaches the slot's list first so a callback that re-arms its own timer
 * lands in a fresh list and cannot make this loop run forever. The busy
 * bitmap is a hint for next_deadline: a stale bit costs one early wake-up. */
static unsigned run_slot(struct timer_wheel *w, uint32_t i, struct ust_stack *stk, uint64_t now)
{
	struct timer *list = w->slot[i];
	unsigned fired = 0;

	w->slot[i] = NULL;
	w->busy[i / 64] &= ~(1ull << (i % 64));
	if (list)
		list->pprev = &list;
	while (list) {
		struct timer *t = list;
		list = t->next;
		if (list)
			list->pprev = &list;
		t->next = NULL;
		t->pprev = NULL;
		w->armed--;
		if (t->expires <= now) {
			t->expires = TIMER_NEVER;
			w->fn(stk, t, now);
			fired++;
		} else {
			link_timer(w, t);
		}
	}
	return fired;
}

/* Steps from slot i to the next busy one within the same 64-slot word:
 * 0 when i itself is busy, else how many slots to skip. */
static uint32_t skip_idle(const struct timer_wheel *w, uint32_t i)
{
	uint64_t word = w->busy[i / 64] >> (i % 64);

	if (!word)
		return 64 - i % 64;
	return (uint32_t)__builtin_ctzll(word);
}

unsigned timer_run(struct timer_wheel *w, struct ust_stack *stk, uint64_t now)
{
	uint64_t nt = tick_of(now);
	uint64_t n;
	unsigned fired = 0;

	if (nt < w->tick)
		return 0;
	n = nt - w->tick + 1;
	if (n > TIMER_SLOTS)
		n = TIMER_SLOTS;
	/* Idle slots are skipped a bitmap word at a time, so a long jump costs
	 * 64 steps, not 4096. Slot nt is kept as the current tick: timers
	 * later in this same tick stay there and are seen on the next run. */
	for (uint64_t k = 0; k < n;) {
		uint64_t tk = nt - n + 1 + k;
		uint32_t i = (uint32_t)(tk & SLOT_MASK);
		uint32_t skip = skip_idle(w, i);

		if (skip) {
			k += skip;
			continue;
		}
		w->tick = tk;
		fired += run_slot(w, i, stk, now);
		k++;
	}
	w->tick = nt;
	return fired;
}

uint64_t timer_next_deadline(const struct timer_wheel *w)
{
	uint64_t best = TIMER_NEVER;

	if (!w->armed)
		return TIMER_NEVER;
	for (uint32_t d = 0; d < TIMER_SLOTS;) {
		uint32_t i = (uint32_t)((w->tick + d) & SLOT_MASK);
		uint32_t skip = skip_idle(w, i);
		uint64_t slot_end;

		if (skip) {
			d += skip;
			continue;
		}
		for (const struct timer *t = w->slot[i]; t; t = t->next)
			if (t->expires < best)
				best = t->expires;
		/* A timer due in this round ends the search: later slots are later. */
		slot_end = (w->tick + d + 1) * TIMER_TICK_US;
		if (best < slot_end)
			return best;
		d++;
	}
	return best;
}
