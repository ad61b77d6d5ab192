/*
 * Conntrack VIPs (VFP_VIP_CONNTRACK): connections the fast path owns from their first
 * packet to their last, with DNAT toward the backend and reverse NAT of the replies.
 *
 * Why only from the first packet: OVS's pipeline runs every IP packet of a network with
 * load balancers through its conntrack (ct(nat) in LbVip); a connection it committed must
 * see all its packets there, or the replies are not un-DNATed and the client talks to a
 * backend address it never called. Neither datapath can read the other's NAT state, so a
 * connection belongs to exactly one of them for its whole life: the fast path takes a TCP
 * connection only when it sees the SYN (the XDP filter hands over SYNs to a VIP listener and, after
 * that, only the two directions of connections published through the context's conn
 * hook); anything else toward a VIP stays with OVS. The replies are un-NATed on the
 * client's node, as OVS does (the backend's node only switches them by MAC).
 *
 * UDP has no first packet to tell: the fast path takes a UDP flow from any datagram it has
 * no live entry for. A flow OVS began goes on to the same backend (both deal by OVS's slot
 * table), and its replies come back through the fast path's reverse key; OVS's entry for it
 * only times out. Both datapaths keep no more state for UDP than the NAT.
 *
 * Fragments. A request too big for one frame on a connection the fast path has (its first
 * fragment's 5-tuple) is the fast path's: DNATed as the connection's other datagrams are, to
 * the same backend; left to OVS, which never saw the flow, it was dealt by the client's
 * address alone (QA-122 F2). The XDP filter hands over its first fragment by the connection's
 * key and the later ones after it (vfp_frag); the classifier rewrites the first as any
 * request and the later ones' destination the same way (frag.h). A request of a 5-tuple it
 * has no connection for is OVS's whole (OVS reassembles and deals it by the client's address,
 * src/pipeline/load-balancer.ts laterFragmentFlows). A
 * reply too big for one frame to a connection the fast path dealt is the fast path's: OVS has
 * no NAT state for it (QA-116 F2: handed to OVS, it reached the client from the backend's
 * address). The XDP filter hands over a first fragment by the connection's reverse key (its
 * ports are there) and the datagram's later fragments by its IP ID after it (bpf vfp_frag);
 * vfp_conn_reverse rewrites the first as any reply and the later ones' source the same way
 * (frag.h). A later fragment the filter saw before its first makes the whole datagram OVS's.
 */
#ifndef VFP_CONN_H
#define VFP_CONN_H

#include <stdint.h>

#include "datapath.h"
#include "parse.h"
#include "tables.h"

/* A rewrite to apply in place once the verdict is final (forward mode only). */
struct vfp_nat {
	uint8_t kind; /* VFP_NAT_* */
	uint8_t mac[6]; /* DNAT: new destination MAC */
	uint16_t port;  /* DNAT: new destination port; REVERSE: new source port */
	uint32_t at;    /* offset of the frame the rewrite applies to (inner frame after decap) */
	uint8_t addr[16];
	struct vfp_pkt pk; /* that frame's parse */
};
#define VFP_NAT_NONE 0
#define VFP_NAT_DNAT 1
#define VFP_NAT_REVERSE 2
#define VFP_NAT_REVERSE_SRC 3 /* a reply's later fragment: its source address only (no L4 header) */
#define VFP_NAT_DNAT_DST 4 /* a request's later fragment: its destination address and MAC only */
#define VFP_NAT_ICMP 5 /* an ICMP error quoting a dealt connection: addr/port the VIP and listener (vfp_conn_reverse) */

/* The L2 decision inside a network (classify.c): LOCAL port or ENCAP toward a VTEP. */
void vfp_l2_lookup(const struct vfp_tables *t, uint32_t network, const uint8_t *dmac, struct vfp_verdict *v,
		   uint64_t *c);

/* A frame f (parsed as p) to a conntrack VIP arriving on in_port: v becomes the L2 verdict
 * toward the chosen backend (or SLOW), nat the DNAT to apply. A first fragment only of a
 * connection the fast path has (remembered for its later fragments, frag.h). */
void vfp_conn_forward(struct vfp_ctx *ctx, const struct vfp_tables *t, const struct vfp_vip *vip, const uint8_t *f,
		      const struct vfp_pkt *p, uint32_t in_port, uint32_t network, struct vfp_verdict *v, uint64_t *c,
		      struct vfp_nat *nat);

/* 1 when p (parsed from f, a later fragment from a VM port of `network`) belongs to a request
 * whose first fragment vfp_conn_forward DNATed: v is the L2 verdict toward that backend and
 * nat its destination rewrite. */
int vfp_conn_frag_forward(struct vfp_ctx *ctx, const struct vfp_tables *t, uint32_t network, const uint8_t *f,
			  const struct vfp_pkt *p, struct vfp_verdict *v, uint64_t *c, struct vfp_nat *nat);

/* 1 when p (parsed from f, at offset `at` of the buffer, a frame of `network`) is a reply of a
 * connection the fast path owns, or a fragment of one, or an IPv4 ICMP error (destination
 * unreachable, time exceeded) quoting a datagram of one toward its backend: nat is filled.
 * The ICMP error is rewritten as OVS's conntrack does a related one (ct nat): from the VIP
 * when the backend sent it, quoting client -> VIP:listener port, every checksum updated. */
int vfp_conn_reverse(struct vfp_ctx *ctx, uint32_t network, const uint8_t *f, const struct vfp_pkt *p, uint32_t at,
		     uint64_t *c, struct vfp_nat *nat);

/* Drops the conntrack connection whose forward direction p is (client -> a VIP no longer in
 * the tables), with both its XDP keys; nothing when there is none. */
void vfp_conn_forget(struct vfp_ctx *ctx, uint32_t network, const struct vfp_pkt *p, uint64_t *c);

/*
 * Passthrough connections. On a backend's node, a remote client's connection arrives
 * already DNATed (its node dealt it, and un-DNATs the replies there), so OVS's conntrack
 * here has nothing to do for it but track it (ct() without commit in LbVip, no LbNat flow
 * matches a backend address): it only switches it by MAC. The fast path does the same,
 * without NAT, once the XDP filter hands it a connection's first packet off the tunnel
 * toward a local backend's listener (vfp_target keys: TCP SYN, or any UDP datagram): both
 * keys published, the client's at the underlay, the backend's at its NIC. Neither datapath
 * holds state the other needs, so such a connection may move to OVS at any time: eviction
 * and a runner's restart cost nothing (their frames are not held), and a packet of one
 * without an entry is switched all the same (its end is tracked as a dealt connection's).
 * Unlike a conntrack VIP's, whose frames must
 * all meet OVS's NAT state once OVS dealt them.
 *
 * (Measured: with the backend's key withheld, its replies, SYN-ACKs included, reached OVS here,
 * which switched them, and every connection opened; overlay-fastpath-lb then counted them.)
 * Room in the LRU is taken only where it costs nothing (unused, closed, another passthrough
 * connection): a connection or flow this node dealt is never cut for one. A UDP datagram from
 * a backend's listener (vfp_target's MAC-less keys in the XDP filter) is not taken: it may be
 * the reply to a flow this node's OVS dealt (a backend querying its own VIP from its listening
 * port), which OVS must un-DNAT.
 *
 * A frame decapsulated for local port `port` (LOCAL, a VFP_PORT_CONNTRACK port) in `network`
 * (VNI `vni`; f: the inner frame) that is no reply the fast path un-DNATs: opens a passthrough
 * connection from its first packet, when the tables send the client's MAC toward a VTEP. 1
 * when it belongs to one (nothing to rewrite either way).
 */
int vfp_conn_passthrough(struct vfp_ctx *ctx, const struct vfp_tables *t, uint32_t network, uint32_t vni,
			 const uint8_t *f, const struct vfp_pkt *p, uint32_t port, uint64_t *c);

/* A local backend's TCP segment toward its client (switched as it is): the end of its
 * passthrough connection is tracked as a dealt one's (FINs both ways, or a RST), so that its
 * room is reused first and a restart does not take it over. */
void vfp_conn_pass_reply(struct vfp_ctx *ctx, uint32_t network, const struct vfp_pkt *p, uint64_t *c);

/* Drops the passthrough connection one of whose directions p is (reverse: the backend's),
 * with both keys, so its next frames reach OVS: p could not be switched by the tables. */
void vfp_conn_forget_pass(struct vfp_ctx *ctx, uint32_t network, const struct vfp_pkt *p, int reverse, uint64_t *c);

/* Frees an LRU way for reuse; a conntrack entry takes its twin and both XDP keys with it. */
void vfp_conn_evict(struct vfp_ctx *ctx, struct vfp_lru_ent *e, uint64_t *c);

/* Rewrites the frame at base + nat->at (IPv4 and L4 checksums updated incrementally). */
void vfp_nat_apply(uint8_t *base, const struct vfp_nat *nat);

#endif
