/* The preload library (libustack-preload.so): LD_PRELOADed into an
 * unmodified program, it carries the program's AF_INET sockets over ustack
 * and hands every other fd and family to the kernel (the next definition,
 * dlsym(RTLD_NEXT)).
 *
 * fd numbers: the program sees a real, small kernel fd for each ustack
 * socket: a placeholder opened O_PATH on this library's own file. The
 * kernel will not hand that number out again while it is open, it fits
 * FD_SETSIZE and fd-indexed arrays, and any call that reaches the kernel
 * with it (one we do not intercept) fails with EBADF instead of acting on
 * something else. A table maps placeholder -> ustack fd; dup'd placeholders
 * share the ustack socket, which closes with the last of them. */
#ifndef USTACK_PRELOAD_PRELOAD_H
#define USTACK_PRELOAD_PRELOAD_H

#include <dlfcn.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "ustack/ustack.h"

/* The runtime's stream calls (socket.c) not yet in the public header. */
ssize_t ust_sendmsg(int fd, const struct msghdr *msg, int flags);
ssize_t ust_recvmsg(int fd, struct msghdr *msg, int flags);
ssize_t ust_readv(int fd, const struct iovec *iov, int iovcnt);
ssize_t ust_writev(int fd, const struct iovec *iov, int iovcnt);
ssize_t ust_read(int fd, void *buf, size_t count);
ssize_t ust_write(int fd, const void *buf, size_t count);

/* The next definition of a libc function, looked up once. */
#define REAL(name)                                                                       \
	({                                                                               \
		if (!pl_real_##name)                                                     \
			pl_real_##name = (__typeof__(pl_real_##name))pl_dlnext(#name);  \
		pl_real_##name;                                                          \
	})
#define DECLARE_REAL(ret, name, ...) extern ret (*pl_real_##name)(__VA_ARGS__)
#define DEFINE_REAL(ret, name, ...) ret (*pl_real_##name)(__VA_ARGS__)
void *pl_dlnext(const char *name);

/* Nonzero while this thread runs inside ustack: the runtime's own calls
 * (the TAP's ioctl socket, the control socket, the stack thread's ppoll)
 * must reach the kernel, not come back here. */
extern __thread int pl_inside;
#define UST(call)                    \
	({                           \
		__typeof__(call) r_; \
		int e_;              \
		pl_inside++;         \
		r_ = (call);         \
		e_ = errno;          \
		pl_inside--;         \
		errno = e_;          \
		r_;                  \
	})

/* What a kernel fd number is to us. */
#define PL_KERNEL (-1)  /* not ours: the kernel's */
#define PL_DEAD (-2)    /* a placeholder inherited across fork/exec */

/* The ustack fd behind kernel fd `fd`, PL_KERNEL, or PL_DEAD. */
int pl_lookup(int fd);
/* -1/EBADF with a one-line message naming fd (once per process). */
int pl_dead(int fd, const char *call);
/* A placeholder for ustack fd u (cloexec as asked): the kernel fd, or -1. */
int pl_install(int u, bool cloexec);
/* kfd now names the same socket as u (dup): one more holder. */
void pl_map_dup(int kfd, int u);
/* Forgets kfd (already closed or replaced in the kernel); closes the
 * ustack socket when kfd was its last holder. */
void pl_forget(int kfd);
/* Whether this is a child of the process that owns the table: a fork
 * child, or a vfork/posix_spawn child that shares our memory until it
 * execs (and so must not change the table). Costs a getpid. */
bool pl_in_child(void);
/* One past the largest kernel fd the table can name. */
unsigned pl_tab_cap(void);
/* Whether the process is a fork child of the one that made the sockets. */
extern volatile int pl_forked;
/* A one-line message on stderr, prefixed "ustack: ". */
void pl_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
