/*
 * Fragments of the replies the fast path un-DNATs (conn.c, frag_reverse). Only a datagram's
 * first fragment has ports, so only it can be matched to its connection; the later ones
 * (same source, destination, protocol and IP ID) must get the very source rewrite it got,
 * or the client's reassembly meets two sources and the datagram is lost (or, none rewritten,
 * arrives from the backend's address, which a connected UDP socket drops: QA-116 F2). The
 * first fragment's rewrite is remembered here for a short time; per classify context (one
 * writer, no locks), 4-way set associative, bounded, no allocation on the packet path.
 */
#ifndef VFP_FRAG_H
#define VFP_FRAG_H

#include <stdint.h>

#define VFP_FRAG_WAYS 4u
#define VFP_FRAG_SETS 256u
/* How long later fragments are expected after their first (monotonic ns). On veth they
 * follow within microseconds; longer than the XDP program's (bpf/xdp_redirect.c,
 * VFP_FRAG_NS), which decides what reaches the socket and stamps a fragment before this
 * context sees it. Short, so a reused IP ID (65,536 datagrams later) never meets it. */
#define VFP_FRAG_TTL_NS 2000000000ull

struct vfp_frag_ent {
	uint64_t until;   /* monotonic ns after which the entry is void; 0: unused */
	uint32_t network;
	uint8_t src[4], dst[4]; /* IPv4, as in the header (the backend's and the client's) */
	uint16_t id;      /* IP ID, as in the header */
	uint8_t proto;
	uint8_t pad;
	uint8_t vip[4];   /* the source the later fragments get */
}; /* 32 bytes */

#endif
