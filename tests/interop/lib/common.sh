# Shared by the kernel interop tests. Each test runs ustack on a TAP inside a
# network namespace of its own, with the Linux kernel of that namespace as the
# peer, and removes the namespace (and so the TAP) when it ends, pass or fail.
# Usage: source this, then `ns_setup NAME`; run things with `in_ns CMD`.
set -euo pipefail

BUILD=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)
USTACK=$BUILD/bin/ustack
[ -x "$USTACK" ] || { echo "FAIL: $USTACK not built"; exit 1; }
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root for network namespaces"; exit 77; }

LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3
WORK=$(mktemp -d /tmp/ustack-test.XXXXXX)
NS=""
USTACK_PID=""
# A TAP name unique to this run, so tests never share /run/ustack/<tap>.sock.
export USTACK_TAP="ust$$"
export USTACK_IP=10.77.0.2/24 USTACK_HOST_IP=10.77.0.1/24 USTACK_MAC=02:00:00:77:00:02
STACK_IP=10.77.0.2
HOST_IP=10.77.0.1

# Peers a test starts in the background (see ns_bg): their pids, signalled
# when the test ends, whatever its exit path.
BG=()

cleanup() {
	local rc=$? p
	set +e  # a failing kill must not skip the rest
	for p in "${BG[@]}"; do kill -TERM "$p" 2>/dev/null; done
	# A stack killed by a signal leaves its control socket file behind.
	rm -f "/run/ustack/$USTACK_TAP.sock"
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
# pass, counted in npass for the closing "N passed, 0 failed".
npass=0
ok() { pass "$*"; npass=$((npass + 1)); }

ns_setup() {
	NS="ust-$1-$$"
	ip netns add "$NS"
	ip netns exec "$NS" ip link set lo up
}

in_ns() { ip netns exec "$NS" "$@"; }
# Runs CMD in the namespace in the background with $! its own pid (with
# `in_ns CMD &`, $! is a subshell's: signalling it would orphan CMD). Its
# stdin is /dev/null, whatever the caller redirects.
ns_bg() { ip netns exec "$NS" "$@" & }
# ns_peer CMD...: the same, the pid kept in BG to die with the test.
ns_peer() { ns_bg "$@"; BG+=($!); }

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

# The two directions of tcp_bulk.sh and tcp_impair.sh: BYTES of `tcp_bulk
# gen`, at most LIMIT s, the SHA-256 of what arrived compared with WANT.
# Each leaves tcp_bulk's own summary in BULK_SAID.
# bulk_arrived WAY FILE BYTES WANT: FILE's SHA-256 must be WANT; FILE goes.
bulk_arrived() {
	local got
	got=$(sha256sum <"$2" | cut -d' ' -f1)
	[ "$got" = "$4" ] ||
		fail "$1: SHA-256 differs (sent $3 bytes $4, received $(stat -c %s "$2") bytes $got)"
	rm -f "$2"
}
# bulk_kernel_to_ustack BYTES LIMIT WANT: a kernel client (python) to
# tcp_bulk recv, a ustack server on port 5001.
bulk_kernel_to_ustack() {
	local bytes=$1 limit=$2 want=$3 bulk=$BUILD/tests/tcp_bulk
	ns_peer timeout "$limit" "$bulk" recv 5001 >"$WORK/recv.bin" 2>"$WORK/recv.log"
	wait_for "ustack listener on 5001" 100 grep -q "listening on port 5001" "$WORK/recv.log"
	"$bulk" gen "$bytes" | in_ns timeout "$limit" $PY "$LIB/kpeer.py" send "$STACK_IP" 5001 \
		2>"$WORK/kclient.log" || fail "kernel client: $(tail -2 "$WORK/kclient.log")"
	wait "${BG[-1]}" || fail "tcp_bulk recv failed (exit $?)"
	bulk_arrived "kernel -> ustack" "$WORK/recv.bin" "$bytes" "$want"
	BULK_SAID=$(grep -o 'received.*' "$WORK/recv.log")
}

# bulk_ustack_to_kernel BYTES LIMIT WANT: tcp_bulk send, a ustack client,
# to a kernel server (python) on port 5002.
bulk_ustack_to_kernel() {
	local bytes=$1 limit=$2 want=$3
	# The server binds the wildcard: 10.77.0.1 exists only while a stack
	# holds the TAP, and tcp_bulk send has not started yet.
	ns_peer timeout "$limit" $PY "$LIB/kpeer.py" recv 0.0.0.0 5002 "$WORK/kserver.bin" \
		2>"$WORK/kserver.log"
	wait_for "kernel listener on 5002" 100 in_ns sh -c "ss -Hltn 'sport = :5002' | grep -q LISTEN"
	in_ns timeout "$limit" "$BUILD/tests/tcp_bulk" send "$HOST_IP" 5002 "$bytes" 2>"$WORK/send.log" ||
		fail "tcp_bulk send failed (exit $?)"
	wait "${BG[-1]}" || fail "kernel server failed (exit $?)"
	bulk_arrived "ustack -> kernel" "$WORK/kserver.bin" "$bytes" "$want"
	BULK_SAID=$(grep -o 'sent.*' "$WORK/send.log")
}

# The kernel side of exit_drain.sh and exit_run_nc.sh.
# exit_reader NAME PORT PAUSE_AT [shut]: lib/exit_recv.py reading a
# connection on PORT into $WORK/NAME.bin, paused at PAUSE_AT bytes until
# $WORK/NAME.go exists; what it says in $WORK/NAME.recv, its pid in RPID.
exit_reader() {
	local name=$1 port=$2 pause_at=$3; shift 3
	rm -f "$WORK/$name.go" "$WORK/$name.recv"
	ns_peer timeout 120 $PY "$LIB/exit_recv.py" "$port" "$WORK/$name.bin" "$pause_at" "$WORK/$name.go" 3 \
		"$@" >"$WORK/$name.recv" 2>&1
	RPID=$!
	wait_for "kernel reader on port $port" 100 grep -q ready "$WORK/$name.recv"
}
# exit_reader_result NAME: res="HOW BYTES SHA" once the reader has ended
# (not in a $(...) subshell: only this shell can wait for its child).
exit_reader_result() {
	wait "$RPID" || fail "$1: the kernel reader failed: $(cat "$WORK/$1.recv")"
	res=$(tail -n 1 "$WORK/$1.recv")
}
