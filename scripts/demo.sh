#!/usr/bin/env bash
# The ustack demo. Everything happens inside a network namespace made for it
# and removed at the end: ustack runs on a TAP, the Linux kernel of the
# namespace is its peer, tcpdump decodes the captures ustack wrote.
#  1. the kernel pings ustack (`ustack up`);
#  2. the story of the seed: the seed's server (examples/seed_server) runs
#     over ustack on port 8888, the kernel's nc connects and sends a line,
#     `ustack stat` shows the states along the way, the capture shows the
#     handshake, the data and the teardown; then the seed's client tries
#     connect() on a listening socket and gets EISCONN.
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
USTACK=$BUILD/bin/ustack
[ "$(id -u)" = 0 ] || { echo "demo: needs root (network namespace, TAP)" >&2; exit 1; }

NS="ustack-demo-$$"
WORK=$(mktemp -d /tmp/ustack-demo.XXXXXX)
PID="" SEED="" NC=""
# A TAP name of its own: /run/ustack/<tap>.sock is shared by every namespace,
# so a fixed name would collide with any other stack running on the machine.
export USTACK_TAP=ustdemo$$ USTACK_IP=10.77.0.2/24 USTACK_HOST_IP=10.77.0.1/24 USTACK_PCAP=$WORK/demo.pcap
cleanup() {
	for p in $PID $SEED $NC; do kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	ip netns del "$NS" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
in_ns() { ip netns exec "$NS" "$@"; }
# until TRIES CMD...: polls CMD every 0.1 s, TRIES times at most.
until_ok() {
	local tries=$1; shift
	for _ in $(seq "$tries"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
	echo "demo: timed out waiting for: $*" >&2
	return 1
}
stat_has() { in_ns "$USTACK" stat | grep -q "$1"; }
# The TCP part of `ustack stat`: its sockets as `ss -tan` lists them.
tcp_stat() { in_ns "$USTACK" stat | awk '/^tcp \(/ { p = 1 } /^[a-z]/ && !/^tcp \(/ { p = 0 } p'; }

step "private network namespace $NS"
ip netns add "$NS"
in_ns ip link set lo up

step "ustack up (TAP $USTACK_TAP, stack $USTACK_IP, kernel side $USTACK_HOST_IP, capture on)"
ip netns exec "$NS" "$USTACK" up >"$WORK/up.log" 2>&1 &  # $! is ustack itself
PID=$!
for _ in $(seq 100); do in_ns "$USTACK" stat >/dev/null 2>&1 && break; sleep 0.1; done
cat "$WORK/up.log"
in_ns ip -br addr show dev "$USTACK_TAP"

step "the kernel pings ustack"
in_ns ping -c 4 -i 0.3 10.77.0.2
step "a full-size echo: ping -s 1472"
in_ns ping -c 2 -i 0.3 -s 1472 10.77.0.2

step "ustack stat"
in_ns "$USTACK" stat

step "stop ustack (SIGTERM); it removes the TAP it created"
kill -TERM "$PID"; wait "$PID" || true; PID=""
in_ns ip -br link show "$USTACK_TAP" 2>/dev/null || echo "TAP $USTACK_TAP is gone"

step "the capture, decoded by tcpdump -r"
tcpdump -nr "$WORK/demo.pcap" 2>/dev/null

# --- the story of the seed ---

step "the seed's server over ustack: listen on 8888, accept, recv, print, close"
# Its stdin is a FIFO the demo holds open: with --hold the server stays (and
# so does its stack, with the TIME-WAIT it will hold) until the demo lets go.
mkfifo "$WORK/hold" "$WORK/nc.in"
exec 3<>"$WORK/hold"
ip netns exec "$NS" env USTACK_PCAP="$WORK/seed.pcap" timeout 120 "$BUILD/bin/seed_server" \
	--hold <"$WORK/hold" >"$WORK/seed.out" 2>&1 3>&- &
SEED=$!
until_ok 100 stat_has LISTEN
echo "\$ ustack stat    # its TCP part: the listener"
tcp_stat

step "the kernel's nc connects to 10.77.0.2:8888"
ip netns exec "$NS" timeout 60 nc 10.77.0.2 8888 <"$WORK/nc.in" >"$WORK/nc.out" 2>&1 3>&- &
NC=$!
exec 4>"$WORK/nc.in"
until_ok 100 stat_has ESTAB
cat "$WORK/seed.out"
echo "\$ ustack stat    # ustack's side: ESTAB, the server blocked in recv()"
tcp_stat
echo "\$ ss -tn         # the kernel's side"
in_ns ss -tn

step "nc sends a line; the seed's server prints it and closes first"
echo "hello from the kernel's nc" >&4
exec 4>&-   # nc's stdin ends; it quits when the server's FIN arrives
until_ok 100 grep -q "^recv:" "$WORK/seed.out"
grep "^recv:" "$WORK/seed.out"
wait "$NC" || true; NC=""
until_ok 100 stat_has TIME-WAIT
echo "\$ ustack stat    # the server closed first: TIME-WAIT for 2*MSL"
tcp_stat
echo "\$ ss -tan        # the kernel's side closed second: nothing left"
in_ns ss -tan

step "the server exits; its stack goes with it"
exec 3>&-
wait "$SEED" || true; SEED=""

step "the capture of the seed's connection, decoded by tcpdump -r"
tcpdump -nr "$WORK/seed.pcap" 'tcp port 8888' 2>/dev/null >"$WORK/seed.txt" || true
# One note per segment: who sends it and what it does in the connection.
awk '
	{ flags = $0; sub(/.*Flags \[/, "", flags); sub(/\].*/, "", flags)
	  from = ($3 ~ /^10\.77\.0\.2\./) ? "ustack" : "kernel"
	  len = $0; sub(/.*length /, "", len); len += 0
	  if (flags == "S") note = "SYN: nc opens (handshake 1/3)"
	  else if (flags == "S.") note = "SYN-ACK (handshake 2/3)"
	  else if (flags == "." && !hs) { note = "ACK (handshake 3/3)"; hs = 1 }
	  else if (flags ~ /F/ && len > 0) note = "FIN riding on the last data segment"
	  else if (flags ~ /F/) note = "FIN alone (no data was queued)"
	  else if (len > 0) note = "data"
	  else note = "ACK"
	  line = $0; sub(/, options \[[^]]*\]/, "", line)
	  printf "%-7s %-38s %s\n", from ":", note, line }
' "$WORK/seed.txt"

step "the seed's note: a FIN usually rides on the last data segment"
# tests/progs/tcp_cmd runs ustack's side command by command: it answers the
# kernel's line with two sends and a close, back to back. The second send
# says MSG_MORE, so it waits for the close, and the FIN rides on it (plain
# sends rely on Nagle holding the second one: true only while the kernel's
# ACK of the first is slower than the program's close).
mkfifo "$WORK/cmd.in"
exec 5<>"$WORK/cmd.in"
ip netns exec "$NS" env USTACK_PCAP="$WORK/fin.pcap" timeout 60 "$BUILD/tests/tcp_cmd" \
	<"$WORK/cmd.in" >"$WORK/cmd.out" 2>&1 3>&- &
SEED=$!
echo "listen 9000" >&5
until_ok 100 grep -q "^ok" "$WORK/cmd.out"
printf 'accept\nrecv\nsendclose hello, |world\n' >&5
in_ns timeout 20 /usr/bin/python3 -c '
import socket
s = socket.create_connection(("10.77.0.2", 9000), timeout=10)
s.sendall(b"hi\n")
got = b""
while True:
    b = s.recv(100)
    if not b:
        break
    got += b
print("kernel client received:", got.decode(), "(then EOF)")
' 3>&-
echo quit >&5
exec 5>&-
wait "$SEED" || true; SEED=""
tcpdump -nr "$WORK/fin.pcap" 'tcp port 9000' 2>/dev/null | awk '
	/Flags \[F/ { n = ($0 ~ /length [1-9]/) ? "<- FIN riding on the last data segment" : "<- FIN alone" }
	!/Flags \[F/ { n = "" }
	{ print $0, n }' | sed -e 's/, options \[[^]]*\]//'

step "the seed's client: connect() on a listening socket (bound to 8889)"
echo "\$ seed_client"
in_ns env USTACK_PCAP= timeout 30 "$BUILD/bin/seed_client" || echo "(exit status $?, as the seed's client on Linux)"

# --- unmodified programs: the preload library through `ustack run` ---

step "the seed's server as plain POSIX C (no ustack in it), run over ustack by 'ustack run'"
echo "\$ ldd posix_seed_server | grep -c ustack    # nothing of ustack linked in"
ldd "$BUILD/tests/posix_seed_server" | grep -c ustack || true
ip netns exec "$NS" env USTACK_PCAP= timeout 60 "$USTACK" run -- "$BUILD/tests/posix_seed_server" \
	>"$WORK/posix_seed.out" 2>&1 &
SEED=$!
until_ok 100 stat_has ":8888 "
echo "hello from the kernel, to a program that never heard of ustack" | in_ns timeout 10 nc -N 10.77.0.2 8888 || true
wait "$SEED" || true; SEED=""
cat "$WORK/posix_seed.out"

step "iperf3 -s over ustack, measured by the kernel's iperf3 -c (3 s)"
ip netns exec "$NS" env USTACK_PCAP= timeout 60 "$USTACK" run -- iperf3 -s -1 -B 10.77.0.2 -p 5201 \
	>"$WORK/iperf_s.out" 2>&1 &
SEED=$!
until_ok 100 stat_has ":5201 "
in_ns timeout 30 iperf3 -c 10.77.0.2 -p 5201 -t 3 | grep -E "sender|receiver|Done"
wait "$SEED" || true; SEED=""
