/* Internal to src/link: how one wrapper finds another under it. */
#ifndef USTACK_LINK_WRAP_H
#define USTACK_LINK_WRAP_H

#include "link/link.h"

/* The link a pcap tee wraps, or NULL when l is not a pcap tee. */
struct link *link_pcap_inner(struct link *l);

#endif
