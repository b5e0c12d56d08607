#!/usr/bin/env bash
# Not a kernel test: registered here (the tests/interop glob) so CTest runs
# the valgrind leak cycle of issue 7: 100,000 connections opened, used and
# closed between two stacks over a memlink, no leak, heap back to its level.
# About 25 s on an idle 2-core machine. SKIP (77) without valgrind.
set -euo pipefail
BUILD=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)
command -v valgrind >/dev/null || { echo "SKIP: valgrind not installed"; exit 77; }
# valgrind cannot run an AddressSanitizer binary: in the sanitizer build the
# cycle runs natively and LeakSanitizer reports any leak at exit instead.
if grep -q '^USTACK_SANITIZE:BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null; then
	ASAN_OPTIONS=detect_leaks=1 "$BUILD/tests/leak_cycle" "${LEAK_CYCLE_N:-20000}" 500
	echo "leak_cycle: sanitizer build, LeakSanitizer found no leak"
	exit 0
fi
exec "$(dirname "$0")/../../scripts/valgrind-cycle.sh" "$BUILD" "${LEAK_CYCLE_N:-100000}" 500
