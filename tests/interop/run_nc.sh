#!/usr/bin/env bash
# netcat-openbsd over ustack, both roles: a 2 MB file through `nc -l` over
# ustack from the kernel's nc, then through nc over ustack to the kernel's
# `nc -l`; each arrives with the SHA-256 it left with. nc waits on stdin
# and the socket together with poll(): a mixed set.
. "$(dirname "$0")/lib/common.sh"
ns_setup runnc
. "$(dirname "$0")/lib/run.sh"
need nc sha256sum

head -c 2000000 /dev/urandom >"$WORK/blob"
want=$(sha256sum <"$WORK/blob" | cut -d' ' -f1)

# Server over ustack, client in the kernel.
ip netns exec "$NS" "$USTACK" run -- nc -l -N "$STACK_IP" 5001 >"$WORK/got_server" 2>"$WORK/nc_server.log" &
SRV=$!
BG_PIDS="$BG_PIDS $SRV"
wait_listen 5001
in_ns timeout 30 nc -N "$STACK_IP" 5001 <"$WORK/blob" || fail "kernel nc -> nc -l over ustack"
wait_exit "$SRV" 20
got=$(sha256sum <"$WORK/got_server" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "nc -l over ustack got $(stat -c %s "$WORK/got_server") bytes, sha256 $got"
pass "nc -l over ustack received 2000000 bytes from the kernel, sha256 $got"
wait_tap_gone

# Server in the kernel, client over ustack (it exits right after its last
# write: ustack's exit linger must still deliver everything).
ip netns exec "$NS" nc -l -N 0.0.0.0 5002 >"$WORK/got_client" 2>"$WORK/nc_kernel.log" &
KSRV=$!
BG_PIDS="$BG_PIDS $KSRV"
wait_kernel_listen 5002
in_ns timeout 30 "$USTACK" run -- nc -N "$HOST_IP" 5002 <"$WORK/blob" 2>"$WORK/nc_client.log" ||
	fail "nc over ustack -> kernel nc -l: $(cat "$WORK/nc_client.log")"
wait_exit "$KSRV" 20
got=$(sha256sum <"$WORK/got_client" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "kernel nc -l got $(stat -c %s "$WORK/got_client") bytes, sha256 $got"
pass "nc over ustack sent 2000000 bytes to the kernel, sha256 $got"
echo "2 passed, 0 failed"
