# Shared by the kernel interop tests. Each test runs ustack on a TAP inside a
# network namespace of its own, with the Linux kernel of that namespace as the
# peer, and removes the namespace (and so the TAP) when it ends, pass or fail.
# Usage: source this, then `ns_setup NAME`; run things with `in_ns CMD`.
set -euo pipefail

BUILD=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)
USTACK=$BUILD/bin/ustack
[ -x "$USTACK" ] || { echo "FAIL: $USTACK not built"; exit 1; }
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root for network namespaces"; exit 77; }

WORK=$(mktemp -d /tmp/ustack-test.XXXXXX)
NS=""
USTACK_PID=""
# A TAP name unique to this run, so tests never share /run/ustack/<tap>.sock.
export USTACK_TAP="ust$$"
export USTACK_IP=10.77.0.2/24 USTACK_HOST_IP=10.77.0.1/24 USTACK_MAC=02:00:00:77:00:02
STACK_IP=10.77.0.2
HOST_IP=10.77.0.1

cleanup() {
	local rc=$?
	if [ -n "$USTACK_PID" ] && kill -0 "$USTACK_PID" 2>/dev/null; then
		kill -TERM "$USTACK_PID" 2>/dev/null || true
		wait "$USTACK_PID" 2>/dev/null || true
	fi
	[ -n "$NS" ] && ip netns del "$NS" 2>/dev/null || true
	if [ $rc -ne 0 ] && [ -z "${KEEP_WORK:-}" ]; then
		echo "--- logs of the failed run ($WORK) ---"
		for f in "$WORK"/*.log; do [ -f "$f" ] && { echo "== $f"; tail -n 40 "$f"; }; done
	fi
	rm -rf "$WORK"
	exit $rc
}
trap cleanup EXIT INT TERM

fail() { echo "FAIL: $*"; exit 1; }
pass() { echo "ok: $*"; }

ns_setup() {
	NS="ust-$1-$$"
	ip netns add "$NS"
	ip netns exec "$NS" ip link set lo up
}

in_ns() { ip netns exec "$NS" "$@"; }

# Waits (bounded) until the condition command succeeds.
wait_for() {
	local what=$1 tries=$2; shift 2
	for _ in $(seq "$tries"); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail "timed out waiting for $what"
}

# Starts `ustack up` in the namespace; extra VAR=value pairs go to its env.
ustack_up() {
	# Not through in_ns: `$!` must be ustack's own PID, not a subshell's.
	ip netns exec "$NS" env "$@" "$USTACK" up >"$WORK/ustack.log" 2>&1 &
	USTACK_PID=$!
	wait_for "ustack up" 100 in_ns "$USTACK" stat
	wait_for "TAP $USTACK_TAP up" 50 in_ns ip -o addr show dev "$USTACK_TAP"
}

ustack_down() {
	kill -TERM "$USTACK_PID"
	wait "$USTACK_PID" || fail "ustack up exited with $?"
	USTACK_PID=""
}

ustack_stat() { in_ns "$USTACK" stat "$@"; }

# The value of counter NAME in `ustack stat --verbose` (0 when absent).
counter() {
	ustack_stat --verbose | awk -v n="$1" '$1 == n || $1 == n":" { print $2; found=1 } END { if (!found) print 0 }'
}
