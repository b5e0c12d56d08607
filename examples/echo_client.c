/* Checks an echo server: connects, sends BYTES bytes of a known pattern in
 * chunks, reads each chunk back and compares it, then closes and prints one
 * summary line. Usage: echo_client HOST [PORT [BYTES]] (defaults 7777,
 * 1 MB). Exit 0 only when every byte came back unchanged. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ustack/ustack.h>

#define CHUNK 16384

/* Byte i of the pattern: not periodic at any small stride, so a lost,
 * duplicated or reordered segment shows as a mismatch. */
static uint8_t pattern(uint64_t i)
{
	return (uint8_t)((i * 2654435761u) >> 13);
}

static double seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	uint64_t total, done = 0;
	uint8_t out[CHUNK], in[CHUNK];
	double t0;
	int fd;

	if (argc < 2 || inet_pton(AF_INET, argv[1], &a.sin_addr) != 1) {
		fprintf(stderr, "usage: echo_client HOST [PORT [BYTES]]\n");
		return 2;
	}
	a.sin_port = htons((uint16_t)(argc > 2 ? atoi(argv[2]) : 7777));
	total = argc > 3 ? strtoull(argv[3], NULL, 0) : 1u << 20;
	fd = ust_socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || ust_connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("echo_client: connect");
		return 1;
	}
	t0 = seconds();
	while (done < total) {
		size_t n = total - done < CHUNK ? (size_t)(total - done) : CHUNK;

		for (size_t i = 0; i < n; i++)
			out[i] = pattern(done + i);
		if (ust_send(fd, out, n, MSG_NOSIGNAL) != (ssize_t)n) {
			perror("echo_client: send");
			return 1;
		}
		/* MSG_WAITALL: the echo may come back in several segments. */
		if (ust_recv(fd, in, n, MSG_WAITALL) != (ssize_t)n) {
			fprintf(stderr, "echo_client: short echo after %llu bytes\n",
			        (unsigned long long)done);
			return 1;
		}
		if (memcmp(in, out, n) != 0) {
			fprintf(stderr, "echo_client: mismatch in bytes %llu..%llu\n",
			        (unsigned long long)done, (unsigned long long)(done + n - 1));
			return 1;
		}
		done += n;
	}
	ust_shutdown(fd, SHUT_WR);
	if (ust_recv(fd, in, 1, 0) != 0) {
		fprintf(stderr, "echo_client: expected EOF after our FIN\n");
		return 1;
	}
	ust_close(fd);
	printf("echo_client: %llu bytes sent, echoed and matched in %.3f s\n",
	       (unsigned long long)total, seconds() - t0);
	return 0;
}
