#!/usr/bin/env bash
# Kernel interop under impairment (issue 5): ustack runs with its own
# impairment wrapper on the TAP, both directions (this kernel has no
# netem), USTACK_IMPAIR="loss=5%,delay=20ms,reorder=5%,seed=7" unless set;
# then bytes each way between ustack and the kernel, SHA-256 compared: a
# kernel client (python) to a ustack server, then a ustack client to a
# kernel server. The issue asks for 100 MB each way; under this impairment
# that takes longer than a CTest run should, so the default is
# IMPAIR_BYTES=8000000 (about 90 s here: ustack sends at ~0.1 MB/s under
# this impairment, the kernel at ~0.7 MB/s), and
# `IMPAIR_BYTES=100000000 bash tests/interop/tcp_impair.sh BUILD` runs the
# full size (about 17 minutes; the time bound grows with the size).
export USTACK_IMPAIR=${USTACK_IMPAIR:-loss=5%,delay=20ms,reorder=5%,seed=7}
. "$(dirname "$0")/lib/common.sh"

# Runs CMD in the namespace in the background with $! its own pid (with
# `in_ns CMD &`, $! is a subshell's: signalling it would orphan CMD).
ns_bg() { ip netns exec "$NS" "$@" & }

BYTES=${IMPAIR_BYTES:-8000000}
BULK=$BUILD/tests/tcp_bulk
PY=/usr/bin/python3
# Seconds per direction: 140, or enough for 50 KB/s when the size asks more.
LIMIT=${IMPAIR_LIMIT:-$(( BYTES / 50000 > 140 ? BYTES / 50000 : 140 ))}
npass=0
# Background peers die with the test, whatever its exit path.
BG=()
on_exit() {
	local rc=$?
	set +e  # a failing kill must not skip common.sh's cleanup
	for p in "${BG[@]}"; do kill -TERM "$p" 2>/dev/null; done
	(exit $rc)
	cleanup
}
trap on_exit EXIT INT TERM

ns_setup impair
T0=$(date +%s.%N)
want=$("$BULK" gen "$BYTES" | sha256sum | cut -d' ' -f1)

# --- kernel client -> ustack server ---
ns_bg timeout $LIMIT "$BULK" recv 5001 >"$WORK/recv.bin" 2>"$WORK/recv.log"
BG+=($!)
wait_for "ustack listener on 5001" 100 grep -q "listening on port 5001" "$WORK/recv.log"
"$BULK" gen "$BYTES" | in_ns timeout $LIMIT $PY -c '
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=30)
src = sys.stdin.buffer
while True:
    b = src.read(65536)
    if not b:
        break
    s.sendall(b)
s.shutdown(socket.SHUT_WR)
s.settimeout(10)
try:
    s.recv(1)   # the receiver closes once it has read everything
except socket.timeout:
    pass
s.close()
' "$STACK_IP" 5001 2>"$WORK/kclient.log" || fail "kernel client: $(tail -2 "$WORK/kclient.log")"
wait "${BG[-1]}" || fail "tcp_bulk recv failed (exit $?)"
got=$(sha256sum <"$WORK/recv.bin" | cut -d' ' -f1)
[ "$got" = "$want" ] ||
	fail "kernel -> ustack: SHA-256 differs (sent $BYTES bytes $want, received $(stat -c %s "$WORK/recv.bin") bytes $got)"
rm -f "$WORK/recv.bin"
T1=$(date +%s.%N)
pass "kernel -> ustack under $USTACK_IMPAIR: $BYTES bytes in $(awk "BEGIN{printf \"%.1f\", $T1 - $T0}") s, SHA-256 equal ($(grep -o 'received.*' "$WORK/recv.log"))"
npass=$((npass + 1))

# --- ustack client -> kernel server ---
# The server binds the wildcard: 10.77.0.1 exists only while a stack holds
# the TAP, and tcp_bulk send has not started yet.
ns_bg timeout $LIMIT $PY -c '
import socket, sys
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((sys.argv[1], int(sys.argv[2])))
l.listen(1)
c, _ = l.accept()
with open(sys.argv[3], "wb") as out:
    while True:
        b = c.recv(65536)
        if not b:
            break
        out.write(b)
c.close()
' 0.0.0.0 5002 "$WORK/kserver.bin" 2>"$WORK/kserver.log"
BG+=($!)
wait_for "kernel listener on 5002" 100 in_ns sh -c "ss -Hltn 'sport = :5002' | grep -q LISTEN"
in_ns timeout $LIMIT "$BULK" send "$HOST_IP" 5002 "$BYTES" 2>"$WORK/send.log" ||
	fail "tcp_bulk send failed (exit $?)"
wait "${BG[-1]}" || fail "kernel server failed (exit $?)"
got=$(sha256sum <"$WORK/kserver.bin" | cut -d' ' -f1)
[ "$got" = "$want" ] ||
	fail "ustack -> kernel: SHA-256 differs (sent $BYTES bytes $want, received $(stat -c %s "$WORK/kserver.bin") bytes $got)"
rm -f "$WORK/kserver.bin"
T2=$(date +%s.%N)
pass "ustack -> kernel under $USTACK_IMPAIR: $BYTES bytes in $(awk "BEGIN{printf \"%.1f\", $T2 - $T1}") s, SHA-256 equal ($(grep -o 'sent.*' "$WORK/send.log"))"
npass=$((npass + 1))

echo "$npass passed, 0 failed"
