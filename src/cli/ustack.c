/* The ustack command: run a stack on a TAP (`up`), ask a running one for
 * its state (`stat`), list the commands and variables (`help`). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "runtime/runtime.h"
#include "ustack/ustack.h"

static const char usage_text[] =
	"usage: ustack COMMAND [ARGS]\n"
	"\n"
	"commands:\n"
	"  up                          run a stack on a TAP until SIGINT/SIGTERM\n"
	"  stat [--verbose] [--tap NAME]\n"
	"                              show the state of the stack on TAP NAME\n"
	"                              (--verbose: every counter, zero or not)\n"
	"  help                        this text\n"
	"\n"
	"environment (read by `up` and by programs using libustack):\n"
	"  USTACK_TAP      TAP device name (default ustack0)\n"
	"  USTACK_IP       the stack's address/prefix (default 10.77.0.2/24)\n"
	"  USTACK_HOST_IP  the kernel side of the TAP, address/prefix (default 10.77.0.1/24)\n"
	"  USTACK_GW       default gateway, or \"none\" (default: the host IP)\n"
	"  USTACK_MAC      the stack's MAC (default: random, locally administered)\n"
	"  USTACK_MTU      IP MTU of the link (default 1500)\n"
	"  USTACK_PCAP     write every frame to this pcap file (default: none)\n"
	"  USTACK_IMPAIR   impairment, e.g. \"loss=5%,delay=20ms,reorder=5%,seed=7\"\n"
	"                  (keys: loss dup reorder corrupt delay jitter rate seed;\n"
	"                  tx-KEY / rx-KEY for one direction only)\n";

static int usage(FILE *f, int rc)
{
	fputs(usage_text, f);
	return rc;
}

static void fmt_ip(char *b, size_t n, uint32_t ip)
{
	snprintf(b, n, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
}

static int cmd_up(int argc, char **argv)
{
	struct ust_runtime *rt;
	const struct rt_config *c;
	char ip[16], host[16];
	sigset_t set;
	int sig;

	(void)argv;
	if (argc > 1)
		return usage(stderr, 2);
	/* Blocked before any thread starts, so every thread inherits the mask
	 * and the signals reach sigwait below. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	/* ust_init prints its own one-line reason on every failure. */
	if (ust_init(NULL) < 0)
		return 1;
	rt = rt_global_get();
	if (!rt) {
		fprintf(stderr, "ustack: up: %s\n", strerror(errno));
		return 1;
	}
	c = &rt->cfg;
	fmt_ip(ip, sizeof(ip), c->stk.ip);
	fmt_ip(host, sizeof(host), c->host_ip);
	printf("ustack: up on TAP %s, %s/%u, mac %02x:%02x:%02x:%02x:%02x:%02x, host %s\n", c->tap,
	       ip, c->prefix, c->stk.mac[0], c->stk.mac[1], c->stk.mac[2], c->stk.mac[3],
	       c->stk.mac[4], c->stk.mac[5], host);
	fflush(stdout);
	rt_put(rt);
	do {
		if (sigwait(&set, &sig) != 0)
			break;
	} while (sig != SIGINT && sig != SIGTERM);
	ust_fini();
	return 0;
}

static int cmd_stat(int argc, char **argv)
{
	const char *tap = getenv("USTACK_TAP");
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	bool verbose = false;
	const char *req;
	char buf[4096];
	ssize_t n;
	int fd;

	if (!tap || !*tap)
		tap = "ustack0";
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--verbose") || !strcmp(argv[i], "-v"))
			verbose = true;
		else if (!strcmp(argv[i], "--tap") && i + 1 < argc)
			tap = argv[++i];
		else
			return usage(stderr, 2);
	}
	if ((size_t)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s.sock", RT_CTL_DIR, tap) >=
	    sizeof(sun.sun_path)) {
		fprintf(stderr, "ustack: stat: TAP name \"%s\" too long\n", tap);
		return 1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "ustack: stat: socket: %s\n", strerror(errno));
		return 1;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		fprintf(stderr, "ustack: no stack runs on TAP %s (%s: %s)\n", tap, sun.sun_path,
		        strerror(errno));
		close(fd);
		return 1;
	}
	req = verbose ? "stat verbose\n" : "stat\n";
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0) {
		fprintf(stderr, "ustack: stat: %s\n", strerror(errno));
		close(fd);
		return 1;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)n, stdout);
	close(fd);
	if (n < 0) {
		fprintf(stderr, "ustack: stat: %s\n", strerror(errno));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage(stderr, 2);
	if (!strcmp(argv[1], "up"))
		return cmd_up(argc - 1, argv + 1);
	if (!strcmp(argv[1], "stat"))
		return cmd_stat(argc - 1, argv + 1);
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return usage(stdout, 0);
	fprintf(stderr, "ustack: unknown command \"%s\"\n", argv[1]);
	return usage(stderr, 2);
}
