/* Bulk transfer over ustack for tests/interop/tcp_bulk.sh.
 *   tcp_bulk gen BYTES                 the pattern to stdout (no stack)
 *   tcp_bulk send HOST PORT BYTES|FILE connect, send the pattern (or the
 *                                      file), half-close, wait for the
 *                                      peer's FIN, close
 *   tcp_bulk recv PORT                 accept one connection, copy all it
 *                                      sends to stdout until its FIN, close
 * The pattern is a fixed pseudo-random stream, so the script compares
 * SHA-256 of `gen` with what the other side received. Progress and a
 * summary go to stderr. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ustack/ustack.h>

#define BUF (64 * 1024)

/* xorshift64*: incompressible-looking, cheap, and the same on every run. */
struct pat {
	uint64_t x;
};

static void pat_fill(struct pat *p, uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t v;

		p->x ^= p->x >> 12;
		p->x ^= p->x << 25;
		p->x ^= p->x >> 27;
		v = p->x * 0x2545F4914F6CDD1Dull;
		memcpy(b + i, &v, n - i < 8 ? n - i : 8);
	}
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int write_all(int fd, const uint8_t *b, size_t n)
{
	while (n) {
		ssize_t w = write(fd, b, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

static void summary(const char *what, uint64_t n, double t0)
{
	double t = now_s() - t0;

	fprintf(stderr, "tcp_bulk: %s %llu bytes in %.2f s (%.1f MB/s)\n", what,
	        (unsigned long long)n, t, t > 0 ? n / t / 1e6 : 0.0);
}

static int gen(uint64_t total)
{
	static uint8_t b[BUF];
	struct pat p = { 0x9E3779B97F4A7C15ull };

	/* Chunks are multiples of 8, so the stream does not depend on them. */
	for (uint64_t done = 0; done < total;) {
		size_t n = total - done < BUF ? (size_t)(total - done) : BUF;

		pat_fill(&p, b, n);
		if (write_all(STDOUT_FILENO, b, n) < 0)
			return 1;
		done += n;
	}
	return 0;
}

static int do_send(const char *host, int port, const char *what)
{
	static uint8_t b[BUF];
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct pat p = { 0x9E3779B97F4A7C15ull };
	char *end;
	uint64_t total = strtoull(what, &end, 0), done = 0;
	int file = -1, fd;
	double t0;

	if (*end) {  /* not a number: a file */
		file = open(what, O_RDONLY);
		if (file < 0) {
			perror(what);
			return 1;
		}
	}
	if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
		fprintf(stderr, "tcp_bulk: bad address %s\n", host);
		return 2;
	}
	fd = ust_socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || ust_connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("tcp_bulk: connect");
		return 1;
	}
	t0 = now_s();
	for (;;) {
		ssize_t n;

		if (file >= 0) {
			n = read(file, b, BUF);
		} else {
			n = total - done < BUF ? (ssize_t)(total - done) : BUF;
			pat_fill(&p, b, (size_t)n);
		}
		if (n < 0) {
			perror("tcp_bulk: read");
			return 1;
		}
		if (n == 0)
			break;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = ust_send(fd, b + off, (size_t)(n - off), MSG_NOSIGNAL);

			if (w < 0) {
				perror("tcp_bulk: send");
				return 1;
			}
			off += w;
		}
		done += (uint64_t)n;
	}
	/* Our stack lives in this process: stay until the peer has read
	 * everything and closed, or the data still queued would die with us. */
	if (ust_shutdown(fd, SHUT_WR) < 0 || ust_recv(fd, b, 1, 0) != 0) {
		perror("tcp_bulk: waiting for the peer's FIN");
		return 1;
	}
	ust_close(fd);
	summary("sent", done, t0);
	return 0;
}

static int do_recv(int port)
{
	static uint8_t b[BUF];
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	uint64_t done = 0;
	int one = 1, lfd, fd;
	ssize_t n;
	double t0;

	lfd = ust_socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || ust_setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    ust_bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || ust_listen(lfd, 1) < 0) {
		perror("tcp_bulk: listen");
		return 1;
	}
	fprintf(stderr, "tcp_bulk: listening on port %d\n", port);
	fd = ust_accept(lfd, NULL, NULL);
	if (fd < 0) {
		perror("tcp_bulk: accept");
		return 1;
	}
	ust_close(lfd);
	t0 = now_s();
	while ((n = ust_recv(fd, b, BUF, 0)) > 0) {
		if (write_all(STDOUT_FILENO, b, (size_t)n) < 0) {
			perror("tcp_bulk: write");
			return 1;
		}
		done += (uint64_t)n;
	}
	if (n < 0) {
		perror("tcp_bulk: recv");
		return 1;
	}
	ust_close(fd);
	summary("received", done, t0);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "gen"))
		return gen(strtoull(argv[2], NULL, 0));
	if (argc == 5 && !strcmp(argv[1], "send"))
		return do_send(argv[2], atoi(argv[3]), argv[4]);
	if (argc == 3 && !strcmp(argv[1], "recv"))
		return do_recv(atoi(argv[2]));
	fprintf(stderr, "usage: tcp_bulk gen BYTES | send HOST PORT BYTES|FILE | recv PORT\n");
	return 2;
}
