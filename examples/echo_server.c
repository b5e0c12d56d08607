/* A thread-per-connection echo server over ustack: every byte a client sends
 * comes back to it, until the client closes. Usage: echo_server [PORT]
 * (default 7777). Each connection's thread blocks in ust_recv and ust_send
 * exactly as it would with the kernel's sockets. SIGINT or SIGTERM stops it. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <netinet/in.h>

#include <ustack/ustack.h>

static void *serve(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[16384];
	ssize_t n, off, w;

	while ((n = ust_recv(fd, buf, sizeof(buf), 0)) > 0) {
		for (off = 0; off < n; off += w) {
			w = ust_send(fd, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
			if (w < 0) {
				perror("echo_server: send");
				goto out;
			}
		}
	}
	if (n < 0)
		perror("echo_server: recv");
out:
	ust_close(fd);
	return NULL;
}

static void *acceptor(void *arg)
{
	int lfd = (int)(intptr_t)arg, fd;
	pthread_attr_t attr;
	pthread_t t;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 64 * 1024);  /* 16 KB buffer + a little */
	for (;;) {
		fd = ust_accept(lfd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EBADF)  /* EBADF: the stack is stopping */
				perror("echo_server: accept");
			return NULL;
		}
		if (pthread_create(&t, &attr, serve, (void *)(intptr_t)fd) != 0) {
			fprintf(stderr, "echo_server: no thread for a connection, closing it\n");
			ust_close(fd);
		}
	}
}

int main(int argc, char **argv)
{
	int port = argc > 1 ? atoi(argv[1]) : 7777;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int one = 1, lfd, sig;
	sigset_t stop;
	pthread_t t;

	/* SIGINT/SIGTERM end the program through exit(), so the stack stops
	 * cleanly (ust_fini from atexit: the TAP and control socket go away).
	 * Blocked before any thread starts, so only sigwait sees them. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	lfd = ust_socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || ust_setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    ust_bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || ust_listen(lfd, 128) < 0) {
		perror("echo_server");
		return 1;
	}
	printf("echo_server: listening on port %d\n", port);
	fflush(stdout);
	if (pthread_create(&t, NULL, acceptor, (void *)(intptr_t)lfd) != 0) {
		fprintf(stderr, "echo_server: cannot start the accept thread\n");
		return 1;
	}
	sigwait(&stop, &sig);
	printf("echo_server: stopping (%s)\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
	return 0;
}
