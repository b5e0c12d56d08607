#include "core/pkt.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int pkt_pool_init(struct pkt_pool *pool, uint32_t count)
{
	memset(pool, 0, sizeof(*pool));
	pool->slab = calloc(count, sizeof(struct pkt));
	if (!pool->slab)
		return -ENOMEM;
	pool->size = count;
	for (uint32_t i = count; i-- > 0;) {
		struct pkt *p = &pool->slab[i];
		p->pool = pool;
		p->next = pool->free;
		pool->free = p;
	}
	pool->nfree = count;
	return 0;
}

void pkt_pool_fini(struct pkt_pool *pool)
{
	free(pool->slab);
	memset(pool, 0, sizeof(*pool));
}

struct pkt *pkt_alloc(struct pkt_pool *pool)
{
	struct pkt *p = pool->free;
	if (!p)
		return NULL;
	pool->free = p->next;
	pool->nfree--;
	p->next = NULL;
	p->data = p->buf + PKT_HEADROOM;
	p->len = 0;
	p->meta = 0;
	p->ts = 0;
	p->flags = 0;
	return p;
}

void pkt_free(struct pkt *p)
{
	if (!p)
		return;
	p->next = p->pool->free;
	p->pool->free = p;
	p->pool->nfree++;
}

void pkt_free_chain(struct pkt *p)
{
	while (p) {
		struct pkt *n = p->next;
		pkt_free(p);
		p = n;
	}
}

struct pkt *pkt_clone(struct pkt_pool *pool, const struct pkt *p)
{
	struct pkt *c = pkt_alloc(pool);
	if (!c)
		return NULL;
	c->data = c->buf + pkt_headroom(p);
	c->len = p->len;
	c->meta = p->meta;
	c->ts = p->ts;
	c->flags = p->flags;
	memcpy(c->data, p->data, p->len);
	return c;
}
