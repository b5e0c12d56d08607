#!/usr/bin/env bash
# Issue 8, exit drains: a ustack program that writes and exits at once still
# delivers everything, as a kernel socket would. The writer
# (tests/progs/exit_writer) sends 20 MB to a kernel reader and exits right
# after close(); the reader stops reading 2 MB before the end until told to
# go on, so those 2 MB are still queued in the writer's stack (its SO_SNDBUF
# holds them) when the program exits. Checks, the kernel as the peer:
#   - close then return from main: the process stays (its stack shows the
#     connection in FIN-WAIT-1) until the reader takes the rest; all 20 MB
#     arrive, SHA-256 equal, then EOF;
#   - connection left open at exit: closed with a FIN, not a RST (the
#     kernel sees EOF; the capture has our FIN and no RST);
#   - exit() from a second thread while main blocks in accept: the same;
#   - USTACK_EXIT_LINGER=500ms: exit gives up at the bound (the reader gets
#     less, the program says so);
#   - SO_LINGER 30 overrides USTACK_EXIT_LINGER=500ms for its socket;
#   - SO_LINGER 0: close resets and exit does not wait.
. "$(dirname "$0")/lib/common.sh"

WRITER=$BUILD/tests/exit_writer
BYTES=${EXIT_BYTES:-20000000}
HOLD=2097152                      # left unread by the paused reader
PAUSE_AT=$((BYTES - HOLD))
[ -x "$WRITER" ] || fail "$WRITER not built"

ns_setup exit
"$BUILD/tests/tcp_bulk" gen "$BYTES" >"$WORK/data.bin"
WANT=$(sha256sum <"$WORK/data.bin" | cut -d' ' -f1)
PORT=7000

# start_reader NAME: a kernel reader on a port of its own, pausing at
# PAUSE_AT until $WORK/NAME.go exists.
start_reader() {
	PORT=$((PORT + 1))
	exit_reader "$1" $PORT $PAUSE_AT
}

# start_writer NAME [VAR=value...] -- exit_writer ARGS after HOST PORT. Its
# SO_SNDBUF holds what the paused reader leaves (ustack doubles it).
start_writer() {
	local name=$1; shift
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	rm -f "$WORK/$name.log"
	# Not ns_peer: a background command keeps only a redirection of its own
	# for stdin (else it reads /dev/null).
	ip netns exec "$NS" env EXIT_WRITER_SNDBUF=$HOLD "${envs[@]}" \
		"$WRITER" "$HOST_IP" $PORT "$@" <"$WORK/data.bin" 2>"$WORK/$name.log" &
	WPID=$!
	BG+=($WPID)
}

# exited PID: true once the process is gone (it is our child: reap it).
exited() { ! kill -0 "$1" 2>/dev/null; }
# wait_gone PID SECONDS WHAT: waits for the process to end, fails after.
wait_gone() {
	for _ in $(seq $(($2 * 10))); do exited "$1" && return 0; sleep 0.1; done
	fail "$3: still running after $2 s"
}
in_fin_wait_1() { in_ns "$USTACK" stat 2>/dev/null | grep -q "FIN-WAIT-1"; }
reader_paused() { wait_for "the reader's pause" 100 grep -q paused "$WORK/$1.recv"; }
# lingering NAME: the reader has paused, and the writer has written all and
# is in exit, its FIN queued behind what the reader has not taken.
lingering() {
	reader_paused "$1"
	wait_for "exit_writer to finish writing" 100 grep -q "wrote $BYTES bytes" "$WORK/$1.log"
	wait_for "FIN-WAIT-1 in the exiting program's stack" 50 in_fin_wait_1
}
# release NAME WHAT: the reader goes on; the writer must then exit with 0,
# and the reader's result lands in res.
release() {
	touch "$WORK/$1.go"
	wait $WPID || fail "$2: exit_writer exited with $?: $(cat "$WORK/$1.log")"
	exit_reader_result "$1"
}

# --- 1. close(), return from main: the stack stays until all is delivered ---
start_reader close
start_writer close -- close
# Written and closed: the program is in exit, its FIN queued behind ~2 MB
# the peer has not taken.
lingering close
exited $WPID && fail "close: exited with data unacknowledged: $(cat "$WORK/close.log")"
sendq=$(in_ns "$USTACK" stat | awk '$1 == "FIN-WAIT-1" { print $3 }')
release close close
[ "$res" = "eof $BYTES $WANT" ] || fail "close: the kernel got \"$res\", want \"eof $BYTES $WANT\""
ok "close then return from main: the program lingered in exit (FIN-WAIT-1, Send-Q $sendq) until the reader took the rest; the kernel got all $BYTES bytes, SHA-256 equal, then EOF"

# --- 2. left open at exit: closed gracefully, FIN not RST ---
start_reader open
start_writer open USTACK_PCAP="$WORK/open.pcap" -- open
lingering open
exited $WPID && fail "open: exited with data unacknowledged"
release open open
[ "$res" = "eof $BYTES $WANT" ] || fail "open: the kernel got \"$res\", want \"eof $BYTES $WANT\""
tcpdump -nr "$WORK/open.pcap" "tcp and src host $STACK_IP and dst port $PORT" >"$WORK/open.txt" 2>/dev/null ||
	fail "tcpdump cannot read $WORK/open.pcap"
grep -q "> $HOST_IP.$PORT: Flags \[F" "$WORK/open.txt" || fail "open: no FIN from the stack in the capture"
grep -q "Flags \[R" "$WORK/open.txt" && fail "open: the stack sent a RST: $(grep -m1 'Flags \[R' "$WORK/open.txt")"
ok "connection left open at exit: the kernel got all $BYTES bytes and EOF; capture: $(grep -c 'Flags \[F' "$WORK/open.txt") FIN from the stack, no RST"

# --- 3. exit() from another thread while main blocks in accept ---
start_reader thread
start_writer thread -- exit
lingering thread
release thread exit
[ "$res" = "eof $BYTES $WANT" ] || fail "exit(): the kernel got \"$res\""
ok "exit() from a second thread while main blocks in accept: all $BYTES bytes, SHA-256 equal, EOF"

# --- 4. USTACK_EXIT_LINGER bounds the wait ---
start_reader bound
start_writer bound USTACK_EXIT_LINGER=500ms -- close
reader_paused bound
wait_gone $WPID 10 "USTACK_EXIT_LINGER=500ms with a stalled reader"
wait $WPID || fail "bound: exit_writer exited with $?"
grep -q "1 connection still had data or a FIN unacknowledged" "$WORK/bound.log" ||
	fail "bound: no message about the dropped connection: $(cat "$WORK/bound.log")"
touch "$WORK/bound.go"
exit_reader_result bound
got=$(echo "$res" | cut -d' ' -f2)
[ "$got" -lt "$BYTES" ] || fail "bound: the reader got everything ($res): the test did not stall the writer"
ok "USTACK_EXIT_LINGER=500ms: exit gave up at the bound with the reader stalled (it got $got of $BYTES bytes, ended by ${res%% *}); stderr: $(grep -o 'ustack: exit.*' "$WORK/bound.log" | cut -c1-60)..."

# --- 5. SO_LINGER's time overrides USTACK_EXIT_LINGER for its socket ---
start_reader linger
start_writer linger USTACK_EXIT_LINGER=500ms -- open 30
lingering linger
sleep 2  # what is tested: the program outlives USTACK_EXIT_LINGER (0.5 s)
exited $WPID && fail "SO_LINGER 30: exit gave up after USTACK_EXIT_LINGER=500ms"
release linger linger
[ "$res" = "eof $BYTES $WANT" ] || fail "SO_LINGER 30: the kernel got \"$res\""
ok "SO_LINGER 30 overrides USTACK_EXIT_LINGER=500ms: still draining 2 s later, then all $BYTES bytes and EOF"

# --- 6. SO_LINGER 0: close resets, exit does not wait ---
start_reader reset
start_writer reset -- close 0
# The reset may reach the reader before its pause: no wait for it here.
wait_gone $WPID 5 "SO_LINGER 0"
wait $WPID || fail "reset: exit_writer exited with $?"
touch "$WORK/reset.go"
exit_reader_result reset
[ "${res%% *}" = reset ] || fail "SO_LINGER 0: the kernel saw \"$res\", want a reset"
[ "$(echo "$res" | cut -d' ' -f2)" -lt "$BYTES" ] || fail "SO_LINGER 0: all bytes arrived before the reset"
ok "SO_LINGER 0: close reset the connection (the kernel saw ECONNRESET after $(echo "$res" | cut -d' ' -f2) bytes) and exit did not wait"

echo "$npass passed, 0 failed"
