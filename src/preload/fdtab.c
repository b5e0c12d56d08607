/* The preload's fd table (placeholder kernel fd -> ustack fd), its start-up
 * and its fork/exec/exit behaviour.
 *
 * Lookups happen on every read/write/poll of every fd the program has, so
 * they take no lock: the tables are arrays of atomics that grow by copy and
 * publish; an outgrown array is left allocated (a reader may still be in
 * it), which costs at most the size of the final one.
 *
 * fork: the child has none of the stack's threads; its copies of ustack
 * sockets answer EBADF with a message, and closing them only closes the
 * placeholder. exec: placeholders without FD_CLOEXEC survive as O_PATH fds
 * on this library's file; the new image recognises them at start-up and
 * answers EBADF with a message on their use. */
#include "preload/preload.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "runtime/runtime.h"

__thread int pl_inside;
volatile int pl_forked;
static pid_t pl_pid;

struct arr {
	unsigned cap;
	_Atomic int v[];
};

static pthread_mutex_t tab_mu = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(struct arr *) g_tab;      /* kernel fd -> ustack fd | PL_DEAD | 0 */
static _Atomic(struct arr *) g_holders;  /* ustack fd - base -> placeholders */
static char marker[PATH_MAX];            /* this library's file */
static atomic_int said;

void *pl_dlnext(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);

	if (!p) {
		pl_say("no next definition of %s: %s", name, dlerror());
		abort();  /* nothing can be carried without libc's calls */
	}
	return p;
}

void pl_say(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	n = snprintf(line, sizeof(line), "ustack: ");
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if (write(2, line, (size_t)n) < 0)
		return;
}

/* Grows *a to hold index i. Under tab_mu. */
static struct arr *arr_fit(_Atomic(struct arr *) *a, unsigned i)
{
	struct arr *old = atomic_load(a), *n;
	unsigned cap = old ? old->cap : 256;

	if (old && i < old->cap)
		return old;
	while (cap <= i)
		cap *= 2;
	n = calloc(1, sizeof(*n) + cap * sizeof(n->v[0]));
	if (!n)
		return NULL;
	n->cap = cap;
	for (unsigned k = 0; old && k < old->cap; k++)
		atomic_init(&n->v[k], atomic_load(&old->v[k]));
	atomic_store(a, n);  /* the old array stays: a reader may be in it */
	return n;
}

static int arr_get(_Atomic(struct arr *) *a, int i)
{
	struct arr *t = atomic_load_explicit(a, memory_order_acquire);

	if (!t || i < 0 || (unsigned)i >= t->cap)
		return 0;
	return atomic_load_explicit(&t->v[i], memory_order_relaxed);
}

bool pl_in_child(void)
{
	/* vfork and posix_spawn children run in our memory without the
	 * atfork handler: only the pid tells. */
	return pl_forked || getpid() != pl_pid;
}

unsigned pl_tab_cap(void)
{
	struct arr *t = atomic_load(&g_tab);

	return t ? t->cap : 0;
}

int pl_lookup(int fd)
{
	int v = arr_get(&g_tab, fd);

	if (v == 0)
		return PL_KERNEL;
	if (v == PL_DEAD || pl_forked)
		return PL_DEAD;
	return v;
}

int pl_dead(int fd, const char *call)
{
	if (atomic_fetch_add(&said, 1) < 8)
		pl_say("%s(%d): fd %d was a ustack socket of %s; ustack sockets do not survive %s "
		       "(EBADF)",
		       call, fd, fd, pl_forked ? "the parent process" : "the program that exec'd this one",
		       pl_forked ? "fork" : "exec");
	errno = EBADF;
	return -1;
}

/* Under tab_mu. */
static int set_entry(int kfd, int v)
{
	struct arr *t = arr_fit(&g_tab, (unsigned)kfd);

	if (!t)
		return -1;
	atomic_store(&t->v[kfd], v);
	return 0;
}

static int holders_add(int u, int d)
{
	unsigned i = (unsigned)(u - rt_fd_base());
	struct arr *h = arr_fit(&g_holders, i);

	if (!h)
		return -1;
	return atomic_fetch_add(&h->v[i], d) + d;
}

int pl_install(int u, bool cloexec)
{
	int kfd, err;

	kfd = open(marker, O_PATH | (cloexec ? O_CLOEXEC : 0));
	if (kfd < 0) {
		err = errno;
		pl_say("cannot reserve a kernel fd for a ustack socket (%s: %s)", marker,
		       strerror(err));
		errno = err == ENOENT ? EMFILE : err;
		return -1;
	}
	pthread_mutex_lock(&tab_mu);
	if (set_entry(kfd, u) < 0 || holders_add(u, 1) < 0) {
		pthread_mutex_unlock(&tab_mu);
		close(kfd);
		errno = ENOMEM;
		return -1;
	}
	pthread_mutex_unlock(&tab_mu);
	return kfd;
}

void pl_map_dup(int kfd, int u)
{
	pthread_mutex_lock(&tab_mu);
	if (set_entry(kfd, u) == 0)
		holders_add(u, 1);
	pthread_mutex_unlock(&tab_mu);
}

void pl_forget(int kfd)
{
	int v = arr_get(&g_tab, kfd), left = 1;

	if (!v)
		return;
	pthread_mutex_lock(&tab_mu);
	v = arr_get(&g_tab, kfd);
	if (v)
		set_entry(kfd, 0);
	if (v > 0 && !pl_forked)
		left = holders_add(v, -1);
	pthread_mutex_unlock(&tab_mu);
	if (v > 0 && !pl_forked && left == 0)
		UST(ust_close(v));
}

/* --- start-up --- */

static void atfork_child(void)
{
	pl_forked = 1;
}

/* Placeholders inherited across exec are O_PATH fds on our own file. */
static void scan_inherited(void)
{
	char path[64], target[PATH_MAX];
	struct dirent *d;
	DIR *dir = opendir("/proc/self/fd");
	ssize_t n;
	int fd, me = dir ? dirfd(dir) : -1;

	if (!dir)
		return;
	while ((d = readdir(dir))) {
		if (d->d_name[0] < '0' || d->d_name[0] > '9')
			continue;
		fd = atoi(d->d_name);
		if (fd == me)
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = readlink(path, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (!strcmp(target, marker) && (fcntl(fd, F_GETFL) & O_PATH)) {
			pthread_mutex_lock(&tab_mu);
			set_entry(fd, PL_DEAD);
			pthread_mutex_unlock(&tab_mu);
		}
	}
	closedir(dir);
}

__attribute__((constructor)) static void pl_init(void)
{
	Dl_info info;

	if (!dladdr((void *)pl_init, &info) || !info.dli_fname ||
	    !realpath(info.dli_fname, marker)) {
		snprintf(marker, sizeof(marker), "/dev/null");
	}
	pl_pid = getpid();
	pthread_atfork(NULL, NULL, atfork_child);
	scan_inherited();
}
