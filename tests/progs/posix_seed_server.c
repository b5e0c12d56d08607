/* The seed's server as plain POSIX C: nothing of ustack is linked in; it
 * runs over ustack only through `ustack run` (the preload library). It
 * listens on port 8888, takes one connection, prints what it receives. */
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void)
{
	struct sockaddr_in addr, peer;
	socklen_t plen = sizeof(peer);
	char buf[1024] = { 0 };
	int lfd, cfd;
	ssize_t n;

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0) {
		perror("socket");
		return 1;
	}
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_ANY);
	addr.sin_port = htons(8888);
	if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		perror("bind");
		return 1;
	}
	if (listen(lfd, 5) < 0) {
		perror("listen");
		return 1;
	}
	printf("listening on 8888 (fd %d)\n", lfd);
	fflush(stdout);
	cfd = accept(lfd, (struct sockaddr *)&peer, &plen);
	if (cfd < 0) {
		perror("accept");
		return 1;
	}
	printf("The connection is successful : %d\n", cfd);
	n = recv(cfd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		perror("recv");
	printf("recv: %s\n", buf);
	close(cfd);
	close(lfd);
	return 0;
}
