/* The stack object: creation, the receive entry point (Ethernet), the
 * transmit queue and the timers. */
#include "core/stack.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/wire.h"
#include "tcp/tcp.h"

const char *const stk_counter_names[CNT__COUNT] = {
#define STK_COUNTER_NAME(name) #name,
	STK_COUNTERS(STK_COUNTER_NAME)
#undef STK_COUNTER_NAME
};

void stk_config_default(struct stk_config *cfg)
{
	static const uint8_t mac[6] = {0x02, 0x00, 0x00, 0x77, 0x00, 0x02};

	memset(cfg, 0, sizeof(*cfg));
	cfg->ip = 0x0a4d0002;         /* 10.77.0.2 */
	cfg->netmask = 0xffffff00;    /* /24 */
	cfg->gateway = 0x0a4d0001;    /* 10.77.0.1, the kernel side of the TAP */
	memcpy(cfg->mac, mac, sizeof(mac));
	cfg->mtu = 1500;
	cfg->pkt_pool_size = 8192;
	cfg->arp_table_size = 1024;
	cfg->arp_reachable_us = 60u * 1000000u;
	cfg->arp_retry_us = 1000000u;
	cfg->arp_max_retries = 3;
	cfg->arp_queue_max = 8;
	cfg->frag_max_datagrams = 64;
	cfg->frag_mem_max = 1u << 20;
	cfg->frag_timeout_us = 30u * 1000000u;  /* RFC 791 suggests 15 s; Linux uses 30 s */
	cfg->udp_rcvbuf = 212992;               /* Linux's default rmem */
	cfg->ttl = 64;
	cfg->icmp_rate = 1000;                  /* Linux icmp_msgs_per_sec */
	cfg->icmp_burst = 50;                   /* Linux icmp_msgs_burst */
}

/* The smallest MTU every IPv4 host must take (RFC 791) and the largest a
 * packet buffer holds with its Ethernet header. */
static int config_valid(const struct stk_config *cfg)
{
	return cfg->mtu >= 68 && cfg->mtu <= PKT_DATA_MAX - ETH_HDR_LEN && cfg->pkt_pool_size > 0 &&
	       cfg->txq_max <= cfg->pkt_pool_size &&
	       cfg->arp_table_size > 0 && cfg->frag_max_datagrams > 0 && cfg->ttl > 0 &&
	       !(cfg->mac[0] & 1);
}

struct ust_stack *stk_create(const struct stk_config *cfg, uint64_t now, int *err)
{
	struct ust_stack *stk;
	int rc;

	if (!config_valid(cfg)) {
		*err = -EINVAL;
		return NULL;
	}
	stk = calloc(1, sizeof(*stk));
	if (!stk) {
		*err = -ENOMEM;
		return NULL;
	}
	stk->cfg = *cfg;
	if (!stk->cfg.txq_max)
		stk->cfg.txq_max = cfg->pkt_pool_size > 1 ? cfg->pkt_pool_size / 2 : 1;
	stk->now = now;
	rc = pkt_pool_init(&stk->pool, cfg->pkt_pool_size);
	if (rc)
		goto fail_pool;
	rc = arp_init(stk);
	if (rc)
		goto fail_arp;
	rc = ipv4_init(stk);
	if (rc)
		goto fail_ip;
	udp_init(stk);
	rc = tcp_init(stk);
	if (rc)
		goto fail_tcp;
	arp_announce(stk);
	return stk;

fail_tcp:
	ipv4_fini(stk);
fail_ip:
	arp_fini(stk);
fail_arp:
	pkt_pool_fini(&stk->pool);
fail_pool:
	free(stk);
	*err = rc;
	return NULL;
}

void stk_destroy(struct ust_stack *stk)
{
	if (!stk)
		return;
	tcp_fini(stk);
	ipv4_fini(stk);
	arp_fini(stk);
	pktq_free(&stk->txq);
	pkt_pool_fini(&stk->pool);
	free(stk);
}

static int eth_for_us(const struct ust_stack *stk, const struct eth_repr *e)
{
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

	return !memcmp(e->dst, stk->cfg.mac, 6) || !memcmp(e->dst, bcast, 6);
}

static void eth_input(struct ust_stack *stk, struct pkt *p)
{
	struct eth_repr e;
	int rc = eth_parse(p->data, p->len, &e);

	if (rc) {
		stk_drop(stk, p, (enum stk_counter)rc);
		return;
	}
	if (!eth_for_us(stk, &e)) {
		stk_drop(stk, p, CNT_drop_eth_not_for_us);
		return;
	}
	pkt_pull(p, ETH_HDR_LEN);
	switch (e.type) {
	case ETHERTYPE_ARP:
		stk_count(stk, CNT_rx_arp);
		arp_input(stk, p);
		break;
	case ETHERTYPE_IPV4:
		stk_count(stk, CNT_rx_ipv4);
		ipv4_input(stk, p);
		break;
	default:
		stk_drop(stk, p, CNT_drop_eth_type);
	}
}

void stk_rx_burst(struct ust_stack *stk, struct pkt **pkts, unsigned n, uint64_t now)
{
	stk->now = now;
	for (unsigned i = 0; i < n; i++) {
		struct pkt *p = pkts[i];
		p->next = NULL;
		stk->cnt[CNT_rx_frames]++;
		stk->cnt[CNT_rx_bytes] += p->len;
		eth_input(stk, p);
	}
	stk_tx_resume(stk, now);
}

void stk_run_timers(struct ust_stack *stk, uint64_t now)
{
	stk->now = now;
	timer_run(&stk->arp_timers, stk, now);
	timer_run(&stk->frag_timers, stk, now);
	timer_run(&stk->tcp_timers, stk, now);
	stk_tx_resume(stk, now);
}

/* Senders waiting for room are due as soon as there is some. */
uint64_t stk_next_deadline(const struct ust_stack *stk)
{
	uint64_t a, f, t;

	if (tcp_tx_waiting(stk) && stk_tx_ok(stk))
		return stk->now;
	a = timer_next_deadline(&stk->arp_timers);
	f = timer_next_deadline(&stk->frag_timers);
	t = timer_next_deadline(&stk->tcp_timers);
	return a < f ? (a < t ? a : t) : (f < t ? f : t);
}

void stk_tx_resume(struct ust_stack *stk, uint64_t now)
{
	if (!tcp_tx_waiting(stk) || !stk_tx_ok(stk))
		return;
	if (now > stk->now)
		stk->now = now;
	tcp_tx_resume(stk);
}

unsigned stk_tx_take(struct ust_stack *stk, struct pkt **out, unsigned max)
{
	unsigned n = 0;

	while (n < max && stk->txq.head)
		out[n++] = pktq_pop(&stk->txq);
	return n;
}

void stk_drop(struct ust_stack *stk, struct pkt *p, enum stk_counter reason)
{
	stk_count(stk, reason);
	pkt_free_chain(p);
}

void eth_output(struct ust_stack *stk, struct pkt *p, const uint8_t dst[6], uint16_t ethertype)
{
	struct eth_repr e;
	uint8_t *h = pkt_push(p, ETH_HDR_LEN);

	if (!h) {
		stk_drop(stk, p, CNT_drop_nobuf);
		return;
	}
	/* TCP and UDP wait for room (stk_tx_ok) before they build a frame;
	 * what comes here past the bound (ARP, ICMP, a reset) is dropped as
	 * a full interface queue drops it. */
	if (stk->txq.count >= stk->cfg.txq_max) {
		stk_drop(stk, p, CNT_drop_txq_full);
		return;
	}
	memcpy(e.dst, dst, 6);
	memcpy(e.src, stk->cfg.mac, 6);
	e.type = ethertype;
	eth_emit(h, &e);
	stk->cnt[CNT_tx_frames]++;
	stk->cnt[CNT_tx_bytes] += p->len;
	pktq_push(&stk->txq, p);
}

void stk_sock_event(struct ust_stack *stk, void *app, uint32_t events)
{
	if (stk->hooks.sock_event)
		stk->hooks.sock_event(stk->hooks.ctx, app, events);
}
