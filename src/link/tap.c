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
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define ETH_HDR_LEN 14u

struct tap_link {
	struct link l;
	int fd;
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

static unsigned tap_rx_burst(struct link *l, struct pkt_pool *pool, struct pkt **pkts,
                             unsigned max, uint64_t now)
{
	struct tap_link *t = (struct tap_link *)l;
	unsigned n = 0;
	(void)now;

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

static unsigned tap_tx_burst(struct link *l, struct pkt **pkts, unsigned n, uint64_t now)
{
	struct tap_link *t = (struct tap_link *)l;
	unsigned sent = 0;
	(void)now;

	/* One write() per frame: the TAP takes exactly one frame per write. */
	for (unsigned i = 0; i < n; i++) {
		ssize_t w = write(t->fd, pkts[i]->data, pkts[i]->len);
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
	free(t);
}

static const struct link_ops tap_ops = {
	.rx_burst = tap_rx_burst,
	.tx_burst = tap_tx_burst,
	.fd = tap_fd,
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
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	if (ioctl(t->fd, TUNSETIFF, &ifr) < 0) {
		int e = errno;
		if (e == EINVAL && existed && errbuf && errlen) {
			snprintf(errbuf, errlen, "TUNSETIFF %s: %s (it exists and is not a TAP)", name,
			         strerror(e));
			return -e;
		}
		return fail(e, errbuf, errlen, name, "TUNSETIFF");
	}
	snprintf(t->l.name, sizeof(t->l.name), "%s", ifr.ifr_name);

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
