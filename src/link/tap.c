/* TAP link: frames to and from the kernel through /dev/net/tun.
 * A TAP this call creates is non-persistent: the kernel removes it when the
 * last fd on it closes, so close() is all the cleanup it needs and a crashed
 * stack leaves nothing behind. */
#include "link/link.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/checksum.h"

#define ETH_HDR_LEN 14u
/* The largest frame the kernel hands over with TSO on: 64 KB of IP. */
#define TAP_BIG_MAX (65535u + ETH_HDR_LEN)
/* Headers of a TSO frame we split: Ethernet + IP + TCP with options. */
#define TAP_HDR_MAX (ETH_HDR_LEN + 60u + 60u)

struct tap_link {
	struct link l;
	int fd;
	bool vnet;            /* IFF_VNET_HDR: every frame has a virtio_net_hdr */
	uint8_t *big;         /* vnet: the part of a TSO frame past one buffer */
	struct pkt_queue pend;  /* split segments beyond the last burst's room */
	bool tso;             /* the kernel took TUN_F_TSO4: we may send TSO frames */
	uint64_t tso_frames, tso_segs, csum_filled, gso_frames;
	/* Catches the tail of a frame too big for a packet buffer, so that a
	 * truncated read is recognised and dropped instead of delivered cut. */
	uint8_t spill[64];
};

/* name was checked to fit IFNAMSIZ by tap_setup. */
static void set_ifname(struct ifreq *ifr, const char *name)
{
	size_t n = strnlen(name, IFNAMSIZ - 1);
	memcpy(ifr->ifr_name, name, n);
	ifr->ifr_name[n] = '\0';
}

static int fail(int e, char *errbuf, size_t errlen, const char *name, const char *what)
{
	if (errbuf && errlen)
		snprintf(errbuf, errlen, "%s %s: %s", what, name, strerror(e));
	return -e;
}

/* A frame read in two parts: the buffer's room, then t->big. */
struct two {
	const uint8_t *a, *b;
	size_t alen, len;
};

static void two_copy(const struct two *f, size_t off, uint8_t *dst, size_t n)
{
	if (off < f->alen) {
		size_t k = f->alen - off < n ? f->alen - off : n;
		memcpy(dst, f->a + off, k);
		dst += k;
		off += k;
		n -= k;
	}
	if (n)
		memcpy(dst, f->b + (off - f->alen), n);
}

/* VIRTIO_NET_HDR_F_NEEDS_CSUM: the kernel left the checksum at csum_start
 * + csum_offset holding the pseudo-header sum; the rest is summed here, so
 * the core checks it as any other. */
static bool fill_csum(uint8_t *f, size_t len, const struct virtio_net_hdr *h)
{
	size_t start = h->csum_start, at = start + h->csum_offset;

	if (start >= len || at + 2 > len)
		return false;
	uint16_t c = csum_fold(csum_partial(f + start, len - start, 0));
	f[at] = (uint8_t)(c >> 8);
	f[at + 1] = (uint8_t)c;
	return true;
}

/* Whether the checksum fill_csum filled is the TCP checksum of an IPv4
 * frame (PKT_F_CSUM_OK speaks for TCP's only). */
static bool filled_tcp(const uint8_t *f, size_t len, const struct virtio_net_hdr *h)
{
	return len >= ETH_HDR_LEN + 20 && f[12] == 0x08 && f[13] == 0x00 &&
	       f[ETH_HDR_LEN + 9] == 6 &&
	       h->csum_start == ETH_HDR_LEN + (size_t)(f[ETH_HDR_LEN] & 0xf) * 4 &&
	       h->csum_offset == 16;
}

/* Splits a TSO frame (VIRTIO_NET_HDR_GSO_TCPV4) into frames of gso_size
 * payload bytes each, as the kernel's own GSO would: the IP id counts up,
 * sequence numbers advance, FIN and PSH stay on the last, CWR on the first.
 * The TCP checksum is not computed: the bytes come from the kernel's
 * memory with it left to fill, so there is nothing to check, and a pass
 * over 64 KB per frame is saved. Segments go to t->pend, marked
 * PKT_F_CSUM_OK and, but the last, PKT_F_SEG_MORE (TCP ACKs the frame
 * once). */
static void split_tso(struct tap_link *t, struct pkt_pool *pool, const struct two *f,
                      const struct virtio_net_hdr *h)
{
	uint8_t hdr[TAP_HDR_MAX];
	struct pkt *last = NULL;
	size_t ihl, doff, hl, pay, mss = h->gso_size;
	uint32_t seq, src, dst;
	uint16_t id;

	if (f->len < ETH_HDR_LEN + 20 || f->alen < ETH_HDR_LEN + 20 || !mss)
		goto bad;
	two_copy(f, 0, hdr, ETH_HDR_LEN + 20);
	ihl = (size_t)(hdr[ETH_HDR_LEN] & 0xf) * 4;
	if (hdr[12] != 0x08 || hdr[13] != 0x00 || ihl < 20 || hdr[ETH_HDR_LEN + 9] != 6 ||
	    ETH_HDR_LEN + ihl + 20 > f->len)
		goto bad;
	two_copy(f, 0, hdr, ETH_HDR_LEN + ihl + 20);
	doff = (size_t)(hdr[ETH_HDR_LEN + ihl + 12] >> 4) * 4;
	hl = ETH_HDR_LEN + ihl + doff;
	if (doff < 20 || hl > f->len || hl + mss > PKT_DATA_MAX)
		goto bad;
	two_copy(f, 0, hdr, hl);
	pay = f->len - hl;
	id = (uint16_t)(hdr[ETH_HDR_LEN + 4] << 8 | hdr[ETH_HDR_LEN + 5]);
	memcpy(&src, hdr + ETH_HDR_LEN + 12, 4);
	memcpy(&dst, hdr + ETH_HDR_LEN + 16, 4);
	src = ntohl(src);
	dst = ntohl(dst);
	memcpy(&seq, hdr + ETH_HDR_LEN + ihl + 4, 4);
	seq = ntohl(seq);
	t->tso_frames++;
	for (size_t off = 0; off < pay; off += mss) {
		size_t len = pay - off < mss ? pay - off : mss;
		struct pkt *q = pkt_alloc(pool);
		uint8_t *ip, *tcp;
		uint32_t s;
		uint16_t c, tot = (uint16_t)(ihl + doff + len);

		if (!q) {
			t->l.rx_drops++;  /* TCP recovers the rest: a loss */
			if (last)
				last->flags &= ~PKT_F_SEG_MORE;  /* nothing follows it */
			return;
		}
		memcpy(q->data, hdr, hl);
		two_copy(f, hl + off, q->data + hl, len);
		q->len = (uint32_t)(hl + len);
		ip = q->data + ETH_HDR_LEN;
		tcp = ip + ihl;
		ip[2] = (uint8_t)(tot >> 8);
		ip[3] = (uint8_t)tot;
		ip[4] = (uint8_t)((id + off / mss) >> 8);
		ip[5] = (uint8_t)(id + off / mss);
		ip[10] = ip[11] = 0;
		c = csum_fold(csum_partial(ip, ihl, 0));
		ip[10] = (uint8_t)(c >> 8);
		ip[11] = (uint8_t)c;
		s = htonl(seq + (uint32_t)off);
		memcpy(tcp + 4, &s, 4);
		if (off + len < pay)
			tcp[13] &= (uint8_t)~0x09;  /* FIN, PSH: the last segment's */
		if (off)
			tcp[13] &= (uint8_t)~0x80;  /* CWR: the first's (RFC 3168 6.1.2) */
		/* Left to fill, as in a NEEDS_CSUM frame: the pseudo-header
		 * sum (what a capture on an offloading NIC shows too). */
		c = (uint16_t)~csum_fold(csum_pseudo(src, dst, 6, (uint16_t)(doff + len)));
		tcp[16] = (uint8_t)(c >> 8);
		tcp[17] = (uint8_t)c;
		q->flags = PKT_F_CSUM_OK | (off + len < pay ? PKT_F_SEG_MORE : 0);
		pktq_push(&t->pend, q);
		last = q;
		t->tso_segs++;
	}
	return;
bad:
	t->l.rx_drops++;
}

/* IFF_VNET_HDR: a small frame lands in the buffer; a TSO frame spills
 * into t->big and is split. Returns the frame to deliver, or NULL (split
 * into t->pend, dropped, or nothing to read: *more = false). */
static struct pkt *vnet_read(struct tap_link *t, struct pkt_pool *pool, bool *more)
{
	struct virtio_net_hdr h;
	struct pkt *p = pkt_alloc(pool);
	struct two f;
	size_t room;
	ssize_t r;

	*more = p != NULL;
	if (!p)
		return NULL;
	room = pkt_tailroom(p);
	struct iovec iov[3] = {
		{ .iov_base = &h, .iov_len = sizeof(h) },
		{ .iov_base = p->data, .iov_len = room },
		{ .iov_base = t->big, .iov_len = TAP_BIG_MAX },
	};
	r = readv(t->fd, iov, 3);
	if (r < (ssize_t)sizeof(h)) {
		pkt_free(p);
		*more = false;
		return NULL;
	}
	r -= (ssize_t)sizeof(h);
	f = (struct two){ .a = p->data, .alen = room, .b = t->big, .len = (size_t)r };
	if (f.alen > f.len)
		f.alen = f.len;
	if (h.gso_type != VIRTIO_NET_HDR_GSO_NONE) {
		if ((h.gso_type & ~VIRTIO_NET_HDR_GSO_ECN) == VIRTIO_NET_HDR_GSO_TCPV4)
			split_tso(t, pool, &f, &h);
		else
			t->l.rx_drops++;
		pkt_free(p);
		return NULL;
	}
	if ((size_t)r > room ||
	    ((h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && !fill_csum(p->data, (size_t)r, &h))) {
		pkt_free(p);
		t->l.rx_drops++;
		return NULL;
	}
	if (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
		t->csum_filled++;
	/* Checked by the kernel already, or the TCP checksum filled here over
	 * these bytes: the core need not sum them again. */
	if ((h.flags & VIRTIO_NET_HDR_F_DATA_VALID) ||
	    ((h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && filled_tcp(p->data, (size_t)r, &h)))
		p->flags |= PKT_F_CSUM_OK;
	p->len = (uint32_t)r;
	return p;
}

static unsigned vnet_rx_burst(struct tap_link *t, struct pkt_pool *pool, struct pkt **pkts,
                              unsigned max)
{
	unsigned n = 0;
	bool more = true;

	while (n < max) {
		struct pkt *p = pktq_pop(&t->pend);

		if (!p && more)
			p = vnet_read(t, pool, &more);
		if (p)
			pkts[n++] = p;
		else if (!more && !t->pend.count)
			break;
	}
	return n;
}

static unsigned tap_rx_burst(struct link *l, struct pkt_pool *pool, struct pkt **pkts,
                             unsigned max, uint64_t now)
{
	struct tap_link *t = (struct tap_link *)l;
	unsigned n = 0;
	(void)now;

	if (t->vnet) {
		n = vnet_rx_burst(t, pool, pkts, max);
		l->rx_frames += n;
		return n;
	}
	while (n < max) {
		struct pkt *p = pkt_alloc(pool);
		if (!p)
			break; /* the frame waits in the kernel queue for buffers */
		size_t room = pkt_tailroom(p);
		struct iovec iov[2] = {
			{ .iov_base = p->data, .iov_len = room },
			{ .iov_base = t->spill, .iov_len = sizeof(t->spill) },
		};
		ssize_t r = readv(t->fd, iov, 2);
		if (r <= 0) {
			pkt_free(p);
			break; /* EAGAIN: drained; anything else: try again next poll */
		}
		if ((size_t)r > room) {
			pkt_free(p);
			l->rx_drops++;
			continue;
		}
		p->len = (uint32_t)r;
		pkts[n++] = p;
	}
	l->rx_frames += n;
	return n;
}

/* Where a frame's TCP header starts, when it is an unfragmented TCP/IPv4
 * segment carrying data with ACK (and maybe PSH) only: 0 otherwise. */
static size_t tcp_data_seg(const struct pkt *p, size_t *hl)
{
	const uint8_t *f = p->data;
	size_t ihl, doff;

	if (p->len < ETH_HDR_LEN + 40 || f[12] != 0x08 || f[13] != 0x00 ||
	    f[ETH_HDR_LEN + 9] != 6 || (f[ETH_HDR_LEN + 6] & 0x3f) || f[ETH_HDR_LEN + 7])
		return 0;
	ihl = (size_t)(f[ETH_HDR_LEN] & 0xf) * 4;
	if (ihl < 20 || p->len < ETH_HDR_LEN + ihl + 20)
		return 0;
	doff = (size_t)(f[ETH_HDR_LEN + ihl + 12] >> 4) * 4;
	*hl = ETH_HDR_LEN + ihl + doff;
	if (doff < 20 || *hl >= p->len || (f[ETH_HDR_LEN + ihl + 13] & ~0x08) != 0x10)
		return 0;
	return ETH_HDR_LEN + ihl;
}

static uint32_t rd32be(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Whether q continues p's segment: same headers but for the IP length,
 * id and checksum and the TCP sequence, flags and checksum; the next
 * sequence number; p full-sized (mss) and no PSH before the end. */
static bool continues(const struct pkt *p, const struct pkt *q, size_t th, size_t hl, size_t mss)
{
	const uint8_t *a = p->data, *b = q->data;
	size_t qhl;

	if (tcp_data_seg(q, &qhl) != th || qhl != hl || p->len - hl != mss || q->len - hl > mss ||
	    (a[th + 13] & 0x08))
		return false;
	if (memcmp(a, b, ETH_HDR_LEN + 2) || memcmp(a + ETH_HDR_LEN + 6, b + ETH_HDR_LEN + 6, 4) ||
	    memcmp(a + ETH_HDR_LEN + 12, b + ETH_HDR_LEN + 12, th - ETH_HDR_LEN - 12) ||
	    memcmp(a + th, b + th, 4) || memcmp(a + th + 8, b + th + 8, 5) ||
	    memcmp(a + th + 14, b + th + 14, 2) || memcmp(a + th + 18, b + th + 18, hl - th - 18))
		return false;
	return rd32be(b + th + 4) == rd32be(a + th + 4) + (uint32_t)mss;
}

/* GSO: a run of consecutive full-sized segments of one connection leaves
 * in one write, as one TCPv4 TSO frame of up to 64 KB that the kernel
 * takes whole (its TCP receives it as one GRO'd segment); it computes the
 * checksums (NEEDS_CSUM: the pseudo-header sum is in the field). Returns
 * how many frames of pkts the write took (1 when no run starts here). */
static unsigned tx_gso_run(struct tap_link *t, struct pkt **pkts, unsigned n, bool *ok)
{
	struct virtio_net_hdr h = { 0 };
	struct iovec iov[2 + 64];
	uint8_t hdr[TAP_HDR_MAX];
	size_t th, hl, mss, total;
	unsigned k = 1;
	uint16_t c;

	th = tcp_data_seg(pkts[0], &hl);
	if (!th || n < 2)
		return 0;
	mss = pkts[0]->len - hl;
	total = pkts[0]->len - ETH_HDR_LEN;
	while (k < n && k < 64 && total + mss <= 65535 &&
	       continues(pkts[k - 1], pkts[k], th, hl, mss)) {
		total += pkts[k]->len - hl;
		k++;
	}
	if (k < 2)
		return 0;
	memcpy(hdr, pkts[0]->data, hl);
	hdr[ETH_HDR_LEN + 2] = (uint8_t)(total >> 8);
	hdr[ETH_HDR_LEN + 3] = (uint8_t)total;
	hdr[ETH_HDR_LEN + 10] = hdr[ETH_HDR_LEN + 11] = 0;
	c = csum_fold(csum_partial(hdr + ETH_HDR_LEN, th - ETH_HDR_LEN, 0));
	hdr[ETH_HDR_LEN + 10] = (uint8_t)(c >> 8);
	hdr[ETH_HDR_LEN + 11] = (uint8_t)c;
	hdr[th + 13] = pkts[k - 1]->data[th + 13];  /* the last one's PSH */
	c = (uint16_t)~csum_fold(csum_pseudo(rd32be(hdr + ETH_HDR_LEN + 12),
	                                     rd32be(hdr + ETH_HDR_LEN + 16), 6,
	                                     (uint16_t)(total - (th - ETH_HDR_LEN))));
	hdr[th + 16] = (uint8_t)(c >> 8);
	hdr[th + 17] = (uint8_t)c;
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	h.hdr_len = (uint16_t)hl;
	h.gso_size = (uint16_t)mss;
	h.csum_start = (uint16_t)th;
	h.csum_offset = 16;
	iov[0] = (struct iovec){ .iov_base = &h, .iov_len = sizeof(h) };
	iov[1] = (struct iovec){ .iov_base = hdr, .iov_len = hl };
	for (unsigned i = 0; i < k; i++)
		iov[2 + i] = (struct iovec){ .iov_base = pkts[i]->data + hl, .iov_len = pkts[i]->len - hl };
	*ok = writev(t->fd, iov, (int)k + 2) == (ssize_t)(sizeof(h) + ETH_HDR_LEN + total);
	if (*ok)
		t->gso_frames++;
	return k;
}

/* VIRTIO_NET_HDR_F_NEEDS_CSUM for a TCP/IPv4 frame whose checksum field
 * holds the pseudo-header sum (PKT_F_CSUM_PARTIAL): the kernel sums from
 * the TCP header on. */
static void partial_csum_hdr(const struct pkt *p, struct virtio_net_hdr *h)
{
	h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h->csum_start = (uint16_t)(ETH_HDR_LEN + (size_t)(p->data[ETH_HDR_LEN] & 0xf) * 4);
	h->csum_offset = 16;
}

static unsigned tap_tx_burst(struct link *l, struct pkt **pkts, unsigned n, uint64_t now)
{
	struct tap_link *t = (struct tap_link *)l;
	unsigned sent = 0;
	(void)now;

	/* One write() per frame: the TAP takes exactly one frame per write.
	 * With IFF_VNET_HDR a header leads it: empty when the checksums are
	 * done, NEEDS_CSUM when the core left the TCP one to the kernel
	 * (PKT_F_CSUM_PARTIAL); runs of one connection's segments go as one
	 * TSO frame. */
	for (unsigned i = 0; i < n; i++) {
		struct virtio_net_hdr h = { 0 };
		bool ok = false;
		unsigned k = t->tso ? tx_gso_run(t, pkts + i, n - i, &ok) : 0;

		if (k) {
			if (ok)
				sent += k;
			else
				l->tx_drops += k;
			while (k--)
				pkt_free(pkts[i++]);
			i--;
			continue;
		}
		if (pkts[i]->flags & PKT_F_CSUM_PARTIAL)
			partial_csum_hdr(pkts[i], &h);
		struct iovec iov[2] = {
			{ .iov_base = &h, .iov_len = sizeof(h) },
			{ .iov_base = pkts[i]->data, .iov_len = pkts[i]->len },
		};
		ssize_t w = t->vnet ? writev(t->fd, iov, 2) - (ssize_t)sizeof(h)
		                    : write(t->fd, pkts[i]->data, pkts[i]->len);
		if (w == (ssize_t)pkts[i]->len)
			sent++;
		else
			l->tx_drops++; /* EAGAIN (queue full) or the device is down */
		pkt_free(pkts[i]);
	}
	l->tx_frames += sent;
	return sent;
}

static int tap_fd(struct link *l)
{
	return ((struct tap_link *)l)->fd;
}

static void tap_close(struct link *l)
{
	struct tap_link *t = (struct tap_link *)l;
	close(t->fd);
	pktq_free(&t->pend);
	free(t->big);
	free(t);
}

/* Split segments still waiting for a burst: call again at once. */
static uint64_t tap_next_deadline(struct link *l)
{
	return ((struct tap_link *)l)->pend.count ? 0 : UINT64_MAX;
}

static const struct link_ops tap_ops = {
	.rx_burst = tap_rx_burst,
	.tx_burst = tap_tx_burst,
	.fd = tap_fd,
	.next_deadline = tap_next_deadline,
	.close = tap_close,
};

static void put_ipv4(struct sockaddr *sa, uint32_t ip)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(ip) };
	memcpy(sa, &sin, sizeof(sin));
}

/* Address, netmask, MTU and IFF_UP of a TAP we just created. */
static int tap_configure(const struct tap_params *tp, const char *name, char *errbuf,
                         size_t errlen)
{
	struct ifreq ifr;
	int rc = 0;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return fail(errno, errbuf, errlen, name, "socket for configuring");

	memset(&ifr, 0, sizeof(ifr));
	set_ifname(&ifr, name);
	if (tp->host_ip) {
		uint32_t mask = tp->host_prefix ? ~0u << (32 - tp->host_prefix) : 0;
		put_ipv4(&ifr.ifr_addr, tp->host_ip);
		if (ioctl(s, SIOCSIFADDR, &ifr) < 0) {
			rc = fail(errno, errbuf, errlen, name, "SIOCSIFADDR");
			goto out;
		}
		put_ipv4(&ifr.ifr_netmask, mask);
		if (ioctl(s, SIOCSIFNETMASK, &ifr) < 0) {
			rc = fail(errno, errbuf, errlen, name, "SIOCSIFNETMASK");
			goto out;
		}
	}
	if (tp->mtu) {
		ifr.ifr_mtu = tp->mtu;
		if (ioctl(s, SIOCSIFMTU, &ifr) < 0) {
			rc = fail(errno, errbuf, errlen, name, "SIOCSIFMTU");
			goto out;
		}
	}
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
		rc = fail(errno, errbuf, errlen, name, "SIOCGIFFLAGS");
		goto out;
	}
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		rc = fail(errno, errbuf, errlen, name, "SIOCSIFFLAGS");
out:
	close(s);
	return rc;
}

static int tap_get_mtu(const char *name, uint16_t *mtu)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	set_ifname(&ifr, name);
	int rc = ioctl(s, SIOCGIFMTU, &ifr) < 0 ? -errno : 0;
	close(s);
	if (!rc)
		*mtu = (uint16_t)(ifr.ifr_mtu > 65535 ? 65535 : ifr.ifr_mtu);
	return rc;
}

/* After TUNSETIFF with IFF_VNET_HDR: the header size, then the offloads
 * we take (checksum left to fill, TCPv4 TSO frames). Offloads the kernel
 * refuses only cost speed: frames then come whole. 0 or -1 (errno). */
static int tap_offload(struct tap_link *t)
{
	int sz = (int)sizeof(struct virtio_net_hdr);

	t->big = malloc(TAP_BIG_MAX);
	if (!t->big || ioctl(t->fd, TUNSETVNETHDRSZ, &sz) < 0)
		return -1;
	t->tso = ioctl(t->fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO_ECN) == 0;
	if (!t->tso && ioctl(t->fd, TUNSETOFFLOAD, TUN_F_CSUM) < 0)
		(void)ioctl(t->fd, TUNSETOFFLOAD, 0);
	return 0;
}

static int tap_setup(struct tap_link *t, const struct tap_params *tp, char *errbuf,
                     size_t errlen)
{
	struct ifreq ifr;
	const char *name = tp->name;

	if (!name || !*name || strlen(name) >= IFNAMSIZ) {
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "TAP name '%s': want 1 to %d characters",
			         name ? name : "", IFNAMSIZ - 1);
		return -EINVAL;
	}
	if (tp->mtu && tp->mtu + ETH_HDR_LEN > PKT_DATA_MAX) {
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "TAP %s: MTU %u does not fit a packet buffer (max %u)",
			         name, tp->mtu, PKT_DATA_MAX - ETH_HDR_LEN);
		return -EINVAL;
	}
	if (tp->host_prefix > 32) {
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "TAP %s: prefix /%u is longer than 32", name,
			         tp->host_prefix);
		return -EINVAL;
	}
	bool existed = if_nametoindex(name) != 0;

	t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (t->fd < 0)
		return fail(errno, errbuf, errlen, "/dev/net/tun", "open");
	memset(&ifr, 0, sizeof(ifr));
	set_ifname(&ifr, name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (tp->offload ? IFF_VNET_HDR : 0);
	t->vnet = tp->offload;
	int rc = ioctl(t->fd, TUNSETIFF, &ifr);
	if (rc < 0 && tp->offload && errno == EINVAL) {
		/* A kernel that takes no vnet header (or a device that is
		 * not a TAP, reported below): plain frames. */
		memset(&ifr, 0, sizeof(ifr));
		set_ifname(&ifr, name);
		ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
		t->vnet = false;
		rc = ioctl(t->fd, TUNSETIFF, &ifr);
	}
	if (rc < 0) {
		int e = errno;
		if (e == EINVAL && existed && errbuf && errlen) {
			snprintf(errbuf, errlen, "TUNSETIFF %s: %s (it exists and is not a TAP)", name,
			         strerror(e));
			return -e;
		}
		return fail(e, errbuf, errlen, name, "TUNSETIFF");
	}
	snprintf(t->l.name, sizeof(t->l.name), "%s", ifr.ifr_name);
	if (t->vnet && tap_offload(t) < 0)
		return fail(errno ? errno : ENOMEM, errbuf, errlen, name, "IFF_VNET_HDR setup");
	/* With a vnet header every frame can say NEEDS_CSUM, whatever
	 * TUNSETOFFLOAD took (that is about what we receive). */
	t->l.tx_csum_offload = t->vnet;

	/* A persistent TAP (ip tuntap add) belongs to whoever made it: attach
	 * and leave its configuration alone. */
	if (!existed && ioctl(t->fd, TUNGETIFF, &ifr) == 0 && (ifr.ifr_flags & IFF_PERSIST))
		existed = true;
	if (!existed) {
		int rc = tap_configure(tp, t->l.name, errbuf, errlen);
		if (rc)
			return rc;
	}
	uint16_t mtu = tp->mtu ? tp->mtu : 1500;
	if (existed && tap_get_mtu(t->l.name, &mtu) < 0)
		mtu = tp->mtu ? tp->mtu : 1500;
	t->l.mtu = mtu;
	return 0;
}

struct link *link_tap_open(const struct tap_params *tp, int *err, char *errbuf, size_t errlen)
{
	struct tap_link *t = calloc(1, sizeof(*t));
	int rc;

	if (!t) {
		rc = fail(ENOMEM, errbuf, errlen, tp && tp->name ? tp->name : "", "TAP");
		goto bad;
	}
	t->fd = -1;
	t->l.ops = &tap_ops;
	rc = tp ? tap_setup(t, tp, errbuf, errlen) : fail(EINVAL, errbuf, errlen, "", "TAP");
	if (!rc)
		return &t->l;
	if (t->fd >= 0)
		close(t->fd); /* removes a TAP we created and half-configured */
	free(t);
bad:
	if (err)
		*err = rc;
	return NULL;
}
