#!/usr/bin/env bash
# The kernel pings ustack over the TAP: small and 1472-byte echoes, the
# capture shows ARP and ICMP echo replies, a UDP datagram to a closed port
# draws port-unreachable, malformed frames are dropped and counted and the
# stack keeps answering afterwards.
. "$(dirname "$0")/lib/common.sh"

ns_setup ping
ustack_up USTACK_PCAP="$WORK/cap.pcap"

in_ns ping -c 5 -i 0.2 -W 2 "$STACK_IP" >"$WORK/ping.log" || fail "ping: $(tail -3 "$WORK/ping.log")"
grep -q " 0% packet loss" "$WORK/ping.log" || fail "ping lost packets: $(tail -2 "$WORK/ping.log")"
pass "ping -c 5: $(grep 'packet loss' "$WORK/ping.log")"

in_ns ping -c 3 -i 0.2 -W 2 -s 1472 "$STACK_IP" >"$WORK/ping1472.log" || fail "ping -s 1472"
grep -q "1480 bytes from $STACK_IP" "$WORK/ping1472.log" || fail "no 1480-byte replies"
pass "ping -s 1472: $(grep 'packet loss' "$WORK/ping1472.log")"

# A UDP datagram to a closed port: the kernel's socket sees ECONNREFUSED
# once the ICMP port unreachable comes back.
in_ns /usr/bin/python3 - "$STACK_IP" <<'PY' || fail "no port unreachable for UDP to a closed port"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.connect((sys.argv[1], 9))
s.send(b"anyone?")
try:
    s.recv(100)
    sys.exit(1)
except ConnectionRefusedError:
    sys.exit(0)
PY
pass "UDP to a closed port: ECONNREFUSED from ICMP port unreachable"

# Malformed frames from the kernel side: each must be dropped and counted.
reasons="drop_ip_checksum drop_ip_version drop_ip_total_len drop_ip_short drop_udp_checksum"
declare -A before
for c in $reasons; do before[$c]=$(counter "$c"); done
in_ns /usr/bin/python3 "$(dirname "$0")/lib/malformed.py" "$USTACK_TAP" "$STACK_IP" "$HOST_IP" 02:00:00:77:00:02 \
	>"$WORK/scapy.log" 2>&1 || fail "scapy: $(tail -3 "$WORK/scapy.log")"
counted() { for c in $reasons; do [ "$(counter "$c")" -gt "${before[$c]}" ] || return 1; done; }
for _ in $(seq 30); do counted && break; sleep 0.1; done
for c in $reasons; do
	[ "$(counter "$c")" -gt "${before[$c]}" ] || fail "$c did not count its malformed frame"
done
pass "malformed frames dropped and counted: $(for c in $reasons; do printf '%s=%s ' "$c" "$(counter "$c")"; done)"

in_ns ping -c 2 -i 0.2 -W 2 "$STACK_IP" >/dev/null || fail "ping after malformed frames"
pass "ping still answered after the malformed frames"

ustack_stat >"$WORK/stat.txt"
grep -q "$USTACK_TAP" "$WORK/stat.txt" || fail "ustack stat does not name the TAP"
ustack_down
in_ns ip link show "$USTACK_TAP" >/dev/null 2>&1 && fail "TAP $USTACK_TAP still there after ustack up exited"
pass "TAP removed when ustack up exited"

tcpdump -nr "$WORK/cap.pcap" >"$WORK/decoded.txt" 2>/dev/null || fail "tcpdump cannot read the capture"
grep -q "ARP, Reply $STACK_IP is-at 02:00:00:77:00:02" "$WORK/decoded.txt" || fail "no ARP reply in the capture"
grep -q "$STACK_IP > $HOST_IP: ICMP echo reply" "$WORK/decoded.txt" || fail "no ICMP echo reply in the capture"
grep -q "udp port 9 unreachable" "$WORK/decoded.txt" || fail "no port unreachable in the capture"
pass "capture decoded by tcpdump: $(grep -c 'ICMP echo reply' "$WORK/decoded.txt") echo replies, $(grep -c 'ARP, Reply' "$WORK/decoded.txt") ARP replies"
echo "1 passed, 0 failed"
