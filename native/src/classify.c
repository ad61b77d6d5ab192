/*
 * The batch classifier. Per batch: enter the RCU read side once, load the snapshot
 * once, so every verdict of a batch comes from one table generation. Counters are
 * summed locally and added once per batch.
 *
 * Frames are taken in stages of up to VFP_STAGE (as OVS's dpcls and DPDK's
 * rte_hash_lookup_bulk do): first every frame of the stage is parsed and hashed and the
 * table slots it will read are prefetched, then the VIP candidates' records and LRU sets
 * are prefetched, and only then is each frame decided and acted on, in order. With
 * random flows the dozens of cache misses of a stage are in flight together instead of
 * one after the other. Only reads of the immutable snapshot are hoisted: everything
 * that changes per frame (the LRU, conntrack state, counters) is still touched in frame
 * order by the same code as one frame at a time, so a batch decides exactly as the
 * frames would one by one (test: src/fastpath/batch.spec.ts).
 */
#include <string.h>

#include "conn.h"
#include "datapath.h"
#include "encap.h"
#include "forward.h"
#include "hash.h"
#include "parse.h"

/* What the staged batch computed for a frame before deciding it (all from the snapshot). */
struct hint {
	uint8_t mac_known;   /* mac_h = vfp_mac_hash(port's network, destination MAC) */
	uint8_t vip_known;   /* vip is the VIP lookup's result (NULL: no VIP) */
	uint8_t tuple_known; /* tuple_h = vfp_tuple_hash(frame) */
	uint16_t mac_tag;    /* set by decide: the tag of the MAC entry that decided the frame (0: none) */
	uint32_t mac_h;
	uint64_t mac;        /* destination MAC (when mac_known) */
	uint64_t vip_h, tuple_h;
	const struct vfp_vip *vip;
	/* Lines stage 1 found the frame's lookups will read, asked for together once the whole
	 * stage is parsed (see run); NULL: none. */
	const void *mac_line, *vip_line;
};

struct tally {
	uint64_t c[VFP_C_COUNT];
	uint64_t fast, slow, errors, bytes;
};

static inline void slow(struct vfp_verdict *v, uint8_t reason) { v->kind = VFP_V_SLOW; v->reason = reason; }

/* L2 decision inside a network: local port or remote VTEP; h = vfp_mac_hash(network, mac).
 * The entry's tag names its verdict fields, made when the snapshot was built (tables.h):
 * copied and merged with the entry's val by masks, with no branch on local/remote (random
 * traffic mixes both, and such a branch mispredicted every other frame). v's encap and
 * addr are still zero (every caller starts from a zeroed verdict); its vni may hold the
 * VNI a decapsulated frame came with, which a LOCAL verdict keeps. */
static inline __attribute__((always_inline)) uint32_t l2_lookup_h(const struct vfp_tables *t, uint32_t network, uint64_t mac, uint32_t h,
				   struct vfp_verdict *v, uint64_t *c)
{
	const struct vfp_mac_ent *m = vfp_mac_lookup_h(t, network, mac, h);
	const struct vfp_mac_verdict *mv;
	uint32_t tag;

	if (!m) {
		c[VFP_C_MAC_MISS]++;
		slow(v, VFP_R_MAC_MISS);
		return 0;
	}
	c[VFP_C_MAC_HIT]++;
	tag = (uint32_t)(m->key >> 48);
	if (__builtin_expect(tag == VFP_MAC_SLOW, 0)) {
		slow(v, VFP_R_MAC_MISS);
		return 0;
	}
	mv = &t->mac_verdicts[tag];
	v->kind = mv->tmpl.kind;
	v->encap = mv->tmpl.encap;
	v->port = mv->tmpl.port | (m->val & mv->port_mask);
	v->vni = (m->val & mv->vni_mask) | (v->vni & ~mv->vni_mask);
	memcpy(v->addr + 8, mv->tmpl.addr + 8, 8);
	return tag; /* ENCAP: VFP_MAC_VTEP0 + the VTEP's slot, which is its header template's too */
}

void vfp_l2_lookup(const struct vfp_tables *t, uint32_t network, const uint8_t *dmac, struct vfp_verdict *v,
		   uint64_t *c)
{
	uint64_t mac = vfp_mac48(dmac);
	l2_lookup_h(t, network, mac, vfp_mac_hash(network, mac), v, c);
}

static inline void by_mac(const struct vfp_tables *t, uint32_t network, const uint8_t *dmac, struct vfp_verdict *v,
			  struct tally *ty, struct hint *hn)
{
	if (hn && hn->mac_known)
		hn->mac_tag = (uint16_t)l2_lookup_h(t, network, hn->mac, hn->mac_h, v, ty->c);
	else
		vfp_l2_lookup(t, network, dmac, v, ty->c);
}

static void by_vip(struct vfp_ctx *ctx, const struct vfp_vip *vip, const struct vfp_pkt *p, struct vfp_verdict *v,
		   struct tally *ty, struct hint *hn)
{
	uint64_t h;
	int idx = -1;
	struct vfp_lru_ent *e = NULL, *slot = NULL;
	const struct vfp_backend *be;

	if (p->flags & VFP_PF_FRAG) {
		slow(v, VFP_R_VIP_FRAG);
		return;
	}
	if (!vip->ring) {
		slow(v, VFP_R_VIP_EMPTY);
		return;
	}
	h = hn && hn->tuple_known ? hn->tuple_h : vfp_tuple_hash(p);
	if (ctx->lru.ents) {
		e = vfp_lru_find(&ctx->lru, h, vip->network, p->src, p->dst, p->sport, p->dport, p->proto, &slot);
		if (e) {
			/* The index it had when it was filled, if the backends are the same (the common
			 * case): no lookup of the id in the VIP's id index. */
			idx = e->backend_idx < vip->n_backends && vip->backends[e->backend_idx].id == e->backend_id
				      ? e->backend_idx
				      : vfp_vip_backend_index(vip, e->backend_id);
			/* A backend that left the VIP (or lost its weight) loses its connections. */
			if (idx >= 0 && vip->backends[idx].weight == 0)
				idx = -1;
			ty->c[idx >= 0 ? VFP_C_LRU_HIT : VFP_C_LRU_MISS]++;
		} else {
			ty->c[VFP_C_LRU_MISS]++;
		}
	}
	if (idx < 0) {
		idx = vip->ring[h % VFP_MAGLEV_M];
		if (!e) {
			e = slot;
			if (e)
				vfp_conn_evict(ctx, e, ty->c); /* a conntrack entry takes its XDP keys along */
		}
		if (e) {
			e->network = vip->network;
			memcpy(e->src, p->src, 16);
			memcpy(e->vip, p->dst, 16);
			e->sport = p->sport;
			e->vport = p->dport;
			e->proto = p->proto;
			e->used = 1;
			e->ct = 0;
			e->closing = 0;
			e->stamp = ctx->lru.clock;
			e->backend_id = vip->backends[idx].id;
			e->backend_idx = (uint16_t)idx;
		}
	}
	be = &vip->backends[idx];
	v->kind = VFP_V_VIP;
	v->port = be->id;
	v->l4port = be->port;
	memcpy(v->addr, be->addr, 16);
}

/*
 * Whether an underlay frame is addressed to this VTEP as OVS's tunnel port would take it:
 * IPv4 to this host's MAC and tunnel address (when the tables name them), and a UDP
 * checksum that is absent (ours, OVS's and Linux's default) or right. The XDP filter
 * takes any UDP to the tunnel ports; a frame failing here is dropped, as OVS drops it.
 */
static int tunnel_frame_for_us(const struct vfp_tables *t, const uint8_t *f, const struct vfp_pkt *outer)
{
	/* (Only after vfp_decap_parsed: UDP with its header, no fragment, its length checked
	 * against the IP packet's by the parser, so the sum below stays inside the frame.) */
	static const uint8_t zero_mac[6];
	const uint8_t *udp = f + outer->l4_off;
	uint32_t ulen, sum;

	if (outer->l3 != VFP_L3_IPV4 || outer->n_vlans)
		return 0;
	if (memcmp(t->local_mac, zero_mac, 6) != 0 && memcmp(f, t->local_mac, 6) != 0)
		return 0;
	if (t->local_ip && vfp_rd32(outer->dst + 12) != t->local_ip)
		return 0;
	if (vfp_rd16(udp + 6) == 0)
		return 1;
	ulen = vfp_rd16(udp + 4);
	/* The pseudo-header (addresses, protocol, UDP length), then the datagram: 0xffff if right. */
	sum = vfp_csum_add(0, outer->src + 12, 4);
	sum = vfp_csum_add(sum, outer->dst + 12, 4);
	sum += 17 + ulen;
	sum = vfp_csum_add(sum, udp, ulen);
	return vfp_csum_fold(sum) == 0;
}

/* fresh: the current tables decide (not the previous snapshot's retry, which never changes
 * connection state). */
static void from_underlay(struct vfp_ctx *ctx, const struct vfp_tables *t, const uint8_t *f, uint32_t len,
			  const struct vfp_pkt *outer, struct vfp_verdict *v, struct tally *ty, struct vfp_nat *nat, int fresh)
{
	uint32_t inner_off, vni;
	const struct vfp_vni_ent *ve;
	struct vfp_pkt in;
	int err, encap;

	/* vfp_decap_parsed first: it makes sure of a whole UDP datagram, which the check reads. */
	if ((encap = vfp_decap_parsed(f, len, outer, &inner_off, &vni)) < 0 || !tunnel_frame_for_us(t, f, outer)) {
		slow(v, VFP_R_UNDERLAY);
		return;
	}
	v->vni = vni;
	v->inner_off = (uint16_t)inner_off;
	ve = vfp_vni_lookup(t, vni);
	/* A network's VNI arrives in its own encapsulation only: OVS matches a VNI on its
	 * tunnel port (a GENEVE frame with a VXLAN network's VNI meets no flow there). */
	if (!ve || (ve->encap && ve->encap != (uint16_t)(encap + 1))) {
		ty->c[VFP_C_VNI_MISS]++;
		slow(v, VFP_R_VNI_MISS);
		return;
	}
	ty->c[VFP_C_VNI_HIT]++;
	v->network = ve->network;
	/* The inner frame is parsed too: malformed inner traffic must not reach a VM (sound
	 * addresses with a bad checksum or L4 header go by MAC, as from a local VM). */
	err = vfp_parse(f + inner_off, (uint32_t)outer->l3_off + outer->ip_len - inner_off, &in);
	if (err && !vfp_parse_l3_sound(err)) {
		ty->c[VFP_C_PARSE_ERR]++;
		ty->errors++;
		slow(v, VFP_R_MALFORMED);
		v->err = (uint8_t)err;
		return;
	}
	if (f[inner_off] & 1) {
		slow(v, VFP_R_BCAST);
		return;
	}
	if (in.l3 == VFP_L3_ARP) {
		slow(v, VFP_R_ARP);
		return;
	}
	by_mac(t, ve->network, f + inner_off, v, ty, NULL);
	/* Decapsulated traffic is only ever delivered locally, never re-encapsulated. */
	if (v->kind == VFP_V_ENCAP) {
		v->kind = VFP_V_SLOW;
		v->reason = VFP_R_MAC_MISS;
	}
	/* A backend's reply to a connection this node's fast path dispatched: back to the VIP.
	 * Else, toward a port of a network with load balancers, a remote client's connection to a
	 * local backend (conn.h, passthrough): what else of such a network the filter hands over. */
	if (v->kind == VFP_V_LOCAL) {
		if (!vfp_conn_reverse(ctx, ve->network, f + inner_off, &in, inner_off, ty->c, nat) && fresh && v->port < t->n_ports &&
		    (t->ports[v->port].flags & VFP_PORT_CONNTRACK))
			vfp_conn_passthrough(ctx, t, ve->network, vni, f + inner_off, &in, v->port, ty->c);
	} else if (ctx->ct_entries && fresh) {
		vfp_conn_forget_pass(ctx, ve->network, &in, 0, ty->c);
	}
}

/* Decides a parsed frame (err: vfp_parse's result); hn: lookups the batch did ahead, or NULL.
 * Inlined into the batch loop: it is most of the per-frame work and has many arguments. */
static inline __attribute__((always_inline)) void decide(struct vfp_ctx *ctx, const struct vfp_tables *t, const struct vfp_port_ent *pe, uint32_t in_port,
		   const uint8_t *f, uint32_t len, struct vfp_verdict *v, struct tally *ty, struct vfp_pkt *pp,
		   struct vfp_nat *nat, int vips, int err, struct hint *hn)
{
	memset(v, 0, sizeof(*v));
	if (hn)
		hn->mac_tag = 0;
	nat->kind = VFP_NAT_NONE;
	ty->bytes += len;
	/* A VM's frame whose addresses are sound but whose IP checksum or TCP/UDP header is not
	 * goes by its addresses (never to a VIP: no ports), as OVS switches it; dropped, it was
	 * traffic OVS delivers (a first UDP fragment, before the parser knew them). */
	if (err && !(vfp_parse_l3_sound(err) && pe && !(pe->flags & VFP_PORT_UNDERLAY))) {
		ty->c[VFP_C_PARSE_ERR]++;
		ty->errors++;
		slow(v, VFP_R_MALFORMED);
		v->err = (uint8_t)err;
		return;
	}
	if (!pe) {
		ty->c[VFP_C_PORT_MISS]++;
		slow(v, VFP_R_PORT_MISS);
		return;
	}
	ty->c[VFP_C_PORT_HIT]++;
	if (pe->flags & VFP_PORT_UNDERLAY) {
		from_underlay(ctx, t, f, len, pp, v, ty, nat, vips);
		return;
	}
	v->network = pe->network;
	/* Group bit: broadcast and multicast are flooded by the slow path. (A frame with MAC
	 * hints is unicast: stage_parse looked, and the frame's line need not be read again.) */
	if (!(hn && hn->mac_known) && (f[0] & 1)) {
		slow(v, VFP_R_BCAST);
		return;
	}
	if (pp->l3 == VFP_L3_ARP) {
		slow(v, VFP_R_ARP);
		return;
	}
	if (__builtin_expect(vfp_router_guarded(pp), 0)) {
		slow(v, VFP_R_ROUTER_GUARD);
		return;
	}
	/* A later fragment of a request whose first fragment went to a VIP's backend (a connection
	 * the fast path has): to that backend, its destination rewritten the same way (frag.h).
	 * Only fragments test this: the common lane never gets here. */
	if (__builtin_expect(pp->flags & VFP_PF_LATER_FRAG, 0) && vips && ctx->ct_entries &&
	    vfp_conn_frag_forward(ctx, t, pe->network, f, pp, v, ty->c, nat)) {
		v->network = pe->network;
		return;
	}
	/* With hints, stage_parse already decided whether the frame may be for a VIP. */
	if (hn && hn->mac_known ? hn->vip_known
				: vips && t->n_vips && (pp->proto == 6 || pp->proto == 17) &&
					  (pp->l3 == VFP_L3_IPV4 || pp->l3 == VFP_L3_IPV6)) {
		/* Later fragments carry no ports: no VIP lookup; those of a request the fast path
		 * DNATed went above, the others go by MAC like any other frame (a reply's to a
		 * connection the fast path dealt is rewritten as its first fragment was:
		 * vfp_conn_reverse). A first fragment has ports: a conntrack VIP's connection
		 * takes it (vfp_conn_forward); by_vip sends it to the slow path. */
		const struct vfp_vip *vip;
		if (hn && hn->mac_known)
			vip = hn->vip;
		else
			vip = (pp->flags & VFP_PF_HAS_L4) ? vfp_vip_lookup(t, pe->network, pp->proto, pp->dst, pp->dport) : NULL;
		if (vip) {
			ty->c[VFP_C_VIP_HIT]++;
			if (vip->flags & VFP_VIP_CONNTRACK)
				vfp_conn_forward(ctx, t, vip, f, pp, in_port, pe->network, v, ty->c, nat);
			else
				by_vip(ctx, vip, pp, v, ty, hn);
			v->network = pe->network;
			return;
		}
		ty->c[VFP_C_VIP_MISS]++;
	}
	by_mac(t, pe->network, f, v, ty, hn);
	/* A frame of a connection to a VIP that has left the tables (its load balancer deleted,
	 * or its VIPs handed back to OVS): this one is lost, its keys go, so the next ones (a
	 * retransmission, a new connection on the same 4-tuple) reach OVS. Only on this
	 * otherwise dropped path (the forwarding one pays nothing), and only when the current
	 * tables were asked (not the previous snapshot's L2-only retry). */
	if (vips && v->kind == VFP_V_SLOW && ctx->ct_entries) {
		vfp_conn_forget(ctx, pe->network, pp, ty->c);
		vfp_conn_forget_pass(ctx, pe->network, pp, 1, ty->c); /* a local backend's, toward its client */
	}
	/* A local backend's reply to a connection the fast path dispatched: back to the VIP; else,
	 * toward a remote client, a passthrough connection's (its end is tracked). */
	if (ctx->ct_entries && (v->kind == VFP_V_LOCAL || v->kind == VFP_V_ENCAP) && !vfp_conn_reverse(ctx, pe->network, f, pp, 0, ty->c, nat) &&
	    v->kind == VFP_V_ENCAP && (pe->flags & VFP_PORT_CONNTRACK) && vips)
		vfp_conn_pass_reply(ctx, pe->network, pp, ty->c);
}

static void classify_one(struct vfp_ctx *ctx, const struct vfp_tables *t, const struct vfp_port_ent *pe, uint32_t in_port,
			 const uint8_t *f, uint32_t len, struct vfp_verdict *v, struct tally *ty, struct vfp_pkt *pp,
			 struct vfp_nat *nat, int vips)
{
	decide(ctx, t, pe, in_port, f, len, v, ty, pp, nat, vips, vfp_parse(f, len, pp), NULL);
}

/*
 * Misses go back to the slow path, but a frame the runner holds cannot: AF_XDP has no way
 * to hand it to OVS's port as if it had arrived there. A frame only reaches the runner when
 * the XDP filter's keys say the tables decide it, and the control plane withdraws keys
 * before it commits tables that stop deciding them (node-runner.ts); so a table miss here
 * is a frame taken under the previous snapshot and queued in the rx ring across that
 * commit. It is decided by that snapshot, as it would have been a moment earlier. Only
 * lookups that change with the tables are retried (not parse errors, ARP, broadcast).
 */
static inline int retry_prev(uint8_t reason)
{
	return reason == VFP_R_PORT_MISS || reason == VFP_R_MAC_MISS || reason == VFP_R_VNI_MISS;
}

static int classify_prev(struct vfp_ctx *ctx, const struct vfp_tables *prev, uint32_t in_port, const uint8_t *f,
			  uint32_t len, struct vfp_verdict *v, struct tally *ty, struct vfp_pkt *p, struct vfp_nat *nat)
{
	struct vfp_verdict again;
	struct tally scratch; /* the retry's lookups are not counted twice */
	const struct vfp_port_ent *pe = vfp_port_lookup(prev, in_port);

	memset(&scratch, 0, sizeof(scratch));
	/* L2 only: a VIP decision (and its connection state) is never taken from old tables. */
	classify_one(ctx, prev, pe, in_port, f, len, &again, &scratch, p, nat, 0);
	if (again.kind == VFP_V_SLOW || nat->kind != VFP_NAT_NONE)
		return 0;
	*v = again;
	ty->c[VFP_C_PREV_HIT]++;
	return 1;
}

/* Frames per stage: enough independent misses to fill the core's miss buffers, few
 * enough that the stage's lines are still in L1 when it is decided. */
#define VFP_STAGE 32u
_Static_assert(VFP_STAGE <= 256, "stage 2 lists a stage's VIP frames by 8-bit index");

/* Frames ahead in stage 4 whose headroom (where the outer headers go) is asked for. */
#define VFP_HEADROOM_AHEAD 4u

static inline void prefetch_range(const void *p, uint32_t bytes)
{
	const char *a = (const char *)((uintptr_t)p & ~(uintptr_t)63), *e = (const char *)p + bytes;
	for (; a < e; a += 64)
		vfp_prefetch(a);
}

/* What a batch shares: its snapshot(s), ingress port, buffers, tally. The frame loops are
 * small and keep their own values in registers; the rare paths (general parse, decide)
 * are out of line and take the batch through this. */
struct batch {
	struct vfp_ctx *ctx;
	const struct vfp_tables *t, *prev;
	const struct vfp_port_ent *pe;
	uint32_t in_port;
	uint32_t chunk;
	uint8_t *base;     /* writable whenever act is set (vfp_forward_umem's contract) */
	int act;
	int by_port;       /* frames of a VM port: decided by its network's tables */
	uint64_t drops;
	struct tally ty;
};

/* Stage 1's MAC part for a frame stage_parse found to be unicast from a VM port. */
static inline __attribute__((always_inline)) void hint_mac(const struct vfp_tables *t, const struct vfp_port_ent *pe,
							   const uint8_t *f, struct hint *hn)
{
	hn->mac = vfp_frame_mac48(f);
	hn->mac_h = vfp_mac_hash(pe->network, hn->mac);
	hn->mac_known = 1;
	/* The home line: a lookup starts at its first entry (tables.h). */
	hn->mac_line = vfp_mac_home(t, hn->mac_h);
}

/* A frame stage 1 found nothing to look up ahead for (yet). */
static inline __attribute__((always_inline)) void no_hints(struct hint *hn)
{
	hn->mac_known = hn->vip_known = hn->tuple_known = 0;
	hn->vip = NULL;
	hn->mac_line = hn->vip_line = NULL;
}

/* Stage 1 for a frame the common-frame parser did not take (tags, IPv6, ARP, errors...). */
static __attribute__((noinline)) int stage_parse_general(const struct batch *b, const uint8_t *f, uint32_t len,
							 struct vfp_pkt *p, struct hint *hn)
{
	const struct vfp_tables *t = b->t;
	int err = vfp_parse_general(f, len, p);

	if (err || !b->by_port || (f[0] & 1) || p->l3 == VFP_L3_ARP || vfp_router_guarded(p))
		return err;
	/* Forwarding: the outer UDP source port of an encapsulated frame is this hash
	 * (vfp_entropy_port), computed here while the stage's lookups are in flight. */
	if (b->act && (p->flags & VFP_PF_HAS_L4)) {
		hn->tuple_h = vfp_tuple_hash(p);
		hn->tuple_known = 1;
	}
	hint_mac(t, b->pe, f, hn);
	if (t->n_vips && (p->proto == 6 || p->proto == 17) && (p->l3 == VFP_L3_IPV4 || p->l3 == VFP_L3_IPV6)) {
		hn->vip_known = 1; /* resolved by the next stages; no L4 ports, no VIP (as decide) */
		if (p->flags & VFP_PF_HAS_L4) {
			hn->vip_h = vfp_vip_hash(b->pe->network, p->proto, p->dst, p->dport);
			hn->vip_line = &t->vip_idx[hn->vip_h & t->vip_mask];
			hn->vip = (const struct vfp_vip *)1; /* to resolve */
		}
	}
	return err;
}

/*
 * Stage 1 for one frame: parse it and, when it will be decided by the tables of its VM
 * port (the common case: unicast, not ARP), hash its MAC and VIP keys and prefetch the
 * slots. Anything else (underlay, errors, no port) is decided without hints.
 */
static inline __attribute__((always_inline)) int stage_parse(const struct batch *b, const uint8_t *f, uint32_t len,
							     struct vfp_pkt *p, struct hint *hn, int act)
{
	const struct vfp_tables *t = b->t;

	/* The common frame (untagged IPv4 UDP/TCP with ports, no fragment) inline: what the
	 * general case asks of the parser's result is then known without looking. Each way out
	 * sets every hint field once (no zeroing first, then setting again). */
	if (__builtin_expect(vfp_parse_common(f, len, p) != VFP_P_OK, 0)) {
		no_hints(hn);
		return stage_parse_general(b, f, len, p, hn);
	}
	if (!b->by_port || (f[0] & 1) || __builtin_expect(vfp_router_guarded(p), 0)) {
		no_hints(hn);
		return VFP_P_OK;
	}
	/* (Its tuple hash, the entropy of its outer header, is made in stage 4 once the frame
	 * is known to be encapsulated: a local frame never needs it.) */
	(void)act;
	hn->tuple_known = 0;
	hint_mac(t, b->pe, f, hn);
	if (t->n_vips) {
		hn->vip_known = 1;
		hn->vip_h = vfp_vip_hash(b->pe->network, p->proto, p->dst, p->dport);
		hn->vip_line = &t->vip_idx[hn->vip_h & t->vip_mask];
		hn->vip = (const struct vfp_vip *)1; /* to resolve */
	} else {
		hn->vip_known = 0;
		hn->vip_line = NULL;
		hn->vip = NULL;
	}
	return VFP_P_OK;
}

/*
 * Stage 4 for any frame but the common one: decide (decide() and the previous snapshot),
 * then act, then count. Out of line: the frame loop stays small.
 */
static __attribute__((noinline)) void decide_act(struct batch *b, const uint8_t *f, uint32_t *off, uint32_t *len,
						 struct vfp_verdict *v, struct vfp_pkt *pk, struct hint *hn, int err)
{
	struct vfp_ctx *ctx = b->ctx;
	const struct vfp_tables *t = b->t, *by = t; /* the snapshot that decided this frame */
	struct vfp_nat nat;

	decide(ctx, t, b->pe, b->in_port, f, *len, v, &b->ty, pk, &nat, 1, err, hn);
	if (v->kind == VFP_V_SLOW && b->prev && retry_prev(v->reason) &&
	    classify_prev(ctx, b->prev, b->in_port, f, *len, v, &b->ty, pk, &nat))
		by = b->prev;
	if (b->act && v->kind != VFP_V_SLOW) {
		uint8_t *wb = b->base;
		int r;
		if (nat.kind != VFP_NAT_NONE)
			vfp_nat_apply(wb + *off, &nat);
		/* Encapsulation with the template the deciding MAC entry named and the tuple hash
		 * stage 1 made; anything else in vfp_apply. */
		if (v->kind == VFP_V_ENCAP && by == t && hn->mac_tag >= VFP_MAC_VTEP0 && hn->tuple_known)
			r = vfp_encap_tmpl(&t->vtep_tmpl[hn->mac_tag - VFP_MAC_VTEP0], wb, b->chunk, off, len,
					   vfp_entropy_of(hn->tuple_h), v->vni);
		else if (v->kind == VFP_V_LOCAL && !v->inner_off)
			r = 0; /* switched to a local port as it is: nothing to write */
		else
			r = vfp_apply(by, pk, v, wb, b->chunk, off, len);
		if (r) {
			v->kind = VFP_V_SLOW;
			v->reason = (uint8_t)r;
			b->drops += r == VFP_R_NO_HEADROOM;
		}
	}
	if (v->kind == VFP_V_SLOW)
		b->ty.slow++;
	else
		b->ty.fast++;
}

/*
 * Stage 4 for a frame of a VM port for a VIP with a Maglev ring (not conntrack, not a
 * fragment): what decide and decide_act do for it (by_vip; vfp_apply's rewrite), without
 * their checks for other kinds of frames, which stage 1 settled.
 */
static inline __attribute__((always_inline)) void vip_lane(struct batch *b, const struct vfp_vip *vip, uint32_t *off,
							   uint32_t len, struct vfp_verdict *v, struct vfp_pkt *pk,
							   struct hint *hn)
{
	memset(v, 0, sizeof(*v));
	b->ty.bytes += len;
	b->ty.c[VFP_C_PORT_HIT]++;
	b->ty.c[VFP_C_VIP_HIT]++;
	by_vip(b->ctx, vip, pk, v, &b->ty, hn);
	v->network = b->pe->network;
	if (b->act) {
		int r = vfp_rewrite_vip(pk, v, b->base + *off);
		if (r) {
			v->kind = VFP_V_SLOW;
			v->reason = (uint8_t)r;
			b->ty.slow++;
			return;
		}
	}
	b->ty.fast++;
}

static inline __attribute__((always_inline)) uint32_t run(struct vfp_ctx *ctx, uint32_t in_port, const uint8_t *base,
							  const uint8_t *const frames[], uint32_t chunk, uint32_t offs[],
							  uint32_t lens[], uint32_t n, struct vfp_verdict verdicts[], int act)
{
	struct vfp_pkt pk[VFP_STAGE];
	struct hint hn[VFP_STAGE];
	const uint8_t *fp[VFP_STAGE];
	int errs[VFP_STAGE];
	struct vfp_dp *dp = ctx->dp;
	const struct vfp_tables *t;
	struct batch b;
	uint32_t i, s0, m, j, k, nv;
	uint8_t vj[VFP_STAGE]; /* stage 2's frames with a VIP candidate */
#if defined(__SSE2__)
	__m128i mac_net;
#endif

	memset(&b, 0, sizeof(b));
	b.ctx = ctx;
	b.in_port = in_port;
	b.chunk = chunk;
	b.base = (uint8_t *)(uintptr_t)base;
	b.act = act;
	vfp_rcu_enter(&dp->rcu, ctx->slot);
	t = b.t = __atomic_load_n(&dp->tables, __ATOMIC_SEQ_CST);
	b.prev = __atomic_load_n(&dp->prev, __ATOMIC_SEQ_CST);
	b.pe = vfp_port_lookup(t, in_port);
	b.by_port = b.pe && !(b.pe->flags & VFP_PORT_UNDERLAY);
#if defined(__SSE2__)
	/* The network half of the common lane's MAC compare key, made once per batch. */
	mac_net = vfp_mac_net(b.pe ? b.pe->network : 0);
#endif
	for (s0 = 0; s0 < n; s0 += m) {
		/* The common lane's counts, in registers, added to the tally once per stage. */
		uint64_t lane_n = 0, lane_vip_miss = 0, lane_bytes = 0, lane_slow = 0;
		m = n - s0 < VFP_STAGE ? n - s0 : VFP_STAGE;
		/* 1: parse, hash, prefetch the MAC and VIP index slots. */
		for (j = 0; j < m; j++) {
			i = s0 + j;
			fp[j] = base ? base + offs[i] : frames[i];
			errs[j] = stage_parse(&b, fp[j], lens[i], &pk[j], &hn[j], act);
		}
		/* The stage's table lines, asked for in one tight loop rather than one per parsed
		 * frame: a prefetch that misses the caches holds its place in the reorder buffer
		 * like a load (measured on these machines), so only prefetches close together in
		 * the instruction stream are in flight together. */
		for (j = 0; j < m; j++) {
			if (hn[j].mac_line)
				vfp_prefetch(hn[j].mac_line);
			if (hn[j].vip_line)
				vfp_prefetch(hn[j].vip_line);
		}
		/* 2: VIP index probes (slots now in cache): prefetch the candidate VIP records, and
		 * (the tuple hash needs no record) the context's LRU set the frame will look at. */
		nv = 0;
		for (j = 0; j < m; j++)
			if (hn[j].vip) {
				hn[j].vip = vfp_vip_candidate(t, hn[j].vip_h);
				if (!hn[j].vip)
					continue;
				vj[nv++] = (uint8_t)j;
				prefetch_range(hn[j].vip, sizeof(struct vfp_vip));
				if (!hn[j].tuple_known) {
					hn[j].tuple_h = vfp_tuple_hash(&pk[j]);
					hn[j].tuple_known = 1;
				}
				if (ctx->lru.ents)
					prefetch_range(&ctx->lru.ents[(size_t)(hn[j].tuple_h & ctx->lru.set_mask) * VFP_LRU_WAYS],
						       VFP_LRU_WAYS * sizeof(struct vfp_lru_ent));
			}
		/* 3: confirm the VIPs (records now in cache); for a hit prefetch what by_vip reads
		 * after the LRU: the backends (an affinity entry remembers its backend's index, so
		 * the backend-id index is only read when the backends changed). (The ring is only read for
		 * a new connection: its slot is not worth a miss on every packet.) */
		for (k = 0; k < nv; k++) { /* the frames stage 2 found a candidate for, not all */
			const struct vfp_vip *vip;
			const struct vfp_pkt *p;
			j = vj[k];
			vip = hn[j].vip;
			p = &pk[j];
			/* The candidate stage 2 found is nearly always the VIP (its fingerprint matched):
			 * confirmed in place; the full probe only when it is another VIP's record. */
			if (!(vip->proto == p->proto && vip->port == p->dport && vip->network == b.pe->network &&
			      vfp_load64(vip->addr) == vfp_load64(p->dst) && vfp_load64(vip->addr + 8) == vfp_load64(p->dst + 8)))
				vip = vfp_vip_lookup_h(t, b.pe->network, p->proto, p->dst, p->dport, hn[j].vip_h);
			hn[j].vip = vip;
			if (!vip || (vip->flags & VFP_VIP_CONNTRACK) || (p->flags & VFP_PF_FRAG) || !vip->ring)
				continue;
			prefetch_range(vip->backends, vip->n_backends * sizeof(struct vfp_backend));
		}
		/* 4: decide and act, in frame order. */
		if (act)
			for (j = 0; j < m && j < VFP_HEADROOM_AHEAD; j++)
				vfp_prefetchw(fp[j] - VFP_ENCAP_OVERHEAD);
		for (j = 0; j < m; j++) {
			i = s0 + j;
			/* The headroom a few frames ahead is written soon: asked for now, not in stage 1,
			 * because UMEM chunks are 2 or 4 KiB apart, so every frame's headroom line falls in
			 * the same few L1 sets and a whole stage's worth evicts itself before its turn. */
			if (act && j + VFP_HEADROOM_AHEAD < m)
				vfp_prefetchw(fp[j + VFP_HEADROOM_AHEAD] - VFP_ENCAP_OVERHEAD);
			/* The common case here: a unicast frame of a VM port, not for a VIP, whose MAC
			 * the tables know (decide would come to the same verdict and counts; it takes
			 * the rest, MAC misses included). With conntrack entries in the context, a
			 * frame may be a reply to reverse: decide looks. */
			if (hn[j].mac_known && !hn[j].vip && !ctx->ct_entries) {
#if defined(__SSE2__)
				const struct vfp_mac_ent *me = vfp_mac_lookup_key(t, vfp_mac_key(mac_net, hn[j].mac), hn[j].mac_h);
#else
				const struct vfp_mac_ent *me = vfp_mac_lookup_h(t, b.pe->network, hn[j].mac, hn[j].mac_h);
#endif
				uint32_t tag = me ? (uint32_t)(me->key >> 48) : VFP_MAC_SLOW;
				if (__builtin_expect(tag != VFP_MAC_SLOW, 1)) {
					const struct vfp_mac_verdict *mv = &t->mac_verdicts[tag];
					struct vfp_verdict *v = &verdicts[i];
					uint32_t val = me->val;
					*v = mv->tmpl;
					v->port = mv->tmpl.port | (val & mv->port_mask);
					v->network = b.pe->network;
					v->vni = val & mv->vni_mask;
					lane_n++;
					lane_vip_miss += hn[j].vip_known;
					lane_bytes += lens[i];
					if (act) {
						int r;
						/* A frame of the common kind has ports: its tuple hash is the entropy. */
						if (tag >= VFP_MAC_VTEP0 && (pk[j].flags & VFP_PF_HAS_L4))
							r = vfp_encap_tmpl(&t->vtep_tmpl[tag - VFP_MAC_VTEP0], b.base, chunk, &offs[i], &lens[i],
									   vfp_entropy_of(hn[j].tuple_known ? hn[j].tuple_h : vfp_tuple_hash(&pk[j])),
									   v->vni);
						else if (tag == VFP_MAC_LOCAL)
							r = 0;
						else
							r = vfp_apply(t, &pk[j], v, b.base, chunk, &offs[i], &lens[i]);
						if (r) {
							v->kind = VFP_V_SLOW;
							v->reason = (uint8_t)r;
							b.drops += r == VFP_R_NO_HEADROOM;
							lane_slow++;
							continue;
						}
					}
					continue;
				}
			}
			if (hn[j].mac_known && hn[j].vip) {
				const struct vfp_vip *vip = hn[j].vip;
				if (!(vip->flags & VFP_VIP_CONNTRACK) && !(pk[j].flags & VFP_PF_FRAG) && vip->ring) {
					vip_lane(&b, vip, base ? &offs[i] : NULL, lens[i], &verdicts[i], &pk[j], &hn[j]);
					continue;
				}
			}
			decide_act(&b, fp[j], base ? &offs[i] : NULL, &lens[i], &verdicts[i], &pk[j], &hn[j], errs[j]);
		}
		b.ty.c[VFP_C_PORT_HIT] += lane_n;
		b.ty.c[VFP_C_MAC_HIT] += lane_n;
		b.ty.c[VFP_C_VIP_MISS] += lane_vip_miss;
		b.ty.bytes += lane_bytes;
		b.ty.fast += lane_n - lane_slow;
		b.ty.slow += lane_slow;
	}
	vfp_rcu_exit(&dp->rcu, ctx->slot);

	b.ty.c[VFP_C_BATCHES] = 1;
	b.ty.c[VFP_C_PACKETS] = n;
	for (i = 0; i < VFP_C_COUNT; i++)
		if (b.ty.c[i])
			__atomic_store_n(&ctx->c[i], ctx->c[i] + b.ty.c[i], __ATOMIC_RELAXED);
	if (in_port < VFP_MAX_IFACES) {
		uint64_t *ic = ctx->ic[in_port];
		__atomic_store_n(&ic[VFP_IC_RX], ic[VFP_IC_RX] + n, __ATOMIC_RELAXED);
		__atomic_store_n(&ic[VFP_IC_RX_BYTES], ic[VFP_IC_RX_BYTES] + b.ty.bytes, __ATOMIC_RELAXED);
		__atomic_store_n(&ic[VFP_IC_FAST], ic[VFP_IC_FAST] + b.ty.fast, __ATOMIC_RELAXED);
		__atomic_store_n(&ic[VFP_IC_SLOW], ic[VFP_IC_SLOW] + b.ty.slow, __ATOMIC_RELAXED);
		__atomic_store_n(&ic[VFP_IC_ERRORS], ic[VFP_IC_ERRORS] + b.ty.errors, __ATOMIC_RELAXED);
		__atomic_store_n(&ic[VFP_IC_DROPS], ic[VFP_IC_DROPS] + b.drops, __ATOMIC_RELAXED);
	}
	return (uint32_t)b.ty.fast;
}

void vfp_classify_batch(struct vfp_ctx *ctx, uint32_t in_port, const uint8_t *const frames[],
			const uint32_t lens[], uint32_t n, struct vfp_verdict verdicts[])
{
	run(ctx, in_port, NULL, frames, 0, NULL, (uint32_t *)(uintptr_t)lens, n, verdicts, 0);
}

void vfp_classify_umem(struct vfp_ctx *ctx, uint32_t in_port, const uint8_t *base, const uint32_t offs[],
		       const uint32_t lens[], uint32_t n, struct vfp_verdict verdicts[])
{
	run(ctx, in_port, base, NULL, 0, (uint32_t *)(uintptr_t)offs, (uint32_t *)(uintptr_t)lens, n, verdicts, 0);
}

uint32_t vfp_forward_umem(struct vfp_ctx *ctx, uint32_t in_port, uint8_t *base, uint32_t chunk_size, uint32_t offs[],
			  uint32_t lens[], uint32_t n, struct vfp_verdict verdicts[])
{
	return run(ctx, in_port, base, NULL, chunk_size, offs, lens, n, verdicts, 1);
}
