# Sends malformed frames at ustack from the kernel side of its TAP, one per
# drop reason the test checks. argv: tap, stack ip, host ip, stack mac
import sys
from scapy.all import Ether, IP, UDP, ICMP, Raw, sendp, get_if_hwaddr, conf

conf.verb = 0
tap, dst, src, dmac = sys.argv[1:5]
eth = Ether(src=get_if_hwaddr(tap), dst=dmac, type=0x0800)


def ip_echo():
    return bytearray(bytes(IP(src=src, dst=dst) / ICMP() / Raw(b"x" * 8)))


def fix_ip_csum(b):
    b[10:12] = b"\0\0"
    s = sum(int.from_bytes(b[i:i + 2], "big") for i in range(0, 20, 2))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    b[10:12] = (~s & 0xffff).to_bytes(2, "big")
    return b


frames = []
b = ip_echo(); b[10] ^= 0xff                       # drop_ip_checksum
frames.append(b)
b = ip_echo(); b[0] = 0x65                         # drop_ip_version
frames.append(fix_ip_csum(b))
b = ip_echo(); b[2:4] = (1400).to_bytes(2, "big")  # drop_ip_total_len
frames.append(fix_ip_csum(b))
frames.append(ip_echo()[:12])                      # drop_ip_short
frames.append(bytearray(bytes(IP(src=src, dst=dst) /   # drop_udp_checksum
                              UDP(sport=1234, dport=9, chksum=0x1234) / Raw(b"bad checksum"))))
for f in frames:
    sendp(eth / Raw(bytes(f)), iface=tap)
print("sent", len(frames), "malformed frames")
