/* Packet buffers: fixed-size, from a per-stack pool, with headroom so each
 * layer prepends its header without copying. Not thread-safe: a pool belongs
 * to the thread that drives its stack. */
#ifndef USTACK_CORE_PKT_H
#define USTACK_CORE_PKT_H

#include <stddef.h>
#include <stdint.h>

#define PKT_HEADROOM 128u  /* room for eth + ip + tcp headers with options */
#define PKT_DATA_MAX 2048u /* frame bytes after the headroom: MTU 1500 + eth fits */

struct pkt_pool;

/* Hints a link gives the core about a received frame (pkt.flags); a
 * wrapper that changes frames (impairment) clears what no longer holds.
 * PKT_F_CSUM_OK: the TCP checksum needs no check (the field may hold only
 * the pseudo-header sum): the bytes never left this host's memory and the
 * kernel left the checksum to fill (offload), or it said it checked it
 * (VIRTIO_NET_HDR_F_DATA_VALID). */
#define PKT_F_CSUM_OK 0x1u
/* More segments of the same TSO/GRO frame follow in order: the receiver
 * may hold its ACK for the frame's last segment, as Linux ACKs one GRO
 * packet, not each of the segments in it. */
#define PKT_F_SEG_MORE 0x2u
/* A frame the core sends: its TCP checksum field holds only the
 * pseudo-header sum, for the link to complete (stk_config.tx_csum_offload;
 * the TAP hands it to the kernel as VIRTIO_NET_HDR_F_NEEDS_CSUM). */
#define PKT_F_CSUM_PARTIAL 0x4u

struct pkt {
	struct pkt *next;      /* queue link: tx queue, ARP pending, socket rx */
	struct pkt_pool *pool; /* the pool it returns to */
	uint8_t *data;         /* first valid byte */
	uint32_t len;          /* valid bytes from data */
	uint32_t meta;         /* free for the current owner (e.g. a next-hop IP) */
	uint64_t ts;           /* free for the current owner (e.g. release time) */
	uint32_t flags;        /* PKT_F_*: what the link vouches for; 0 from pkt_alloc */
	uint8_t buf[PKT_HEADROOM + PKT_DATA_MAX];
};

struct pkt_pool {
	struct pkt *slab;
	struct pkt *free;
	uint32_t size;
	uint32_t nfree;
};

int pkt_pool_init(struct pkt_pool *pool, uint32_t count); /* 0 or -ENOMEM */
void pkt_pool_fini(struct pkt_pool *pool);
struct pkt *pkt_alloc(struct pkt_pool *pool);             /* NULL when empty */
void pkt_free(struct pkt *p);                             /* NULL is a no-op */
void pkt_free_chain(struct pkt *p);                       /* frees along ->next */
/* A new buffer holding a copy of p's bytes (same headroom layout), or NULL. */
struct pkt *pkt_clone(struct pkt_pool *pool, const struct pkt *p);

static inline size_t pkt_headroom(const struct pkt *p)
{
	return (size_t)(p->data - p->buf);
}

static inline size_t pkt_tailroom(const struct pkt *p)
{
	return sizeof(p->buf) - pkt_headroom(p) - p->len;
}

/* Prepend n bytes; NULL when the headroom is too small. */
static inline uint8_t *pkt_push(struct pkt *p, size_t n)
{
	if (pkt_headroom(p) < n)
		return NULL;
	p->data -= n;
	p->len += (uint32_t)n;
	return p->data;
}

/* Strip n bytes from the front; NULL when fewer than n are there. */
static inline uint8_t *pkt_pull(struct pkt *p, size_t n)
{
	if (p->len < n)
		return NULL;
	p->data += n;
	p->len -= (uint32_t)n;
	return p->data;
}

/* Append n bytes; returns where they go, NULL when the tailroom is too small. */
static inline uint8_t *pkt_put(struct pkt *p, size_t n)
{
	uint8_t *t;
	if (pkt_tailroom(p) < n)
		return NULL;
	t = p->data + p->len;
	p->len += (uint32_t)n;
	return t;
}

/* Drop bytes at the end so that len becomes n (n <= len). */
static inline void pkt_trim(struct pkt *p, size_t n)
{
	if (n < p->len)
		p->len = (uint32_t)n;
}

/* A FIFO of packets linked through ->next. */
struct pkt_queue {
	struct pkt *head, *tail;
	uint32_t count;
};

static inline void pktq_push(struct pkt_queue *q, struct pkt *p)
{
	p->next = NULL;
	if (q->tail)
		q->tail->next = p;
	else
		q->head = p;
	q->tail = p;
	q->count++;
}

static inline struct pkt *pktq_pop(struct pkt_queue *q)
{
	struct pkt *p = q->head;
	if (!p)
		return NULL;
	q->head = p->next;
	if (!q->head)
		q->tail = NULL;
	q->count--;
	p->next = NULL;
	return p;
}

static inline void pktq_free(struct pkt_queue *q)
{
	pkt_free_chain(q->head);
	q->head = q->tail = NULL;
	q->count = 0;
}

#endif
