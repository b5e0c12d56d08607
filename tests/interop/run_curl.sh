#!/usr/bin/env bash
# curl over ustack fetches a file from the kernel's `python3 -m http.server`;
# then the kernel's curl fetches it from `python3 -m http.server` running over
# ustack. Both compare SHA-256.
. "$(dirname "$0")/lib/common.sh"
ns_setup runcurl
. "$(dirname "$0")/lib/run.sh"
need curl sha256sum
PY=/usr/bin/python3

mkdir -p "$WORK/www"
head -c 3000000 /dev/urandom >"$WORK/www/blob"
want=$(sha256sum <"$WORK/www/blob" | cut -d' ' -f1)

(cd "$WORK/www" && exec ip netns exec "$NS" "$PY" -m http.server 8000 --bind 0.0.0.0) >"$WORK/http_kernel.log" 2>&1 &
BG_PIDS="$BG_PIDS $!"
wait_kernel_listen 8000
in_ns timeout 30 "$USTACK" run -- curl -sS --fail -o "$WORK/got1" "http://$HOST_IP:8000/blob" 2>"$WORK/curl1.log" ||
	fail "curl over ustack: $(cat "$WORK/curl1.log")"
got=$(sha256sum <"$WORK/got1" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "curl over ustack got sha256 $got"
pass "curl over ustack <- kernel http.server: 3000000 bytes, sha256 ok"
wait_tap_gone

(cd "$WORK/www" && exec ip netns exec "$NS" "$USTACK" run -- "$PY" -m http.server 8001 --bind 0.0.0.0) >"$WORK/http_ustack.log" 2>&1 &
BG_PIDS="$BG_PIDS $!"
wait_listen 8001
in_ns timeout 30 curl -sS --fail -o "$WORK/got2" "http://$STACK_IP:8001/blob" 2>"$WORK/curl2.log" ||
	fail "kernel curl from http.server over ustack: $(cat "$WORK/curl2.log")"
got=$(sha256sum <"$WORK/got2" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "kernel curl got sha256 $got"
grep -q '"GET /blob HTTP/1.1" 200' "$WORK/http_ustack.log" || fail "http.server over ustack did not log the GET"
pass "kernel curl <- http.server over ustack: 3000000 bytes, sha256 ok"
echo "2 passed, 0 failed"
