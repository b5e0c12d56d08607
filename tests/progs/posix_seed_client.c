/* The seed's client as plain POSIX C (no ustack linked in): it makes a
 * listening socket on 8889 and calls connect() on it, which POSIX refuses:
 * "connect: Transport endpoint is already connected" (EISCONN). */
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

int main(void)
{
	struct sockaddr_in addr, srv;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0) {
		perror("socket");
		return 1;
	}
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_ANY);
	addr.sin_port = htons(8889);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		perror("bind");
		return 1;
	}
	if (listen(fd, 5) < 0) {
		perror("listen");
		return 1;
	}
	memset(&srv, 0, sizeof(srv));
	srv.sin_family = AF_INET;
	srv.sin_addr.s_addr = htonl(INADDR_ANY);
	srv.sin_port = htons(8888);
	if (connect(fd, (struct sockaddr *)&srv, sizeof(srv)) < 0) {
		perror("connect");
		return 1;
	}
	printf("connect success!\n");
	return 0;
}
