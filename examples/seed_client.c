/* The seed's client, ported to ustack: the question "can a listening socket
 * connect?" It binds port 8889, listens, then calls connect on that same
 * socket. Like Linux, ustack refuses with EISCONN:
 *   connect: Transport endpoint is already connected */
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>

#include <ustack/ustack.h>

int main(void)
{
	/* Initialise the socket. */
	int listenfd = ust_socket(AF_INET, SOCK_STREAM, 0);
	if (listenfd < 0) {
		perror("socket");
		return -1;
	}
	struct sockaddr_in address;
	memset(&address, 0, sizeof(address));
	address.sin_family = AF_INET;
	address.sin_addr.s_addr = htonl(INADDR_ANY);
	address.sin_port = htons(8889);  /* bound to port 8889 */
	int ret = ust_bind(listenfd, (struct sockaddr *)&address, sizeof(address));
	if (ret < 0) {
		perror("bind");
		return -1;
	}
	ret = ust_listen(listenfd, 5);
	if (ret < 0) {
		perror("listen");
		return -1;
	}
	struct sockaddr_in srv_addr;
	memset(&srv_addr, 0, sizeof(srv_addr));
	srv_addr.sin_family = AF_INET;
	srv_addr.sin_addr.s_addr = htonl(INADDR_ANY);
	srv_addr.sin_port = htons(8888);  /* connect to 8888 */
	/* Using the listening socket. */
	if (-1 == ust_connect(listenfd, (struct sockaddr *)&srv_addr, sizeof(srv_addr))) {
		perror("connect");
		return 1;
	} else {
		printf("connect success!\n");
	}
	return 0;
}
