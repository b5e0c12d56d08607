/* A ustack TCP endpoint driven line by line from stdin, so a test script
 * decides when each call happens (and so which state a connection is in
 * while it looks at `ustack stat`). One reply line per command:
 *   listen PORT        ok | err ERRNO      (listener on INADDR_ANY:PORT)
 *   accept             ok PEER:PORT | err ERRNO   (becomes the connection)
 *   connect IP PORT    ok | err ERRNO      (becomes the connection)
 *   send TEXT          ok N | err ERRNO
 *   recv               data TEXT | eof | err ERRNO
 *   shutdown           ok | err ERRNO      (SHUT_WR)
 *   close              ok | err ERRNO      (the connection)
 *   sendclose A|B|...  ok | err ERRNO      (one send per part, the later
 *                                           ones with MSG_MORE, then close)
 *   close-listener     ok | err ERRNO
 *   quit               (exits; EOF on stdin too)
 * The stack starts at once from the USTACK_* environment ("ready"). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ustack/ustack.h>

static int lfd = -1, cfd = -1;

static void reply_rc(int rc)
{
	if (rc < 0)
		printf("err %s\n", strerrorname_np(errno));
	else
		printf("ok\n");
}

static int cmd_listen(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int one = 1;

	lfd = ust_socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0)
		return -1;
	if (ust_setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		return -1;
	if (ust_bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return -1;
	return ust_listen(lfd, 16);
}

static void cmd_accept(void)
{
	struct sockaddr_in p;
	socklen_t pl = sizeof(p);
	char ip[16];

	cfd = ust_accept(lfd, (struct sockaddr *)&p, &pl);
	if (cfd < 0) {
		reply_rc(-1);
		return;
	}
	inet_ntop(AF_INET, &p.sin_addr, ip, sizeof(ip));
	printf("ok %s:%u\n", ip, ntohs(p.sin_port));
}

static int cmd_connect(const char *ip, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };

	if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
		errno = EINVAL;
		return -1;
	}
	cfd = ust_socket(AF_INET, SOCK_STREAM, 0);
	if (cfd < 0)
		return -1;
	return ust_connect(cfd, (struct sockaddr *)&a, sizeof(a));
}

static void cmd_recv(void)
{
	char b[1024];
	ssize_t n = ust_recv(cfd, b, sizeof(b) - 1, 0);

	if (n < 0) {
		reply_rc(-1);
	} else if (n == 0) {
		printf("eof\n");
	} else {
		b[n] = 0;
		b[strcspn(b, "\n")] = 0;
		printf("data %s\n", b);
	}
}

/* The first part leaves at once; the later ones are sent with MSG_MORE,
 * so the last of them waits for the close and the FIN rides on it
 * whatever the timing of the peer's ACK (without it, the ACK of the first
 * part racing the close decides). */
static int cmd_sendclose(char *parts)
{
	int more = 0;

	for (char *p = strtok(parts, "|"); p; p = strtok(NULL, "|"), more = MSG_MORE)
		if (ust_send(cfd, p, strlen(p), MSG_NOSIGNAL | more) < 0)
			return -1;
	if (ust_close(cfd) < 0)
		return -1;
	cfd = -1;
	return 0;
}

int main(void)
{
	char line[1100], a[64];
	int port;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (ust_init(NULL) < 0 && errno != EALREADY) {
		printf("err %s\n", strerrorname_np(errno));
		return 1;
	}
	printf("ready\n");
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = 0;
		if (sscanf(line, "listen %d", &port) == 1) {
			reply_rc(cmd_listen(port));
		} else if (!strcmp(line, "accept")) {
			cmd_accept();
		} else if (sscanf(line, "connect %63s %d", a, &port) == 2) {
			reply_rc(cmd_connect(a, port));
		} else if (!strncmp(line, "send ", 5)) {
			ssize_t n = ust_send(cfd, line + 5, strlen(line + 5), MSG_NOSIGNAL);

			if (n < 0)
				reply_rc(-1);
			else
				printf("ok %zd\n", n);
		} else if (!strncmp(line, "sendclose ", 10)) {
			reply_rc(cmd_sendclose(line + 10));
		} else if (!strcmp(line, "recv")) {
			cmd_recv();
		} else if (!strcmp(line, "shutdown")) {
			reply_rc(ust_shutdown(cfd, SHUT_WR));
		} else if (!strcmp(line, "close")) {
			reply_rc(ust_close(cfd));
			cfd = -1;
		} else if (!strcmp(line, "close-listener")) {
			reply_rc(ust_close(lfd));
			lfd = -1;
		} else if (!strcmp(line, "quit")) {
			break;
		} else {
			printf("err usage\n");
		}
	}
	return 0;
}
