/* The ustack command: run a stack on a TAP (`up`), ask a running one for
 * its state (`stat`), run an unmodified program over ustack (`run`), list
 * the commands and variables (`help`). */
#include <errno.h>
#include <limits.h>
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
	"  run [--pcap FILE] -- PROGRAM [ARGS...]\n"
	"                              run an unmodified PROGRAM with its AF_INET\n"
	"                              sockets on ustack (LD_PRELOAD of\n"
	"                              libustack-preload.so; --pcap sets USTACK_PCAP)\n"
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
	"                  tx-KEY / rx-KEY for one direction only)\n"
	"  USTACK_EXIT_LINGER  how long a program's exit waits for its connections\n"
	"                  to deliver their data and FIN: \"10\", \"10s\", \"500ms\"\n"
	"                  (default 10s; SO_LINGER overrides it for its socket)\n"
	"  USTACK_TCP      TCP tunables as key=value,... with Linux's sysctl names,\n"
	"                  e.g. \"syncookies=0,time_wait=30s\" (README lists the keys)\n"
	"  USTACK_OFFLOAD  1 (default): TAP checksum and TSO offload; 0: plain frames\n"
	"  USTACK_BUSY_POLL  0 (default), 1 (200 us) or a budget in us: poll the link\n"
	"                  before sleeping (lower latency for CPU time)\n"
	"  USTACK_CPU      pin the stack thread to this CPU\n"
	"  USTACK_EXTRA_IPS  more local addresses: A, A/len or A-B, comma-separated\n"
	"\n"
	"one stack per TAP: a second `up` or program on a TAP that a stack drives\n"
	"fails (EADDRINUSE) and names it; give each its own USTACK_TAP and USTACK_IP.\n";

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
	/* A second signal during the exit drain ends us at once, as it would
	 * any program (the stack's threads block every signal). */
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
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

/* --- `ustack run`: exec PROGRAM with the preload library --- */

#if defined(__SANITIZE_ADDRESS__)
#include <link.h>
/* An ASan build's preload library needs the ASan runtime loaded first. */
static int find_asan(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	if (info->dlpi_name && strstr(info->dlpi_name, "libasan.so")) {
		snprintf(arg, PATH_MAX, "%s", info->dlpi_name);
		return 1;
	}
	return 0;
}
#endif

/* libustack-preload.so beside this binary: BUILD/bin/ustack ->
 * BUILD/lib/libustack-preload.so; USTACK_PRELOAD overrides. */
static int preload_path(char *out, size_t len)
{
	const char *env = getenv("USTACK_PRELOAD");
	char self[PATH_MAX];
	ssize_t n;
	char *slash;

	if (env && *env) {
		snprintf(out, len, "%s", env);
		return 0;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return -1;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (!slash)
		return -1;
	*slash = '\0';
	if ((size_t)snprintf(out, len, "%s/../lib/libustack-preload.so", self) >= len)
		return -1;
	return 0;
}

static int cmd_run(int argc, char **argv)
{
	char lib[PATH_MAX], *pre;
	const char *old = getenv("LD_PRELOAD");
	const char *pcap = NULL;
	size_t plen;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		}
		if (!strcmp(argv[i], "--pcap") && i + 1 < argc)
			pcap = argv[++i];
		else if (!strncmp(argv[i], "--pcap=", 7))
			pcap = argv[i] + 7;
		else if (argv[i][0] == '-')
			return usage(stderr, 2);
		else
			break;
	}
	if (i >= argc)
		return usage(stderr, 2);
	if (preload_path(lib, sizeof(lib)) < 0 || access(lib, R_OK) < 0) {
		fprintf(stderr, "ustack: run: the preload library %s is missing (build it, or set "
		        "USTACK_PRELOAD)\n", lib);
		return 127;
	}
	plen = strlen(lib) + (old ? strlen(old) + 1 : 0) + PATH_MAX + 2;
	pre = malloc(plen);
	if (!pre)
		return 127;
	pre[0] = '\0';
#if defined(__SANITIZE_ADDRESS__)
	{
		char asan[PATH_MAX] = "";

		dl_iterate_phdr(find_asan, asan);
		if (asan[0])
			snprintf(pre, plen, "%s:", asan);
		/* The carried program's own leaks are not ours to report. */
		const char *ao = getenv("ASAN_OPTIONS");
		char opts[1024];

		snprintf(opts, sizeof(opts), "%s%sdetect_leaks=0", ao ? ao : "", ao && *ao ? ":" : "");
		setenv("ASAN_OPTIONS", opts, 1);
	}
#endif
	strcat(pre, lib);
	if (old && *old) {
		strcat(pre, ":");
		strcat(pre, old);
	}
	setenv("LD_PRELOAD", pre, 1);
	if (pcap)
		setenv("USTACK_PCAP", pcap, 1);
	execvp(argv[i], argv + i);
	fprintf(stderr, "ustack: run: %s: %s\n", argv[i], strerror(errno));
	return 127;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage(stderr, 2);
	if (!strcmp(argv[1], "up"))
		return cmd_up(argc - 1, argv + 1);
	if (!strcmp(argv[1], "stat"))
		return cmd_stat(argc - 1, argv + 1);
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return usage(stdout, 0);
	fprintf(stderr, "ustack: unknown command \"%s\"\n", argv[1]);
	return usage(stderr, 2);
}
