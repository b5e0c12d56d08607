#!/usr/bin/env bash
# The ustack demo. Everything happens inside a network namespace made for it
# and removed at the end: ustack runs on a TAP, the Linux kernel of the
# namespace is its peer, tcpdump decodes the capture ustack wrote.
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
USTACK=$BUILD/bin/ustack
[ "$(id -u)" = 0 ] || { echo "demo: needs root (network namespace, TAP)" >&2; exit 1; }

NS="ustack-demo-$$"
WORK=$(mktemp -d /tmp/ustack-demo.XXXXXX)
PID=""
export USTACK_TAP=ustack0 USTACK_IP=10.77.0.2/24 USTACK_HOST_IP=10.77.0.1/24 USTACK_PCAP=$WORK/demo.pcap
cleanup() {
	[ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	ip netns del "$NS" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
in_ns() { ip netns exec "$NS" "$@"; }

step "private network namespace $NS"
ip netns add "$NS"
in_ns ip link set lo up

step "ustack up (TAP $USTACK_TAP, stack $USTACK_IP, kernel side $USTACK_HOST_IP, capture on)"
in_ns "$USTACK" up >"$WORK/up.log" 2>&1 &
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
