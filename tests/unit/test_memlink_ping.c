/* Two stacks on a memlink pair, each end behind the seeded impairment
 * wrapper dropping 20% of what it sends: 100 pings from A to B on virtual
 * time. Each echo crosses two lossy hops, so about 0.8 * 0.8 = 64% come
 * back; ARP must resolve on both sides despite the loss (retries). */
#include <stdio.h>

#include "core_test.h"

#include "core/icmp.h"
#include "link/link.h"

#define A_IP 0x0a000001u
#define B_IP 0x0a000002u
#define PINGS 100

struct side {
	struct ust_stack *stk;
	struct link *link;
};

static void side_open(struct side *s, struct link *raw, uint32_t ip, uint8_t last, uint64_t seed)
{
	struct stk_config cfg;
	struct impair_spec spec;
	char text[64], err[128];
	int rc = 0;

	snprintf(text, sizeof(text), "tx-loss=20%%,seed=%llu", (unsigned long long)seed);
	assert_int_equal(impair_parse(text, &spec, err, sizeof(err)), 0);
	assert_int_equal(spec.tx.loss_ppm, 200000);
	assert_int_equal(spec.rx.loss_ppm, 0);
	s->link = link_impair_wrap(raw, &spec, &rc);
	assert_non_null(s->link);
	stk_config_default(&cfg);
	cfg.ip = ip;
	cfg.netmask = 0xffffff00;
	cfg.gateway = 0;
	cfg.mac[5] = last;
	cfg.pkt_pool_size = 1024;
	s->stk = mkstack_cfg(&cfg, 0);
}

/* One step of the runtime's loop, done by hand: timers, tx, rx. */
static void side_step(struct side *s, uint64_t now)
{
	struct pkt *p[32];
	unsigned n;

	stk_run_timers(s->stk, now);
	while ((n = stk_tx_take(s->stk, p, 32)) > 0)
		link_tx_burst(s->link, p, n, now);
	while ((n = link_rx_burst(s->link, &s->stk->pool, p, 32, now)) > 0)
		stk_rx_burst(s->stk, p, n, now);
}

static void pings_through_loss(void **state)
{
	struct link *la, *lb;
	struct side a, b;
	const struct arp_entry *e;
	uint8_t payload[56];
	unsigned sent = 0, back;
	uint64_t now;
	(void)state;

	assert_int_equal(link_memlink_pair(1500, 256, &la, &lb), 0);
	side_open(&a, la, A_IP, 0xa1, 1);
	side_open(&b, lb, B_IP, 0xb2, 101);
	memset(payload, 0x5a, sizeof(payload));
	/* One ping every 200 ms for 20 s, then 5 s for the last replies. */
	for (now = 0; now <= 25 * SEC; now += 1000) {
		if (sent < PINGS && now % (200 * 1000) == 0) {
			assert_int_equal(icmp_echo_request(a.stk, B_IP, 0x77, (uint16_t)sent, payload,
			                                   sizeof(payload)), 0);
			sent++;
		}
		side_step(&a, now);
		side_step(&b, now);
	}
	back = (unsigned)CNT(a.stk, rx_icmp_echo_reply);
	print_message("echo replies: %u of %u; A sent %llu ARP requests, B %llu\n", back, PINGS,
	              (unsigned long long)CNT(a.stk, tx_arp_request),
	              (unsigned long long)CNT(b.stk, tx_arp_request));
	assert_int_equal(sent, PINGS);
	assert_in_range(back, 50, 78);
	/* B answered every request that reached it. */
	assert_int_equal(CNT(b.stk, tx_icmp_echo_reply), CNT(b.stk, rx_icmp));
	/* ARP resolved on both sides despite the loss. */
	e = arp_lookup(a.stk, B_IP);
	assert_non_null(e);
	assert_int_equal(e->state, ARP_REACHABLE);
	assert_memory_equal(e->mac, b.stk->cfg.mac, 6);
	e = arp_lookup(b.stk, A_IP);
	assert_non_null(e);
	assert_int_equal(e->state, ARP_REACHABLE);
	assert_memory_equal(e->mac, a.stk->cfg.mac, 6);
	link_close(a.link);
	link_close(b.link);
	assert_pool_full(a.stk);
	assert_pool_full(b.stk);
	stk_destroy(a.stk);
	stk_destroy(b.stk);
}

static void pings_without_loss(void **state)
{
	struct link *la, *lb;
	struct ust_stack *a, *b;
	struct stk_config cfg;
	uint64_t now;
	(void)state;
	/* The same loop, no wrapper: every ping comes back, 8000-byte ones too. */
	assert_int_equal(link_memlink_pair(1500, 256, &la, &lb), 0);
	stk_config_default(&cfg);
	cfg.ip = A_IP;
	cfg.gateway = 0;
	cfg.mac[5] = 0xa1;
	cfg.pkt_pool_size = 1024;
	a = mkstack_cfg(&cfg, 0);
	cfg.ip = B_IP;
	cfg.mac[5] = 0xb2;
	b = mkstack_cfg(&cfg, 0);
	for (now = 0; now <= 2 * SEC; now += 1000) {
		struct side sa = {a, la}, sb = {b, lb};
		if (now % (100 * 1000) == 0 && now < SEC) {
			static uint8_t big[8000];
			assert_int_equal(icmp_echo_request(a, B_IP, 1, (uint16_t)(now / 1000), big,
			                                   now < SEC / 2 ? 56 : sizeof(big)), 0);
		}
		side_step(&sa, now);
		side_step(&sb, now);
	}
	assert_int_equal(CNT(a, rx_icmp_echo_reply), 10);
	assert_int_equal(CNT(b, ip_reassembled), 5);
	assert_int_equal(CNT(a, ip_reassembled), 5);
	link_close(la);
	link_close(lb);
	stk_destroy(a);
	stk_destroy(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pings_through_loss),
		cmocka_unit_test(pings_without_loss),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
