#!/usr/bin/env bash
# redis-server over ustack (its event loop is epoll) with redis-benchmark in
# the kernel: every test of the default run reports a rate (a reduced -n
# keeps it short), and redis-cli reads back a key the benchmark wrote.
. "$(dirname "$0")/lib/common.sh"
ns_setup runredis
. "$(dirname "$0")/lib/run.sh"
need redis-server redis-benchmark redis-cli

over_ustack redis redis-server --bind "$STACK_IP" --port 6379 --save '' --appendonly no \
	--protected-mode no --daemonize no --dir "$WORK" --logfile ''
wait_listen 6379
[ "$(in_ns timeout 10 redis-cli -h "$STACK_IP" ping)" = PONG ] || fail "redis-cli ping"
in_ns timeout 120 redis-benchmark -h "$STACK_IP" -n 2000 -c 20 --csv >"$WORK/bench.csv" 2>"$WORK/bench.err" ||
	fail "redis-benchmark: $(tail -3 "$WORK/bench.err")"
# The default run's tests, as redis-benchmark 7 names them.
for t in PING_INLINE PING_MBULK SET GET INCR LPUSH RPUSH LPOP RPOP SADD HSET SPOP ZADD ZPOPMIN \
	"LRANGE_100 (first 100 elements)" "LRANGE_300 (first 300 elements)" \
	"LRANGE_500 (first 500 elements)" "LRANGE_600 (first 600 elements)" "MSET (10 keys)"; do
	line=$(grep -F "\"$t\"," "$WORK/bench.csv" | head -1)
	[ -n "$line" ] || fail "redis-benchmark has no result for $t: $(cat "$WORK/bench.csv" "$WORK/bench.err" | tail -5)"
	rps=$(echo "$line" | cut -d, -f2 | tr -d '"')
	awk -v r="$rps" 'BEGIN { exit !(r > 0) }' || fail "$t: rate $rps"
done
grep -qi error "$WORK/bench.err" && fail "redis-benchmark reported errors: $(grep -i error "$WORK/bench.err" | head -3)"
n=$(grep -c . "$WORK/bench.csv")
pass "redis-benchmark -n 2000 against redis-server over ustack: $((n - 1)) tests, all with a rate (SET $(grep -F '"SET",' "$WORK/bench.csv" | cut -d, -f2) rps)"
in_ns timeout 10 redis-cli -h "$STACK_IP" set ustack-key works >/dev/null
[ "$(in_ns timeout 10 redis-cli -h "$STACK_IP" get ustack-key)" = works ] || fail "redis-cli get"
in_ns timeout 10 redis-cli -h "$STACK_IP" shutdown nosave >/dev/null 2>&1 || true
wait_exit "$LAST_PID" 10
pass "redis-cli set/get, then shutdown: redis-server exited with $EXIT_RC"
echo "2 passed, 0 failed"
