#!/usr/bin/env bash
# nginx over ustack as one process (daemon off, master_process off, one
# worker; its event loop is epoll, its file responses sendfile) serving a
# page and a 3 MB file to the kernel's curl, then a short wrk run: no
# socket errors, no non-2xx answers, and nginx's error log free of alerts.
. "$(dirname "$0")/lib/common.sh"
ns_setup runnginx
. "$(dirname "$0")/lib/run.sh"
need nginx wrk curl sha256sum

N=$WORK/nginx
mkdir -p "$N/www" "$N/tmp"
echo "hello from nginx over ustack" >"$N/www/index.html"
head -c 3000000 /dev/urandom >"$N/www/blob"
want=$(sha256sum <"$N/www/blob" | cut -d' ' -f1)
cat >"$N/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
error_log $N/error.log info;
pid $N/nginx.pid;
events { worker_connections 512; use epoll; }
http {
	access_log off;
	sendfile on;
	tcp_nopush on;
	keepalive_timeout 30;
	client_body_temp_path $N/tmp; proxy_temp_path $N/tmp; fastcgi_temp_path $N/tmp;
	uwsgi_temp_path $N/tmp; scgi_temp_path $N/tmp;
	server { listen $STACK_IP:8080; root $N/www; }
}
CONF

over_ustack nginx nginx -c "$N/nginx.conf" -p "$N"
NGX=$LAST_PID
wait_listen 8080
page=$(in_ns timeout 10 curl -sS --fail "http://$STACK_IP:8080/index.html") || fail "curl index.html"
[ "$page" = "hello from nginx over ustack" ] || fail "curl got '$page'"
in_ns timeout 30 curl -sS --fail -o "$WORK/got" "http://$STACK_IP:8080/blob" || fail "curl blob"
[ "$(sha256sum <"$WORK/got" | cut -d' ' -f1)" = "$want" ] || fail "blob sha256 differs"
pass "kernel curl <- nginx over ustack: index.html and a 3000000-byte file (sendfile), sha256 ok"

in_ns timeout 60 wrk -t1 -c20 -d3s "http://$STACK_IP:8080/index.html" >"$WORK/wrk.log" 2>&1 || fail "wrk: $(tail -3 "$WORK/wrk.log")"
grep -q "Socket errors" "$WORK/wrk.log" && fail "wrk saw socket errors: $(grep 'Socket errors' "$WORK/wrk.log")"
grep -q "Non-2xx" "$WORK/wrk.log" && fail "wrk saw non-2xx answers: $(grep 'Non-2xx' "$WORK/wrk.log")"
reqs=$(sed -n 's/^ *\([0-9]\+\) requests in.*/\1/p' "$WORK/wrk.log")
[ "${reqs:-0}" -gt 100 ] || fail "wrk made only ${reqs:-0} requests: $(cat "$WORK/wrk.log")"
pass "wrk -c20 -d3s against nginx over ustack: $reqs requests, $(grep Requests/sec "$WORK/wrk.log" | tr -s ' ')"
grep -E "\[(alert|emerg|crit)\]" "$N/error.log" && fail "nginx logged alerts"
kill -TERM "$NGX"
wait_exit "$NGX" 10
pass "nginx stopped on SIGTERM (exit $EXIT_RC); error log has no alert/crit/emerg"
echo "3 passed, 0 failed"
