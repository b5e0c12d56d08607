#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each one
# for a bounded time over a scratch copy of its seed corpus (fuzz/corpus/*,
# which is never modified). Prints each target's executions; exits non-zero
# when a target crashes, leaks, times out or fails to build.
#
# Usage: scripts/fuzz-smoke.sh [SECONDS] [BUILD_DIR]
#   SECONDS    per target (default 30; FUZZ_SECONDS in the environment too)
#   BUILD_DIR  default build-fuzz
# `make test` runs it with FUZZ_SMOKE_SECONDS (default 20); `make fuzz` with
# FUZZ_SECONDS (default 60).
# A crash leaves its input in BUILD_DIR/fuzz/artifacts/<target>/: turn it
# into a regression test in tests/unit/test_fuzz_regress.c.
set -uo pipefail

cd "$(dirname "$0")/.."
secs="${1:-${FUZZ_SECONDS:-30}}"
build="${2:-build-fuzz}"
jobs="${JOBS:-2}"
targets="fuzz_parsers fuzz_stack"

command -v clang >/dev/null || { echo "fuzz: clang is missing (scripts/deps.sh fuzz)" >&2; exit 1; }

CC=clang cmake -S . -B "$build" -DUSTACK_FUZZ=ON >/dev/null || exit 1
cmake --build "$build" -j "$jobs" --target $targets 2>&1 | grep -E "error|warning|Error" 
[ "${PIPESTATUS[0]}" = 0 ] || { echo "fuzz: build failed" >&2; exit 1; }

rc=0
for t in $targets; do
	seeds="fuzz/corpus/${t#fuzz_}"
	work="$build/fuzz/work/$t"
	art="$build/fuzz/artifacts/$t/"
	log="$build/fuzz/$t.log"
	rm -rf "$work"
	mkdir -p "$work" "$art"
	cp "$seeds"/* "$work"/ 2>/dev/null
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		"$build/fuzz/$t" -max_total_time="$secs" -max_len=4096 -timeout=20 \
		-rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$art" "$work" >"$log" 2>&1
	status=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	cov=$(grep -E '^#[0-9]+.*(DONE|cov:)' "$log" | tail -1 | sed -n 's/.*cov: \([0-9]*\).*corp: \([0-9/]*[a-zA-Z]*\).*/cov \1, corpus \2/p')
	if [ "$status" = 0 ]; then
		echo "fuzz: $t: ${execs:-?} executions in ${secs}s, ${cov:-no stats}, no crash"
	else
		echo "fuzz: $t: FAILED (exit $status) after ${execs:-?} executions; log $log"
		grep -E "ERROR|SUMMARY|fuzz_(stack|parsers):|runtime error|Test unit written" "$log" | head -20
		rc=1
	fi
done
exit $rc
