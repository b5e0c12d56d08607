# Shared by the run_*.sh tests: unmodified programs over ustack through
# `ustack run` (the preload library), the kernel of the same private
# namespace on the other side. Source after lib/common.sh and ns_setup.
# The program carries its own stack: the TAP appears with its first socket.

BG_PIDS=""
run_cleanup() {
	local rc=$? p
	for p in $BG_PIDS; do kill -TERM "$p" 2>/dev/null || true; done
	for p in $BG_PIDS; do { wait "$p"; } 2>/dev/null || true; done
	# A program killed by a signal leaves its control socket file behind.
	rm -f "/run/ustack/$USTACK_TAP.sock"
	# cleanup reads the status from $?; without set -e, (exit) cannot end
	# this handler before it.
	set +e
	(exit $rc)
	cleanup
}
trap run_cleanup EXIT INT TERM

PRELOAD=$BUILD/lib/libustack-preload.so
[ -f "$PRELOAD" ] || fail "$PRELOAD not built"

need() { for c in "$@"; do command -v "$c" >/dev/null || { echo "SKIP: $c not installed (scripts/deps.sh test)"; exit 77; }; done; }

# over_ustack NAME PROGRAM ARGS...: PROGRAM over ustack in the background,
# output in $WORK/NAME.log, its PID in LAST_PID (ip netns exec and ustack
# run both exec, so it is the program's own PID).
over_ustack() {
	local name=$1; shift
	ip netns exec "$NS" "$USTACK" run -- "$@" >"$WORK/$name.log" 2>&1 &
	LAST_PID=$!
	BG_PIDS="$BG_PIDS $LAST_PID"
}

# in_kernel_bg NAME PROGRAM ARGS...: the same over the kernel.
in_kernel_bg() {
	local name=$1; shift
	ip netns exec "$NS" "$@" >"$WORK/$name.log" 2>&1 &
	LAST_PID=$!
	BG_PIDS="$BG_PIDS $LAST_PID"
}

# The program's stack is up: its TAP has the kernel side's address.
wait_tap() { wait_for "a stack on TAP $USTACK_TAP" 100 in_ns ip -o addr show dev "$USTACK_TAP"; }
ustack_listens() { in_ns "$USTACK" stat 2>/dev/null | grep -Eq "^ +LISTEN .*:$1 "; }
# wait_listen PORT: a TCP listener of the program's stack on PORT.
wait_listen() { wait_tap; wait_for "a ustack listener on port $1" 100 ustack_listens "$1"; }
kernel_listens() { in_ns ss -Hltn "sport = :$1" | grep -q LISTEN; }
wait_kernel_listen() { wait_for "a kernel listener on port $1" 100 kernel_listens "$1"; }

# wait_exit PID SECONDS: waits for a background program; fails after
# SECONDS; returns with its exit status in EXIT_RC.
wait_exit() {
	local pid=$1 secs=$2
	for _ in $(seq $((secs * 10))); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && fail "pid $pid still running after ${secs}s"
	EXIT_RC=0
	wait "$pid" || EXIT_RC=$?
}

# The namespace holds nothing of ours any more (the stack went with its
# program, and with it the TAP).
wait_tap_gone() { wait_for "TAP $USTACK_TAP removed" 100 bash -c "! ip netns exec $NS ip link show $USTACK_TAP"; }
