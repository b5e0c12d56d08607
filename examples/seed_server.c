/* The seed's server, ported to ustack: listens on port 8888, accepts one
 * connection, prints what it receives, closes. Only the socket calls changed
 * (ust_ prefix); the stack starts from the USTACK_* environment on the first
 * call. Run it with `nc 10.77.0.2 8888` on the kernel side and tcpdump the
 * USTACK_PCAP capture to see the handshake, the data and the teardown.
 *
 * --hold: after closing, keep the process (and so the stack and the
 * TIME-WAIT it holds as the side that closed first) until stdin reaches
 * EOF, so `ustack stat` can show it. The original simply exits. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>

#include <ustack/ustack.h>

int main(int argc, char **argv)
{
	int hold = argc > 1 && !strcmp(argv[1], "--hold");
	char c;

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
	address.sin_port = htons(8888);
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
	struct sockaddr_in client_address;
	socklen_t client_addrlength = sizeof(client_address);
	int connfd = ust_accept(listenfd, (struct sockaddr *)&client_address, &client_addrlength);
	if (connfd < 0) {
		perror("accept");
	}
	printf("The connection is successful : %d\n", connfd);
	fflush(stdout);
	char buf[1024] = {0};
	/* One byte short of the buffer, so what is printed is always a string. */
	ret = ust_recv(connfd, buf, sizeof(buf) - 1, 0);
	if (ret <= 0) {
		perror("recv");
	}
	printf("recv: %s\n", buf);
	fflush(stdout);
	ust_close(connfd);
	ust_close(listenfd);
	while (hold && read(STDIN_FILENO, &c, 1) > 0)
		;
	return 0;
}
