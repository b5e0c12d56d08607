#!/usr/bin/env bash
# UDP programs over ustack through the preload library: a Python echo
# server (socket, bind, recvfrom, sendto) answers the kernel; socat over
# ustack sends stdin to a kernel UDP server and prints the answer (socat
# waits on stdin and the socket in one select(): a mixed set).
. "$(dirname "$0")/lib/common.sh"
ns_setup runudp
. "$(dirname "$0")/lib/run.sh"
need socat
PY=/usr/bin/python3

cat >"$WORK/echo.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
print("fd", s.fileno(), flush=True)
for _ in range(int(sys.argv[2])):
    data, peer = s.recvfrom(65535)
    s.sendto(data.upper(), peer)
PY
cat >"$WORK/client.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
for n in (5, 1400, 8000):   # the last one is fragmented both ways
    s.sendto(b"x" * n, (sys.argv[1], int(sys.argv[2])))
    d = s.recvfrom(65535)[0]
    assert d == b"X" * n, (n, len(d))
print("3 echoes ok")
PY

over_ustack echo_server "$PY" "$WORK/echo.py" 9000 3
SRV=$LAST_PID
wait_tap
wait_for "the echo server's socket" 50 grep -q "^fd " "$WORK/echo_server.log"
in_ns timeout 10 "$PY" "$WORK/client.py" "$STACK_IP" 9000 || fail "kernel client: no echo from python over ustack"
wait_exit "$SRV" 10
[ "$EXIT_RC" = 0 ] || fail "echo server exited with $EXIT_RC: $(cat "$WORK/echo_server.log")"
pass "python UDP echo server over ustack answered the kernel ($(cat "$WORK/echo_server.log"))"
wait_tap_gone

in_kernel_bg kernel_echo "$PY" "$WORK/echo.py" 9001 1
KSRV=$LAST_PID
wait_for "the kernel echo server" 50 grep -q "^fd " "$WORK/kernel_echo.log"
out=$(echo "through socat" | in_ns timeout 10 "$USTACK" run -- socat -t 1 - "UDP:$HOST_IP:9001") ||
	fail "socat over ustack failed"
[ "$out" = "THROUGH SOCAT" ] || fail "socat over ustack printed '$out'"
wait_exit "$KSRV" 5
pass "socat over ustack (stdin + UDP socket in one select): $out"
echo "2 passed, 0 failed"
