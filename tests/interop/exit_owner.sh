#!/usr/bin/env bash
# Issue 8, one owner per TAP: a second stack on a TAP that a ustack process
# drives is refused with a message naming the TAP and the process (pid and
# command), its ust_* calls fail with EADDRINUSE, and the first stack keeps
# answering (no frames taken from it). Both ways of finding the owner are
# exercised: its control socket (/run/ustack/TAP.sock), and, with that file
# gone, the TAP itself (TUNSETIFF busy; /proc/PID/fdinfo names the holder).
# A control socket left by a killed stack does not block the next one.
. "$(dirname "$0")/lib/common.sh"

WRITER=$BUILD/tests/exit_writer
npass=0
SECOND_PID=""
on_exit() {
	local rc=$?
	set +e
	[ -n "$SECOND_PID" ] && kill -TERM "$SECOND_PID" 2>/dev/null
	[ -f "$WORK/ctl.sock" ] && mv -f "$WORK/ctl.sock" "/run/ustack/$USTACK_TAP.sock"
	# A killed stack's control socket file stays; ours goes with the test.
	if [ -n "$USTACK_PID" ]; then kill -TERM "$USTACK_PID"; wait "$USTACK_PID"; fi
	USTACK_PID=""
	rm -f "/run/ustack/$USTACK_TAP.sock"
	(exit $rc)
	cleanup
}
trap on_exit EXIT INT TERM

ns_setup owner
ustack_up
FIRST=$USTACK_PID
want="ustack: TAP $USTACK_TAP is driven by pid $FIRST (ustack): a stack already runs on it"
hint="one stack per TAP: give this program its own USTACK_TAP and USTACK_IP"

ping_ok() { in_ns ping -c 3 -i 0.2 -W 2 "$STACK_IP" >"$WORK/ping.log" 2>&1 && grep -q " 0% packet loss" "$WORK/ping.log"; }

# --- a second `ustack up`: refused through the control socket ---
rc=0
in_ns timeout 10 "$USTACK" up >"$WORK/second.log" 2>&1 || rc=$?
[ $rc -eq 1 ] || fail "second ustack up exited with $rc, want 1: $(cat "$WORK/second.log")"
grep -qF "$want (its control socket answers)" "$WORK/second.log" ||
	fail "second ustack up: want \"$want (its control socket answers)...\", got: $(cat "$WORK/second.log")"
grep -qF "$hint" "$WORK/second.log" || fail "second ustack up: no hint: $(cat "$WORK/second.log")"
kill -0 "$FIRST" || fail "the first ustack up died"
ping_ok || fail "the first stack stopped answering ping: $(tail -2 "$WORK/ping.log")"
in_ns "$USTACK" stat >/dev/null || fail "ustack stat no longer reaches the first stack"
pass "second ustack up refused (exit 1): $(cat "$WORK/second.log")"
pass "the first stack still answers ping ($(grep -o '[0-9]* received' "$WORK/ping.log")) and ustack stat"
npass=$((npass + 2))

# --- a program on the same TAP: its ust_* calls fail with EADDRINUSE ---
rc=0
in_ns timeout 10 "$WRITER" "$HOST_IP" 9 close </dev/null >"$WORK/prog.log" 2>&1 || rc=$?
[ $rc -eq 3 ] || fail "exit_writer on a taken TAP exited with $rc, want 3 (socket failed): $(cat "$WORK/prog.log")"
grep -qF "$want" "$WORK/prog.log" || fail "exit_writer: no owner message: $(cat "$WORK/prog.log")"
grep -q "socket: Address already in use (errno 98)" "$WORK/prog.log" ||
	fail "exit_writer: ust_socket did not fail with EADDRINUSE: $(cat "$WORK/prog.log")"
pass "a program on the same TAP: ust_socket fails with EADDRINUSE, after: $(head -1 "$WORK/prog.log" | cut -c1-80)..."
npass=$((npass + 1))

# --- without the control socket file: the TAP itself names its holder ---
mv "/run/ustack/$USTACK_TAP.sock" "$WORK/ctl.sock"
rc=0
in_ns timeout 10 "$USTACK" up >"$WORK/second2.log" 2>&1 || rc=$?
[ $rc -eq 1 ] || fail "second ustack up (no control socket file) exited with $rc: $(cat "$WORK/second2.log")"
grep -qF "$want (TUNSETIFF: device busy)" "$WORK/second2.log" ||
	fail "no owner from the TAP's holder: $(cat "$WORK/second2.log")"
[ -e "/run/ustack/$USTACK_TAP.sock" ] && fail "the refused stack left its control socket file behind"
mv "$WORK/ctl.sock" "/run/ustack/$USTACK_TAP.sock"
ping_ok || fail "the first stack stopped answering ping after the second try"
pass "with the control socket file gone, TUNSETIFF busy and /proc name the holder: $(grep -o 'driven by[^:]*' "$WORK/second2.log"); ping still answered"
npass=$((npass + 1))

# --- the TAP is free again once its owner exits ---
ustack_down
ustack_up
ping_ok || fail "a new ustack up after the first exited does not answer ping"
pass "after the first stack exits, a new one takes the TAP (pid $USTACK_PID)"
npass=$((npass + 1))

# --- a control socket left by a killed stack is taken over ---
kill -KILL "$USTACK_PID"
wait "$USTACK_PID" 2>/dev/null || true
USTACK_PID=""
[ -S "/run/ustack/$USTACK_TAP.sock" ] || fail "SIGKILL left no control socket file (the test needs one)"
ustack_up
ping_ok || fail "ustack up after a killed one does not answer ping"
pass "a stale control socket of a killed stack does not block the next one"
npass=$((npass + 1))
ustack_down

echo "$npass passed, 0 failed"
