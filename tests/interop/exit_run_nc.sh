#!/usr/bin/env bash
# Issue 8, exit drains through the preload library: `ustack run -- nc -N
# HOST PORT < file` writes 20 MB, closes and exits, and the kernel receives
# all of it (SHA-256), though the reader stops 2 MB before the end until nc
# has closed its socket and gone into exit (nc's SO_SNDBUF, -O, holds those
# 2 MB in its stack). nc exits once stdin and the network have both ended,
# so the reader shuts down its own side at once. The kernel is the peer,
# in a namespace of our own.
. "$(dirname "$0")/lib/common.sh"

BYTES=${EXIT_BYTES:-20000000}
HOLD=2097152
PAUSE_AT=$((BYTES - HOLD))
command -v nc >/dev/null || { echo "SKIP: nc not installed (scripts/deps.sh test)"; exit 77; }
nc -h 2>&1 | grep -q -- "-N" || { echo "SKIP: this nc has no -N (want netcat-openbsd)"; exit 77; }
# `ustack run` and its library come with the preload work (issue 4): say
# so plainly rather than pass without them.
"$USTACK" help | grep -q "^  run " || fail "ustack run is not there yet (pending: the preload library)"
[ -f "$BUILD/lib/libustack-preload.so" ] || fail "$BUILD/lib/libustack-preload.so not built"

ns_setup exitnc
"$BUILD/tests/tcp_bulk" gen "$BYTES" >"$WORK/data.bin"
WANT=$(sha256sum <"$WORK/data.bin" | cut -d' ' -f1)
PORT=7100

# nc's connection closed by nc (no fd left on it), its FIN still
# unacknowledged behind the data: nc is in exit, the runtime's drain holds it.
closed_unacked() { in_ns "$USTACK" stat 2>/dev/null | grep -E "^ +LAST-ACK " | grep -vq "fd:"; }

for q in "-q 0" ""; do
	PORT=$((PORT + 1))
	name=nc$PORT
	exit_reader $name $PORT $PAUSE_AT shut
	# shellcheck disable=SC2086 # $q is one option and its value, or nothing
	ip netns exec "$NS" "$USTACK" run -- nc -N $q -O $HOLD "$HOST_IP" $PORT \
		<"$WORK/data.bin" >"$WORK/$name.log" 2>&1 &
	NPID=$!
	BG+=($NPID)
	wait_for "the reader's pause" 100 grep -q paused "$WORK/$name.recv"
	wait_for "nc to close its socket and exit (LAST-ACK, no fd)" 100 closed_unacked
	kill -0 $NPID 2>/dev/null || fail "nc -N${q:+ $q}: gone with ~2 MB unacknowledged: $(cat "$WORK/$name.log")"
	touch "$WORK/$name.go"
	wait $NPID || fail "nc -N${q:+ $q} exited with $?: $(cat "$WORK/$name.log")"
	exit_reader_result $name
	[ "$res" = "eof $BYTES $WANT" ] || fail "nc -N${q:+ $q}: the kernel got \"$res\", want \"eof $BYTES $WANT\""
	ok "ustack run -- nc -N${q:+ $q}: all $BYTES bytes, SHA-256 equal, EOF, though the reader held back the last 2 MB until nc had closed and was exiting"
done
echo "$npass passed, 0 failed"
