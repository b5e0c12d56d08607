#!/usr/bin/env bash
# iperf3 over ustack both ways: `iperf3 -s` over ustack measured by the
# kernel's `iperf3 -c`, then the kernel's `iperf3 -s` measured by
# `iperf3 -c` over ustack. iperf3 drives its control and data connections
# with select() and non-blocking connects. Each run must finish, report a
# non-zero rate on both ends, and have the server exit cleanly.
. "$(dirname "$0")/lib/common.sh"
ns_setup runiperf
. "$(dirname "$0")/lib/run.sh"
need iperf3

rate() { sed -n 's/.* \([0-9.]\+ [KMG]bits\/sec\).*receiver.*/\1/p' "$1" | tail -1; }
# finished SERVER_PID SERVER CLIENT_LOG CLIENT: the one-off server exited
# cleanly and the client finished; the receiver's rate in r, not empty.
finished() {
	wait_exit "$1" 20
	[ "$EXIT_RC" = 0 ] || fail "$2 exited with $EXIT_RC"
	grep -q "iperf Done" "$3" || fail "$4 did not finish"
	r=$(rate "$3")
	[ -n "$r" ] || fail "no receiver rate in the client's report"
}

over_ustack iperf_server iperf3 -s -1 -B "$STACK_IP" -p 5201
SRV=$LAST_PID
wait_listen 5201
in_ns timeout 30 iperf3 -c "$STACK_IP" -p 5201 -t 3 >"$WORK/iperf_client_kernel.log" 2>&1 ||
	fail "kernel iperf3 -c: $(tail -3 "$WORK/iperf_client_kernel.log")"
finished "$SRV" "iperf3 -s over ustack" "$WORK/iperf_client_kernel.log" "kernel client"
pass "iperf3 -s over ustack <- kernel iperf3 -c: $r"
wait_tap_gone

in_kernel_bg iperf_server_kernel iperf3 -s -1 -p 5202
KSRV=$LAST_PID
wait_kernel_listen 5202
in_ns timeout 30 "$USTACK" run -- iperf3 -c "$HOST_IP" -p 5202 -t 3 >"$WORK/iperf_client_ustack.log" 2>&1 ||
	fail "iperf3 -c over ustack: $(tail -3 "$WORK/iperf_client_ustack.log")"
finished "$KSRV" "kernel iperf3 -s" "$WORK/iperf_client_ustack.log" "client over ustack"
pass "iperf3 -c over ustack -> kernel iperf3 -s: $r"
echo "2 passed, 0 failed"
