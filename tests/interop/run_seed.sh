#!/usr/bin/env bash
# The seed's two programs, compiled as plain POSIX C (tests/progs/posix_seed_*.c,
# nothing of ustack linked in), run over ustack by `ustack run`: the server
# takes the kernel's nc connection on 8888 and prints what it received; the
# client's connect() on its own listening socket fails with EISCONN.
. "$(dirname "$0")/lib/common.sh"
ns_setup runseed
. "$(dirname "$0")/lib/run.sh"
need nc

SRV=$BUILD/tests/posix_seed_server CLI=$BUILD/tests/posix_seed_client
[ -x "$SRV" ] && [ -x "$CLI" ] || fail "posix_seed_server/client not built"
! nm -D "$SRV" "$CLI" 2>/dev/null | grep -q " ust_" || fail "the POSIX seed programs link ustack"

ip netns exec "$NS" "$USTACK" run --pcap "$WORK/seed.pcap" -- "$SRV" >"$WORK/seed_server.log" 2>&1 &
SEED=$!
BG_PIDS="$BG_PIDS $SEED"
wait_listen 8888
echo "hello from the kernel" | in_ns timeout 10 nc -N "$STACK_IP" 8888 || fail "kernel nc could not talk to the seed server"
wait_exit "$SEED" 10
[ "$EXIT_RC" = 0 ] || fail "seed server exited with $EXIT_RC: $(cat "$WORK/seed_server.log")"
grep -q "The connection is successful : [0-9]" "$WORK/seed_server.log" || fail "no accept line"
grep -q "recv: hello from the kernel" "$WORK/seed_server.log" || fail "server did not print the line"
fd=$(sed -n 's/.*successful : \([0-9]*\)/\1/p' "$WORK/seed_server.log")
[ "$fd" -lt 1024 ] || fail "accepted fd $fd is not a small kernel-sized fd"
pass "seed server over ustack: $(tr '\n' '|' <"$WORK/seed_server.log")"
tcpdump -nr "$WORK/seed.pcap" 2>/dev/null >"$WORK/seed.txt" || fail "tcpdump cannot read the --pcap capture"
grep -q "$HOST_IP\.[0-9]* > $STACK_IP\.8888: Flags \[S\]" "$WORK/seed.txt" || fail "no SYN to 8888 in the capture"
grep -q "$STACK_IP\.8888 > $HOST_IP\.[0-9]*: Flags \[S\.\]" "$WORK/seed.txt" || fail "no SYN-ACK from ustack in the capture"
pass "ustack run --pcap: the capture shows the handshake ($(grep -c . "$WORK/seed.txt") frames)"
wait_tap_gone

in_ns timeout 20 "$USTACK" run -- "$CLI" >"$WORK/seed_client.log" 2>&1 && fail "seed client's connect succeeded"
grep -q "connect: Transport endpoint is already connected" "$WORK/seed_client.log" ||
	fail "seed client printed: $(cat "$WORK/seed_client.log")"
pass "seed client over ustack: $(cat "$WORK/seed_client.log")"
echo "3 passed, 0 failed"
