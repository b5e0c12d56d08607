/* A ustack client that exits the moment it has written, for
 * tests/interop/exit_*.sh (issue 8: exit drains).
 *   exit_writer HOST PORT close|open|exit [LINGER_S]
 * connects, copies stdin to the connection, then
 *   close  closes the socket and returns from main at once;
 *   open   returns from main with the connection still open;
 *   exit   closes the socket and calls exit() from a second thread while
 *          the main thread is blocked in ust_accept.
 * LINGER_S given: SO_LINGER {1, LINGER_S} on the socket first (0: RST).
 * EXIT_WRITER_SNDBUF=BYTES sets SO_SNDBUF, so that much can still be queued
 * in ustack when the program exits.
 * Nothing here waits for the peer: delivering what is still queued is the
 * runtime's job at exit. One line on stderr says what was written and when
 * the program handed over to exit. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ustack/ustack.h>

#include "runtime/runtime.h"  /* rt_sock_waiters: wait for the blocked call */

#define BUF (64 * 1024)

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int copy_stdin(int fd, uint64_t *done)
{
	static uint8_t b[BUF];
	ssize_t n;

	while ((n = read(0, b, BUF)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			perror("exit_writer: read stdin");
			return -1;
		}
		for (ssize_t off = 0; off < n;) {
			ssize_t w = ust_send(fd, b + off, (size_t)(n - off), MSG_NOSIGNAL);

			if (w < 0) {
				perror("exit_writer: send");
				return -1;
			}
			off += w;
		}
		*done += (uint64_t)n;
	}
	return 0;
}

static void *exiter(void *arg)
{
	int lfd = *(int *)arg;

	/* Wait until the main thread sleeps in accept, then exit under it. */
	while (rt_sock_waiters(lfd) == 0)
		sched_yield();
	exit(0);
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	const char *mode;
	uint64_t done = 0;
	double t0;
	int fd;

	if (argc < 4 || argc > 5 || inet_pton(AF_INET, argv[1], &a.sin_addr) != 1) {
		fprintf(stderr, "usage: exit_writer HOST PORT close|open|exit [LINGER_S]\n");
		return 2;
	}
	a.sin_port = htons((uint16_t)atoi(argv[2]));
	mode = argv[3];
	fd = ust_socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0) {
		fprintf(stderr, "exit_writer: socket: %s (errno %d)\n", strerror(errno), errno);
		return 3;
	}
	if (getenv("EXIT_WRITER_SNDBUF")) {
		int v = atoi(getenv("EXIT_WRITER_SNDBUF"));

		if (ust_setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v)) < 0) {
			perror("exit_writer: SO_SNDBUF");
			return 1;
		}
	}
	if (argc == 5) {
		struct linger l = { .l_onoff = 1, .l_linger = atoi(argv[4]) };

		if (ust_setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)) < 0) {
			perror("exit_writer: SO_LINGER");
			return 1;
		}
	}
	if (ust_connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("exit_writer: connect");
		return 1;
	}
	t0 = now_s();
	if (copy_stdin(fd, &done) < 0)
		return 1;
	fprintf(stderr, "exit_writer: wrote %llu bytes in %.2f s; %s\n", (unsigned long long)done,
	        now_s() - t0, mode);
	if (!strcmp(mode, "open"))
		return 0;
	if (ust_close(fd) < 0) {
		perror("exit_writer: close");
		return 1;
	}
	if (!strcmp(mode, "exit")) {
		pthread_t t;
		int lfd = ust_socket(AF_INET, SOCK_STREAM, 0);

		if (lfd < 0 || ust_listen(lfd, 1) < 0 || pthread_create(&t, NULL, exiter, &lfd)) {
			perror("exit_writer: exit mode");
			return 1;
		}
		/* Woken with EBADF when exit closes every socket; then it
		 * waits for the process to end (a second exit would race). */
		ust_accept(lfd, NULL, NULL);
		for (;;)
			pause();
	}
	return 0;
}
