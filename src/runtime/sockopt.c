/* setsockopt / getsockopt: the SOL_SOCKET options every socket has, with
 * the checks and values of Linux's sk_setsockopt / sk_getsockopt (socket(7)).
 * IPPROTO_TCP, and the SOL_SOCKET options a TCB keeps, are sock_tcp.c's;
 * IPPROTO_IP answers ENOPROTOOPT. */
#include "runtime/sock.h"

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/time.h>

/* Linux's net.core.{r,w}mem_max defaults and SOCK_MIN_{RCV,SND}BUF: the
 * kernel doubles what it is given (for its bookkeeping) and reports that. */
#define RMEM_MAX 212992
#define WMEM_MAX 212992
#define MIN_RCVBUF 2304
#define MIN_SNDBUF 4608

static int clamp_buf(int v, int max, int min)
{
	if (v < 0 || v > max)
		v = max;
	v *= 2;
	return v < min ? min : v;
}

/* socket(7) SO_RCVTIMEO: {0, 0} is no limit; tv_usec outside a second is
 * EDOM; a negative time means "do not wait", kept as 1 us. */
static int get_timeo(const void *optval, socklen_t optlen, uint64_t *us)
{
	struct timeval tv;

	if (optlen < sizeof(tv))
		return EINVAL;
	memcpy(&tv, optval, sizeof(tv));
	if (tv.tv_usec < 0 || tv.tv_usec >= 1000000)
		return EDOM;
	if (tv.tv_sec < 0)
		*us = 1;
	else
		*us = (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
	return 0;
}

static int set_sol_socket(struct rt_sock *s, int name, const void *optval, socklen_t optlen)
{
	struct rt_sock_opts *o;
	struct linger lg;
	int v;

	if (optlen < sizeof(int))
		return EINVAL;
	memcpy(&v, optval, sizeof(v));
	switch (name) {
	case SO_REUSEADDR:
		s->reuseaddr = v != 0;
		return 0;
	case SO_REUSEPORT:
		s->reuseport = v != 0;
		return 0;
	case SO_BROADCAST:
		s->broadcast = v != 0;
		return 0;
	case SO_KEEPALIVE:
		s->keepalive = v != 0;  /* TCP: the TCB's too (rt_tcp_setsockopt) */
		return 0;
	case SO_RCVBUF:
		if (s->type == SOCK_DGRAM)
			s->u.udp->pcb.rcvbuf = (uint32_t)clamp_buf(v, RMEM_MAX, MIN_RCVBUF);
		return 0;
	case SO_SNDBUF:
		/* A stream socket's is the TCB's (rt_tcp_setsockopt). */
		if (s->type == SOCK_DGRAM) {
			if (!(o = rt_sock_opts_get(s)))
				return ENOMEM;
			o->sndbuf = clamp_buf(v, WMEM_MAX, MIN_SNDBUF);
		}
		return 0;
	case SO_LINGER:
		if (optlen < sizeof(lg))
			return EINVAL;
		memcpy(&lg, optval, sizeof(lg));
		if (!(o = rt_sock_opts_get(s)))
			return ENOMEM;
		s->linger_on = lg.l_onoff != 0;
		o->linger_s = lg.l_linger;
		return 0;
	case SO_RCVTIMEO:
	case SO_SNDTIMEO:
		if (!(o = rt_sock_opts_get(s)))
			return ENOMEM;
		return get_timeo(optval, optlen, name == SO_RCVTIMEO ? &o->rcvtimeo_us : &o->sndtimeo_us);
	default:
		return ENOPROTOOPT;
	}
}

int ust_setsockopt(int fd, int level, int name, const void *optval, socklen_t optlen)
{
	struct rt_sock *s = rt_sock_get(fd);
	int err;

	if (!s)
		return -1;
	if ((int)optlen < 0)
		return rt_done(s, EINVAL, 0);
	if (!optval && optlen)
		return rt_done(s, EFAULT, 0);
	err = rt_sock_lock(s);
	if (err)
		return rt_done(s, err, 0);
	switch (level) {
	case SOL_SOCKET:
		err = set_sol_socket(s, name, optval, optlen);
		if (!err && s->type == SOCK_STREAM)
			err = rt_tcp_setsockopt(s, level, name, optval, optlen);
		break;
	case IPPROTO_TCP:
		err = s->type == SOCK_STREAM ? rt_tcp_setsockopt(s, level, name, optval, optlen)
		                             : ENOPROTOOPT;
		break;
	default:
		err = ENOPROTOOPT;
	}
	rt_sock_unlock(s);
	return rt_done(s, err, 0);
}

static void timeo_out(uint64_t us, struct timeval *tv)
{
	tv->tv_sec = (time_t)(us / 1000000u);
	tv->tv_usec = (suseconds_t)(us % 1000000u);
}

/* Fills val/len for one SOL_SOCKET option; ENOPROTOOPT when unknown. */
static int get_sol_socket(struct rt_sock *s, int name, void *val, socklen_t *len)
{
	struct linger lg;
	struct timeval tv;
	int v;

	*len = sizeof(int);
	switch (name) {
	case SO_TYPE: v = s->type; break;
	case SO_DOMAIN: v = AF_INET; break;
	case SO_PROTOCOL: v = s->type == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP; break;
	case SO_ERROR: v = 0; break;  /* UDP keeps no ICMP errors */
	case SO_REUSEADDR: v = s->reuseaddr; break;
	case SO_REUSEPORT: v = s->reuseport; break;
	case SO_BROADCAST: v = s->broadcast; break;
	case SO_KEEPALIVE: v = s->keepalive; break;
	case SO_ACCEPTCONN: v = 0; break;  /* TCP: 1 for a listener */
	case SO_RCVBUF:
		v = s->type == SOCK_DGRAM ? (int)s->u.udp->pcb.rcvbuf : 2 * RMEM_MAX;
		break;
	case SO_SNDBUF: v = s->opt && s->opt->sndbuf ? s->opt->sndbuf : 2 * WMEM_MAX; break;
	case SO_LINGER:
		lg.l_onoff = s->linger_on;
		lg.l_linger = rt_sock_linger_s(s);
		memcpy(val, &lg, sizeof(lg));
		*len = sizeof(lg);
		return 0;
	case SO_RCVTIMEO:
	case SO_SNDTIMEO:
		timeo_out(name == SO_RCVTIMEO ? rt_sock_rcvtimeo(s) : rt_sock_sndtimeo(s), &tv);
		memcpy(val, &tv, sizeof(tv));
		*len = sizeof(tv);
		return 0;
	default:
		return ENOPROTOOPT;
	}
	memcpy(val, &v, sizeof(v));
	return 0;
}

int ust_getsockopt(int fd, int level, int name, void *optval, socklen_t *optlen)
{
	struct rt_sock *s = rt_sock_get(fd);
	union {
		int i;
		struct linger lg;
		struct timeval tv;
		struct tcp_info ti;
	} val;
	socklen_t len = 0;
	int err;

	if (!s)
		return -1;
	if (!optlen)
		return rt_done(s, EFAULT, 0);
	if ((int)*optlen < 0)
		return rt_done(s, EINVAL, 0);
	if (!optval && *optlen)
		return rt_done(s, EFAULT, 0);
	err = rt_sock_lock(s);
	if (err)
		return rt_done(s, err, 0);
	err = ENOPROTOOPT;
	if (s->type == SOCK_STREAM && (level == SOL_SOCKET || level == IPPROTO_TCP))
		err = rt_tcp_getsockopt(s, level, name, &val, &len);
	if (err == ENOPROTOOPT && level == SOL_SOCKET)
		err = get_sol_socket(s, name, &val, &len);
	rt_sock_unlock(s);
	if (!err) {
		/* Linux copies min(*optlen, size) and reports that length. */
		if (*optlen < len)
			len = *optlen;
		memcpy(optval, &val, len);
		*optlen = len;
	}
	return rt_done(s, err, 0);
}
