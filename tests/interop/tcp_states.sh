#!/usr/bin/env bash
# TCP states the kernel and `ustack stat` can see, with ustack's side driven
# step by step by tests/progs/tcp_cmd:
#  - CLOSE-WAIT held while the ustack application has not closed after the
#    kernel's FIN; the connection goes away once it closes (LAST-ACK, ACK);
#  - TIME-WAIT on ustack's side when it closes first, as a server and as a
#    client;
#  - ECONNREFUSED both ways: ustack to a kernel port with no listener, the
#    kernel to a ustack port with no listener.
. "$(dirname "$0")/lib/common.sh"


# Sends one command to tcp_cmd; its answer lands in $ANSWER.
cmd() {
	echo "$*" >&"${CMD[1]}"
	IFS= read -r -t 15 ANSWER <&"${CMD[0]}" || fail "tcp_cmd did not answer '$*'"
}
# expect GLOB COMMAND...: the answer must match GLOB.
expect() {
	local want=$1; shift
	cmd "$@"
	# shellcheck disable=SC2053
	[[ $ANSWER == $want ]] || fail "tcp_cmd '$*': answered '$ANSWER', expected '$want'"
}
# A line of `ustack stat` in state $1 whose local or peer endpoint is $2.
stat_has() { ustack_stat | grep -Eq "$1.*$2([^0-9]|$)"; }
# Only the listener is left on endpoint $1.
stat_only_listener() { ! ustack_stat | grep -E "$1([^0-9]|$)" | grep -vq LISTEN; }
kernel_has() { in_ns ss -Htan | grep -Eq "^$1 .*$2([^0-9]|$)"; }

ns_setup states
coproc CMD { exec ip netns exec "$NS" timeout 120 "$BUILD/tests/tcp_cmd" 2>"$WORK/tcp_cmd.log"; }
USTACK_PID=$CMD_PID
IFS= read -r -t 15 ANSWER <&"${CMD[0]}" || fail "tcp_cmd did not start"
[ "$ANSWER" = ready ] || fail "tcp_cmd: $ANSWER"
SRV="$STACK_IP:7001"

expect ok listen 7001
wait_for "LISTEN on port 7001 in ustack stat" 50 stat_has LISTEN ":7001"
ok "ustack stat shows LISTEN on port 7001"

# --- CLOSE-WAIT: the kernel sends and closes, the application does not ---
in_ns timeout 30 $PY -c '
import socket, sys
s = socket.create_connection((sys.argv[1], 7001), timeout=10)
s.sendall(b"hello\n")
s.close()
' "$STACK_IP" 2>"$WORK/k1.log" || fail "kernel client 1: $(tail -1 "$WORK/k1.log")"
expect "ok $HOST_IP:*" accept
expect "data hello" recv
expect eof recv
wait_for "CLOSE-WAIT on $SRV" 50 stat_has CLOSE-WAIT "$SRV"
kernel_has FIN-WAIT-2 "$SRV" || fail "the kernel's side is not in FIN-WAIT-2: $(in_ns ss -Htan)"
# Held, not a passing state: still there a second later (nothing to poll
# for here; the point is that nothing happens).
sleep 1
stat_has CLOSE-WAIT "$SRV" || fail "CLOSE-WAIT was not held: $(ustack_stat)"
ok "CLOSE-WAIT held while the application has not closed (kernel side FIN-WAIT-2)"
ustack_stat | grep -E "CLOSE-WAIT" | sed 's/^/    /'
expect ok close
wait_for "the closed connection to leave ustack stat" 50 stat_only_listener "$SRV"
wait_for "the kernel's side to reach TIME-WAIT" 50 kernel_has TIME-WAIT "$SRV"
ok "after close: gone from ustack stat, the kernel's side in TIME-WAIT"

# --- TIME-WAIT on ustack's side: the ustack server closes first ---
ns_peer timeout 30 $PY -c '
import socket, sys
s = socket.create_connection((sys.argv[1], 7001), timeout=20)
assert s.recv(10) == b""   # the server closes first
s.close()
' "$STACK_IP" 2>"$WORK/k2.log"
expect "ok $HOST_IP:*" accept
expect ok close
wait "${BG[-1]}" || fail "kernel client 2 did not see our FIN: $(tail -1 "$WORK/k2.log")"
wait_for "TIME-WAIT on $SRV" 50 stat_has TIME-WAIT "$SRV"
ok "ustack server closed first: TIME-WAIT on $SRV"
ustack_stat | grep -E "TIME-WAIT" | sed 's/^/    /'

# --- TIME-WAIT on ustack's side: the ustack client closes first ---
ns_peer timeout 30 $PY -c '
import socket, sys
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((sys.argv[1], 7002))
l.listen(1)
c, _ = l.accept()
c.settimeout(20)
assert c.recv(10) == b""   # the client closes first
c.close()
' "$HOST_IP" 2>"$WORK/k3.log"
wait_for "kernel listener on 7002" 50 kernel_has LISTEN "$HOST_IP:7002"
expect ok connect "$HOST_IP" 7002
expect ok close
wait "${BG[-1]}" || fail "kernel server did not see our FIN: $(tail -1 "$WORK/k3.log")"
wait_for "TIME-WAIT towards $HOST_IP:7002" 50 stat_has TIME-WAIT "$HOST_IP:7002"
ok "ustack client closed first: TIME-WAIT towards $HOST_IP:7002"

# --- ECONNREFUSED both ways ---
expect "err ECONNREFUSED" connect "$HOST_IP" 7003
ok "ustack connect to a kernel port with no listener: ECONNREFUSED"
in_ns timeout 10 $PY -c '
import socket, sys
try:
    socket.create_connection((sys.argv[1], 7004), timeout=5)
except ConnectionRefusedError:
    sys.exit(0)
except Exception as e:
    print("not refused:", repr(e), file=sys.stderr)
sys.exit(1)
' "$STACK_IP" 2>"$WORK/k4.log" || fail "kernel connect to a closed ustack port: $(tail -1 "$WORK/k4.log")"
ok "kernel connect to a ustack port with no listener: ECONNREFUSED"

expect ok close-listener
echo quit >&"${CMD[1]}"
wait "$USTACK_PID" || fail "tcp_cmd exited with $?"
USTACK_PID=""
echo "$npass passed, 0 failed"
