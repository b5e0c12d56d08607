#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets from frames we build here
with scapy (no captures of anyone else's traffic).

  fuzz/corpus/stack/    inputs of fuzz_stack: record sequences in the format
                        of fuzz/stack_harness.h (u16 len|flags, u16 delta ms,
                        frame), against the harness's scripted state
  fuzz/corpus/parsers/  inputs of fuzz_parsers: a selector byte, then what
                        fuzz_parsers.c says each parser takes

Usage: /usr/bin/python3 fuzz/make_corpus.py [OUTDIR]   (default fuzz/corpus)
The output is deterministic: running it again gives the same files.
"""
import os
import struct
import sys

from scapy.all import ARP, ICMP, IP, TCP, UDP, Ether, Raw, fragment, raw

# The harness's fixed world (fuzz/stack_harness.h).
US_IP, PEER_IP, OTHER_IP = "10.77.0.2", "10.77.0.1", "10.77.0.5"
US_MAC, PEER_MAC, OTHER_MAC = "02:00:00:77:00:02", "02:00:00:77:00:01", "02:00:00:77:00:05"
BCAST = "ff:ff:ff:ff:ff:ff"
LISTEN, P_RPORT = 80, 40000          # passive connection: peer 40000 -> us 80
A_LPORT, A_RPORT = 40001, 5001       # active connection: us 40001 -> peer 5001
N_LPORT, N_RPORT = 40002, 5002       # connection in SYN-SENT: us 40002 -> peer 5002
UDP_PORT = 7
F_CSUM, F_REL = 0x8000, 0x4000
INFLIGHT = 100                       # bytes the stack has sent on the passive connection
A_INFLIGHT = 6000                    # and on the active one (FZ_ACTIVE_INFLIGHT),
A_SEG = 1448                         # in segments of MSS 1460 less timestamps,
A_SENT = 4 * A_SEG                   # of which Nagle lets four leave at first


def rec(frame, dt=0, flags=F_CSUM):
    b = raw(frame)
    assert len(b) <= 2048
    return struct.pack(">HH", len(b) | flags, dt) + b


def eth(dst=US_MAC, src=PEER_MAC):
    return Ether(dst=dst, src=src)


def ip(src=PEER_IP, dst=US_IP, **kw):
    return IP(src=src, dst=dst, ttl=64, **kw)


def tcp(sport, dport, seq, ack, flags, data=b"", ts=None, **kw):
    """seq/ack relative (F_REL): 1 is the first byte after each side's SYN."""
    opts = kw.pop("options", [])
    kw.setdefault("window", 65535)
    if ts is not None:
        opts = opts + [("NOP", None), ("NOP", None), ("Timestamp", (ts, 0))]
    seg = eth() / ip() / TCP(sport=sport, dport=dport, seq=seq, ack=ack, flags=flags,
                             options=opts, **kw)
    if data:
        seg = seg / Raw(data)
    return seg


def trec(seg, dt=0):
    return rec(seg, dt, F_CSUM | F_REL)


def p_seg(seq, ack, flags, data=b"", ts=2, **kw):
    return tcp(P_RPORT, LISTEN, seq, ack, flags, data, ts, **kw)


def a_seg(seq, ack, flags, data=b"", ts=2, **kw):
    return tcp(A_RPORT, A_LPORT, seq, ack, flags, data, ts, **kw)


def n_seg(seq, ack, flags, data=b"", ts=2, **kw):
    return tcp(N_RPORT, N_LPORT, seq, ack, flags, data, ts, **kw)


SYN_OPTS = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (1, 0)), ("NOP", None),
            ("WScale", 7)]


def stack_seeds():
    s = {}
    s["arp_request_new_host"] = rec(eth(BCAST, OTHER_MAC) / ARP(
        op=1, hwsrc=OTHER_MAC, psrc=OTHER_IP, hwdst="00:00:00:00:00:00", pdst=US_IP))
    s["arp_reply_gratuitous"] = rec(eth(BCAST, OTHER_MAC) / ARP(
        op=2, hwsrc=OTHER_MAC, psrc=OTHER_IP, hwdst=BCAST, pdst=OTHER_IP))
    s["ping"] = rec(eth() / ip() / ICMP(type=8, id=0x1234, seq=1) / Raw(b"x" * 56)) + \
        rec(eth() / ip() / ICMP(type=8, id=0x1234, seq=2) / Raw(b"x" * 56), dt=1000)
    s["ping_unknown_host"] = rec(eth(US_MAC, OTHER_MAC) / ip(src=OTHER_IP) /
                                 ICMP(type=8, id=7, seq=1) / Raw(b"y" * 32)) + \
        rec(eth(BCAST, OTHER_MAC) / ARP(op=2, hwsrc=OTHER_MAC, psrc=OTHER_IP,
                                        hwdst=US_MAC, pdst=US_IP), dt=10)
    s["udp_echo"] = rec(eth() / ip() / UDP(sport=5555, dport=UDP_PORT) / Raw(b"hello"))
    s["udp_closed_port"] = rec(eth() / ip() / UDP(sport=5555, dport=9) / Raw(b"hello"))
    s["udp_bad_checksum"] = rec(eth() / ip() / UDP(sport=5555, dport=UDP_PORT, chksum=0x1234) /
                                Raw(b"hello"), flags=0)
    big = eth() / ip(id=77) / UDP(sport=5555, dport=UDP_PORT) / Raw(bytes(range(256)) * 12)
    frags = fragment(big[IP], fragsize=1480)
    s["udp_fragments"] = b"".join(rec(eth() / f) for f in frags)
    s["udp_fragments_reversed"] = b"".join(rec(eth() / f, dt=5) for f in reversed(frags))
    s["udp_fragment_timeout"] = rec(eth() / frags[0]) + rec(eth() / frags[1], dt=40000)
    ping = ip(id=78) / ICMP(type=8, id=9, seq=1) / Raw(b"p" * 2000)
    s["ping_fragments"] = b"".join(rec(eth() / f) for f in fragment(ping, fragsize=1000))
    # Overlapping fragments: the second restarts inside the first.
    dg = ip(id=79, proto=17) / UDP(sport=5555, dport=UDP_PORT) / Raw(b"o" * 64)
    body = raw(dg)[20:]
    f1 = ip(id=79, proto=17, flags="MF", frag=0) / Raw(body[:48])
    f2 = ip(id=79, proto=17, frag=3) / Raw(body[24:])
    s["fragments_overlap"] = rec(eth() / f1) + rec(eth() / f2)

    # TCP: new connections to the listener (ack relative to the SYN-ACK).
    syn = tcp(40100, LISTEN, 0, 0, "S", options=SYN_OPTS)
    s["tcp_new_handshake_data_fin"] = trec(syn) + \
        trec(tcp(40100, LISTEN, 1, 1, "A", ts=3)) + \
        trec(tcp(40100, LISTEN, 1, 1, "PA", b"GET / HTTP/1.0\r\n\r\n", ts=4), dt=1) + \
        trec(tcp(40100, LISTEN, 19, 1, "FA", ts=5), dt=1)
    s["tcp_syn_with_data"] = trec(tcp(40101, LISTEN, 0, 0, "S", b"early data", options=SYN_OPTS))
    s["tcp_syn_no_options"] = trec(tcp(40102, LISTEN, 0, 0, "S"))
    s["tcp_syn_flood"] = b"".join(trec(tcp(41000 + i, LISTEN, 0, 0, "S", options=SYN_OPTS))
                                  for i in range(8))
    # Backlog 4: the fifth SYN is answered with a cookie; its ACK completes it.
    s["tcp_syn_cookie"] = b"".join(trec(tcp(41100 + i, LISTEN, 0, 0, "S", options=SYN_OPTS))
                                   for i in range(5)) + \
        trec(tcp(41104, LISTEN, 1, 1, "A", ts=3), dt=1) + \
        trec(tcp(41104, LISTEN, 1, 1, "PA", b"after cookie", ts=4), dt=1)
    s["tcp_syn_retransmit_timeout"] = trec(syn) + trec(tcp(40100, LISTEN, 0, 0, "S",
                                                           options=SYN_OPTS), dt=3000)
    s["tcp_closed_port"] = trec(tcp(40200, 81, 0, 0, "S")) + trec(tcp(40200, 81, 5, 5, "A"))
    s["tcp_syn_fin"] = trec(tcp(40103, LISTEN, 0, 0, "SF"))
    s["tcp_bad_options"] = trec(tcp(40104, LISTEN, 0, 0, "S",
                                    options=[("MSS", 1460), (99, b"")]))

    # The passive connection (the stack has 100 bytes in flight on it).
    s["passive_data_ack"] = trec(p_seg(1, 1 + INFLIGHT, "PA", b"abcdefgh", ts=3))
    s["passive_fin"] = trec(p_seg(1, 1 + INFLIGHT, "PA", b"bye", ts=3)) + \
        trec(p_seg(4, 1 + INFLIGHT, "FA", ts=4), dt=5) + \
        trec(p_seg(5, 2 + INFLIGHT, "A", ts=5), dt=5) + \
        trec(p_seg(5, 2 + INFLIGHT, "A", ts=6), dt=61000)
    s["passive_rst"] = trec(p_seg(1, 1, "R", ts=None))
    s["passive_rst_in_window"] = trec(p_seg(1000, 1, "R", ts=None))
    s["passive_syn_in_established"] = trec(p_seg(0, 0, "S", ts=None, options=SYN_OPTS))
    s["passive_out_of_order"] = trec(p_seg(101, 1, "A", b"B" * 100, ts=3)) + \
        trec(p_seg(301, 1, "A", b"D" * 100, ts=4)) + \
        trec(p_seg(1, 1, "A", b"A" * 100, ts=5)) + \
        trec(p_seg(201, 1, "A", b"C" * 100, ts=6))
    s["passive_dupacks"] = b"".join(trec(p_seg(1, 1, "A", ts=3 + i), dt=1) for i in range(4))
    s["passive_zero_window"] = trec(p_seg(1, 1, "A", ts=3, window=0)) + \
        trec(p_seg(1, 1, "A", ts=4, window=0), dt=2000) + \
        trec(p_seg(1, 1, "A", ts=5), dt=2000)
    s["passive_old_timestamp"] = trec(p_seg(1, 1, "A", b"new", ts=100)) + \
        trec(p_seg(1, 1, "A", b"old", ts=50), dt=1)
    s["passive_rto"] = trec(p_seg(1, 1, "A", ts=3), dt=30000)
    s["passive_bad_ack"] = trec(p_seg(1, 5000, "A", ts=3))
    s["passive_urgent"] = trec(p_seg(1, 1, "UA", b"!", ts=3, urgptr=1))

    s["passive_keepalive"] = trec(p_seg(1, 1 + INFLIGHT, "A", ts=3)) + \
        rec(eth() / ip() / ICMP(type=8, id=1, seq=1), dt=11000) + \
        trec(p_seg(1, 1 + INFLIGHT, "A", ts=4), dt=1) + \
        rec(eth() / ip() / ICMP(type=8, id=1, seq=2), dt=20000)
    s["passive_ooo_flood"] = b"".join(trec(p_seg(101 + 10 * i, 1, "A", b"z" * 5, ts=3), dt=1)
                                      for i in range(12))

    # The active connection (6000 bytes in flight: several segments).
    s["active_data_fin"] = trec(a_seg(1, 1 + A_SENT, "PA", b"0123456789", ts=3)) + \
        trec(a_seg(11, 1 + A_SENT, "FA", ts=4), dt=3)
    s["active_rst"] = trec(a_seg(1, 1 + A_SENT, "RA", ts=None))
    s["active_window_scaled"] = trec(a_seg(1, 1 + A_SENT, "A", ts=3, window=1))
    s["active_fast_recovery"] = trec(a_seg(1, 1 + A_SEG, "A", ts=3), dt=5) + \
        b"".join(trec(a_seg(1, 1 + A_SEG, "A", ts=4 + i), dt=1) for i in range(4)) + \
        trec(a_seg(1, 1 + 2 * A_SEG, "A", ts=9), dt=5) + \
        trec(a_seg(1, 1 + A_SENT, "A", ts=10), dt=5)
    s["active_partial_acks"] = b"".join(trec(a_seg(1, 1 + 500 * i, "A", ts=3 + i), dt=7)
                                        for i in range(1, 12))

    # The connection left in SYN-SENT.
    s["pending_synack"] = trec(n_seg(0, 1, "SA", ts=2, options=SYN_OPTS)) + \
        trec(n_seg(1, 1, "PA", b"welcome", ts=3), dt=2)
    s["pending_rst"] = trec(n_seg(0, 1, "RA", ts=None))
    s["pending_bad_ack"] = trec(n_seg(0, 77, "SA", ts=None, options=SYN_OPTS))
    s["pending_simultaneous_open"] = trec(n_seg(0, 0, "S", ts=None, options=SYN_OPTS)) + \
        trec(n_seg(1, 1, "A", ts=3), dt=1)
    s["pending_syn_timeout"] = rec(eth() / ip() / ICMP(type=8, id=1, seq=1), dt=60000)

    # The application's commands (stack_harness.h): our side closes.
    s["passive_we_close"] = trec(p_seg(1, 1 + INFLIGHT, "PA", b"C", ts=3)) + \
        trec(p_seg(2, 2 + INFLIGHT, "A", ts=4), dt=1) + \
        trec(p_seg(2, 2 + INFLIGHT, "FA", ts=5), dt=1) + \
        trec(p_seg(3, 2 + INFLIGHT, "A", ts=6), dt=61000)
    s["passive_simultaneous_close"] = trec(p_seg(1, 1 + INFLIGHT, "PA", b"C", ts=3)) + \
        trec(p_seg(2, 1 + INFLIGHT, "FA", ts=4), dt=1) + \
        trec(p_seg(3, 2 + INFLIGHT, "A", ts=5), dt=1)
    s["passive_we_shutdown"] = trec(p_seg(1, 1 + INFLIGHT, "PA", b"S", ts=3)) + \
        trec(p_seg(2, 2 + INFLIGHT, "PA", b"more", ts=4), dt=1) + \
        trec(p_seg(6, 2 + INFLIGHT, "FA", ts=5), dt=1)
    s["active_we_reset"] = trec(a_seg(1, 1 + A_SENT, "PA", b"R", ts=3))
    s["active_last_ack"] = trec(a_seg(1, 1 + A_SENT, "FA", ts=3)) + \
        trec(a_seg(2, 2 + A_SENT, "A", ts=4), dt=1)

    # ICMP errors about datagrams we sent.
    ours = IP(src=US_IP, dst=PEER_IP, ttl=64)
    s["icmp_port_unreach_udp"] = rec(eth() / ip() / ICMP(type=3, code=3) /
                                     raw(ours / UDP(sport=UDP_PORT, dport=5555) / Raw(b"x")))
    s["icmp_frag_needed_tcp"] = rec(eth() / ip() / ICMP(type=3, code=4, nexthopmtu=576) /
                                    raw(ours / TCP(sport=LISTEN, dport=P_RPORT, flags="A"))[:28])
    s["icmp_time_exceeded_tcp"] = rec(eth() / ip() / ICMP(type=11, code=0) /
                                      raw(ours / TCP(sport=A_LPORT, dport=A_RPORT, flags="A"))[:28])
    return s


def addrs(src=PEER_IP, dst=US_IP):
    return bytes(int(x) for x in src.split(".")) + bytes(int(x) for x in dst.split("."))


def parser_seeds():
    FP_ETH, FP_ARP, FP_IPV4, FP_ICMP, FP_UDP, FP_TCP, FP_CSUM = range(7)
    s = {}
    s["eth"] = bytes([FP_ETH]) + raw(eth() / ip() / ICMP())
    s["arp"] = bytes([FP_ARP]) + raw(ARP(op=1, hwsrc=PEER_MAC, psrc=PEER_IP, pdst=US_IP))
    s["ipv4"] = bytes([FP_IPV4]) + raw(ip() / UDP(sport=1, dport=2))
    s["ipv4_options"] = bytes([FP_IPV4]) + raw(IP(src=PEER_IP, dst=US_IP, options=[
        b"\x94\x04\x00\x00"]) / UDP(sport=1, dport=2))
    s["ipv4_fragment"] = bytes([FP_IPV4]) + raw(ip(flags="MF", frag=0) / Raw(b"f" * 16))
    s["icmp_echo"] = bytes([FP_ICMP, 5]) + raw(ICMP(type=8, id=1, seq=1) / Raw(b"ping"))
    s["icmp_unreach"] = bytes([FP_ICMP, 0]) + raw(ICMP(type=3, code=3) / ip() / UDP())
    udp = raw(ip() / UDP(sport=5555, dport=7) / Raw(b"hello, world"))[20:]
    s["udp"] = bytes([FP_UDP]) + addrs() + bytes([9]) + udp
    syn = IP(src=PEER_IP, dst=US_IP) / TCP(sport=40000, dport=80, flags="S", options=SYN_OPTS)
    s["tcp_syn"] = bytes([FP_TCP]) + addrs() + raw(syn)[20:]
    seg = IP(src=PEER_IP, dst=US_IP) / TCP(sport=40000, dport=80, flags="PA", options=[
        ("NOP", None), ("NOP", None), ("Timestamp", (5, 6)), ("SAck", (100, 200))]) / Raw(b"data")
    s["tcp_data_sack"] = bytes([FP_TCP]) + addrs() + raw(seg)[20:]
    s["csum"] = bytes([FP_CSUM, 7, 11]) + bytes(range(1, 40))
    return s


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")
    for sub, seeds in (("stack", stack_seeds()), ("parsers", parser_seeds())):
        d = os.path.join(out, sub)
        os.makedirs(d, exist_ok=True)
        for name, data in sorted(seeds.items()):
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
        print(f"{d}: {len(seeds)} seeds")


if __name__ == "__main__":
    main()
