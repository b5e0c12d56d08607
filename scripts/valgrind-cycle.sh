#!/bin/bash
# Leak check of the open/transfer/close cycle (issue 7): tests/leak_cycle
# runs N connections (default 100000) between two stacks over a memlink
# under valgrind memcheck; fails on any leak or error, or when the heap
# (mallinfo2) did not return to its level after warm-up.
#   scripts/valgrind-cycle.sh [BUILD_DIR] [CONNECTIONS] [BATCH]
set -euo pipefail
build=${1:-build}
n=${2:-100000}
batch=${3:-500}
prog="$build/tests/leak_cycle"
[ -x "$prog" ] || { echo "valgrind-cycle: $prog not built" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "valgrind-cycle: valgrind not installed (scripts/deps.sh test)" >&2; exit 2; }
log=$(mktemp /tmp/valgrind-cycle.XXXXXX)
trap 'rm -f "$log"' EXIT
start=$(date +%s)
# Natively first: mallinfo2 sees the real heap (under valgrind it reads 0).
"$prog" "$n" "$batch" 2>/dev/null || { echo "valgrind-cycle: native run failed (heap did not return, or a transfer failed)"; exit 1; }
set +e
valgrind --tool=memcheck --leak-check=full --show-leak-kinds=all --errors-for-leak-kinds=all \
	--error-exitcode=99 --log-file="$log" "$prog" "$n" "$batch" 2>/dev/null
rc=$?
set -e
grep -E "definitely|indirectly|possibly|still reachable|ERROR SUMMARY|All heap blocks" "$log" | sed 's/^==[0-9]*== //'
echo "valgrind-cycle: $n connections, exit $rc, $(( $(date +%s) - start )) s"
[ $rc -eq 0 ] || { cat "$log" | tail -40; exit 1; }
