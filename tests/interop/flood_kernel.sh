#!/usr/bin/env bash
# Floods from the kernel side (issue 7), in a private namespace: tests/
# flood_send writes crafted frames onto the TAP's host side with an
# AF_PACKET socket (100k spoofed SYNs; 100k out-of-window ACKs/RSTs; 100k
# ICMP echo + UDP to a closed port; 100k ARP requests from invented
# neighbours) while kernel clients keep connecting to examples/echo_server
# on ustack and checking their echo. Passes when every client succeeded
# during each flood, the server's peak RSS grew by less than RSS_BOUND_KB,
# and `ustack stat` names what was dropped (cookies, rate limits, drops).
. "$(dirname "$0")/lib/common.sh"

N=${FLOOD_FRAMES:-100000}
RSS_BOUND_KB=${RSS_BOUND_KB:-32768}
# AddressSanitizer keeps freed memory in its quarantine (256 MB by default)
# and adds shadow memory: in the sanitizer build the RSS figure says
# nothing about the stack's bound (the unit floods measure the heap
# exactly), so the bound there only catches runaway growth.
if grep -q '^USTACK_SANITIZE:BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null; then
	RSS_BOUND_KB=${RSS_BOUND_KB_SANITIZE:-393216}
fi
[ -x "$BUILD/tests/flood_send" ] || fail "tests/flood_send not built"

ns_setup flood
ns_bg timeout 280 "$BUILD/bin/echo_server" 7777 >"$WORK/server.log" 2>&1
USTACK_PID=$!
wait_for "echo_server listening" 100 grep -q "listening on port 7777" "$WORK/server.log"
SERVER_PID=$(pgrep -P "$USTACK_PID" -f echo_server || echo "$USTACK_PID")
hwm() { awk '/^VmHWM/ { print $2 }' "/proc/$SERVER_PID/status"; }

# Kernel clients: connect, echo 20 kB, close, for the given seconds.
# Kernel clients connect, send 20 KB and read it back for $1 seconds. A
# reset is allowed to one connection in a hundred, and only a reset: while
# the SYN queue is full of spoofed entries every client goes through SYN
# cookies, and when the flood makes the TAP drop a client's handshake ACK
# and its first data segment, the next segment cannot be checked against
# the cookie (it hashes the client's ISN) and is answered with a RST, as
# Linux answers it. Anything else (a timeout, wrong bytes) fails at once.
clients() {
	in_ns timeout 120 $PY -c '
import errno, os, socket, sys, time
end = time.time() + float(sys.argv[2])
ok = bad = reset = 0
while time.time() < end or ok + bad < 5:
    try:
        s = socket.create_connection((sys.argv[1], 7777), timeout=10)
        data = os.urandom(20000)
        s.sendall(data)
        got = b""
        while len(got) < len(data):
            b = s.recv(65536)
            if not b:
                break
            got += b
        s.close()
        if got == data:
            ok += 1
        else:
            bad += 1
    except OSError as e:
        if e.errno == errno.ECONNRESET:
            reset += 1
        else:
            bad += 1
        print("client error:", e)
print(ok, "ok", bad, "failed", reset, "reset")
sys.exit(0 if bad == 0 and ok >= 5 and reset * 100 <= ok else 1)
' "$STACK_IP" "$1"
}

# What a failed phase leaves for whoever reads the log.
why() {
	echo "$(tail -3 "$WORK/clients-$1.log" | tr '\n' ' ')"
	for c in tcp_syncookies_recv tcp_syncookies_failed tcp_rst_sent drop_tcp_no_socket drop_nobuf; do
		printf '%s=%s ' "$c" "$(counter "$c")"
	done
	in_ns ip -s link show "$USTACK_TAP" 2>/dev/null | awk '/TX:/ { getline; print "tap tx dropped=" $4 }'
}

clients 1 >"$WORK/warm.log" 2>&1 || fail "clients before any flood: $(tail -2 "$WORK/warm.log")"
hwm0=$(hwm)
for mode in syn ack icmp arp; do
	ns_peer timeout 120 "$BUILD/tests/flood_send" "$USTACK_TAP" "$USTACK_MAC" "$STACK_IP" "$mode" "$N" \
		>"$WORK/flood-$mode.log" 2>&1
	fpid=$!
	clients 3 >"$WORK/clients-$mode.log" 2>&1 || fail "$mode flood: clients: $(why "$mode")"
	wait "$fpid" || fail "$mode flood: sender: $(tail -2 "$WORK/flood-$mode.log")"
	grow=$(( $(hwm) - hwm0 ))
	[ "$grow" -lt "$RSS_BOUND_KB" ] || fail "$mode flood: peak RSS grew by $grow kB"
	ok "$mode flood: $(cat "$WORK/flood-$mode.log"); clients $(tail -1 "$WORK/clients-$mode.log") during it; peak RSS +$grow kB"
done
for c in tcp_syncookies_sent tcp_syncookies_recv tcp_syncookies_failed drop_tcp_no_socket \
	tcp_rst_limited drop_tcp_unacceptable tcp_challenge_ack_limited tx_icmp_limited \
	tx_icmp_echo_reply drop_ip_no_route drop_arp_not_for_us drop_nobuf; do
	printf '  %s %s\n' "$c" "$(counter "$c")"
done | tee "$WORK/counters.log"
[ "$(counter tcp_syncookies_sent)" -gt 0 ] || fail "no SYN cookie was sent during the SYN flood"
[ "$(counter tx_icmp_limited)" -gt 0 ] || fail "ICMP errors were not rate-limited"
ok "drop counters name what was dropped"
kill -TERM "$USTACK_PID"
wait "$USTACK_PID" || fail "echo_server did not stop cleanly (exit $?)"
USTACK_PID=""
echo "$npass passed, 0 failed"
