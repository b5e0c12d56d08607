/* ICMP errors about our segments reach TCP (RFC 1122 4.2.3.9, RFC 5927)
 * with Linux's behaviour: a connect in progress fails at once with the
 * error; an established connection keeps going and reports the error
 * instead of ETIMEDOUT if it later times out; an ICMP quoting a sequence
 * number not in flight, or no connection, is counted and ignored; a next
 * hop that never answers ARP fails the connect with EHOSTUNREACH. */
#include "tcp_test.h"
#include "tcp/tcp_int.h"

#define ROUTER_IP 0x0a4d00feu  /* 10.77.0.254 */

/* An ICMP error from `from` quoting the IP header and the first 8 bytes of
 * a segment we sent (laddr:lport -> raddr:rport, seq). */
static void send_icmp(struct ust_stack *stk, uint32_t from, uint8_t type, uint8_t code,
                      uint16_t lport, uint32_t raddr, uint16_t rport, uint32_t seq, uint64_t now)
{
	uint8_t f[128];
	size_t o = mk_eth(f, us_mac, peer_mac, 0x0800);
	uint8_t *ic = f + o + 20;
	size_t icl = 8 + 20 + 8;

	mk_ip(f + o, (uint16_t)(20 + icl), 0x2222, 0, 64, 1, from, US_IP);
	memset(ic, 0, icl);
	ic[0] = type;
	ic[1] = code;
	mk_ip(ic + 8, 60, 0x3333, 0x4000, 64, 6, US_IP, raddr);
	put16(ic + 28, lport);
	put16(ic + 30, rport);
	put32(ic + 32, seq);
	put16(ic + 2, ref_csum(ic, icl, 0));
	feed(stk, f, o + 20 + icl, now);
}

/* A connect from a fresh stack that knows the peer's MAC; *out is its SYN. */
static struct tcb *connecting(struct ust_stack **stkp, struct tseg *out)
{
	struct ust_stack *stk = mkstack(0);
	struct tcb *c;

	learn_peer(stk, 0);
	c = tcp_tcb_new(stk, NULL);
	assert_non_null(c);
	assert_int_equal(tcp_connect(stk, c, PEER_IP, 80), 0);
	assert_int_equal(take_seg(stk, out), 0);
	assert_int_equal(out->flags, F_SYN);
	*stkp = stk;
	return c;
}

/* Completes the connect with a SYN-ACK at time t (retries cut to 2 so a
 * dead path times out soon), then sends len bytes; *out is that segment. */
static void established_with_data(struct ust_stack *stk, struct tcb *c, const struct tseg *syn,
                                  const char *data, uint32_t len, struct tseg *out, uint64_t t)
{
	struct tseg in;

	tcp_conf(stk)->retries = 2;
	tseg_init(&in, 7000, syn->seq + 1, F_SYN | F_ACK);
	in.sport = 80;
	in.dport = syn->sport;
	in.mss = 1460;
	send_seg(stk, &in, t);
	assert_int_equal(tcp_state(c), TCPS_ESTABLISHED);
	drain(stk);
	assert_int_equal(tcp_send(stk, c, data, len, 0), (long)len);
	assert_int_equal(take_seg(stk, out), 0);
	assert_int_equal(out->len, len);
}

/* Runs the timers until the connection gives up; its error. */
static int run_until_closed(struct ust_stack *stk, struct tcb *c, uint64_t t)
{
	while (tcp_state(c) != TCPS_CLOSED && t < 600 * SEC) {
		t += 100000;
		stk_run_timers(stk, t);
		drain(stk);
	}
	assert_int_equal(tcp_state(c), TCPS_CLOSED);
	return tcp_take_error(c);
}

static void syn_sent_host_unreach(void **state)
{
	struct ust_stack *stk;
	struct tseg syn;
	struct tcb *c = connecting(&stk, &syn);

	(void)state;
	send_icmp(stk, ROUTER_IP, ICMP_DEST_UNREACH, 1, syn.sport, PEER_IP, 80, syn.seq, 1000);
	assert_int_equal(tcp_state(c), TCPS_CLOSED);
	assert_true(tcp_poll(c) & SOCK_EV_ERR);  /* a waiting connect wakes */
	assert_int_equal(tcp_take_error(c), EHOSTUNREACH);
	assert_int_equal(CNT(stk, tcp_icmp_errors), 1);
	expect_none(stk);  /* nothing is sent in answer */
	tcp_close(stk, c);
	stk_destroy(stk);
}

static void syn_sent_port_unreach(void **state)
{
	struct ust_stack *stk;
	struct tseg syn;
	struct tcb *c = connecting(&stk, &syn);

	(void)state;
	send_icmp(stk, PEER_IP, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, syn.sport, PEER_IP, 80,
	          syn.seq, 1000);
	assert_int_equal(tcp_state(c), TCPS_CLOSED);
	assert_int_equal(tcp_take_error(c), ECONNREFUSED);
	tcp_close(stk, c);
	stk_destroy(stk);
}

/* RFC 5927 4.1: a quoted sequence number outside SND.UNA..SND.NXT, or a
 * 4-tuple with no connection, changes nothing. */
static void stale_or_unknown_ignored(void **state)
{
	struct ust_stack *stk;
	struct tseg syn;
	struct tcb *c = connecting(&stk, &syn);

	(void)state;
	send_icmp(stk, ROUTER_IP, ICMP_DEST_UNREACH, 1, syn.sport, PEER_IP, 80, syn.seq + 100000,
	          1000);
	assert_int_equal(CNT(stk, drop_tcp_icmp_seq), 1);
	send_icmp(stk, ROUTER_IP, ICMP_DEST_UNREACH, 1, syn.sport, PEER_IP, 81, syn.seq, 1000);
	assert_int_equal(CNT(stk, drop_tcp_icmp_nomatch), 1);
	/* Fragmentation needed: no path MTU discovery, nothing changes. */
	send_icmp(stk, ROUTER_IP, ICMP_DEST_UNREACH, 4, syn.sport, PEER_IP, 80, syn.seq, 1000);
	assert_int_equal(tcp_state(c), TCPS_SYN_SENT);
	assert_int_equal(tcp_take_error(c), 0);
	assert_int_equal(CNT(stk, tcp_icmp_errors), 1);
	tcp_close(stk, c);
	stk_destroy(stk);
}

/* Established: a host unreachable is soft (RFC 1122 4.2.3.9); the
 * connection lives, and when it times out the error is the ICMP's. */
static void established_soft_error(void **state)
{
	struct ust_stack *stk;
	struct tseg syn, out;
	struct tcb *c = connecting(&stk, &syn);

	(void)state;
	established_with_data(stk, c, &syn, "hello", 5, &out, 1000);
	send_icmp(stk, ROUTER_IP, ICMP_DEST_UNREACH, 1, syn.sport, PEER_IP, 80, out.seq, 1000);
	assert_int_equal(tcp_state(c), TCPS_ESTABLISHED);
	assert_int_equal(tcp_take_error(c), 0);  /* soft: not reported yet */
	assert_int_equal(run_until_closed(stk, c, 1000), EHOSTUNREACH);
	tcp_close(stk, c);
	stk_destroy(stk);
}

/* The same path without the ICMP: the timeout reports ETIMEDOUT, so the
 * test above shows the ICMP's effect. An ACK of new data clears a soft
 * error (the path works again). */
static void soft_error_cleared_by_ack(void **state)
{
	struct ust_stack *stk;
	struct tseg syn, in, out;
	struct tcb *c = connecting(&stk, &syn);

	(void)state;
	established_with_data(stk, c, &syn, "ab", 2, &out, 1000);
	send_icmp(stk, ROUTER_IP, ICMP_DEST_UNREACH, 1, syn.sport, PEER_IP, 80, out.seq, 1000);
	tseg_init(&in, 7001, out.seq + 2, F_ACK);
	in.sport = 80;
	in.dport = syn.sport;
	send_seg(stk, &in, 2000);
	drain(stk);
	assert_int_equal(tcp_send(stk, c, "cd", 2, 0), 2);
	drain(stk);
	assert_int_equal(run_until_closed(stk, c, 2000), ETIMEDOUT);
	tcp_close(stk, c);
	stk_destroy(stk);
}

/* A peer that never answers ARP: after the ARP retries the connect fails
 * with EHOSTUNREACH, as on Linux ("No route to host" after ~3 s), instead
 * of retrying SYNs for two minutes. */
static void arp_failure_fails_connect(void **state)
{
	struct ust_stack *stk = mkstack(0);
	struct tcb *c = tcp_tcb_new(stk, NULL);
	uint64_t t = 0;

	(void)state;
	assert_int_equal(tcp_connect(stk, c, PEER_IP, 80), 0);
	while (tcp_state(c) == TCPS_SYN_SENT && t < 30 * SEC) {
		t += 100000;
		stk_run_timers(stk, t);
		drain(stk);
	}
	assert_int_equal(tcp_state(c), TCPS_CLOSED);
	assert_int_equal(tcp_take_error(c), EHOSTUNREACH);
	assert_true(t <= 5 * SEC);
	assert_true(CNT(stk, drop_arp_unresolved) >= 1);
	tcp_close(stk, c);
	stk_destroy(stk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(syn_sent_host_unreach),
		cmocka_unit_test(syn_sent_port_unreach),
		cmocka_unit_test(stale_or_unknown_ignored),
		cmocka_unit_test(established_soft_error),
		cmocka_unit_test(soft_error_cleared_by_ack),
		cmocka_unit_test(arp_failure_fails_connect),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
