/* Conntrack VIPs; see conn.h for why a connection belongs to one datapath for its life. */
#include "conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <time.h>

#include "encap.h"
#include "hash.h"
#include "ovs_hash.h"
#include "rcu.h"

/* The binding decodes it by offset (src/fastpath/fastpath.ts, Classifier.connCounts). */
_Static_assert(sizeof(struct vfp_conn_count) == 24, "vfp_conn_count layout changed: bump VFP_ABI_VERSION");

void vfp_ctx_set_conn_hook(struct vfp_ctx *ctx, vfp_conn_hook fn, void *arg)
{
	ctx->conn_arg = arg;
	__atomic_store_n(&ctx->conn_hook, fn, __ATOMIC_RELEASE);
}

/* Set index of a connection entry: the same for the key built from a frame and from its twin.
 * The network is mixed in: tenants' entries of one 4-tuple do not crowd one set. */
static uint64_t conn_hash(uint32_t network, const uint8_t *src, const uint8_t *dst, uint16_t sport, uint16_t dport,
			  uint8_t proto)
{
	uint64_t x = vfp_load64(src + 8) ^ (vfp_load64(dst + 8) * 0x9e3779b97f4a7c15ull) ^
		     ((uint64_t)sport << 40) ^ ((uint64_t)dport << 24) ^ ((uint64_t)network << 8) ^ proto;
	return vfp_mix64(x);
}

/* A network's entry: tenants' entries of the same 4-tuple share a set, never an entry. */
static struct vfp_lru_ent *find(struct vfp_ctx *ctx, uint32_t network, const uint8_t *src, const uint8_t *dst,
				uint16_t sport, uint16_t dport, uint8_t proto, struct vfp_lru_ent **slot)
{
	struct vfp_lru_ent *dummy;
	return vfp_lru_find(&ctx->lru, conn_hash(network, src, dst, sport, dport, proto), network, src, dst, sport, dport, proto,
			    slot ? slot : &dummy);
}

/* Whether p can have a connection entry: an IPv4 TCP or UDP packet with ports, in a context
 * that keeps connections (the XDP keys are IPv4). */
static int conn_pkt(const struct vfp_ctx *ctx, const struct vfp_pkt *p)
{
	return ctx->lru.ents && p->l3 == VFP_L3_IPV4 && (p->flags & VFP_PF_HAS_L4) && (p->proto == 6 || p->proto == 17);
}

/* p's own entry of a kind (VFP_LRU_PASS and VFP_LRU_REVERSE bits, or 0: a dealt connection's
 * forward entry) in its network, or NULL; p passed conn_pkt. */
static struct vfp_lru_ent *entry_of(struct vfp_ctx *ctx, uint32_t network, const struct vfp_pkt *p, uint8_t kind)
{
	return find(ctx, network, p->src, p->dst, p->sport, p->dport, (uint8_t)(p->proto | kind), NULL);
}

_Static_assert(sizeof(struct vfp_conn_val) == 8, "vfp_conn_val layout changed: bump VFP_ABI_VERSION and the XDP program's");

static int publish(struct vfp_ctx *ctx, const struct vfp_lru_ent *e, int add)
{
	struct vfp_conn_key k;
	struct vfp_conn_val v;
	vfp_conn_hook fn = __atomic_load_n(&ctx->conn_hook, __ATOMIC_ACQUIRE);
	if (!fn)
		return 0;
	memset(&k, 0, sizeof(k));
	memcpy(&k.saddr, e->src + 12, 4);
	memcpy(&k.daddr, e->vip + 12, 4);
	k.sport = htons(e->sport);
	k.dport = htons(e->vport);
	k.proto = VFP_LRU_L4(e->proto);
	if (e->xdp_port == VFP_PORT_VIA_UNDERLAY)
		vfp_conn_key_set_vni(&k, e->vni);
	memset(&v, 0, sizeof(v));
	memcpy(&v.nat_addr, e->nat_addr + 12, 4);
	v.nat_port = htons(e->nat_port);
	v.reverse = (e->proto & VFP_LRU_REVERSE) ? 1 : 0;
	v.flags = (uint8_t)(((e->closing & VFP_LRU_CLOSED) ? VFP_CONN_CLOSED : 0) | ((e->proto & VFP_LRU_PASS) ? VFP_CONN_PASS : 0));
	return fn(ctx->conn_arg, e->xdp_port, &k, &v, add);
}

/* A passthrough connection's nat_* name the backend itself, so the same twin relation holds. */
static struct vfp_lru_ent *twin(struct vfp_ctx *ctx, const struct vfp_lru_ent *e)
{
	if (e->proto & VFP_LRU_REVERSE) /* reverse: backend -> client; twin: client -> VIP */
		return find(ctx, e->network, e->vip, e->nat_addr, e->vport, e->nat_port, e->proto & (uint8_t)~VFP_LRU_REVERSE, NULL);
	return find(ctx, e->network, e->nat_addr, e->src, e->nat_port, e->sport, e->proto | VFP_LRU_REVERSE, NULL);
}

static void drop_one(struct vfp_ctx *ctx, struct vfp_lru_ent *e)
{
	if (e->used && e->ct)
		publish(ctx, e, 0);
	e->used = 0;
	e->ct = 0;
}

/* Frees an LRU way for reuse. A conntrack connection loses both its entries and both its XDP
 * keys at once, so its later packets consistently go to OVS (which drops them as invalid:
 * the connection is cut, as when OVS's own conntrack table is full). */
void vfp_conn_evict(struct vfp_ctx *ctx, struct vfp_lru_ent *e, uint64_t *c)
{
	struct vfp_lru_ent *t;
	int cheap = vfp_lru_cheap(e);
	if (!e->used || !e->ct) {
		e->used = 0;
		return;
	}
	t = twin(ctx, e);
	if (t && t != e && t->ct)
		drop_one(ctx, t);
	drop_one(ctx, e);
	if (!cheap) /* a live TCP connection cut; a closed one's or a UDP flow's room is no loss */
		c[VFP_C_CONN_EVICT]++;
}

/* Marks both entries of e's connection (closing bits `set`, or live again when 0: the FIN
 * bits stay) and publishes their keys again, so that a next process knows whether to take
 * it over. */
static void mark(struct vfp_ctx *ctx, struct vfp_lru_ent *e, struct vfp_lru_ent *t, uint8_t set)
{
	const uint8_t live = (uint8_t)~(VFP_LRU_CLOSED | VFP_LRU_RST);
	e->closing = set ? (uint8_t)(e->closing | set) : (uint8_t)(e->closing & live);
	publish(ctx, e, 1);
	if (t && t != e && t->ct) {
		t->closing = set ? (uint8_t)(t->closing | set) : (uint8_t)(t->closing & live);
		publish(ctx, t, 1);
	}
}

/* TCP: a connection whose two directions each sent a FIN, or either a RST, has ended. Its
 * entries stay until the room is needed (the last ACK, a retransmitted FIN still find them),
 * but are the first reused (vfp_lru_find), and its keys say so, so that a next process does
 * not take it over. No sequence numbers are tracked, so an end by RST that the packets
 * after it deny is undone: anything but a RST after it (the challenge ACK of an endpoint
 * that ignored an out-of-window or forged RST, RFC 5961). Not so after the FINs: a side that
 * sent one sends no new data, so data then is a retransmission. e is the entry of the
 * packet's direction. */
static void note_end(struct vfp_ctx *ctx, struct vfp_lru_ent *e, uint8_t tcp_flags, uint64_t *c)
{
	struct vfp_lru_ent *t;
	uint8_t first;
	if (e->closing & VFP_LRU_CLOSED) {
		if (!(tcp_flags & 0x04) && (e->closing & VFP_LRU_RST))
			mark(ctx, e, twin(ctx, e), 0);
		return;
	}
	if (!(tcp_flags & 0x05)) /* neither FIN nor RST */
		return;
	if (tcp_flags & 0x01)
		e->closing |= VFP_LRU_FIN;
	t = twin(ctx, e);
	if (!(tcp_flags & 0x04) && !(t && (t->closing & VFP_LRU_FIN)))
		return;
	first = !(e->closing & VFP_LRU_ENDED);
	mark(ctx, e, t, VFP_LRU_CLOSED | VFP_LRU_ENDED | ((tcp_flags & 0x04) ? VFP_LRU_RST : 0));
	if (first)
		c[VFP_C_CONN_CLOSED]++;
}

/* Drops the connection whose entry of that kind p is, with both its entries and keys. */
static void forget(struct vfp_ctx *ctx, uint32_t network, const struct vfp_pkt *p, uint8_t kind, uint64_t *c)
{
	struct vfp_lru_ent *e = conn_pkt(ctx, p) ? entry_of(ctx, network, p, kind) : NULL;
	if (e && e->ct)
		vfp_conn_evict(ctx, e, c);
}

void vfp_conn_forget(struct vfp_ctx *ctx, uint32_t network, const struct vfp_pkt *p, uint64_t *c)
{
	forget(ctx, network, p, 0, c);
}

/* vni: what its XDP key carries when xdp_port is the underlay (else 0). */
static void fill(struct vfp_lru_ent *e, uint32_t network, const uint8_t *src, const uint8_t *dst, uint16_t sport,
		 uint16_t dport, uint8_t proto, uint32_t backend_id, const uint8_t *nat_addr, uint16_t nat_port,
		 uint32_t xdp_port, uint32_t vni, uint32_t stamp)
{
	e->network = network;
	e->vni = xdp_port == VFP_PORT_VIA_UNDERLAY ? vni : 0;
	memcpy(e->src, src, 16);
	memcpy(e->vip, dst, 16);
	e->sport = sport;
	e->vport = dport;
	e->proto = proto;
	e->used = 1;
	e->ct = 1;
	e->closing = 0;
	e->backend_id = backend_id;
	memcpy(e->nat_addr, nat_addr, 16);
	e->nat_port = nat_port;
	e->xdp_port = xdp_port;
	e->stamp = stamp;
}

/* Before an entry found by its key is filled again: its XDP key goes if the new one is
 * published elsewhere (the backend moved between this node and another, a NIC's port
 * changed), else the old key would stay behind, owned by nothing. */
static void withdraw_if_moved(struct vfp_ctx *ctx, struct vfp_lru_ent *e, uint32_t xdp_port, uint32_t vni)
{
	if (e->used && e->ct && (e->xdp_port != xdp_port || (xdp_port == VFP_PORT_VIA_UNDERLAY && e->vni != vni)))
		publish(ctx, e, 0);
}

/* Whether reverse entry r (found by a new connection's reverse key) belongs to another live
 * connection: the client's port to another listener of the same backend port. Its replies
 * would be rewritten as the new one's, so the new one is refused, as OVS's conntrack refuses
 * its commit. A closed holder gives its entries up instead. */
static int reverse_clash(struct vfp_ctx *ctx, struct vfp_lru_ent *r, const uint8_t *vip, uint16_t vport, uint64_t *c)
{
	if (!r->used || !r->ct || (r->nat_port == vport && !memcmp(r->nat_addr, vip, 16)))
		return 0;
	if (!(r->closing & VFP_LRU_CLOSED))
		return 1;
	vfp_conn_evict(ctx, r, c);
	return 0;
}

/* Makes the reverse entry of forward entry e (filled: client -> VIP, toward be) and
 * publishes both XDP keys; v is the L2 verdict toward the backend. On failure the
 * connection is dropped (both entries, both keys) and a negative errno returned. */
static int take(struct vfp_ctx *ctx, const struct vfp_tables *t, struct vfp_lru_ent *e, const struct vfp_backend *be,
		const uint8_t *client, const uint8_t *vip, uint16_t sport, uint16_t vport, uint8_t proto,
		const struct vfp_verdict *v, uint64_t *c)
{
	struct vfp_lru_ent *r, *rslot = NULL;
	uint32_t xport = v->kind == VFP_V_LOCAL ? v->port : VFP_PORT_VIA_UNDERLAY, vni = 0;
	const struct vfp_vni_ent *nv;

	/* A remote backend's replies arrive in the VNI the tables map to the network (what
	 * from_underlay decides them by), so its key at the underlay names that one. */
	if (xport == VFP_PORT_VIA_UNDERLAY) {
		if (!(nv = vfp_network_vni(t, e->network))) {
			vfp_conn_evict(ctx, e, c);
			return -ENOENT;
		}
		vni = nv->vni;
	}
	/* The reverse key names what e was dealt (its address and port: an adopted connection
	 * keeps a port the backend may have changed since). */
	r = find(ctx, e->network, e->nat_addr, client, e->nat_port, sport, proto | VFP_LRU_REVERSE, &rslot);
	if (r && reverse_clash(ctx, r, vip, vport, c)) {
		drop_one(ctx, e); /* only e: its twin by key is r, another connection's */
		return -EEXIST;
	}
	if (!r) {
		r = rslot;
		if (r == e) { /* cannot happen with 4 ways (e is the newest); never overwrite it */
			vfp_conn_evict(ctx, e, c);
			return -ENOSPC;
		}
		vfp_conn_evict(ctx, r, c);
	}
	withdraw_if_moved(ctx, r, xport, vni);
	fill(r, e->network, e->nat_addr, client, e->nat_port, sport, proto | VFP_LRU_REVERSE, be->id, vip, vport, xport, vni,
	     ctx->lru.clock);
	/* Keys before the SYN leaves: the SYN-ACK must find its reverse key in the XDP map. */
	if (publish(ctx, e, 1) < 0 || publish(ctx, r, 1) < 0) {
		vfp_conn_evict(ctx, e, c);
		return -EIO;
	}
	ctx->ct_entries++;
	return 0;
}

static void count_conn(struct vfp_ctx *ctx, uint32_t network, const struct vfp_pkt *p, const struct vfp_backend *be)
{
	uint32_t vip = vfp_rd32(p->dst + 12), backend = vfp_rd32(be->addr + 12), i, h;
	h = (uint32_t)vfp_mix64(((uint64_t)vip << 32 | backend) ^ ((uint64_t)network << 24) ^ ((uint64_t)p->dport << 8) ^ p->proto) &
	    (VFP_CONN_COUNTS - 1);
	for (i = 0; i < VFP_CONN_COUNTS; i++, h = (h + 1) & (VFP_CONN_COUNTS - 1)) {
		struct vfp_conn_count *e = &ctx->conn_counts[h];
		if (!e->used) {
			e->vip = vip;
			e->backend = backend;
			e->port = p->dport;
			e->proto = p->proto;
			e->network = network;
			__atomic_store_n(&e->used, 1, __ATOMIC_RELEASE);
		} else if (e->vip != vip || e->backend != backend || e->port != p->dport || e->proto != p->proto ||
			   e->network != network) {
			continue;
		}
		__atomic_store_n(&e->conns, e->conns + 1, __ATOMIC_RELAXED);
		return;
	}
}

uint32_t vfp_ctx_conn_counts(const struct vfp_ctx *ctx, struct vfp_conn_count *out, uint32_t n)
{
	uint32_t i, k = 0;
	for (i = 0; i < VFP_CONN_COUNTS && k < n; i++) {
		const struct vfp_conn_count *e = &ctx->conn_counts[i];
		if (!__atomic_load_n(&e->used, __ATOMIC_ACQUIRE))
			continue;
		out[k] = *e;
		out[k].conns = __atomic_load_n(&e->conns, __ATOMIC_RELAXED);
		k++;
	}
	return k;
}

static inline void slow(struct vfp_verdict *v, uint8_t reason)
{
	v->kind = VFP_V_SLOW;
	v->reason = reason;
}

/* vfp_conn_forward for one frame; p may be a first fragment (frag_forward_first notes it). */
static void conn_forward(struct vfp_ctx *ctx, const struct vfp_tables *t, const struct vfp_vip *vip, const struct vfp_pkt *p,
			 uint32_t in_port, uint32_t network, struct vfp_verdict *v, uint64_t *c, struct vfp_nat *nat)
{
	static const uint8_t zero[16];
	struct vfp_lru_ent *e, *slot = NULL, *r;
	const struct vfp_backend *be;
	int idx = -1, syn;

	if (p->flags & VFP_PF_LATER_FRAG) { /* no ports (vfp_conn_frag_forward takes those of ours) */
		slow(v, VFP_R_VIP_FRAG);
		return;
	}
	if (p->l3 != VFP_L3_IPV4 || !(p->flags & VFP_PF_HAS_L4) || !ctx->lru.ents) {
		slow(v, VFP_R_VIP_NOT_OURS); /* IPv4 only (the XDP keys are IPv4), and no LRU, no state */
		return;
	}
	e = find(ctx, network, p->src, p->dst, p->sport, p->dport, p->proto, &slot);
	if (e && !e->ct) { /* an affinity entry from before the VIP was conntracked */
		slot = e;
		e = NULL;
	}
	/* A first fragment opens nothing: a datagram of a 5-tuple the fast path has no connection
	 * for is OVS's whole (the XDP program hands over only those of its connections, frag.h).
	 * One of a connection it has goes on as any of its datagrams (dealt again too, for a UDP
	 * flow whose backend left: its keys make the fast path its only datapath). */
	if ((p->flags & VFP_PF_FRAG) && !e) {
		slow(v, VFP_R_VIP_FRAG);
		return;
	}
	if (e)
		idx = vfp_vip_backend_index(vip, e->backend_id);
	if (p->proto == 6) {
		syn = (p->tcp_flags & 0x16) == 0x02; /* SYN without ACK or RST */
	} else {
		/* UDP has no first packet: a datagram without a flow opens one (the XDP program
		 * hands over any datagram to a listener), and a flow whose backend left or stopped
		 * getting new flows is dealt again, as OVS deals it once vnetd has flushed its UDP
		 * conntrack entries (pipeline.reconciler.ts, noteDeactivated); so is one whose
		 * backend now listens on another port (targetPort changed: OVS's entries to the old
		 * port are flushed too). A flow OVS began (a
		 * network still settling) goes on to the same backend: both deal by the same slot. */
		syn = !e || idx < 0 || vip->backends[idx].weight == 0 || vip->backends[idx].port != e->nat_port;
	}
	if (!syn) {
		/* Not seen from its first packet: OVS's. Or its backend left the VIP: this packet is
		 * lost and the connection's keys go, so its next one (a retransmission) reaches OVS,
		 * which deals it anew and the new backend resets it, as for a connection OVS had
		 * (QA: kept, every retransmission was dropped here and the client hung). */
		c[e && idx >= 0 ? VFP_C_LRU_HIT : VFP_C_LRU_MISS]++;
		if (!e || idx < 0) {
			if (e)
				vfp_conn_evict(ctx, e, c);
			slow(v, VFP_R_VIP_NOT_OURS);
			return;
		}
	} else {
		/* A new connection (also a reused 4-tuple) is dispatched by its hash alone, as OVS
		 * dispatches by its slot table alone: its backend depends only on its hash and the
		 * current weighted backends, so a backend that comes back gets its connections back.
		 * With OVS's slot table (the pipeline always gives it), the very slot OVS's multipath
		 * picks and so the same backend; else the Maglev ring. */
		if (vip->lb_slots) {
			uint16_t bi = vip->lb_slots[vfp_ovs_lb_slot(p, !!(vip->flags & VFP_VIP_CLIENT_IP), vip->n_lb_slots)];
			idx = bi == 0xffff ? -1 : bi;
		} else if (vip->ring) {
			uint64_t h = (vip->flags & VFP_VIP_CLIENT_IP) ? conn_hash(0, p->src, zero, 0, 0, 0) : vfp_tuple_hash(p);
			idx = vip->ring[h % VFP_MAGLEV_M];
		} else {
			idx = -1;
		}
		if (idx < 0) {
			if (e)
				vfp_conn_evict(ctx, e, c);
			slow(v, VFP_R_VIP_EMPTY);
			return;
		}
		if (!memcmp(vip->backends[idx].addr, p->src, 16)) {
			/* Hairpin: the client is the backend. Its packets would go from and to the
			 * same address; OVS's pipeline SNATs them to the VIP in a second connection
			 * (src/pipeline/load-balancer.ts, hairpinFlows). Later packets find no entry,
			 * so the whole connection stays with OVS. */
			if (e)
				vfp_conn_evict(ctx, e, c);
			slow(v, VFP_R_VIP_HAIRPIN);
			return;
		}
		be = &vip->backends[idx];
		r = find(ctx, network, be->addr, p->src, be->port, p->sport, p->proto | VFP_LRU_REVERSE, NULL);
		if (r && reverse_clash(ctx, r, p->dst, p->dport, c)) {
			/* Refused before anything is evicted for it (take() checks again). */
			slow(v, VFP_R_VIP_NOT_OURS);
			return;
		}
		/* A UDP flow dealt where it already is goes on; so does a TCP connection whose SYN
		 * comes again before anything else ended it (a retransmission: not a new connection,
		 * not counted again, as OVS's conntrack does not count it). */
		if (e && e->backend_id == be->id && e->nat_port == be->port &&
		    (p->proto == 17 || (!e->closing && e->xdp_port == in_port))) {
			syn = 0;
			c[VFP_C_LRU_HIT]++;
		} else {
			if (e && (e->backend_id != be->id || e->nat_port != be->port)) {
				r = twin(ctx, e); /* the old backend's reverse key goes */
				if (r && r != e)
					drop_one(ctx, r);
			}
			if (!e) {
				e = slot;
				vfp_conn_evict(ctx, e, c);
			}
			withdraw_if_moved(ctx, e, in_port, 0);
			fill(e, network, p->src, p->dst, p->sport, p->dport, p->proto, be->id, be->addr, be->port, in_port, 0,
			     ctx->lru.clock);
		}
	}
	be = &vip->backends[idx];
	vfp_l2_lookup(t, network, be->mac, v, c);
	if (v->kind == VFP_V_SLOW) { /* the backend is not reachable by the fast path: OVS takes it */
		if (syn)
			vfp_conn_evict(ctx, e, c);
		return;
	}
	if (syn) {
		if (take(ctx, t, e, be, p->src, p->dst, p->sport, p->dport, p->proto, v, c) < 0) {
			memset(v, 0, sizeof(*v));
			slow(v, VFP_R_VIP_NOT_OURS);
			return;
		}
		c[VFP_C_CONN_NEW]++;
		count_conn(ctx, network, p, be);
	}
	if (p->proto == 6)
		note_end(ctx, e, p->tcp_flags, c);
	c[VFP_C_NAT_FORWARD]++;
	/* The address and port the connection was dealt, not the backend's current ones: a
	 * targetPort changed since keeps an established TCP connection where it is, as OVS's
	 * conntrack keeps it (and its reverse key names them). */
	v->l4port = e->nat_port;
	nat->kind = VFP_NAT_DNAT;
	nat->at = 0;
	nat->pk = *p;
	memcpy(nat->addr, e->nat_addr, 16);
	memcpy(nat->mac, be->mac, 6);
	nat->port = e->nat_port;
}

/* A reply of connection e (its reverse entry): back from the VIP's address and port. */
static int reverse_nat(struct vfp_ctx *ctx, struct vfp_lru_ent *e, const struct vfp_pkt *p, uint32_t at, uint64_t *c,
		       struct vfp_nat *nat)
{
	if (p->proto == 6)
		note_end(ctx, e, p->tcp_flags, c);
	c[VFP_C_NAT_REVERSE]++;
	nat->kind = VFP_NAT_REVERSE;
	nat->at = at;
	nat->pk = *p;
	memcpy(nat->addr, e->nat_addr, 16);
	nat->port = e->nat_port;
	return 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts); /* bpf_ktime_get_ns's clock (vDSO: no system call) */
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The entry (of kind dnat: VFP_FRAG_REPLY or VFP_FRAG_REQUEST) of the datagram whose IPv4
 * header is ip in network, live at `now`, or NULL; *slot: the way to fill (an unused or void
 * way first, else the one ending soonest). */
static struct vfp_frag_ent *frag_find(struct vfp_ctx *ctx, uint32_t network, const uint8_t *ip, uint8_t dnat, uint64_t now,
				      struct vfp_frag_ent **slot)
{
	uint32_t s, d, w;
	uint16_t id;
	struct vfp_frag_ent *set, *old;

	memcpy(&s, ip + 12, 4);
	memcpy(&d, ip + 16, 4);
	memcpy(&id, ip + 4, 2);
	set = &ctx->frags[(vfp_mix64(((uint64_t)s << 32 | d) ^ ((uint64_t)id << 8 | ip[9]) ^ ((uint64_t)network << 40)) %
			   VFP_FRAG_SETS) * VFP_FRAG_WAYS];
	old = set;
	for (w = 0; w < VFP_FRAG_WAYS; w++) {
		struct vfp_frag_ent *e = &set[w];
		if (e->until > now && e->network == network && e->id == id && e->proto == ip[9] && e->dnat == dnat &&
		    !memcmp(e->src, ip + 12, 4) && !memcmp(e->dst, ip + 16, 4))
			return e;
		if ((e->until <= now ? 0 : e->until) < (old->until <= now ? 0 : old->until))
			old = e;
	}
	*slot = old;
	return NULL;
}

/* Fills fe (found, or the way frag_find offered) for the datagram whose IPv4 header is ip. */
static void frag_note(struct vfp_frag_ent *fe, uint32_t network, const uint8_t *ip, uint8_t dnat, const uint8_t *addr4,
		      const uint8_t *mac, uint64_t now)
{
	fe->until = now + VFP_FRAG_TTL_NS;
	fe->network = network;
	memcpy(fe->src, ip + 12, 4);
	memcpy(fe->dst, ip + 16, 4);
	memcpy(&fe->id, ip + 4, 2);
	fe->proto = ip[9];
	fe->dnat = dnat;
	memcpy(fe->addr, addr4, 4);
	if (mac)
		memcpy(fe->mac, mac, 6);
}

/*
 * A fragment of a reply (frag.h). Its first fragment is a reply like any other when its
 * connection's reverse entry is here: rewritten the same way (source address and port; the
 * UDP or TCP checksum covers the whole datagram, but the change is the pseudo-header's and
 * the port's, both in this fragment, so the incremental update holds; a UDP checksum 0 stays
 * 0), and remembered. A later fragment gets the source its first got, the IP header checksum
 * only; with no live entry (no first seen, or not a reply of ours) it goes as it is, as every
 * fragment of that datagram then does. A first fragment that is not ours voids an entry of
 * the same key (an IP ID reused), so its later fragments are not rewritten either.
 */
static int frag_reverse(struct vfp_ctx *ctx, uint32_t network, const uint8_t *f, const struct vfp_pkt *p, uint32_t at,
			uint64_t *c, struct vfp_nat *nat)
{
	const uint8_t *ip = f + p->l3_off;
	struct vfp_frag_ent *fe, *slot = NULL;
	struct vfp_lru_ent *e = NULL;
	uint64_t now;

	if (!ctx->lru.ents || p->l3 != VFP_L3_IPV4 || (p->proto != 6 && p->proto != 17))
		return 0;
	now = now_ns();
	fe = frag_find(ctx, network, ip, VFP_FRAG_REPLY, now, &slot);
	if (p->flags & VFP_PF_LATER_FRAG) {
		if (!fe)
			return 0;
		c[VFP_C_NAT_REVERSE]++;
		nat->kind = VFP_NAT_REVERSE_SRC;
		nat->at = at;
		nat->pk = *p;
		vfp_map4(nat->addr, fe->addr);
		return 1;
	}
	if (p->flags & VFP_PF_HAS_L4)
		e = entry_of(ctx, network, p, VFP_LRU_REVERSE);
	if (!e || !e->ct) {
		if (fe)
			fe->until = 0;
		return 0;
	}
	frag_note(fe ? fe : slot, network, ip, VFP_FRAG_REPLY, e->nat_addr + 12, NULL, now);
	return reverse_nat(ctx, e, p, at, c, nat);
}

/*
 * A request's first fragment that conn_forward DNATed (frag.h): remembered, so that the later
 * fragments of its datagram get the same destination (vfp_conn_frag_forward). One it did not
 * voids an entry of the same key (an IP ID reused), so their later fragments are not rewritten.
 */
static void frag_forward_first(struct vfp_ctx *ctx, uint32_t network, const uint8_t *f, const struct vfp_pkt *p,
			       const struct vfp_nat *nat)
{
	const uint8_t *ip = f + p->l3_off;
	struct vfp_frag_ent *fe, *slot = NULL;
	uint64_t now = now_ns();

	fe = frag_find(ctx, network, ip, VFP_FRAG_REQUEST, now, &slot);
	if (nat->kind == VFP_NAT_DNAT)
		frag_note(fe ? fe : slot, network, ip, VFP_FRAG_REQUEST, nat->addr + 12, nat->mac, now);
	else if (fe)
		fe->until = 0;
}

void vfp_conn_forward(struct vfp_ctx *ctx, const struct vfp_tables *t, const struct vfp_vip *vip, const uint8_t *f,
		      const struct vfp_pkt *p, uint32_t in_port, uint32_t network, struct vfp_verdict *v, uint64_t *c,
		      struct vfp_nat *nat)
{
	conn_forward(ctx, t, vip, p, in_port, network, v, c, nat);
	if (__builtin_expect(p->flags & VFP_PF_FRAG, 0) && p->l3 == VFP_L3_IPV4 && ctx->lru.ents)
		frag_forward_first(ctx, network, f, p, nat);
}

int vfp_conn_frag_forward(struct vfp_ctx *ctx, const struct vfp_tables *t, uint32_t network, const uint8_t *f,
			  const struct vfp_pkt *p, struct vfp_verdict *v, uint64_t *c, struct vfp_nat *nat)
{
	struct vfp_frag_ent *fe, *slot = NULL;

	if (!ctx->lru.ents || p->l3 != VFP_L3_IPV4 || (p->proto != 6 && p->proto != 17))
		return 0;
	if (!(fe = frag_find(ctx, network, f + p->l3_off, VFP_FRAG_REQUEST, now_ns(), &slot)))
		return 0;
	vfp_l2_lookup(t, network, fe->mac, v, c);
	if (v->kind == VFP_V_SLOW) /* the backend left the tables since its first: lost, as it would be */
		return 0;
	c[VFP_C_NAT_FORWARD]++;
	nat->kind = VFP_NAT_DNAT_DST;
	nat->at = 0;
	nat->pk = *p;
	vfp_map4(nat->addr, fe->addr);
	memcpy(nat->mac, fe->mac, 6);
	return 1;
}

/*
 * An IPv4 ICMP error (type 3 destination unreachable, fragmentation needed included, or 11
 * time exceeded) a backend, or a router on its way, sends about a datagram of a connection
 * the fast path dealt: the datagram it quotes is client -> backend:target port (the
 * connection's direction after DNAT), whose reverse entry (backend -> client) holds the VIP
 * and listener port. Without this, it reached the client as it was (QA-152 F8, QA-156 F2):
 * from the backend's address, quoting a socket the client never opened (no ECONNREFUSED for
 * a connected UDP socket, no PMTU for a TCP one), and the backend's address leaked. The quote
 * must hold the quoted IP header and the ports (RFC 792's 8 bytes); its L4 checksum is
 * updated when quoted too. A quoted later fragment has no ports: left alone.
 */
static int icmp_reverse(struct vfp_ctx *ctx, uint32_t network, const uint8_t *f, const struct vfp_pkt *p, uint32_t at,
			uint64_t *c, struct vfp_nat *nat)
{
	uint32_t end = (uint32_t)p->l3_off + p->ip_len, qoff = (uint32_t)p->l4_off + 8, qhl;
	uint8_t type = (uint8_t)(p->sport >> 8), client[16] = {0}, backend[16] = {0};
	const uint8_t *q = f + qoff;
	struct vfp_lru_ent *e;

	if (p->l3 != VFP_L3_IPV4 || !(p->flags & VFP_PF_HAS_L4) || !ctx->lru.ents || (type != 3 && type != 11))
		return 0;
	if (qoff + 20 > end || (q[0] >> 4) != 4 || (qhl = (uint32_t)(q[0] & 15) * 4) < 20 || qoff + qhl + 4 > end)
		return 0;
	if ((q[9] != 6 && q[9] != 17) || (vfp_rd16(q + 6) & 0x1fff))
		return 0;
	/* Sent to the quoted datagram's source (the client), about it. */
	if (memcmp(f + p->l3_off + 16, q + 12, 4))
		return 0;
	client[10] = client[11] = backend[10] = backend[11] = 0xff;
	memcpy(client + 12, q + 12, 4);
	memcpy(backend + 12, q + 16, 4);
	e = find(ctx, network, backend, client, vfp_rd16(q + qhl + 2), vfp_rd16(q + qhl), (uint8_t)(q[9] | VFP_LRU_REVERSE),
		 NULL);
	if (!e || !e->ct)
		return 0;
	c[VFP_C_ICMP_REVERSE]++;
	nat->kind = VFP_NAT_ICMP;
	nat->at = at;
	nat->pk = *p;
	memcpy(nat->addr, e->nat_addr, 16);
	nat->port = e->nat_port;
	return 1;
}

int vfp_conn_reverse(struct vfp_ctx *ctx, uint32_t network, const uint8_t *f, const struct vfp_pkt *p, uint32_t at,
		     uint64_t *c, struct vfp_nat *nat)
{
	struct vfp_lru_ent *e;

	if (!ctx->ct_entries)
		return 0;
	if (p->flags & VFP_PF_FRAG)
		return frag_reverse(ctx, network, f, p, at, c, nat);
	if (__builtin_expect(p->proto == 1, 0))
		return icmp_reverse(ctx, network, f, p, at, c, nat);
	if (!conn_pkt(ctx, p))
		return 0;
	e = entry_of(ctx, network, p, VFP_LRU_REVERSE);
	if (!e || !e->ct)
		return 0;
	return reverse_nat(ctx, e, p, at, c, nat);
}

/* Room a passthrough connection may take: unused, a closed connection's or another
 * passthrough connection's; never a NAT connection or flow this node dealt (its replies
 * would reach OVS, which has no NAT state for them). */
static int pass_room(const struct vfp_lru_ent *e)
{
	return vfp_lru_rank(e) <= 1 || (e->proto & VFP_LRU_PASS);
}

/* A passthrough connection's two entries, keys published: client -> backend at the underlay
 * (in the network's VNI), backend -> client at the backend's NIC (port). 0 or a negative
 * errno (nothing left). */
static int pass_take(struct vfp_ctx *ctx, uint32_t network, uint32_t vni, const uint8_t *client, const uint8_t *backend,
		     uint16_t cport, uint16_t bport, uint8_t proto, uint32_t port, uint64_t *c)
{
	struct vfp_lru_ent *e, *r, *slot = NULL;
	uint8_t fwd = (uint8_t)(proto | VFP_LRU_PASS), rev = (uint8_t)(proto | VFP_LRU_PASS | VFP_LRU_REVERSE);

	e = find(ctx, network, client, backend, cport, bport, fwd, &slot);
	if (!e) {
		if (!pass_room(slot))
			return -ENOSPC;
		e = slot;
		vfp_conn_evict(ctx, e, c);
	}
	withdraw_if_moved(ctx, e, VFP_PORT_VIA_UNDERLAY, vni);
	fill(e, network, client, backend, cport, bport, fwd, 0, backend, bport, VFP_PORT_VIA_UNDERLAY, vni, ctx->lru.clock);
	r = find(ctx, network, backend, client, bport, cport, rev, &slot);
	if (!r) {
		r = slot;
		if (r == e || !pass_room(r)) {
			vfp_conn_evict(ctx, e, c);
			return -ENOSPC;
		}
		vfp_conn_evict(ctx, r, c);
	}
	withdraw_if_moved(ctx, r, port, 0);
	fill(r, network, backend, client, bport, cport, rev, 0, backend, bport, port, 0, ctx->lru.clock);
	if (publish(ctx, e, 1) < 0 || publish(ctx, r, 1) < 0) {
		vfp_conn_evict(ctx, e, c);
		return -EIO;
	}
	ctx->ct_entries++;
	return 0;
}

int vfp_conn_passthrough(struct vfp_ctx *ctx, const struct vfp_tables *t, uint32_t network, uint32_t vni,
			 const uint8_t *f, const struct vfp_pkt *p, uint32_t port, uint64_t *c)
{
	struct vfp_verdict back;
	struct vfp_lru_ent *e;

	if (!conn_pkt(ctx, p) || (p->flags & VFP_PF_FRAG))
		return 0;
	if ((e = entry_of(ctx, network, p, VFP_LRU_PASS))) {
		if (p->proto == 6)
			note_end(ctx, e, p->tcp_flags, c);
		return 1;
	}
	/* Only from a connection's first packet (TCP: SYN without ACK or RST; UDP: any
	 * datagram). A later one without an entry was let go or evicted: switched all the same,
	 * its connection OVS's from now on. */
	if (p->proto == 6 && (p->tcp_flags & 0x16) != 0x02)
		return 0;
	/* The backend's replies go to the client's MAC (f + 6): only when the tables send it
	 * toward a VTEP (else they would reach the runner undecidable, and be lost). */
	memset(&back, 0, sizeof(back));
	vfp_l2_lookup(t, network, f + 6, &back, c);
	if (back.kind != VFP_V_ENCAP)
		return 0;
	if (pass_take(ctx, network, vni, p->src, p->dst, p->sport, p->dport, p->proto, port, c) < 0)
		return 0;
	c[VFP_C_CONN_PASS]++;
	return 1;
}

void vfp_conn_pass_reply(struct vfp_ctx *ctx, uint32_t network, const struct vfp_pkt *p, uint64_t *c)
{
	struct vfp_lru_ent *e =
		conn_pkt(ctx, p) && p->proto == 6 ? entry_of(ctx, network, p, VFP_LRU_PASS | VFP_LRU_REVERSE) : NULL;
	if (e && e->ct)
		note_end(ctx, e, p->tcp_flags, c);
}

void vfp_conn_forget_pass(struct vfp_ctx *ctx, uint32_t network, const struct vfp_pkt *p, int reverse, uint64_t *c)
{
	forget(ctx, network, p, (uint8_t)(VFP_LRU_PASS | (reverse ? VFP_LRU_REVERSE : 0)), c);
}

/* VFP_NAT_ICMP (icmp_reverse checked the quote's bounds): the outer source when it is the
 * backend (a router's own address stays), the quoted destination address and port, and the
 * outer header's, the quoted header's, the quoted L4 header's (when quoted) and the ICMP
 * message's checksums, each by RFC 1624 (the ICMP one over every quoted byte that changed). */
static void icmp_apply(uint8_t *f, const struct vfp_nat *n)
{
	const struct vfp_pkt *p = &n->pk;
	uint8_t *ip = f + p->l3_off, *icmp = f + p->l4_off, *q = icmp + 8, *ql4 = q + (q[0] & 15) * 4, *sum = NULL;
	uint8_t *end = ip + p->ip_len, *vip = (uint8_t *)n->addr + 12, port[2], old[2];
	int udp = q[9] == 17;

	if (!memcmp(ip + 12, q + 16, 4)) {
		vfp_csum_replace(ip + 10, ip + 12, vip, 4, 0);
		memcpy(ip + 12, vip, 4);
	}
	vfp_wr16(port, n->port);
	if (!udp && ql4 + 18 <= end)
		sum = ql4 + 16;
	else if (udp && ql4 + 8 <= end && vfp_rd16(ql4 + 6))
		sum = ql4 + 6;
	if (sum) {
		memcpy(old, sum, 2);
		vfp_csum_replace(sum, q + 16, vip, 4, udp);
		vfp_csum_replace(sum, ql4 + 2, port, 2, udp);
		vfp_csum_replace(icmp + 2, old, sum, 2, 0);
	}
	vfp_csum_replace(icmp + 2, ql4 + 2, port, 2, 0);
	memcpy(ql4 + 2, port, 2);
	memcpy(old, q + 10, 2);
	vfp_csum_replace(q + 10, q + 16, vip, 4, 0);
	vfp_csum_replace(icmp + 2, q + 16, vip, 4, 0);
	memcpy(q + 16, vip, 4);
	vfp_csum_replace(icmp + 2, old, q + 10, 2, 0);
}

void vfp_nat_apply(uint8_t *base, const struct vfp_nat *n)
{
	const struct vfp_pkt *p = &n->pk;
	uint8_t *f = base + n->at, *ip = f + p->l3_off, *l4 = f + p->l4_off, *csum = NULL, port[2];
	int dnat = n->kind == VFP_NAT_DNAT, udp = p->proto == 17;
	uint8_t *addr = ip + (dnat ? 16 : 12), *pp = l4 + (dnat ? 2 : 0);

	if (n->kind == VFP_NAT_NONE || p->l3 != VFP_L3_IPV4)
		return;
	if (n->kind == VFP_NAT_ICMP) {
		icmp_apply(f, n);
		return;
	}
	if (n->kind == VFP_NAT_REVERSE_SRC) { /* a later fragment: no L4 header to touch */
		vfp_csum_replace(ip + 10, ip + 12, n->addr + 12, 4, 0);
		memcpy(ip + 12, n->addr + 12, 4);
		return;
	}
	if (n->kind == VFP_NAT_DNAT_DST) { /* a request's later fragment: the same */
		vfp_csum_replace(ip + 10, ip + 16, n->addr + 12, 4, 0);
		memcpy(ip + 16, n->addr + 12, 4);
		memcpy(f, n->mac, 6);
		return;
	}
	if (p->proto == 6)
		csum = l4 + 16;
	else if (udp && vfp_rd16(l4 + 6) != 0)
		csum = l4 + 6;
	vfp_csum_replace(ip + 10, addr, n->addr + 12, 4, 0);
	if (csum)
		vfp_csum_replace(csum, addr, n->addr + 12, 4, udp);
	memcpy(addr, n->addr + 12, 4);
	vfp_wr16(port, n->port);
	if (csum)
		vfp_csum_replace(csum, pp, port, 2, udp);
	memcpy(pp, port, 2);
	if (dnat)
		memcpy(f, n->mac, 6); /* as OVS's LbNat does: the backend's MAC */
}

static void conn_key_addrs(const struct vfp_conn_key *k, uint8_t src[16], uint8_t dst[16])
{
	vfp_map4(src, (const uint8_t *)&k->saddr);
	vfp_map4(dst, (const uint8_t *)&k->daddr);
}

static int adopt_in(struct vfp_ctx *ctx, const struct vfp_tables *t, uint32_t port, const struct vfp_conn_key *k,
		    const struct vfp_conn_val *val)
{
	uint8_t client[16], vaddr[16], baddr[16];
	uint16_t sport = ntohs(k->sport), vport = ntohs(k->dport), bport = ntohs(val->nat_port);
	const struct vfp_vip *vip;
	const struct vfp_backend *be = NULL;
	struct vfp_lru_ent *e, *slot = NULL;
	const struct vfp_port_ent *pe;
	const struct vfp_vni_ent *nv;
	struct vfp_verdict v;
	uint32_t i, network;

	if (!ctx->lru.ents || (k->proto != 6 && k->proto != 17))
		return -EINVAL;
	if (val->flags & VFP_CONN_PASS) {
		/* Passthrough: from its reverse key (backend -> client) at the backend's NIC, still a
		 * port of a network with load balancers. Nothing to check beyond: it is switched by L2. */
		if (!val->reverse)
			return -EINVAL;
		if (val->flags & VFP_CONN_CLOSED)
			return -ESTALE;
		if (!(pe = vfp_port_lookup(t, port)) || !(pe->flags & VFP_PORT_CONNTRACK))
			return -ENOENT;
		network = pe->network;
		if (!(nv = vfp_network_vni(t, network)))
			return -ENOENT;
		conn_key_addrs(k, baddr, client);
		if (pass_take(ctx, network, nv->vni, client, baddr, vport, sport, k->proto, port, ctx->c) < 0)
			return -EIO;
		ctx->c[VFP_C_CONN_ADOPT]++;
		return 0;
	}
	if (val->reverse)
		return -EINVAL;
	if (val->flags & VFP_CONN_CLOSED)
		return -ESTALE; /* it had ended: let go, its keys withdrawn */
	if (!(pe = vfp_port_lookup(t, port)) || (pe->flags & VFP_PORT_UNDERLAY))
		return -ENOENT; /* the client's NIC is not a fast-path port any more */
	network = pe->network;
	conn_key_addrs(k, client, vaddr);
	vfp_map4(baddr, (const uint8_t *)&val->nat_addr);
	vip = vfp_vip_lookup(t, network, k->proto, vaddr, vport);
	if (!vip || !(vip->flags & VFP_VIP_CONNTRACK))
		return -ENOENT;
	/* The backend it was dealt, by address (ids are the control plane's, per process), on
	 * the port it was dealt (a targetPort changed since keeps established connections where
	 * they are). Its weight does not matter: an unhealthy backend keeps its established
	 * connections. */
	for (i = 0; i < vip->n_backends && !be; i++)
		if (!memcmp(vip->backends[i].addr, baddr, 16))
			be = &vip->backends[i];
	if (!be)
		return -ENOENT;
	memset(&v, 0, sizeof(v));
	vfp_l2_lookup(t, network, be->mac, &v, ctx->c);
	if (v.kind == VFP_V_SLOW)
		return -EHOSTUNREACH;
	e = find(ctx, network, client, vaddr, sport, vport, k->proto, &slot);
	if (!e) {
		e = slot;
		vfp_conn_evict(ctx, e, ctx->c);
	}
	withdraw_if_moved(ctx, e, port, 0);
	fill(e, network, client, vaddr, sport, vport, k->proto, be->id, be->addr, bport, port, 0, ctx->lru.clock);
	if (take(ctx, t, e, be, client, vaddr, sport, vport, k->proto, &v, ctx->c) < 0)
		return -EIO;
	ctx->c[VFP_C_CONN_ADOPT]++;
	return 0;
}

int vfp_conn_adopt(struct vfp_ctx *ctx, uint32_t port, const struct vfp_conn_key *k, const struct vfp_conn_val *val)
{
	struct vfp_dp *dp = ctx->dp;
	int rc;

	vfp_rcu_enter(&dp->rcu, ctx->slot);
	rc = adopt_in(ctx, __atomic_load_n(&dp->tables, __ATOMIC_SEQ_CST), port, k, val);
	vfp_rcu_exit(&dp->rcu, ctx->slot);
	return rc;
}

uint32_t vfp_conn_port_vni(struct vfp_ctx *ctx, uint32_t port)
{
	struct vfp_dp *dp = ctx->dp;
	const struct vfp_tables *t;
	const struct vfp_port_ent *pe;
	const struct vfp_vni_ent *nv = NULL;
	uint32_t vni;

	vfp_rcu_enter(&dp->rcu, ctx->slot);
	t = __atomic_load_n(&dp->tables, __ATOMIC_SEQ_CST);
	if ((pe = vfp_port_lookup(t, port)))
		nv = vfp_network_vni(t, pe->network);
	vni = nv ? nv->vni : 0;
	vfp_rcu_exit(&dp->rcu, ctx->slot);
	return vni;
}

/* The network a key published at port belongs to: the underlay's by its VNI, a NIC's by the port. */
static int key_network(const struct vfp_tables *t, uint32_t port, const struct vfp_conn_key *k, uint32_t *network)
{
	const struct vfp_vni_ent *ve;
	const struct vfp_port_ent *pe;
	if (port == VFP_PORT_VIA_UNDERLAY) {
		if (!(ve = vfp_vni_lookup(t, vfp_conn_key_vni(k))))
			return -ENOENT;
		*network = ve->network;
		return 0;
	}
	if (!(pe = vfp_port_lookup(t, port)))
		return -ENOENT;
	*network = pe->network;
	return 0;
}

int vfp_conn_owns(struct vfp_ctx *ctx, uint32_t port, const struct vfp_conn_key *k, uint32_t kind)
{
	uint8_t src[16], dst[16];
	struct vfp_lru_ent *e = NULL;
	struct vfp_dp *dp = ctx->dp;
	uint32_t network;

	if (!ctx->lru.ents)
		return 0;
	conn_key_addrs(k, src, dst);
	vfp_rcu_enter(&dp->rcu, ctx->slot);
	if (!key_network(__atomic_load_n(&dp->tables, __ATOMIC_SEQ_CST), port, k, &network))
		e = find(ctx, network, src, dst, ntohs(k->sport), ntohs(k->dport),
			 (uint8_t)(k->proto | ((kind & VFP_OWNS_REVERSE) ? VFP_LRU_REVERSE : 0) | ((kind & VFP_OWNS_PASS) ? VFP_LRU_PASS : 0)),
			 NULL);
	vfp_rcu_exit(&dp->rcu, ctx->slot);
	/* An underlay key is owned in the very VNI it names (a key of an earlier ABI named none). */
	return e && e->ct && e->xdp_port == port && (port != VFP_PORT_VIA_UNDERLAY || e->vni == vfp_conn_key_vni(k));
}
