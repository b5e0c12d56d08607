#!/usr/bin/env bash
# Runs the benchmark suite: ustack against the Linux kernel on the same work,
# in one run. Makes its own network namespaces (veth pair a<->b, a loopback
# one, one for ustack's TAP), enters nothing on the host, and removes them on
# every exit path. Prints one machine line per figure, then a table, and
# keeps both in bench/results/.
# Usage: bench/run.sh [--quick] BUILD_DIR [bulk|crr|rr|conns ...]
# BENCH_CONNS=N in the environment runs `conns` for that one N.
set -euo pipefail

QUICK=""
if [ "${1:-}" = "--quick" ]; then QUICK=--quick; shift; fi
BUILD=$(cd "${1:?usage: $0 [--quick] BUILD_DIR [bulk|crr|rr|conns ...]}" && pwd)
shift
WHICH=("$@")
[ ${#WHICH[@]} -gt 0 ] || WHICH=(bulk crr rr conns)
BIN=$BUILD/bin/ustack-bench
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
[ -x "$BIN" ] || { echo "bench: $BIN not built (run make first)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "bench: needs root for network namespaces" >&2; exit 1; }

P="ustb-$$"
NS_A=$P-a NS_B=$P-b NS_LO=$P-lo NS_T=$P-t
TAP="ustb$$"
OUT=$(mktemp /tmp/ustack-bench.XXXXXX)
MADE=()
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	# A driver still running (interrupted run) goes first: it holds the TAP.
	if [ -n "${DRIVER_PID:-}" ] && kill -0 "$DRIVER_PID" 2>/dev/null; then
		kill -TERM "$DRIVER_PID" 2>/dev/null || true
		wait "$DRIVER_PID" 2>/dev/null || true
	fi
	if [ -n "${TAIL_PID:-}" ]; then
		kill "$TAIL_PID" 2>/dev/null || true
		wait "$TAIL_PID" 2>/dev/null || true
	fi
	for ns in "${MADE[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
	rm -f "$OUT" "$OUT".*
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Namespaces a killed run (SIGKILL) left behind: their owner pid is gone.
for ns in $(ip netns list | awk '{print $1}' | grep -E '^ustb-[0-9]+-' || true); do
	pid=${ns#ustb-}; pid=${pid%%-*}
	kill -0 "$pid" 2>/dev/null || ip netns del "$ns" 2>/dev/null || true
done

# Client source addresses for `conns`: 60000 connections each.
if [ -n "$QUICK" ]; then SRC_COUNT=1; else SRC_COUNT=200; fi
if [ -n "${BENCH_CONNS:-}" ]; then SRC_COUNT=$(( (BENCH_CONNS + 59999) / 60000 )); fi

mkns() {
	ip netns add "$1"
	MADE+=("$1")
	ip -n "$1" link set lo up
	# Namespaced sysctls only: the host's settings stay as they are.
	ip netns exec "$1" sysctl -qw net.core.somaxconn=65535 net.ipv4.tcp_max_syn_backlog=65535 \
		net.ipv4.ip_local_port_range="1024 65535" net.ipv4.tcp_syn_retries=2
}
mkns "$NS_A"; mkns "$NS_B"; mkns "$NS_LO"; mkns "$NS_T"
ip -n "$NS_A" link add va type veth peer name vb netns "$NS_B"
ip -n "$NS_A" addr add 10.99.0.1/16 dev va
ip -n "$NS_B" addr add 10.99.0.2/16 dev vb
# Source addresses for the connection-scale run: 10.99.1.1 and up.
for i in $(seq 0 $((SRC_COUNT - 1))); do
	echo "address add 10.99.$((1 + i / 250)).$((1 + i % 250))/16 dev vb"
done | ip -n "$NS_B" -batch -
# ... and on lo of the TAP namespace (10.98.1.1 and up): kernel clients of
# ustack's server, routed out through the TAP.
for i in $(seq 0 $((SRC_COUNT - 1))); do
	echo "address add 10.98.$((1 + i / 250)).$((1 + i % 250))/32 dev lo"
done | ip -n "$NS_T" -batch -
ip -n "$NS_A" link set va up
ip -n "$NS_B" link set vb up

# Bounds: a hung figure is killed, and the run goes on with the next one.
if [ -n "$QUICK" ]; then
	declare -A LIMIT=([bulk]=45 [crr]=30 [rr]=30 [conns]=60)
else
	declare -A LIMIT=([bulk]=200 [crr]=120 [rr]=120 [conns]=3000)
fi

for cmd in "${WHICH[@]}"; do
	[ -n "${LIMIT[$cmd]:-}" ] || { echo "bench: unknown figure $cmd" >&2; exit 2; }
	# The driver itself runs inside the loopback namespace, so even a
	# socket made before entering another namespace never sees the host.
	set +e
	CUR=$OUT.$cmd
	: >"$CUR"
	timeout -k 5 "${LIMIT[$cmd]}" ip netns exec "$NS_LO" "$BIN" $QUICK \
		--ns-a /run/netns/"$NS_A" --ns-b /run/netns/"$NS_B" --ns-lo /run/netns/"$NS_LO" \
		--ns-tap /run/netns/"$NS_T" --tap-name "$TAP" --src-count "$SRC_COUNT" ${BENCH_CONNS:+--conns "$BENCH_CONNS"} "$cmd" >"$CUR" &
	DRIVER_PID=$!
	# Both in the background: `wait` returns at once on a signal, so the
	# trap stops the driver without waiting for its figure to end.
	tail -n +1 -f --pid="$DRIVER_PID" "$CUR" &
	TAIL_PID=$!
	wait "$DRIVER_PID"
	rc=$?
	wait "$TAIL_PID"
	DRIVER_PID="" TAIL_PID=""
	cat "$CUR" >>"$OUT"
	rm -f "$CUR"
	set -e
	if [ $rc -ne 0 ]; then
		echo "# $cmd: driver exited with status $rc$([ $rc = 124 ] && echo " (timed out after ${LIMIT[$cmd]} s)")" | tee -a "$OUT"
	fi
done

COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
# Results files of earlier runs are not changes to the code measured.
DIRTY=$(git -C "$ROOT" status --porcelain -- . ':!bench/results' 2>/dev/null | head -1)
# The runtime switches change what the figures mean: they name the file.
SETTINGS="USTACK_BUSY_POLL=${USTACK_BUSY_POLL:-0} USTACK_CPU=${USTACK_CPU:-} USTACK_OFFLOAD=${USTACK_OFFLOAD:-1}"
TAG=""
[ "${USTACK_BUSY_POLL:-0}" != 0 ] && TAG="$TAG-busypoll"
[ "${USTACK_OFFLOAD:-1}" = 0 ] && TAG="$TAG-nooffload"
DAY=$(date -u +%F)
mkdir -p "$HERE/results"
RES="$HERE/results/$DAY-$COMMIT${QUICK:+-quick}$TAG.txt"
{
	echo "# ustack-bench $([ -n "$QUICK" ] && echo quick || echo full) run"
	echo "# date: $(date -u +%FT%TZ)"
	echo "# commit: $COMMIT${DIRTY:+ (working tree has uncommitted changes)}"
	echo "# settings: $SETTINGS"
	echo "# machine: nproc=$(nproc) mem=$(awk '/MemTotal/ {printf "%.1fGiB", $2/1048576}' /proc/meminfo) kernel=$(uname -r) cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
	# Other work on the machine moves both columns; the ratio of one run is what counts.
	echo "# load average: $LOAD_START at start, $(cut -d' ' -f1-3 /proc/loadavg) at end"
	echo "# ratio = ustack / kernel: higher is better for gbps and cps, lower for latency and bytes"
	cat "$OUT"
	echo
	bash "$HERE/table.sh" <"$OUT"
} >"$RES"
echo
bash "$HERE/table.sh" <"$OUT"
echo "results: $RES"
