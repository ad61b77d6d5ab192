/*
 * Fragments of the datagrams the fast path NATs (conn.c). Only a datagram's first fragment has
 * ports, so only it can be matched to its connection; the later ones (same source,
 * destination, protocol and IP ID) must get the very rewrite it got, or the receiver's
 * reassembly meets two sources (or destinations) and the datagram is lost.
 *
 * Replies (frag_reverse): a backend's reply to a connection the fast path dealt gets the VIP as
 * its source; none rewritten, it arrives from the backend's address, which a connected UDP
 * socket drops (QA-116 F2).
 *
 * Requests (frag_forward): a client's fragmented datagram on a connection the fast path already
 * has (its first fragment's 5-tuple) is DNATed to that connection's backend like any of its
 * datagrams, the later fragments' destination address and MAC with it. Left to OVS, which never
 * saw the flow and deals fragments by the client's address alone (multipath on nw_src), the
 * 5-tuple's datagrams could reach two backends (QA-122 F2: 10-13 of 20 source ports).
 *
 * The first fragment's rewrite is remembered here for a short time; per classify context (one
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
	uint8_t src[4], dst[4]; /* IPv4, as in the header (a reply's: the backend's and the client's;
				 * a request's: the client's and the VIP) */
	uint16_t id;      /* IP ID, as in the header */
	uint8_t proto;
	uint8_t dnat;     /* VFP_FRAG_REPLY or VFP_FRAG_REQUEST */
	uint8_t addr[4];  /* a reply's: the source the later fragments get (the VIP); a request's:
			   * their destination (the backend) */
	uint8_t mac[6];   /* a request's: the backend's MAC (their destination MAC, and where they go) */
	uint8_t pad[2];
}; /* 40 bytes */

#define VFP_FRAG_REPLY 0
#define VFP_FRAG_REQUEST 1

#endif
