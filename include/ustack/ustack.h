/* ustack: a user-space TCP/IP stack with a POSIX socket API.
 * This is the one header an application includes. Every ust_* call has the
 * signature and the errno semantics of the POSIX call of the same name, as
 * Linux implements it: -1 with errno set on failure. */
#ifndef USTACK_USTACK_H
#define USTACK_USTACK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Configuration of the process's stack. Every field mirrors a USTACK_*
 * environment variable; a NULL string or 0 means "take the environment's
 * value, or the default". */
struct ust_config {
	const char *tap;      /* USTACK_TAP, default "ustack0" */
	const char *ip;       /* USTACK_IP, default "10.77.0.2/24" */
	const char *host_ip;  /* USTACK_HOST_IP, default "10.77.0.1/24" */
	const char *gw;       /* USTACK_GW, default: the host IP */
	const char *mac;      /* USTACK_MAC, default: random locally administered */
	unsigned mtu;         /* USTACK_MTU, default 1500 */
	const char *pcap;     /* USTACK_PCAP, capture file; unset: none */
	const char *impair;   /* USTACK_IMPAIR, e.g. "loss=5%,delay=20ms,seed=7" */
};

/* Starts the process's stack: opens the link and starts the stack thread.
 * cfg NULL: everything from the environment. Called implicitly by the first
 * ust_* call of a program that never calls it. 0, or -1 with errno (EINVAL
 * for a bad value, with a message on stderr naming the variable). EALREADY
 * when the stack already runs. */
int ust_init(const struct ust_config *cfg);
/* Stops the stack thread, closes the link (removing a TAP it created). */
void ust_fini(void);

#ifdef __cplusplus
}
#endif

#endif
