#!/usr/bin/env bash
# Goodput under impairment, ustack against the kernel in the same run (issue
# 5): the kernel has no netem here, so both paths go through ustack's own
# impairment wrapper with the same settings, both directions:
#   kernel -> kernel  two namespaces joined by bench/bridge (two TAPs, the
#                     wrapper on each side)
#   ustack -> kernel  tcp_bulk on a TAP with USTACK_IMPAIR, kernel receiver
#   kernel -> ustack  kernel sender, tcp_bulk receiving, same TAP
# Every receiver is the same python loop, timed from its first byte to EOF.
# Usage: bash bench/impair.sh BUILD_DIR   (root; makes and removes its own
# namespaces). IMPAIR and IMPAIR_BENCH_BYTES override the defaults.
# KERNEL_CC sets the kernel senders' TCP_CONGESTION (default: the system's,
# printed; BBR on this machine, which does not back off on random loss,
# while ustack's reno and cubic are loss-based: KERNEL_CC=cubic compares
# like with like).
set -euo pipefail

BUILD=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)
IMPAIR=${IMPAIR:-loss=5%,delay=20ms,reorder=5%,seed=7}
BYTES=${IMPAIR_BENCH_BYTES:-8000000}
BR=$BUILD/bin/bridge
BULK=$BUILD/tests/tcp_bulk
PY=/usr/bin/python3
for f in "$BR" "$BULK"; do [ -x "$f" ] || { echo "impair: $f not built" >&2; exit 1; }; done
[ "$(id -u)" = 0 ] || { echo "impair: needs root for network namespaces" >&2; exit 1; }

P="usti-$$"
NS_A=$P-a NS_B=$P-b NS_BR=$P-br NS_T=$P-t
TA="uia$$" TB="uib$$"
WORK=$(mktemp -d /tmp/ustack-impair.XXXXXX)
PIDS=()
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	for ns in "$NS_A" "$NS_B" "$NS_BR" "$NS_T"; do ip netns del "$ns" 2>/dev/null || true; done
	[ $rc -ne 0 ] && for f in "$WORK"/*.log; do [ -f "$f" ] && { echo "== $f"; tail -n 20 "$f"; }; done
	[ -n "${KEEP_WORK:-}" ] && echo "logs kept in $WORK" || rm -rf "$WORK"
	exit $rc
}
trap cleanup EXIT INT TERM
for ns in "$NS_A" "$NS_B" "$NS_BR" "$NS_T"; do
	ip netns add "$ns"
	ip -n "$ns" link set lo up
done

# The receiver: prints "BYTES SECONDS" (first byte to EOF) on stdout.
RECV='
import socket, sys, time
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("0.0.0.0", int(sys.argv[1])))
l.listen(1)
c, _ = l.accept()
n, t0 = 0, None
while True:
    b = c.recv(262144)
    if not b:
        break
    if t0 is None:
        t0 = time.monotonic()
    n += len(b)
print(n, time.monotonic() - (t0 or time.monotonic()))
'
KCC=${KERNEL_CC:-$(sysctl -n net.ipv4.tcp_congestion_control)}
SEND='
import socket, sys
s = socket.socket()
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, sys.argv[4].encode())
s.settimeout(60)
s.connect((sys.argv[1], int(sys.argv[2])))
left = int(sys.argv[3])
blk = bytes(range(256)) * 256
while left > 0:
    k = min(left, len(blk))
    s.sendall(blk[:k])
    left -= k
s.shutdown(socket.SHUT_WR)
s.settimeout(30)
try:
    s.recv(1)
except socket.timeout:
    pass
s.close()
'
# Waits until a listener is up on port $2 in namespace $1.
wait_listen() {
	for _ in $(seq 100); do
		ip netns exec "$1" ss -Hltn "sport = :$2" | grep -q LISTEN && return 0
		sleep 0.1
	done
	echo "impair: no listener on $2" >&2
	return 1
}
mbit() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.2f", (s > 0 ? b * 8 / s / 1e6 : 0) }'; }

# --- kernel -> kernel through the bridge ---
ip netns exec "$NS_BR" "$BR" "$TA" "$TB" "$IMPAIR" >"$WORK/bridge.out" 2>"$WORK/bridge.log" &
PIDS+=($!)
for _ in $(seq 100); do grep -q ready "$WORK/bridge.out" 2>/dev/null && break; sleep 0.1; done
grep -q ready "$WORK/bridge.out" || { echo "impair: bridge did not start" >&2; exit 1; }
ip -n "$NS_BR" link set "$TA" netns "$NS_A"
ip -n "$NS_BR" link set "$TB" netns "$NS_B"
ip -n "$NS_A" addr add 10.96.0.1/24 dev "$TA"
ip -n "$NS_B" addr add 10.96.0.2/24 dev "$TB"
ip -n "$NS_A" link set "$TA" up
ip -n "$NS_B" link set "$TB" up
ip netns exec "$NS_B" timeout 600 $PY -c "$RECV" 5001 >"$WORK/kk.out" 2>"$WORK/kk.log" &
PIDS+=($!)
wait_listen "$NS_B" 5001
ip netns exec "$NS_A" timeout 600 $PY -c "$SEND" 10.96.0.2 5001 "$BYTES" "$KCC" 2>"$WORK/ksend.log"
wait "${PIDS[-1]}"
read -r kk_b kk_s <"$WORK/kk.out"

# --- ustack -> kernel, kernel -> ustack over one TAP, USTACK_IMPAIR ---
export USTACK_TAP="uit$$" USTACK_IP=10.95.0.2/24 USTACK_HOST_IP=10.95.0.1/24
export USTACK_MAC=02:00:00:95:00:02 USTACK_IMPAIR="$IMPAIR"
ip netns exec "$NS_T" timeout 600 $PY -c "$RECV" 5002 >"$WORK/uk.out" 2>"$WORK/uk.log" &
PIDS+=($!)
wait_listen "$NS_T" 5002
ip netns exec "$NS_T" timeout 600 "$BULK" send 10.95.0.1 5002 "$BYTES" 2>"$WORK/usend.log"
wait "${PIDS[-1]}"
read -r uk_b uk_s <"$WORK/uk.out"

ip netns exec "$NS_T" timeout 600 "$BULK" recv 5003 >/dev/null 2>"$WORK/urecv.log" &
PIDS+=($!)
for _ in $(seq 100); do grep -q "listening on port 5003" "$WORK/urecv.log" && break; sleep 0.1; done
ip netns exec "$NS_T" timeout 600 $PY -c "$SEND" 10.95.0.2 5003 "$BYTES" "$KCC" 2>"$WORK/ksend2.log"
wait "${PIDS[-1]}"
ku=$(grep -o 'received [0-9]* bytes in [0-9.]* s' "$WORK/urecv.log" | awk '{print $2, $5}')
read -r ku_b ku_s <<<"$ku"

kk=$(mbit "$kk_b" "$kk_s")
uk=$(mbit "$uk_b" "$uk_s")
ku2=$(mbit "$ku_b" "$ku_s")
echo "impairment: $IMPAIR (each direction), $BYTES bytes per transfer, kernel senders: $KCC, ustack: cubic"
printf '%-34s %10s %8s\n' "path" "Mbit/s" "ratio"
printf '%-34s %10s %8s\n' "kernel -> kernel (bridge)" "$kk" "1"
printf '%-34s %10s %8s\n' "ustack -> kernel (TAP)" "$uk" "$(awk -v a="$uk" -v b="$kk" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')"
printf '%-34s %10s %8s\n' "kernel -> ustack (TAP)" "$ku2" "$(awk -v a="$ku2" -v b="$kk" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')"
