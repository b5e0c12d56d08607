#!/usr/bin/env bash
# The errno table of issue 3 point 6: every misuse of the socket API gives
# ustack's socket the same errno as the kernel's. tests/progs/errno_table
# runs each case against both (see its header for the peers) and prints one
# line per case; any MISMATCH fails the test.
. "$(dirname "$0")/lib/common.sh"

ns_setup errno
# errno_table runs its own stack (on the first ust_* call): it owns the TAP.
ns_bg timeout 90 "$BUILD/tests/errno_table" >"$WORK/table.log" 2>"$WORK/errno_table.log"
USTACK_PID=$!
rc=0
wait "$USTACK_PID" || rc=$?
USTACK_PID=""
cat "$WORK/table.log"
[ $rc -ne 124 ] || fail "errno_table did not finish within 90 s"
grep -q " cases, " "$WORK/table.log" || fail "errno_table stopped early (exit $rc)"

passed=$(grep -c ' ok' "$WORK/table.log" || true)
failed=$(grep -c ' MISMATCH' "$WORK/table.log" || true)
[ "$passed" -gt 0 ] || fail "no case ran"
if [ "$failed" -ne 0 ] || [ $rc -ne 0 ]; then
	echo "$passed passed, $failed failed"
	fail "errno differs from the kernel's (exit $rc)"
fi
echo "$passed passed, 0 failed"
