#!/usr/bin/env bash
# 10,000 concurrent connections from the kernel to one ustack port: all
# open at once (seen in `ustack stat`), each echoing its own message, then
# closed by the kernel; the ustack server checks every one saw the close.
# MANY_CONNS overrides the count.
. "$(dirname "$0")/lib/common.sh"

N=${MANY_CONNS:-10000}
PORT=6001
MANY=$BUILD/tests/tcp_many
LIMIT=60

ns_setup many
start=$SECONDS
ns_peer timeout $LIMIT "$MANY" serve $PORT "$N" >"$WORK/server.out" 2>"$WORK/server.log"
SERVER=$!
wait_for "ustack listener on $PORT" 100 grep -q "listening on port $PORT" "$WORK/server.log"

coproc CLIENT { exec ip netns exec "$NS" timeout $LIMIT "$MANY" client "$STACK_IP" $PORT "$N" 2>"$WORK/client.log"; }
BG+=($CLIENT_PID)
IFS= read -r -t $LIMIT line <&"${CLIENT[0]}" || fail "client: no connections ($(tail -1 "$WORK/client.log"))"
[ "$line" = "connected $N" ] || fail "client: $line"
ok "$N kernel connections to $STACK_IP:$PORT established ($((SECONDS - start)) s)"
IFS= read -r -t $LIMIT line <&"${CLIENT[0]}" || fail "client: no echoes ($(tail -1 "$WORK/client.log"))"
[ "$line" = "held $N echoed $N" ] || fail "client: $line"
ok "every connection echoed its own message ($((SECONDS - start)) s)"

# All of them open at once, as ustack sees them.
estab=$(ustack_stat | grep -Ec "ESTAB.*$STACK_IP:$PORT([^0-9]|$)" || true)
[ "$estab" -ge "$N" ] || fail "ustack stat shows $estab ESTAB connections on port $PORT, expected $N"
ok "ustack stat: $estab ESTAB connections on $STACK_IP:$PORT, held at once"
echo "    (ustack counters: drop_tcp_rcv_mem=$(counter drop_tcp_rcv_mem)" \
	"tcp_retransmits=$(counter tcp_retransmits) syn/accept drops: $(ustack_stat |
	grep -Eo 'syn_drops:[0-9]+ acc_drops:[0-9]+' | head -1))"

echo close >&"${CLIENT[1]}"
IFS= read -r -t $LIMIT line <&"${CLIENT[0]}" || fail "client did not close"
wait "$CLIENT_PID" || fail "client exited with $?"
wait "$SERVER" || fail "server: $(cat "$WORK/server.out") $(tail -2 "$WORK/server.log")"
grep -q "served $N connections: $N echoed, 0 failed, $N closed by the peer" "$WORK/server.out" ||
	fail "server: $(cat "$WORK/server.out")"
ok "$(cat "$WORK/server.out") (total $((SECONDS - start)) s)"
[ $((SECONDS - start)) -lt $LIMIT ] || fail "took $((SECONDS - start)) s, over $LIMIT s"
echo "$npass passed, 0 failed"
