/* Many concurrent connections to one ustack port (tcp_many.sh).
 *   tcp_many serve PORT N [WORKERS]   ustack side: accept N connections,
 *       echo one MSGLEN-byte message on each (WORKERS threads, default 8),
 *       keep every connection open until the peer closes it, then close.
 *   tcp_many client HOST PORT N       kernel side: open N connections, all
 *       held at once, send each a unique message, check every echo; then
 *       print "held N" and wait for a line (or EOF) on stdin before
 *       closing them all, so the script can look at `ustack stat`.
 * Exit 0 only when every connection echoed its own message. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

#include <ustack/ustack.h>

#define MSGLEN 32

static void message(char *m, int i)
{
	char tmp[MSGLEN + 1];
	int n;

	/* Unique per connection, padded to MSGLEN with dots. */
	n = snprintf(tmp, sizeof(tmp), "conn %06d %08x ", i, (unsigned)i * 2654435761u);
	memset(m, '.', MSGLEN);
	memcpy(m, tmp, (size_t)n < MSGLEN ? (size_t)n : MSGLEN);
}

/* --- ustack server --- */

struct server {
	pthread_mutex_t lock;
	pthread_cond_t more;
	int *fds;          /* accepted, in order */
	int accepted;      /* fds[0..accepted) are valid */
	int taken;         /* handed to a worker */
	int n;
	int echoed, failed;
};

static void *worker(void *arg)
{
	struct server *s = arg;
	char m[MSGLEN];
	int fd, ok;

	for (;;) {
		pthread_mutex_lock(&s->lock);
		while (s->taken == s->accepted && s->taken < s->n)
			pthread_cond_wait(&s->more, &s->lock);
		if (s->taken == s->n) {
			pthread_mutex_unlock(&s->lock);
			return NULL;
		}
		fd = s->fds[s->taken++];
		pthread_mutex_unlock(&s->lock);
		ok = ust_recv(fd, m, MSGLEN, MSG_WAITALL) == MSGLEN &&
		     ust_send(fd, m, MSGLEN, MSG_NOSIGNAL) == MSGLEN;
		pthread_mutex_lock(&s->lock);
		if (ok)
			s->echoed++;
		else
			s->failed++;
		pthread_mutex_unlock(&s->lock);
	}
}

static int serve(int port, int n, int nworkers)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct server s = { .n = n };
	pthread_t *w = calloc((size_t)nworkers, sizeof(*w));
	int one = 1, lfd, closed = 0;
	char b;

	s.fds = calloc((size_t)n, sizeof(int));
	pthread_mutex_init(&s.lock, NULL);
	pthread_cond_init(&s.more, NULL);
	lfd = ust_socket(AF_INET, SOCK_STREAM, 0);
	if (!w || !s.fds || lfd < 0 ||
	    ust_setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    ust_bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || ust_listen(lfd, 4096) < 0) {
		perror("tcp_many: listen");
		return 1;
	}
	fprintf(stderr, "tcp_many: listening on port %d\n", port);
	for (int i = 0; i < nworkers; i++)
		pthread_create(&w[i], NULL, worker, &s);
	for (int i = 0; i < n; i++) {
		int fd = ust_accept(lfd, NULL, NULL);

		if (fd < 0) {
			perror("tcp_many: accept");
			return 1;
		}
		pthread_mutex_lock(&s.lock);
		s.fds[s.accepted++] = fd;
		pthread_cond_signal(&s.more);
		pthread_mutex_unlock(&s.lock);
	}
	for (int i = 0; i < nworkers; i++)
		pthread_join(w[i], NULL);
	/* Every connection stays open until the client closes it. */
	for (int i = 0; i < n; i++) {
		closed += ust_recv(s.fds[i], &b, 1, 0) == 0;
		ust_close(s.fds[i]);
	}
	ust_close(lfd);
	free(s.fds);
	free(w);
	printf("tcp_many: served %d connections: %d echoed, %d failed, %d closed by the peer\n",
	       n, s.echoed, s.failed, closed);
	return s.echoed == n && closed == n ? 0 : 1;
}

/* --- kernel client --- */

static int client(const char *host, int port, int n)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct rlimit rl = { (rlim_t)n + 64, (rlim_t)n + 64 };
	struct timeval tv = { .tv_sec = 20 };
	int *fds = calloc((size_t)n, sizeof(int));
	char m[MSGLEN], r[MSGLEN], line[16];
	int good = 0, bad = 0;

	if (!fds || inet_pton(AF_INET, host, &a.sin_addr) != 1)
		return 2;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		perror("tcp_many: setrlimit");
		return 1;
	}
	for (int i = 0; i < n; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (fds[i] < 0 || setsockopt(fds[i], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
		    setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
		    connect(fds[i], (struct sockaddr *)&a, sizeof(a)) < 0) {
			fprintf(stderr, "tcp_many: connection %d: %s\n", i, strerror(errno));
			return 1;
		}
	}
	printf("connected %d\n", n);
	fflush(stdout);
	for (int i = 0; i < n; i++) {
		message(m, i);
		if (send(fds[i], m, MSGLEN, MSG_NOSIGNAL) != MSGLEN) {
			fprintf(stderr, "tcp_many: send %d: %s\n", i, strerror(errno));
			return 1;
		}
	}
	for (int i = 0; i < n; i++) {
		message(m, i);
		if (recv(fds[i], r, MSGLEN, MSG_WAITALL) == MSGLEN && !memcmp(m, r, MSGLEN))
			good++;
		else if (bad++ < 10)
			fprintf(stderr, "tcp_many: connection %d: wrong or missing echo\n", i);
	}
	printf("held %d echoed %d\n", n, good);
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		line[0] = 0;
	for (int i = 0; i < n; i++)
		close(fds[i]);
	free(fds);
	printf("closed %d\n", n);
	return good == n ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && !strcmp(argv[1], "serve"))
		return serve(atoi(argv[2]), atoi(argv[3]), argc > 4 ? atoi(argv[4]) : 8);
	if (argc == 5 && !strcmp(argv[1], "client"))
		return client(argv[2], atoi(argv[3]), atoi(argv[4]));
	fprintf(stderr, "usage: tcp_many serve PORT N [WORKERS] | client HOST PORT N\n");
	return 2;
}
