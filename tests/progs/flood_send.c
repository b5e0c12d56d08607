/* Sends a flood of crafted frames out of an interface with an AF_PACKET
 * socket, for the kernel-side flood tests (tests/interop/flood_*.sh). Only
 * ever run inside a network namespace made for the test, on its TAP's peer.
 *   flood_send IFNAME DST_MAC DST_IP MODE COUNT [PORT]
 * MODE: syn  (spoofed SYNs from 198.18.0.0/15, random ports, to PORT)
 *       ack  (out-of-window ACKs / RSTs from the same spoofed range to PORT)
 *       icmp (echo requests and UDP to a closed port, spoofed)
 *       arp  (ARP requests for DST_IP from invented on-link neighbours)
 * Prints how many frames went and how long it took. */
#define _DEFAULT_SOURCE
#include <arpa/inet.h>
#include <net/if.h>
#include <netpacket/packet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint32_t rnd_state = 0x9e3779b9u;

static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

static void w16(uint8_t *b, uint16_t v) { b[0] = (uint8_t)(v >> 8); b[1] = (uint8_t)v; }
static void w32(uint8_t *b, uint32_t v) { w16(b, (uint16_t)(v >> 16)); w16(b + 2, (uint16_t)v); }

static uint16_t csum(const uint8_t *b, size_t n, uint32_t sum)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (n & 1)
		sum += (uint32_t)b[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static size_t ip_hdr(uint8_t *b, uint32_t src, uint32_t dst, uint8_t proto, size_t payload)
{
	memset(b, 0, 20);
	b[0] = 0x45;
	w16(b + 2, (uint16_t)(20 + payload));
	w16(b + 4, (uint16_t)rnd());
	b[8] = 64;
	b[9] = proto;
	w32(b + 12, src);
	w32(b + 16, dst);
	w16(b + 10, csum(b, 20, 0));
	return 20;
}

static uint32_t pseudo(uint32_t s, uint32_t d, uint8_t proto, size_t len)
{
	return (s >> 16) + (s & 0xffff) + (d >> 16) + (d & 0xffff) + proto + (uint32_t)len;
}

static size_t tcp_frame(uint8_t *f, uint32_t src, uint32_t dst, uint16_t port, uint8_t flags)
{
	uint8_t *t = f + 14 + 20;

	ip_hdr(f + 14, src, dst, 6, 24);
	memset(t, 0, 24);
	w16(t, (uint16_t)(1024 + rnd() % 60000));
	w16(t + 2, port);
	w32(t + 4, rnd());
	w32(t + 8, (flags & 0x10) ? rnd() : 0);
	t[12] = 6 << 4;
	t[13] = flags;
	w16(t + 14, 65535);
	t[20] = 2;  /* MSS 1460 */
	t[21] = 4;
	w16(t + 22, 1460);
	w16(t + 16, csum(t, 24, pseudo(src, dst, 6, 24)));
	return 14 + 20 + 24;
}

int main(int argc, char **argv)
{
	uint8_t dmac[6], smac[6] = {0x02, 0x66, 0, 0, 0, 0}, f[256];
	struct sockaddr_ll sll;
	struct timespec t0, t1;
	uint32_t dst;
	long count, sent = 0;
	uint16_t port;
	const char *mode;
	int fd;

	if (argc < 6 || sscanf(argv[2], "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &dmac[0], &dmac[1], &dmac[2],
	                       &dmac[3], &dmac[4], &dmac[5]) != 6) {
		fprintf(stderr, "usage: flood_send IFNAME DST_MAC DST_IP MODE COUNT [PORT]\n");
		return 2;
	}
	dst = ntohl(inet_addr(argv[3]));
	mode = argv[4];
	count = atol(argv[5]);
	port = (uint16_t)(argc > 6 ? atoi(argv[6]) : 7777);
	fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0) {
		perror("socket");
		return 2;
	}
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_ifindex = (int)if_nametoindex(argv[1]);
	sll.sll_halen = 6;
	memcpy(sll.sll_addr, dmac, 6);
	if (!sll.sll_ifindex) {
		perror("if_nametoindex");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < count; i++) {
		uint32_t src = 0xc6120000u | (rnd() & 0x1ffffu);  /* 198.18.0.0/15 */
		size_t n;

		smac[2] = (uint8_t)(i >> 24);
		smac[3] = (uint8_t)(i >> 16);
		smac[4] = (uint8_t)(i >> 8);
		smac[5] = (uint8_t)i;
		memcpy(f, dmac, 6);
		memcpy(f + 6, smac, 6);
		w16(f + 12, 0x0800);
		if (!strcmp(mode, "syn")) {
			n = tcp_frame(f, src, dst, port, 0x02);
		} else if (!strcmp(mode, "ack")) {
			n = tcp_frame(f, src, dst, port, (i & 7) ? 0x10 : 0x04);
		} else if (!strcmp(mode, "icmp")) {
			uint8_t *p = f + 34;
			if (i & 1) {
				ip_hdr(f + 14, src, dst, 1, 64);
				memset(p, 0, 64);
				p[0] = 8;
				w16(p + 4, (uint16_t)i);
				w16(p + 2, csum(p, 64, 0));
				n = 14 + 20 + 64;
			} else {
				ip_hdr(f + 14, src, dst, 17, 9);
				memset(p, 0, 9);
				w16(p, 5000);
				w16(p + 2, 9);
				w16(p + 4, 9);
				n = 14 + 20 + 9;  /* checksum 0: none (RFC 768) */
			}
		} else if (!strcmp(mode, "arp")) {
			static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
			memcpy(f, bcast, 6);
			w16(f + 12, 0x0806);
			w16(f + 14, 1);
			w16(f + 16, 0x0800);
			f[18] = 6;
			f[19] = 4;
			w16(f + 20, 1);
			memcpy(f + 22, smac, 6);
			w32(f + 28, (dst & 0xffffff00u) | (100 + (uint32_t)i % 150));
			memset(f + 32, 0, 6);
			w32(f + 38, dst);
			n = 42;
		} else {
			fprintf(stderr, "flood_send: unknown mode %s\n", mode);
			return 2;
		}
		if (n < 60) {
			memset(f + n, 0, 60 - n);
			n = 60;
		}
		if (sendto(fd, f, n, 0, (struct sockaddr *)&sll, sizeof(sll)) == (ssize_t)n)
			sent++;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%ld %s frames sent in %.2f s\n", sent, mode,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	close(fd);
	return sent == count ? 0 : 1;
}
