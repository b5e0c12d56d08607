#!/usr/bin/env bash
# The echo examples against the kernel: examples/echo_server (ustack) serves
# several kernel clients at once, each checking its echo; examples/echo_client
# (ustack) checks a kernel echo server.
. "$(dirname "$0")/lib/common.sh"


ns_setup echo

# --- kernel clients -> examples/echo_server over ustack ---
ns_bg timeout 60 "$BUILD/bin/echo_server" 7777 >"$WORK/server.log" 2>&1
USTACK_PID=$!
wait_for "echo_server listening" 100 grep -q "listening on port 7777" "$WORK/server.log"
in_ns timeout 60 $PY -c '
import os, socket, sys, threading
ok = []
def client(i):
    data = os.urandom(200000 + i)
    s = socket.create_connection((sys.argv[1], 7777), timeout=20)
    got = bytearray()
    def reader():
        while True:
            b = s.recv(65536)
            if not b:
                break
            got.extend(b)
    t = threading.Thread(target=reader)
    t.start()
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    t.join()
    s.close()
    ok.append(bytes(got) == data)
ts = [threading.Thread(target=client, args=(i,)) for i in range(8)]
for t in ts: t.start()
for t in ts: t.join()
print(sum(ok), "of", len(ts), "echoed correctly")
sys.exit(0 if sum(ok) == len(ts) else 1)
' "$STACK_IP" >"$WORK/kclients.log" 2>&1 || fail "kernel clients: $(tail -3 "$WORK/kclients.log")"
ok "echo_server: 8 concurrent kernel clients: $(cat "$WORK/kclients.log")"
kill -TERM "$USTACK_PID"
wait "$USTACK_PID" || fail "echo_server did not stop cleanly on SIGTERM (exit $?)"
USTACK_PID=""

# --- examples/echo_client over ustack -> a kernel echo server ---
# The wildcard: 10.77.0.1 exists only while a stack holds the TAP.
ns_peer timeout 60 $PY "$LIB/kpeer.py" echo 0.0.0.0 7778 2>"$WORK/kserver.log"
wait_for "kernel echo server" 50 in_ns sh -c "ss -Hltn 'sport = :7778' | grep -q LISTEN"
in_ns timeout 60 "$BUILD/bin/echo_client" "$HOST_IP" 7778 4000000 >"$WORK/client.log" 2>&1 ||
	fail "echo_client: $(tail -2 "$WORK/client.log")"
ok "$(cat "$WORK/client.log")"
wait "${BG[-1]}" || fail "kernel echo server: $(tail -2 "$WORK/kserver.log")"
echo "$npass passed, 0 failed"
