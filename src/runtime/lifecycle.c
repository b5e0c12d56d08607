/* The process's end and the TAP's owner.
 *
 * Exit drains: ustack lives in the application's process, so the process's
 * end is the stack's end. The kernel keeps delivering what a program wrote
 * after it exits; rt_drain gives a ustack program the same: it closes every
 * socket as the kernel does at exit (FIN, or RST for unread data or
 * SO_LINGER 0) and keeps the stack running until every connection has had
 * its data and FIN acknowledged (FIN_WAIT_2, TIME_WAIT or CLOSED: TIME_WAIT
 * itself is not waited for), or its bound passes: SO_LINGER's time for a
 * socket that set it, USTACK_EXIT_LINGER otherwise. The waiting thread
 * sleeps on rt->drain_cv, which the stack thread broadcasts after each pass
 * while a drain runs: each wake-up is a batch of the core's events.
 *
 * One owner per TAP: a TAP carries one stack. The message that refuses a
 * second one names the process that drives the TAP: found through the
 * control socket (SO_PEERCRED of the process that listens on it), or,
 * without one, through the tun fd that holds the TAP (/proc/PID/fdinfo
 * shows "iff: NAME"). */
#include "runtime/runtime.h"
#include "runtime/sock.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* --- USTACK_EXIT_LINGER --- */

int rt_parse_duration(const char *s, uint64_t *us, const char **why)
{
	uint64_t v = 0, unit = 1000000u;  /* a bare number counts seconds */
	const char *p = s;

	*why = "not a duration (want e.g. 10, 10s or 500ms)";
	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > RT_EXIT_LINGER_MAX_US / 1000u)
			goto big;
	}
	if (!strcmp(p, "ms"))
		unit = 1000u;
	else if (*p && strcmp(p, "s"))
		return -EINVAL;
	if (v * unit > RT_EXIT_LINGER_MAX_US)
		goto big;
	*us = v * unit;
	return 0;
big:
	*why = "longer than a day (86400s)";
	return -EINVAL;
}

/* --- exit drains --- */

struct drain_scan {
	struct ust_stack *stk;
	uint64_t t0, now, linger_us;
	unsigned waiting;   /* unfinished and within their bound */
	unsigned expired;   /* unfinished and past it */
	uint64_t next;      /* the earliest bound still ahead */
};

/* Whether a connection still has data or a FIN the peer has not
 * acknowledged (RFC 9293 3.6: FIN_WAIT_1, CLOSING and LAST_ACK wait for the
 * ACK of our FIN; FIN_WAIT_2 and TIME_WAIT have it), or is still open. */
static bool unfinished(const struct tcb *t)
{
	switch (tcp_state(t)) {
	case TCPS_SYN_RCVD:
	case TCPS_ESTABLISHED:
	case TCPS_CLOSE_WAIT:
	case TCPS_FIN_WAIT_1:
	case TCPS_CLOSING:
	case TCPS_LAST_ACK:
		return true;
	default:
		return tcp_tx_bytes(t) != 0;
	}
}

static void scan_one(void *arg, const struct tcb *t)
{
	struct drain_scan *d = arg;
	uint64_t bound;
	int linger = -1;

	if (!unfinished(t))
		return;
	/* SO_LINGER with a time overrides USTACK_EXIT_LINGER for its socket
	 * (linger 0 reset the connection at close: it is gone already). */
	if (tcp_getopt(d->stk, t, TCP_OPT_LINGER, &linger) < 0)
		linger = -1;
	bound = d->t0 + (linger > 0 ? (uint64_t)linger * 1000000u : d->linger_us);
	if (bound <= d->now) {
		d->expired++;
		return;
	}
	d->waiting++;
	if (bound < d->next)
		d->next = bound;
}

/* Under rt->lock: fills d for the stack's connections now. */
static void scan(struct ust_runtime *rt, struct drain_scan *d)
{
	d->now = rt_now_us();
	d->waiting = d->expired = 0;
	d->next = UINT64_MAX;
	if (rt->stk)
		tcp_foreach(rt->stk, scan_one, d);
}

unsigned rt_drain(struct ust_runtime *rt, uint64_t linger_us)
{
	struct drain_scan d = { .linger_us = linger_us };
	struct timespec ts;

	/* Every socket the program left open is closed as close(2) would:
	 * without SO_LINGER's wait, which the loop below does for all at once. */
	rt_close_all(rt);
	pthread_mutex_lock(&rt->lock);
	d.stk = rt->stk;
	d.t0 = rt_now_us();
	rt->draining++;
	for (scan(rt, &d); d.waiting && rt->stk; scan(rt, &d)) {
		/* The condvar waits on CLOCK_MONOTONIC, the clock of rt_now_us. */
		ts.tv_sec = (time_t)(d.next / 1000000u);
		ts.tv_nsec = (long)(d.next % 1000000u) * 1000;
		pthread_cond_timedwait(&rt->drain_cv, &rt->lock, &ts);
	}
	rt->draining--;
	pthread_mutex_unlock(&rt->lock);
	return d.expired;
}

/* --- one owner per TAP --- */

static void proc_comm(pid_t pid, char *buf, size_t len)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	f = fopen(path, "re");
	if (!f || !fgets(buf, (int)len, f))
		snprintf(buf, len, "?");
	buf[strcspn(buf, "\n")] = '\0';
	if (f)
		fclose(f);
}

void rt_owner_msg(char *eb, size_t el, const char *tap, pid_t pid, const char *how)
{
	char comm[32], who[64];

	if (pid > 0) {
		proc_comm(pid, comm, sizeof(comm));
		snprintf(who, sizeof(who), "pid %d (%s)", (int)pid, comm);
	} else {
		snprintf(who, sizeof(who), "another process");
	}
	snprintf(eb, el,
	         "ustack: TAP %s is driven by %s: a stack already runs on it (%s); one stack "
	         "per TAP: give this program its own USTACK_TAP and USTACK_IP, or make its "
	         "sockets in the program that owns the TAP",
	         tap, who, how);
}

/* Whether /proc/PID/fdinfo/FD describes a tun fd attached to tap. */
static bool fd_drives(int pid, int fd, const char *tap)
{
	char path[96], line[64], want[IFNAMSIZ + 8];
	bool hit = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	if (readlink(path, line, sizeof(line) - 1) != (ssize_t)strlen("/dev/net/tun") ||
	    strncmp(line, "/dev/net/tun", strlen("/dev/net/tun")))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fd);
	snprintf(want, sizeof(want), "iff:\t%s\n", tap);
	f = fopen(path, "re");
	while (f && !hit && fgets(line, sizeof(line), f))
		hit = !strcmp(line, want);
	if (f)
		fclose(f);
	return hit;
}

static bool same_netns(int pid, const struct stat *mine)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	return stat(path, &st) == 0 && st.st_ino == mine->st_ino && st.st_dev == mine->st_dev;
}

bool rt_pid_in_our_netns(pid_t pid)
{
	struct stat mine, theirs;
	char path[64];

	/* Cannot tell: take it as ours, so the caller refuses rather than
	 * shares a TAP. */
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	if (stat("/proc/self/ns/net", &mine) < 0 || stat(path, &theirs) < 0)
		return true;
	return theirs.st_ino == mine.st_ino && theirs.st_dev == mine.st_dev;
}

pid_t rt_tap_holder(const char *tap)
{
	char path[64];
	struct dirent *p, *f;
	struct stat mine;
	DIR *procs, *fds;
	pid_t found = 0, self = getpid();
	int pid;

	/* TAP names are per network namespace: a holder in another one
	 * drives another device of the same name. */
	if (stat("/proc/self/ns/net", &mine) < 0 || !(procs = opendir("/proc")))
		return 0;
	while (!found && (p = readdir(procs))) {
		pid = isdigit((unsigned char)p->d_name[0]) ? atoi(p->d_name) : 0;
		if (pid <= 0 || pid == self || !same_netns(pid, &mine))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd", pid);
		fds = opendir(path);
		while (fds && !found && (f = readdir(fds)))
			if (isdigit((unsigned char)f->d_name[0]) && fd_drives(pid, atoi(f->d_name), tap))
				found = (pid_t)pid;
		if (fds)
			closedir(fds);
	}
	closedir(procs);
	return found;
}
