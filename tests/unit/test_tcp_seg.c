/* TCP segment by segment on virtual time: a segment built by hand goes in
 * through stk_rx_burst at an explicit time, the exact segment out is taken
 * with stk_tx_take and checked (flags, seq, ack, window, options). The
 * peer is the test itself at 10.77.0.1:40000; we are 10.77.0.2. */
#include "tcp_test.h"

#include "tcp/tcp_int.h"

#define PEER_ISS 1000u

/* Passive open through the exact handshake; returns the accepted TCB and
 * our ISS in *iss. The peer offers MSS 1460 only (no WS, no TS). */
static struct tcb *passive_open(struct ust_stack *stk, struct tcb *l, uint32_t *iss, uint64_t now)
{
	struct tseg in, out;
	struct tcb *c;

	tseg_init(&in, PEER_ISS, 0, F_SYN);
	in.mss = 1460;
	send_seg(stk, &in, now);
	assert_int_equal(take_seg(stk, &out), 0);
	/* RFC 9293 3.10.7.2: <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>, our MSS. */
	expect_seg(&out, F_SYN | F_ACK, out.seq, PEER_ISS + 1);
	assert_int_equal(out.sport, 80);
	assert_int_equal(out.dport, 40000);
	assert_int_equal(out.mss, 1460);
	assert_int_equal(out.wscale, -1);  /* not offered by the peer: not sent */
	assert_int_equal(out.has_ts, 0);
	assert_int_equal(out.wnd, 65535);
	*iss = out.seq;
	assert_null(tcp_accept(stk, l));
	tseg_init(&in, PEER_ISS + 1, *iss + 1, F_ACK);
	send_seg(stk, &in, now);
	expect_none(stk);
	c = tcp_accept(stk, l);
	assert_non_null(c);
	assert_int_equal(tcp_state(c), TCPS_ESTABLISHED);
	return c;
}

static void tcb_size(void **state)
{
	(void)state;
	printf("sizeof(struct tcb) = %zu bytes\n", tcp_tcb_size());
	assert_true(tcp_tcb_size() <= 336);
}

/* MSG_MORE (Linux): a partial segment waits for the rest of the message;
 * a send without the flag sends it all in one segment, and a close sends
 * what waits with the FIN on it. */
static void msg_more(void **state)
{
	struct ust_stack *stk = stack();
	struct tcb *l = listener(stk, 80, 8), *c;
	struct tseg in, out;
	uint32_t iss;

	(void)state;
	c = passive_open(stk, l, &iss, 1000);
	assert_int_equal(tcp_send(stk, c, "ab", 2, MSG_MORE), 2);
	expect_none(stk);
	assert_int_equal(tcp_send(stk, c, "cd", 2, 0), 2);
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_ACK | F_PSH, iss + 1, PEER_ISS + 1);
	assert_int_equal(out.len, 4);
	assert_memory_equal(out.data, "abcd", 4);
	tseg_init(&in, PEER_ISS + 1, iss + 5, F_ACK);
	send_seg(stk, &in, 2000);
	expect_none(stk);
	assert_int_equal(tcp_send(stk, c, "ef", 2, MSG_MORE), 2);
	expect_none(stk);
	tcp_close(stk, c);
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_ACK | F_PSH | F_FIN, iss + 5, PEER_ISS + 1);
	assert_int_equal(out.len, 2);
	tcp_close(stk, l);
	stk_destroy(stk);
}

static void listen_syn_synack(void **state)
{
	struct ust_stack *stk = stack();
	struct tcb *l = listener(stk, 80, 8), *c;
	struct tcp_listen_info li;
	uint32_t iss, a;
	uint16_t p;
	(void)state;
	c = passive_open(stk, l, &iss, 1000);
	tcp_peer_addr(c, &a, &p);
	assert_int_equal(a, PEER_IP);
	assert_int_equal(p, 40000);
	tcp_local_addr(c, &a, &p);
	assert_int_equal(a, US_IP);
	assert_int_equal(p, 80);
	tcp_listen_info(l, &li);
	assert_int_equal(li.syn_queue, 0);
	assert_int_equal(li.accept_queue, 0);
	assert_int_equal(CNT(stk, tcp_passive_opens), 1);
	assert_int_equal(tcp_poll(c) & SOCK_EV_OUT, SOCK_EV_OUT);
	tcp_close(stk, c);
	tcp_close(stk, l);
	stk_destroy(stk);
}

static void listen_rst_and_ack(void **state)
{
	struct ust_stack *stk = stack();
	struct tcb *l = listener(stk, 80, 8);
	struct tseg in, out;
	(void)state;
	/* An RST to a listener is ignored. */
	tseg_init(&in, 5, 0, F_RST);
	send_seg(stk, &in, 0);
	expect_none(stk);
	/* An ACK to a listener: <SEQ=SEG.ACK><CTL=RST>. */
	tseg_init(&in, 5, 777, F_ACK);
	send_seg(stk, &in, 0);
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_RST, 777, 0);
	tcp_close(stk, l);
	stk_destroy(stk);
}

static void closed_port_rst(void **state)
{
	struct ust_stack *stk = stack();
	struct tseg in, out;
	(void)state;
	/* RFC 9293 3.10.7.1: no ACK: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>. */
	tseg_init(&in, 4000, 0, F_SYN);
	in.dport = 81;
	send_seg(stk, &in, 0);
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_RST | F_ACK, 0, 4001);
	assert_int_equal(out.sport, 81);
	assert_int_equal(out.wnd, 0);
	/* With ACK: <SEQ=SEG.ACK><CTL=RST>. */
	tseg_init(&in, 4000, 999, F_ACK | F_PSH);
	in.dport = 81;
	in.len = 10;
	send_seg(stk, &in, 0);
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_RST, 999, 0);
	/* An RST gets nothing back. */
	tseg_init(&in, 4000, 0, F_RST);
	in.dport = 81;
	send_seg(stk, &in, 0);
	expect_none(stk);
	assert_int_equal(CNT(stk, drop_tcp_no_socket), 3);
	assert_int_equal(CNT(stk, tcp_rst_sent), 2);
	stk_destroy(stk);
}

static void malformed_dropped(void **state)
{
	struct ust_stack *stk = stack();
	struct tcb *l = listener(stk, 80, 8);
	struct tseg in;
	uint8_t f[200];
	size_t n;
	(void)state;
	tseg_init(&in, 1, 0, F_SYN);
	n = mk_tcp(f, &in);
	f[n - 1] ^= 0x55;  /* checksum broken (last byte of the urgent pointer) */
	feed(stk, f, n, 0);
	assert_int_equal(CNT(stk, drop_tcp_checksum), 1);
	tseg_init(&in, 1, 0, F_SYN | F_FIN);
	send_seg(stk, &in, 0);
	assert_int_equal(CNT(stk, drop_tcp_flags), 1);
	tseg_init(&in, 1, 0, F_SYN);
	n = mk_tcp(f, &in);
	f[14 + 20 + 12] = 0x40;  /* header length 16 */
	feed(stk, f, n, 0);
	assert_int_equal(CNT(stk, drop_tcp_hdr_len), 1);
	expect_none(stk);
	assert_int_equal(tcp_conn_count(stk), 0);
	tcp_close(stk, l);
	stk_destroy(stk);
}

static void connect_synack_ack(void **state)
{
	struct ust_stack *stk = stack();
	struct tcb *c = tcp_tcb_new(stk, NULL);
	struct tseg in, out;
	struct tcp_info_lite ti;
	uint32_t iss;
	(void)state;
	stk->now = 5000;
	assert_int_equal(tcp_connect(stk, c, PEER_IP, 80), 0);
	assert_int_equal(tcp_state(c), TCPS_SYN_SENT);
	assert_int_equal(tcp_connect(stk, c, PEER_IP, 80), -EALREADY);
	assert_int_equal(take_seg(stk, &out), 0);
	assert_int_equal(out.flags, F_SYN);
	assert_int_equal(out.dport, 80);
	assert_true(out.sport >= 32768 && out.sport <= 60999);
	assert_int_equal(out.mss, 1460);
	assert_int_equal(out.wscale, 7);
	assert_int_equal(out.has_ts, 1);
	assert_int_equal(out.tsval, 5);
	assert_int_equal(out.ack, 0);
	iss = out.seq;
	assert_int_equal(tcp_poll(c) & SOCK_EV_OUT, 0);
	/* SYN,ACK with MSS 1400, WS 2, TS. */
	tseg_init(&in, 7000, iss + 1, F_SYN | F_ACK);
	in.sport = 80;
	in.dport = out.sport;
	in.mss = 1400;
	in.wscale = 2;
	in.has_ts = 1;
	in.tsval = 42;
	in.tsecr = out.tsval;
	in.wnd = 1000;
	send_seg(stk, &in, 25000);
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_ACK, iss + 1, 7001);
	assert_int_equal(out.has_ts, 1);
	assert_int_equal(out.tsecr, 42);
	assert_int_equal(out.tsval, 25);
	assert_int_equal(tcp_state(c), TCPS_ESTABLISHED);
	assert_true(tcp_poll(c) & SOCK_EV_OUT);
	tcp_get_info(stk, c, &ti);
	assert_int_equal(ti.snd_mss, 1400);
	assert_int_equal(ti.snd_wscale, 2);
	assert_int_equal(ti.rcv_wscale, 7);
	assert_int_equal(ti.options, 5);
	assert_int_equal(ti.snd_wnd, 1000);  /* a SYN's window is never scaled */
	assert_int_equal(ti.rtt_us, 20000);
	assert_int_equal(tcp_connect(stk, c, PEER_IP, 80), -EISCONN);
	assert_int_equal(CNT(stk, tcp_active_opens), 1);
	tcp_close(stk, c);
	stk_destroy(stk);
}

static void connect_refused(void **state)
{
	struct ust_stack *stk = stack();
	struct tcb *c = tcp_tcb_new(stk, NULL);
	struct tseg in, out;
	(void)state;
	assert_int_equal(tcp_connect(stk, c, PEER_IP, 80), 0);
	assert_int_equal(take_seg(stk, &out), 0);
	/* An RST whose ACK is not for our SYN is ignored (3.10.7.3). */
	tseg_init(&in, 0, out.seq + 5, F_RST | F_ACK);
	in.sport = 80;
	in.dport = out.sport;
	send_seg(stk, &in, 0);
	assert_int_equal(tcp_state(c), TCPS_SYN_SENT);
	tseg_init(&in, 0, out.seq + 1, F_RST | F_ACK);
	in.sport = 80;
	in.dport = out.sport;
	send_seg(stk, &in, 0);
	assert_int_equal(tcp_state(c), TCPS_CLOSED);
	assert_true(tcp_poll(c) & SOCK_EV_ERR);
	assert_int_equal(tcp_take_error(c), ECONNREFUSED);
	assert_int_equal(tcp_take_error(c), 0);
	tcp_close(stk, c);
	stk_destroy(stk);
}

/* Our SYN is never answered: RFC 6298 (5.5) backoff from 1 s, six
 * retransmissions as Linux, then ETIMEDOUT. */
static void syn_retries_backoff(void **state)
{
	struct ust_stack *stk = stack();
	struct tcb *c = tcp_tcb_new(stk, NULL);
	struct tseg out;
	uint64_t t = 0, gap = SEC;
	uint32_t iss;
	(void)state;
	assert_int_equal(tcp_connect(stk, c, PEER_IP, 80), 0);
	assert_int_equal(take_seg(stk, &out), 0);
	iss = out.seq;
	for (int i = 0; i < 6; i++) {
		stk_run_timers(stk, t + gap - 1000);
		expect_none(stk);
		t += gap;
		stk_run_timers(stk, t);
		assert_int_equal(take_seg(stk, &out), 0);
		expect_seg(&out, F_SYN, iss, 0);
		gap *= 2;
	}
	assert_int_equal(tcp_state(c), TCPS_SYN_SENT);
	stk_run_timers(stk, t + gap);
	assert_int_equal(tcp_state(c), TCPS_CLOSED);
	assert_int_equal(tcp_take_error(c), ETIMEDOUT);
	assert_int_equal(t + gap, 127 * SEC);
	tcp_close(stk, c);
	stk_destroy(stk);
}

static void unacceptable_gets_ack(void **state)
{
	struct ust_stack *stk = stack();
	struct tcb *l = listener(stk, 80, 8), *c;
	struct tseg in, out;
	uint32_t iss;
	(void)state;
	c = passive_open(stk, l, &iss, 0);
	/* Far beyond the window. */
	tseg_init(&in, PEER_ISS + 1 + 200000, iss + 1, F_ACK);
	in.len = 10;
	send_seg(stk, &in, 0);
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_ACK, iss + 1, PEER_ISS + 1);
	assert_int_equal(CNT(stk, drop_tcp_unacceptable), 1);
	assert_int_equal(tcp_rx_bytes(c), 0);
	/* An ACK for data never sent: ACK back, dropped. */
	tseg_init(&in, PEER_ISS + 1, iss + 100, F_ACK);
	send_seg(stk, &in, 0);
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_ACK, iss + 1, PEER_ISS + 1);
	/* A SYN in ESTABLISHED: challenge ACK (RFC 5961 4.2). */
	tseg_init(&in, PEER_ISS + 1, 0, F_SYN);
	send_seg(stk, &in, 0);
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_ACK, iss + 1, PEER_ISS + 1);
	assert_int_equal(tcp_state(c), TCPS_ESTABLISHED);
	tcp_close(stk, c);
	tcp_close(stk, l);
	stk_destroy(stk);
}

static void rst_processing(void **state)
{
	struct ust_stack *stk = stack();
	struct tcb *l = listener(stk, 80, 8), *c;
	struct tseg in, out;
	uint32_t iss;
	char buf[8];
	(void)state;
	c = passive_open(stk, l, &iss, 0);
	/* In the window but not exact: a challenge ACK (RFC 5961 3.2). */
	tseg_init(&in, PEER_ISS + 100, 0, F_RST);
	send_seg(stk, &in, 0);
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_ACK, iss + 1, PEER_ISS + 1);
	assert_int_equal(tcp_state(c), TCPS_ESTABLISHED);
	/* Out of the window: dropped silently. */
	tseg_init(&in, PEER_ISS - 100, 0, F_RST);
	send_seg(stk, &in, 0);
	expect_none(stk);
	/* Exact: the connection is reset. */
	tseg_init(&in, PEER_ISS + 1, 0, F_RST);
	send_seg(stk, &in, 0);
	expect_none(stk);
	assert_int_equal(tcp_state(c), TCPS_CLOSED);
	assert_int_equal(tcp_poll(c) & (SOCK_EV_ERR | SOCK_EV_HUP), SOCK_EV_ERR | SOCK_EV_HUP);
	assert_int_equal(tcp_recv(stk, c, buf, sizeof(buf), 0), -ECONNRESET);
	assert_int_equal(tcp_send(stk, c, "x", 1, 0), -EPIPE);
	assert_int_equal(tcp_conn_count(stk), 0);
	assert_int_equal(CNT(stk, tcp_rst_rcvd), 1);
	tcp_close(stk, c);
	tcp_close(stk, l);
	stk_destroy(stk);
}

/* Peer closes first: FIN in ESTABLISHED -> CLOSE_WAIT (held while the app
 * keeps the socket), our close -> LAST_ACK, its ACK -> gone. */
static void fin_established_close_wait_last_ack(void **state)
{
	struct ust_stack *stk = stack();
	struct tcb *l = listener(stk, 80, 8), *c;
	struct tseg in, out;
	uint32_t iss;
	char buf[16];
	(void)state;
	c = passive_open(stk, l, &iss, 0);
	tseg_init(&in, PEER_ISS + 1, iss + 1, F_ACK | F_FIN | F_PSH);
	memcpy(in.data, "bye", 3);
	in.len = 3;
	send_seg(stk, &in, 0);
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_ACK, iss + 1, PEER_ISS + 5);
	assert_int_equal(tcp_state(c), TCPS_CLOSE_WAIT);
	assert_int_equal(tcp_poll(c) & (SOCK_EV_IN | SOCK_EV_RDHUP), SOCK_EV_IN | SOCK_EV_RDHUP);
	assert_int_equal(tcp_recv(stk, c, buf, sizeof(buf), 0), 3);
	assert_int_equal(tcp_recv(stk, c, buf, sizeof(buf), 0), 0);
	/* Held for as long as the application does not close. */
	stk_run_timers(stk, 3600 * SEC);
	expect_none(stk);
	assert_int_equal(tcp_state(c), TCPS_CLOSE_WAIT);
	/* We can still send in CLOSE_WAIT. */
	stk->now = 3600 * SEC;
	assert_int_equal(tcp_send(stk, c, "ok", 2, 0), 2);
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_ACK | F_PSH, iss + 1, PEER_ISS + 5);
	assert_int_equal(out.len, 2);
	tseg_init(&in, PEER_ISS + 5, iss + 3, F_ACK);
	send_seg(stk, &in, 3600 * SEC);
	tcp_close(stk, c);
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_ACK | F_FIN, iss + 3, PEER_ISS + 5);
	assert_int_equal(tcp_conn_count(stk), 1);
	tseg_init(&in, PEER_ISS + 5, iss + 4, F_ACK);
	send_seg(stk, &in, 3600 * SEC);
	expect_none(stk);
	assert_int_equal(tcp_conn_count(stk), 0);
	tcp_close(stk, l);
	stk_destroy(stk);
}

/* We close first: FIN_WAIT_1 -> FIN_WAIT_2 -> TIME_WAIT, retransmitted FIN
 * ACKed again, TIME_WAIT ends 2*MSL (60 s) after the last FIN. */
static void active_close_time_wait(void **state)
{
	struct ust_stack *stk = stack();
	struct tcb *l = listener(stk, 80, 8), *c;
	struct tseg in, out;
	uint32_t iss;
	(void)state;
	c = passive_open(stk, l, &iss, 0);
	tcp_close(stk, c);
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_ACK | F_FIN, iss + 1, PEER_ISS + 1);
	assert_int_equal(tcp_state(c), TCPS_FIN_WAIT_1);
	tseg_init(&in, PEER_ISS + 1, iss + 2, F_ACK);
	send_seg(stk, &in, SEC);
	expect_none(stk);
	assert_int_equal(tcp_state(c), TCPS_FIN_WAIT_2);
	/* Data still arrives in FIN_WAIT_2 (half-close: the peer may send). */
	tseg_init(&in, PEER_ISS + 1, iss + 2, F_ACK | F_FIN);
	send_seg(stk, &in, 2 * SEC);
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_ACK, iss + 2, PEER_ISS + 2);
	assert_int_equal(tcp_state(c), TCPS_TIME_WAIT);
	/* The FIN again (our ACK was lost): ACK again, 2*MSL restarts. */
	send_seg(stk, &in, 30 * SEC);
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_ACK, iss + 2, PEER_ISS + 2);
	stk_run_timers(stk, 89 * SEC);
	assert_int_equal(tcp_conn_count(stk), 1);
	stk_run_timers(stk, 90 * SEC);
	assert_int_equal(tcp_conn_count(stk), 0);
	/* Now the port answers with RST: nothing is left. */
	tseg_init(&in, PEER_ISS + 2, iss + 2, F_ACK);
	send_seg(stk, &in, 91 * SEC);
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_RST, iss + 2, 0);
	tcp_close(stk, l);
	stk_destroy(stk);
}

/* Both FINs cross: FIN_WAIT_1 -> CLOSING -> TIME_WAIT. */
static void simultaneous_close_closing(void **state)
{
	struct ust_stack *stk = stack();
	struct tcb *l = listener(stk, 80, 8), *c;
	struct tseg in, out;
	uint32_t iss;
	(void)state;
	c = passive_open(stk, l, &iss, 0);
	tcp_shutdown(stk, c, SHUT_WR);
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_ACK | F_FIN, iss + 1, PEER_ISS + 1);
	/* The peer's FIN, not acknowledging ours. */
	tseg_init(&in, PEER_ISS + 1, iss + 1, F_ACK | F_FIN);
	send_seg(stk, &in, 0);
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_ACK, iss + 2, PEER_ISS + 2);
	assert_int_equal(tcp_state(c), TCPS_CLOSING);
	tseg_init(&in, PEER_ISS + 2, iss + 2, F_ACK);
	send_seg(stk, &in, 0);
	assert_int_equal(tcp_state(c), TCPS_TIME_WAIT);
	tcp_close(stk, c);  /* the application lets go; TIME_WAIT goes on */
	assert_int_equal(tcp_conn_count(stk), 1);
	stk_run_timers(stk, 60 * SEC);
	assert_int_equal(tcp_conn_count(stk), 0);
	tcp_close(stk, l);
	stk_destroy(stk);
}

/* A new SYN above the old connection's sequence numbers reuses a TIME_WAIT
 * 4-tuple (as Linux); a lower one gets the old connection's ACK. */
static void time_wait_reuse(void **state)
{
	struct ust_stack *stk = stack();
	struct tcb *l = listener(stk, 80, 8), *c;
	struct tseg in, out;
	uint32_t iss;
	(void)state;
	c = passive_open(stk, l, &iss, 0);
	tcp_close(stk, c);
	take_seg(stk, &out);
	tseg_init(&in, PEER_ISS + 1, iss + 2, F_ACK | F_FIN);
	send_seg(stk, &in, 0);
	take_seg(stk, &out);
	assert_int_equal(tcp_state(c), TCPS_TIME_WAIT);
	tseg_init(&in, PEER_ISS - 10, 0, F_SYN);
	send_seg(stk, &in, SEC);
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_ACK, iss + 2, PEER_ISS + 2);
	tseg_init(&in, PEER_ISS + 100000, 0, F_SYN);
	send_seg(stk, &in, SEC);
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_SYN | F_ACK, out.seq, PEER_ISS + 100001);
	assert_int_equal(tcp_conn_count(stk), 1);
	tcp_close(stk, l);
	stk_destroy(stk);
}

/* RTO: first sample 0 ms gives RTO = min 200 ms; then 200, 400, 800 ms. */
static void retransmit_backoff(void **state)
{
	struct ust_stack *stk = stack();
	struct tcb *l = listener(stk, 80, 8), *c;
	struct tseg in, out;
	uint32_t iss;
	uint64_t t = 0, gap = 200000;
	(void)state;
	c = passive_open(stk, l, &iss, 0);
	assert_int_equal(tcp_send(stk, c, "hello", 5, 0), 5);
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_ACK | F_PSH, iss + 1, PEER_ISS + 1);
	assert_memory_equal(out.data, "hello", 5);
	for (int i = 0; i < 4; i++) {
		stk_run_timers(stk, t + gap - 1000);
		expect_none(stk);
		t += gap;
		stk_run_timers(stk, t);
		assert_int_equal(take_seg(stk, &out), 0);
		expect_seg(&out, F_ACK | F_PSH, iss + 1, PEER_ISS + 1);
		assert_int_equal(out.len, 5);
		gap *= 2;
	}
	assert_int_equal(CNT(stk, tcp_retransmits), 4);
	/* The ACK ends it; no more retransmissions. */
	tseg_init(&in, PEER_ISS + 1, iss + 6, F_ACK);
	send_seg(stk, &in, t + 1000);
	stk_run_timers(stk, t + 100 * SEC);
	expect_none(stk);
	assert_int_equal(tcp_tx_bytes(c), 0);
	tcp_close(stk, c);
	tcp_close(stk, l);
	stk_destroy(stk);
}

/* Delayed ACK: one segment is ACKed after 40 ms, two at once. */
static void delayed_ack(void **state)
{
	struct ust_stack *stk = stack();
	struct tcb *l = listener(stk, 80, 8), *c;
	struct tseg in, out;
	uint32_t iss, seq = PEER_ISS + 1;
	char buf[4096];
	(void)state;
	c = passive_open(stk, l, &iss, 0);
	tseg_init(&in, seq, iss + 1, F_ACK);
	in.len = 1460;
	send_seg(stk, &in, SEC);
	expect_none(stk);
	stk_run_timers(stk, SEC + 39000);
	expect_none(stk);
	stk_run_timers(stk, SEC + 40000);
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_ACK, iss + 1, seq + 1460);
	seq += 1460;
	in.seq = seq;
	send_seg(stk, &in, 2 * SEC);
	expect_none(stk);
	in.seq = seq + 1460;
	send_seg(stk, &in, 2 * SEC);
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_ACK, iss + 1, seq + 2920);
	assert_int_equal(tcp_recv(stk, c, buf, sizeof(buf), MSG_PEEK), 4096);
	assert_int_equal(tcp_rx_bytes(c), 3 * 1460);
	assert_int_equal(tcp_recv(stk, c, buf, sizeof(buf), 0), 4096);
	assert_int_equal(tcp_rx_bytes(c), 3 * 1460 - 4096);
	tcp_close(stk, c);  /* unread data: RST (RFC 2525 2.17) */
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_RST | F_ACK, iss + 1, seq + 2920);
	tcp_close(stk, l);
	stk_destroy(stk);
}

/* A segment handed over with link hints (PKT_F_*), as the TAP marks them. */
static void send_seg_marked(struct ust_stack *stk, const struct tseg *s, uint32_t flags,
                            int break_csum, uint64_t now)
{
	uint8_t f[2200];
	size_t n = mk_tcp(f, s);
	struct pkt *p = pkt_alloc(&stk->pool);

	assert_non_null(p);
	if (break_csum)
		f[14 + 20 + 16] ^= 0x55;
	memcpy(pkt_put(p, n), f, n);
	p->flags = flags;
	stk_rx_burst(stk, &p, 1, now);
}

/* PKT_F_CSUM_OK: the link vouched for the checksum, so the core does not
 * sum the segment again (a wrong field goes through); without the mark
 * the same bytes are dropped as corrupt. */
static void link_checksum_mark(void **state)
{
	struct ust_stack *stk = stack();
	struct tcb *l = listener(stk, 80, 8), *c;
	struct tseg in, out;
	uint32_t iss, seq = PEER_ISS + 1;
	char buf[64];
	(void)state;
	c = passive_open(stk, l, &iss, 0);
	tseg_init(&in, seq, iss + 1, F_ACK | F_PSH);
	memcpy(in.data, "hello", 5);
	in.len = 5;
	send_seg_marked(stk, &in, 0, 1, SEC);
	assert_int_equal(CNT(stk, drop_tcp_checksum), 1);
	assert_int_equal(tcp_rx_bytes(c), 0);
	expect_none(stk);
	send_seg_marked(stk, &in, PKT_F_CSUM_OK, 1, SEC);
	assert_int_equal(CNT(stk, drop_tcp_checksum), 1);
	assert_int_equal(tcp_rx_bytes(c), 5);
	assert_int_equal(tcp_recv(stk, c, buf, sizeof(buf), 0), 5);
	assert_memory_equal(buf, "hello", 5);
	stk_run_timers(stk, SEC + 40000);
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_ACK, iss + 1, seq + 5);
	tcp_close(stk, c);
	tcp_close(stk, l);
	stk_destroy(stk);
}

/* PKT_F_SEG_MORE: the segments of one TSO frame the link split are ACKed
 * once, at the last one (no mark), not every second one; a run whose end
 * never comes is still ACKed by the delayed-ACK timer. */
static void tso_run_acked_once(void **state)
{
	struct ust_stack *stk = stack();
	struct tcb *l = listener(stk, 80, 8), *c;
	struct tseg in, out;
	uint32_t iss, seq = PEER_ISS + 1;
	static char big[8 * 1460];
	(void)state;
	c = passive_open(stk, l, &iss, 0);
	tseg_init(&in, seq, iss + 1, F_ACK);
	in.len = 1460;
	for (int i = 0; i < 4; i++) {
		in.seq = seq + (uint32_t)i * 1460;
		send_seg_marked(stk, &in, PKT_F_CSUM_OK | (i < 3 ? PKT_F_SEG_MORE : 0), 0, SEC);
		if (i < 3)
			expect_none(stk);
		/* The run's first segment makes room for the frame at once. */
		assert_int_equal(c->rb->cap, 65536);
	}
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_ACK, iss + 1, seq + 4 * 1460);
	expect_none(stk);
	/* Drained, the ring is freed; an unmarked segment gets a small one. */
	assert_int_equal(tcp_recv(stk, c, big, sizeof(big), 0), 4 * 1460);
	assert_null(c->rb);
	seq += 4 * 1460;
	in.seq = seq;
	send_seg_marked(stk, &in, 0, 0, SEC);
	assert_true(c->rb->cap < 65536);
	seq += 1460;
	while (take_seg(stk, &out) == 0)  /* a window update, if any */
		;
	stk_run_timers(stk, SEC + 40000);
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_ACK, iss + 1, seq);
	/* A run cut short (the link ran out of buffers after these): ACKed
	 * within delack_us all the same. */
	for (int i = 0; i < 3; i++) {
		in.seq = seq + (uint32_t)i * 1460;
		send_seg_marked(stk, &in, PKT_F_SEG_MORE, 0, 2 * SEC);
	}
	expect_none(stk);
	stk_run_timers(stk, 2 * SEC + 39000);
	expect_none(stk);
	stk_run_timers(stk, 2 * SEC + 40000);
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_ACK, iss + 1, seq + 3 * 1460);
	/* Out of order, a marked segment is still duplicate-ACKed at once
	 * (RFC 5681 4.2). */
	in.seq = seq + 4 * 1460;
	send_seg_marked(stk, &in, PKT_F_SEG_MORE, 0, 3 * SEC);
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_ACK, iss + 1, seq + 3 * 1460);
	assert_int_equal(tcp_rx_bytes(c), 4 * 1460);
	tcp_close(stk, c);
	tcp_close(stk, l);
	stk_destroy(stk);
}

/* stk_config.tx_csum_offload: a segment leaves with only the pseudo-header
 * sum in its checksum field, marked PKT_F_CSUM_PARTIAL, and summing it over
 * that field (what the kernel does for NEEDS_CSUM) gives the checksum;
 * without the offload the core computes the checksum itself. */
static void tx_checksum_left_to_link(void **state)
{
	(void)state;
	for (int offload = 0; offload < 2; offload++) {
		struct stk_config cfg;
		struct ust_stack *stk;
		struct tcb *l;
		struct tseg in;
		struct pkt *p = NULL;

		stk_config_default(&cfg);
		cfg.pkt_pool_size = 512;
		cfg.tx_csum_offload = (uint8_t)offload;
		stk = mkstack_cfg(&cfg, 0);
		learn_peer(stk, 0);
		drain(stk);
		l = listener(stk, 80, 8);
		tseg_init(&in, PEER_ISS, 0, F_SYN);
		in.mss = 1460;
		send_seg(stk, &in, 0);
		assert_int_equal(stk_tx_take(stk, &p, 1), 1);
		assert_int_equal(get16(p->data + 12), 0x0800);
		uint8_t *ip = p->data + 14, *t = ip + 20;
		uint16_t tl = (uint16_t)(get16(ip + 2) - 20);
		uint32_t ps = pseudo_sum(get32(ip + 12), get32(ip + 16), 6, tl);
		assert_int_equal(ip[9], 6);
		if (offload) {
			assert_int_equal(p->flags, PKT_F_CSUM_PARTIAL);
			assert_int_equal(get16(t + 16), (uint16_t)~ref_csum(t, 0, ps));
			assert_int_not_equal(ref_csum(t, tl, ps), 0);
			put16(t + 16, ref_csum(t, tl, 0));  /* the kernel's part */
		} else {
			assert_int_equal(p->flags, 0);
		}
		assert_int_equal(ref_csum(t, tl, ps), 0);
		pkt_free(p);
		tcp_close(stk, l);
		stk_destroy(stk);
	}
}

/* Out of order: a duplicate ACK at once, the hole's filling ACKs all. */
static void out_of_order(void **state)
{
	struct ust_stack *stk = stack();
	struct tcb *l = listener(stk, 80, 8), *c;
	struct tseg in, out;
	uint32_t iss, seq = PEER_ISS + 1;
	char buf[64];
	(void)state;
	c = passive_open(stk, l, &iss, 0);
	tseg_init(&in, seq + 5, iss + 1, F_ACK);
	memcpy(in.data, "world", 5);
	in.len = 5;
	send_seg(stk, &in, 0);
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_ACK, iss + 1, seq);
	assert_int_equal(tcp_rx_bytes(c), 0);
	tseg_init(&in, seq, iss + 1, F_ACK);
	memcpy(in.data, "hello", 5);
	in.len = 5;
	send_seg(stk, &in, 0);
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_ACK, iss + 1, seq + 10);
	assert_int_equal(tcp_recv(stk, c, buf, sizeof(buf), 0), 10);
	assert_memory_equal(buf, "helloworld", 10);
	tcp_close(stk, c);
	tcp_close(stk, l);
	stk_destroy(stk);
}

/* FIN rides on the last data segment when data is queued. */
static void fin_rides_on_data(void **state)
{
	struct ust_stack *stk = stack();
	struct tcb *l = listener(stk, 80, 8), *c;
	struct tseg out;
	uint32_t iss;
	(void)state;
	c = passive_open(stk, l, &iss, 0);
	assert_int_equal(tcp_send(stk, c, "one", 3, 0), 3);
	assert_int_equal(take_seg(stk, &out), 0);
	/* Nagle holds the second small write while the first is in flight. */
	assert_int_equal(tcp_send(stk, c, "two", 3, 0), 3);
	expect_none(stk);
	/* close pushes it out with the FIN on it, Nagle or not (as Linux). */
	tcp_close(stk, c);
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_ACK | F_PSH | F_FIN, iss + 4, PEER_ISS + 1);
	assert_int_equal(out.len, 3);
	assert_memory_equal(out.data, "two", 3);
	tcp_close(stk, l);
	stk_destroy(stk);
}

/* Zero window: persist probes, then the window opens and data flows. */
static void zero_window_persist(void **state)
{
	struct ust_stack *stk = stack();
	struct tcb *l = listener(stk, 80, 8), *c;
	struct tseg in, out;
	uint32_t iss;
	(void)state;
	c = passive_open(stk, l, &iss, 0);
	tseg_init(&in, PEER_ISS + 1, iss + 1, F_ACK);
	in.wnd = 0;
	send_seg(stk, &in, 0);
	assert_int_equal(tcp_send(stk, c, "data", 4, 0), 4);
	expect_none(stk);
	stk_run_timers(stk, 200000);
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_ACK, iss, PEER_ISS + 1);  /* probe: SND.UNA - 1 */
	assert_int_equal(out.len, 0);
	stk_run_timers(stk, 600000);
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_ACK, iss, PEER_ISS + 1);
	in.wnd = 1000;
	send_seg(stk, &in, 700000);
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_ACK | F_PSH, iss + 1, PEER_ISS + 1);
	assert_int_equal(out.len, 4);
	tcp_close(stk, c);
	tcp_close(stk, l);
	stk_destroy(stk);
}

/* Accept queue over backlog: the final ACK is dropped and counted, the
 * SYN-ACK retransmission brings it back once there is room (Linux). */
static void accept_queue_full(void **state)
{
	struct ust_stack *stk = stack();
	struct tcb *l = listener(stk, 80, 0), *c1, *c2;
	struct tseg in, out;
	struct tcp_listen_info li;
	uint32_t iss;
	(void)state;
	tcp_conf(stk)->syncookies = 0;  /* the queue limits themselves (cookies: test_tcp_harden) */
	c1 = NULL;
	/* backlog 0 admits one completed connection (Linux: > backlog is full). */
	tseg_init(&in, PEER_ISS, 0, F_SYN);
	send_seg(stk, &in, 0);
	take_seg(stk, &out);
	tseg_init(&in, PEER_ISS + 1, out.seq + 1, F_ACK);
	send_seg(stk, &in, 0);
	tcp_listen_info(l, &li);
	assert_int_equal(li.accept_queue, 1);
	/* Second client: SYN now dropped, queue full. */
	tseg_init(&in, 5000, 0, F_SYN);
	in.sport = 40001;
	send_seg(stk, &in, 0);
	expect_none(stk);
	assert_int_equal(CNT(stk, drop_tcp_accept_queue_full), 1);
	c1 = tcp_accept(stk, l);
	assert_non_null(c1);
	/* Its retransmission is admitted now. */
	send_seg(stk, &in, SEC);
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_SYN | F_ACK, out.seq, 5001);
	iss = out.seq;
	/* A third fills the queue before the second's ACK... */
	tseg_init(&in, 9000, 0, F_SYN);
	in.sport = 40002;
	send_seg(stk, &in, SEC);
	tcp_listen_info(l, &li);
	assert_int_equal(li.syn_queue, 1);  /* the SYN queue holds one: dropped */
	assert_int_equal(CNT(stk, drop_tcp_syn_queue_full), 1);
	expect_none(stk);
	tseg_init(&in, 5001, iss + 1, F_ACK);
	in.sport = 40001;
	send_seg(stk, &in, SEC);
	c2 = tcp_accept(stk, l);
	assert_non_null(c2);
	assert_int_equal(tcp_state(c2), TCPS_ESTABLISHED);
	tcp_close(stk, c1);
	tcp_close(stk, c2);
	tcp_close(stk, l);
	stk_destroy(stk);
}

static void accept_ack_dropped_when_full(void **state)
{
	struct ust_stack *stk = stack();
	struct tcb *l = listener(stk, 80, 1), *c;
	struct tseg in, out;
	struct tcp_listen_info li;
	uint32_t iss[3];
	(void)state;
	/* Three SYNs: the SYN queue (backlog 1) takes one at a time, so
	 * complete them one by one until the accept queue is over. */
	for (int i = 0; i < 2; i++) {
		tseg_init(&in, 100u * (unsigned)i, 0, F_SYN);
		in.sport = (uint16_t)(41000 + i);
		send_seg(stk, &in, 0);
		assert_int_equal(take_seg(stk, &out), 0);
		iss[i] = out.seq;
		tseg_init(&in, 100u * (unsigned)i + 1, iss[i] + 1, F_ACK);
		in.sport = (uint16_t)(41000 + i);
		send_seg(stk, &in, 0);
	}
	tcp_listen_info(l, &li);
	assert_int_equal(li.accept_queue, 2);
	/* A SYN that entered before the queue filled: make it by hand. */
	tcp_listen(stk, l, 2);
	tseg_init(&in, 300, 0, F_SYN);
	in.sport = 41002;
	send_seg(stk, &in, 0);
	assert_int_equal(take_seg(stk, &out), 0);
	iss[2] = out.seq;
	tcp_listen(stk, l, 1);
	tseg_init(&in, 301, iss[2] + 1, F_ACK);
	in.sport = 41002;
	send_seg(stk, &in, 0);
	assert_int_equal(CNT(stk, drop_tcp_accept_queue_full), 1);
	tcp_listen_info(l, &li);
	assert_int_equal(li.syn_queue, 1);
	assert_int_equal(li.accept_overflows, 1);
	c = tcp_accept(stk, l);
	tcp_close(stk, c);
	assert_int_equal(take_seg(stk, &out), 0);
	assert_int_equal(out.flags, F_FIN | F_ACK);
	/* The SYN-ACK retransmission (1 s) draws the ACK again: admitted. */
	stk_run_timers(stk, SEC);
	do  /* skipping the closed child's FIN retransmission */
		assert_int_equal(take_seg(stk, &out), 0);
	while (out.flags != (F_SYN | F_ACK));
	expect_seg(&out, F_SYN | F_ACK, iss[2], 301);
	send_seg(stk, &in, SEC);
	tcp_listen_info(l, &li);
	assert_int_equal(li.accept_queue, 2);
	assert_int_equal(li.syn_queue, 0);
	tcp_close(stk, l);  /* resets the two queued children */
	assert_int_equal(tcp_conn_count(stk), 1);  /* the closed one, in FIN_WAIT_1 */
	stk_destroy(stk);
}

static void bind_rules(void **state)
{
	struct ust_stack *stk = stack();
	struct tcb *a = tcp_tcb_new(stk, NULL), *b = tcp_tcb_new(stk, NULL);
	struct tcb *c = tcp_tcb_new(stk, NULL);
	(void)state;
	assert_int_equal(tcp_bind(stk, a, 0, 8888), 0);
	assert_int_equal(tcp_bind(stk, a, 0, 8889), -EINVAL);
	assert_int_equal(tcp_bind(stk, b, 0, 8888), -EADDRINUSE);
	assert_int_equal(tcp_bind(stk, b, US_IP, 8888), -EADDRINUSE);
	assert_int_equal(tcp_bind(stk, b, 0x01020304, 8888), -EADDRNOTAVAIL);
	tcp_setopt(stk, a, TCP_OPT_REUSEADDR, 1);
	tcp_setopt(stk, b, TCP_OPT_REUSEADDR, 1);
	assert_int_equal(tcp_bind(stk, b, 0, 8888), 0);  /* both reuse, neither listens */
	assert_int_equal(tcp_listen(stk, a, 5), 0);
	assert_int_equal(tcp_listen(stk, b, 5), -EADDRINUSE);
	tcp_setopt(stk, c, TCP_OPT_REUSEADDR, 1);
	assert_int_equal(tcp_bind(stk, c, 0, 8888), -EADDRINUSE);  /* a listens */
	assert_int_equal(tcp_connect(stk, a, PEER_IP, 80), -EISCONN);
	assert_null(tcp_accept(stk, b));
	assert_int_equal(tcp_send(stk, c, "x", 1, 0), -EPIPE);  /* as Linux */
	{
		char buf[4];
		assert_int_equal(tcp_recv(stk, c, buf, 4, 0), -ENOTCONN);
	}
	assert_int_equal(tcp_shutdown(stk, c, SHUT_WR), -ENOTCONN);
	assert_int_equal(tcp_poll(c), SOCK_EV_OUT | SOCK_EV_HUP);  /* as Linux */
	tcp_close(stk, a);
	tcp_close(stk, b);
	tcp_close(stk, c);
	stk_destroy(stk);
}

static void options_and_format(void **state)
{
	struct ust_stack *stk = stack();
	struct tcb *l = listener(stk, 80, 8), *c;
	char line[256];
	int v;
	uint32_t iss;
	(void)state;
	assert_int_equal(tcp_setopt(stk, l, TCP_OPT_SNDBUF, 1000), 0);
	tcp_getopt(stk, l, TCP_OPT_SNDBUF, &v);
	assert_int_equal(v, 4608);
	assert_int_equal(tcp_setopt(stk, l, TCP_OPT_KEEPCNT, 0), -EINVAL);
	assert_int_equal(tcp_setopt(stk, l, TCP_OPT_MAXSEG, 10), -EINVAL);
	tcp_setopt(stk, l, TCP_OPT_NODELAY, 1);
	c = passive_open(stk, l, &iss, 0);
	tcp_getopt(stk, c, TCP_OPT_NODELAY, &v);
	assert_int_equal(v, 1);  /* inherited from the listener */
	tcp_format(stk, l, line, sizeof(line));
	printf("%s\n", line);
	assert_non_null(strstr(line, "LISTEN"));
	assert_non_null(strstr(line, "syn_q:0 acc_q:0/8"));
	tcp_format(stk, c, line, sizeof(line));
	printf("%s\n", line);
	assert_non_null(strstr(line, "ESTAB"));
	assert_non_null(strstr(line, "10.77.0.2:80"));
	assert_non_null(strstr(line, "10.77.0.1:40000"));
	tcp_close(stk, c);
	tcp_close(stk, l);
	stk_destroy(stk);
}

/* FIN_WAIT_1 -> TIME_WAIT at once: the peer ACKs our FIN and sends its own
 * in one segment. */
static void fin_wait_1_to_time_wait(void **state)
{
	struct ust_stack *stk = stack();
	struct tcb *l = listener(stk, 80, 8), *c;
	struct tseg in, out;
	uint32_t iss;
	(void)state;
	c = passive_open(stk, l, &iss, 0);
	tcp_close(stk, c);
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_ACK | F_FIN, iss + 1, PEER_ISS + 1);
	tseg_init(&in, PEER_ISS + 1, iss + 2, F_ACK | F_FIN);
	send_seg(stk, &in, 0);
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_ACK, iss + 2, PEER_ISS + 2);
	assert_int_equal(tcp_conn_count(stk), 1);
	{
		char line[200];
		struct tcb *tw = tcp_ct_lookup(stk, US_IP, 80, PEER_IP, 40000);
		assert_non_null(tw);
		assert_int_equal(tcp_state(tw), TCPS_TIME_WAIT);
		tcp_format(stk, tw, line, sizeof(line));
		printf("%s\n", line);
		assert_non_null(strstr(line, "TIME-WAIT"));
		assert_non_null(strstr(line, "timer:(timewait,60000ms"));
	}
	tcp_close(stk, l);
	stk_destroy(stk);
}

/* Closing the listener and a connecting socket: straight to CLOSED. An RST
 * for a half-open child sends it back to LISTEN (it vanishes). */
static void close_listen_syn_sent_and_rst_in_syn_rcvd(void **state)
{
	struct ust_stack *stk = stack();
	struct tcb *l = listener(stk, 80, 8), *c = tcp_tcb_new(stk, NULL);
	struct tseg in, out;
	struct tcp_listen_info li;
	(void)state;
	tseg_init(&in, PEER_ISS, 0, F_SYN);
	send_seg(stk, &in, 0);
	assert_int_equal(take_seg(stk, &out), 0);
	tcp_listen_info(l, &li);
	assert_int_equal(li.syn_queue, 1);
	tseg_init(&in, PEER_ISS + 1, 0, F_RST);
	send_seg(stk, &in, 0);
	tcp_listen_info(l, &li);
	assert_int_equal(li.syn_queue, 0);
	assert_int_equal(tcp_conn_count(stk), 0);
	assert_int_equal(tcp_state(l), TCPS_LISTEN);
	assert_int_equal(tcp_connect(stk, c, PEER_IP, 9), 0);
	assert_int_equal(take_seg(stk, &out), 0);
	assert_int_equal(tcp_conn_count(stk), 1);
	tcp_close(stk, c);  /* SYN_SENT -> CLOSED: nothing sent */
	expect_none(stk);
	assert_int_equal(tcp_conn_count(stk), 0);
	tcp_close(stk, l);  /* LISTEN -> CLOSED: port free again */
	l = listener(stk, 80, 8);
	tcp_close(stk, l);
	stk_destroy(stk);
}

/* Data for an application that has closed: RST (as Linux). */
static void data_after_close_resets(void **state)
{
	struct ust_stack *stk = stack();
	struct tcb *l = listener(stk, 80, 8), *c;
	struct tseg in, out;
	uint32_t iss;
	(void)state;
	c = passive_open(stk, l, &iss, 0);
	tcp_close(stk, c);
	assert_int_equal(take_seg(stk, &out), 0);
	tseg_init(&in, PEER_ISS + 1, iss + 2, F_ACK);
	in.len = 100;
	send_seg(stk, &in, 0);
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_RST | F_ACK, iss + 2, PEER_ISS + 1);
	assert_int_equal(tcp_conn_count(stk), 0);
	tcp_close(stk, l);
	stk_destroy(stk);
}

/* An orphan in FIN_WAIT_2 is not kept forever (Linux tcp_fin_timeout). */
static void orphan_fin_wait_2_timeout(void **state)
{
	struct ust_stack *stk = stack();
	struct tcb *l = listener(stk, 80, 8), *c;
	struct tseg in, out;
	uint32_t iss;
	(void)state;
	c = passive_open(stk, l, &iss, 0);
	tcp_close(stk, c);
	assert_int_equal(take_seg(stk, &out), 0);
	tseg_init(&in, PEER_ISS + 1, iss + 2, F_ACK);
	send_seg(stk, &in, SEC);
	assert_int_equal(tcp_conn_count(stk), 1);
	stk_run_timers(stk, 60 * SEC);
	assert_int_equal(tcp_conn_count(stk), 1);
	stk_run_timers(stk, 61 * SEC);
	assert_int_equal(tcp_conn_count(stk), 0);
	tcp_close(stk, l);
	stk_destroy(stk);
}

/* Three duplicate ACKs: the first unacknowledged segment again, at once
 * (RFC 5681 3.2); the peer's window scale applies to its windows. */
static void fast_retransmit(void **state)
{
	struct ust_stack *stk = stack();
	struct tcb *l = listener(stk, 80, 8), *c;
	struct tseg in, out;
	struct tcp_info_lite ti;
	uint32_t iss;
	static uint8_t data[4 * 1460];
	(void)state;
	/* The halving checked below is NewReno's; cubic (the default) keeps 0.7. */
	assert_int_equal(tcp_set_congestion(l, "reno"), 0);
	tseg_init(&in, PEER_ISS, 0, F_SYN);
	in.mss = 1460;
	in.wscale = 3;
	send_seg(stk, &in, 0);
	assert_int_equal(take_seg(stk, &out), 0);
	assert_int_equal(out.wscale, 7);
	iss = out.seq;
	tseg_init(&in, PEER_ISS + 1, iss + 1, F_ACK);
	in.wnd = 8192;  /* scaled by 8: 64 KiB */
	send_seg(stk, &in, 0);
	c = tcp_accept(stk, l);
	tcp_get_info(stk, c, &ti);
	assert_int_equal(ti.snd_wnd, 65536);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)i;
	assert_int_equal(tcp_send(stk, c, data, sizeof(data), 0), (long)sizeof(data));
	for (int i = 0; i < 4; i++) {
		assert_int_equal(take_seg(stk, &out), 0);
		assert_int_equal(out.seq, iss + 1 + 1460u * (unsigned)i);
		assert_int_equal(out.len, 1460);
	}
	expect_none(stk);
	/* The first segment is lost: the peer ACKs iss+1 three more times. */
	for (int i = 0; i < 3; i++) {
		tseg_init(&in, PEER_ISS + 1, iss + 1, F_ACK);
		in.wnd = 8192;
		send_seg(stk, &in, 1000);
		if (i < 2)
			expect_none(stk);
	}
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_ACK, iss + 1, PEER_ISS + 1);
	assert_int_equal(out.len, 1460);
	assert_memory_equal(out.data, data, 1460);
	assert_int_equal(CNT(stk, tcp_retransmits), 1);
	tcp_get_info(stk, c, &ti);
	assert_int_equal(ti.snd_ssthresh, 2);  /* flight 4 segments / 2 */
	tcp_close(stk, c);
	tcp_close(stk, l);
	stk_destroy(stk);
}

/* MSS: no option from the peer means 536 (RFC 9293 3.7.1); TCP_MAXSEG
 * lowers what we announce. */
static void mss_negotiation(void **state)
{
	struct ust_stack *stk = stack();
	struct tcb *l = listener(stk, 80, 8), *c;
	struct tseg in, out;
	uint32_t iss;
	static uint8_t data[2000];
	(void)state;
	assert_int_equal(tcp_setopt(stk, l, TCP_OPT_MAXSEG, 1000), 0);
	tseg_init(&in, PEER_ISS, 0, F_SYN);
	send_seg(stk, &in, 0);
	assert_int_equal(take_seg(stk, &out), 0);
	assert_int_equal(out.mss, 1000);
	iss = out.seq;
	tseg_init(&in, PEER_ISS + 1, iss + 1, F_ACK);
	send_seg(stk, &in, 0);
	c = tcp_accept(stk, l);
	tcp_setopt(stk, c, TCP_OPT_NODELAY, 1);
	assert_int_equal(tcp_send(stk, c, data, sizeof(data), 0), (long)sizeof(data));
	assert_int_equal(take_seg(stk, &out), 0);
	assert_int_equal(out.len, 536);
	tcp_close(stk, c);
	tcp_close(stk, l);
	stk_destroy(stk);
}

/* Keepalive with Linux's defaults: first probe after 7200 s idle, then
 * every 75 s; the probe is <SEQ=SND.UNA-1><ACK>. An answer restarts idle. */
static void keepalive_probes(void **state)
{
	struct ust_stack *stk = stack();
	struct tcb *l = listener(stk, 80, 8), *c;
	struct tseg in, out;
	uint32_t iss;
	int v;
	(void)state;
	c = passive_open(stk, l, &iss, 0);
	tcp_getopt(stk, c, TCP_OPT_KEEPIDLE, &v);
	assert_int_equal(v, 7200);
	tcp_getopt(stk, c, TCP_OPT_KEEPINTVL, &v);
	assert_int_equal(v, 75);
	tcp_getopt(stk, c, TCP_OPT_KEEPCNT, &v);
	assert_int_equal(v, 9);
	tcp_setopt(stk, c, TCP_OPT_KEEPALIVE, 1);
	stk_run_timers(stk, 7199 * SEC);
	expect_none(stk);
	stk_run_timers(stk, 7200 * SEC);
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_ACK, iss, PEER_ISS + 1);
	stk_run_timers(stk, 7275 * SEC);
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_ACK, iss, PEER_ISS + 1);
	/* The peer answers: idle time starts again. */
	tseg_init(&in, PEER_ISS + 1, iss + 1, F_ACK);
	send_seg(stk, &in, 7276 * SEC);
	stk_run_timers(stk, 7350 * SEC);
	expect_none(stk);
	stk_run_timers(stk, (7276 + 7200) * SEC);
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_ACK, iss, PEER_ISS + 1);
	tcp_close(stk, c);
	tcp_close(stk, l);
	stk_destroy(stk);
}

/* A lost FIN is retransmitted on the RTO, same sequence number. */
static void fin_retransmitted(void **state)
{
	struct ust_stack *stk = stack();
	struct tcb *l = listener(stk, 80, 8), *c;
	struct tseg out;
	uint32_t iss;
	(void)state;
	c = passive_open(stk, l, &iss, 0);
	tcp_close(stk, c);
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_ACK | F_FIN, iss + 1, PEER_ISS + 1);
	stk_run_timers(stk, 199000);
	expect_none(stk);
	stk_run_timers(stk, 200000);
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_ACK | F_FIN, iss + 1, PEER_ISS + 1);
	stk_run_timers(stk, 600000);
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_ACK | F_FIN, iss + 1, PEER_ISS + 1);
	tcp_close(stk, l);
	stk_destroy(stk);
}

/* A half-open child whose SYN-ACK is never answered: five retransmissions
 * (1, 2, 4, 8, 16 s apart, as Linux), then it is dropped without a word. */
static void synack_retries(void **state)
{
	struct ust_stack *stk = stack();
	struct tcb *l = listener(stk, 80, 8);
	struct tseg in, out;
	struct tcp_listen_info li;
	uint64_t t = 0, gap = SEC;
	uint32_t iss;
	(void)state;
	tseg_init(&in, PEER_ISS, 0, F_SYN);
	send_seg(stk, &in, 0);
	assert_int_equal(take_seg(stk, &out), 0);
	iss = out.seq;
	for (int i = 0; i < 5; i++) {
		t += gap;
		stk_run_timers(stk, t);
		assert_int_equal(take_seg(stk, &out), 0);
		expect_seg(&out, F_SYN | F_ACK, iss, PEER_ISS + 1);
		gap *= 2;
	}
	tcp_listen_info(l, &li);
	assert_int_equal(li.syn_queue, 1);
	stk_run_timers(stk, t + gap);
	expect_none(stk);
	tcp_listen_info(l, &li);
	assert_int_equal(li.syn_queue, 0);
	assert_int_equal(tcp_conn_count(stk), 0);
	tcp_close(stk, l);
	stk_destroy(stk);
}

/* SO_LINGER on with 0 seconds: close aborts with RST, nothing lingers. */
static void linger_zero_resets(void **state)
{
	struct ust_stack *stk = stack();
	struct tcb *l = listener(stk, 80, 8), *c;
	struct tseg out;
	uint32_t iss;
	int v;
	(void)state;
	c = passive_open(stk, l, &iss, 0);
	assert_int_equal(tcp_setopt(stk, c, TCP_OPT_LINGER, 0), 0);
	tcp_getopt(stk, c, TCP_OPT_LINGER, &v);
	assert_int_equal(v, 0);
	assert_int_equal(tcp_send(stk, c, "abc", 3, 0), 3);
	assert_int_equal(take_seg(stk, &out), 0);
	tcp_close(stk, c);
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_RST | F_ACK, iss + 4, PEER_ISS + 1);
	assert_int_equal(tcp_conn_count(stk), 0);
	tcp_close(stk, l);
	stk_destroy(stk);
}

/* RFC 3042 Limited Transmit, then NewReno (RFC 6582): two losses in one
 * window; the partial ACK after the first repair retransmits the second
 * hole at once, without waiting for three more duplicates or the RTO. */
static void limited_transmit_and_partial_ack(void **state)
{
	struct ust_stack *stk = stack();
	struct tcb *l = listener(stk, 80, 8), *c;
	struct tseg in, out;
	uint32_t iss, s0;
	static uint8_t data[14 * 1460];
	(void)state;
	c = passive_open(stk, l, &iss, 0);
	s0 = iss + 1;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 3);
	/* IW10: ten segments go, four wait. */
	assert_int_equal(tcp_send(stk, c, data, sizeof(data), 0), (long)sizeof(data));
	for (int i = 0; i < 10; i++)
		assert_int_equal(take_seg(stk, &out), 0);
	expect_none(stk);
	/* Segments 0 and 5 are lost. First duplicate ACK: one new segment. */
	tseg_init(&in, PEER_ISS + 1, s0, F_ACK);
	send_seg(stk, &in, 1000);
	assert_int_equal(take_seg(stk, &out), 0);
	assert_int_equal(out.seq, s0 + 10 * 1460);
	expect_none(stk);
	/* Second: one more. */
	send_seg(stk, &in, 1000);
	assert_int_equal(take_seg(stk, &out), 0);
	assert_int_equal(out.seq, s0 + 11 * 1460);
	/* Third: fast retransmit of segment 0. */
	send_seg(stk, &in, 1000);
	assert_int_equal(take_seg(stk, &out), 0);
	assert_int_equal(out.seq, s0);
	assert_int_equal(out.len, 1460);
	while (take_seg(stk, &out) == 0)
		;
	/* Partial ACK up to the second hole: segment 5 at once. */
	in.ack = s0 + 5 * 1460;
	send_seg(stk, &in, 2000);
	assert_int_equal(take_seg(stk, &out), 0);
	assert_int_equal(out.seq, s0 + 5 * 1460);
	assert_memory_equal(out.data, data + 5 * 1460, 1460);
	assert_int_equal(CNT(stk, tcp_retransmits), 2);
	tcp_close(stk, c);
	tcp_close(stk, l);
	stk_destroy(stk);
}

/* Received bytes wait in a ring, not in packet buffers: a small pool is
 * not used up by unread data. Out-of-order segments do hold buffers: when
 * the pool runs low they are dropped and counted, duplicate ACKs still go
 * out, and the hole's arrival brings in everything that was kept. */
static void rcv_pool_pressure(void **state)
{
	struct stk_config cfg;
	struct ust_stack *stk;
	struct tcb *l, *c;
	struct tseg in, out;
	uint32_t iss, base = PEER_ISS + 1;
	uint32_t kept = 0;
	static char buf[1 << 17];
	(void)state;
	stk_config_default(&cfg);
	cfg.pkt_pool_size = 40;
	stk = mkstack_cfg(&cfg, 0);
	learn_peer(stk, 0);
	l = listener(stk, 80, 8);
	c = passive_open(stk, l, &iss, 0);
	/* 80 in-order segments, unread: the pool is untouched. */
	for (int i = 0; i < 80; i++) {
		tseg_init(&in, base, iss + 1, F_ACK);
		in.len = 1400;
		send_seg(stk, &in, 0);
		base += 1400;
		while (take_seg(stk, &out) == 0)
			;
	}
	assert_int_equal(tcp_rx_bytes(c), 80 * 1400);
	assert_true(stk->pool.nfree >= 36);
	assert_int_equal(tcp_recv(stk, c, buf, sizeof(buf), 0), 80 * 1400);
	assert_int_equal(take_seg(stk, &out), 0);  /* the window update */
	expect_none(stk);
	/* A hole at base, then 40 segments after it (the window takes 46). */
	for (int i = 1; i <= 40; i++) {
		tseg_init(&in, base + 1400u * (unsigned)i, iss + 1, F_ACK);
		in.len = 1400;
		send_seg(stk, &in, 0);
		assert_int_equal(take_seg(stk, &out), 0);
		expect_seg(&out, F_ACK, iss + 1, base);  /* duplicate ACK */
		if (!CNT(stk, drop_tcp_rcv_mem))
			kept = (uint32_t)i;
	}
	assert_true(CNT(stk, drop_tcp_rcv_mem) > 0);
	assert_true(kept > 25);  /* 12% of the pool stays free */
	tseg_init(&in, base, iss + 1, F_ACK);
	in.len = 1400;
	send_seg(stk, &in, 0);
	assert_int_equal(take_seg(stk, &out), 0);
	expect_seg(&out, F_ACK, iss + 1, base + 1400 * (kept + 1));
	assert_int_equal(tcp_rx_bytes(c), 1400 * (kept + 1));
	assert_true(stk->pool.nfree >= 36);
	tcp_close(stk, c);
	tcp_close(stk, l);
	stk_destroy(stk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tcb_size),
		cmocka_unit_test(msg_more),
		cmocka_unit_test(listen_syn_synack),
		cmocka_unit_test(listen_rst_and_ack),
		cmocka_unit_test(closed_port_rst),
		cmocka_unit_test(malformed_dropped),
		cmocka_unit_test(connect_synack_ack),
		cmocka_unit_test(connect_refused),
		cmocka_unit_test(syn_retries_backoff),
		cmocka_unit_test(unacceptable_gets_ack),
		cmocka_unit_test(rst_processing),
		cmocka_unit_test(fin_established_close_wait_last_ack),
		cmocka_unit_test(active_close_time_wait),
		cmocka_unit_test(simultaneous_close_closing),
		cmocka_unit_test(time_wait_reuse),
		cmocka_unit_test(retransmit_backoff),
		cmocka_unit_test(delayed_ack),
		cmocka_unit_test(link_checksum_mark),
		cmocka_unit_test(tso_run_acked_once),
		cmocka_unit_test(tx_checksum_left_to_link),
		cmocka_unit_test(out_of_order),
		cmocka_unit_test(fin_rides_on_data),
		cmocka_unit_test(zero_window_persist),
		cmocka_unit_test(accept_queue_full),
		cmocka_unit_test(accept_ack_dropped_when_full),
		cmocka_unit_test(bind_rules),
		cmocka_unit_test(options_and_format),
		cmocka_unit_test(fin_wait_1_to_time_wait),
		cmocka_unit_test(close_listen_syn_sent_and_rst_in_syn_rcvd),
		cmocka_unit_test(data_after_close_resets),
		cmocka_unit_test(orphan_fin_wait_2_timeout),
		cmocka_unit_test(fast_retransmit),
		cmocka_unit_test(mss_negotiation),
		cmocka_unit_test(keepalive_probes),
		cmocka_unit_test(fin_retransmitted),
		cmocka_unit_test(synack_retries),
		cmocka_unit_test(linger_zero_resets),
		cmocka_unit_test(limited_transmit_and_partial_ack),
		cmocka_unit_test(rcv_pool_pressure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
