/*
 * Connection-affinity cache: (VIP, source address, source port, protocol) -> backend id.
 * Once a connection picked a backend it keeps it while that backend stays in the VIP,
 * even when Maglev would now choose another (backend added, weights changed).
 * Per classify context (one writer, no sharing), 4-way set associative, the least
 * recently used way of a set is replaced: O(1), no allocation on the packet path.
 */
#ifndef VFP_LRU_H
#define VFP_LRU_H

#include <stdint.h>
#include <string.h>

#define VFP_LRU_WAYS 4u

/* Conntrack VIPs keep two entries per connection (vfp_conn in classify.c): the forward one
 * (client -> VIP, proto as is) and the reverse one (backend -> client, proto | VFP_LRU_REVERSE)
 * whose nat_* say what the reply's source becomes; the forward one's nat_* name the backend,
 * so either entry finds its twin. xdp_port is where its XDP key was published. */
#define VFP_LRU_REVERSE 0x80u
/* A passthrough connection's entries (conn.h): their own key space, never a NAT entry's. */
#define VFP_LRU_PASS 0x40u
#define VFP_LRU_L4(proto) ((uint8_t)((proto) & ~(VFP_LRU_REVERSE | VFP_LRU_PASS)))
/* Entries are a network's (network: the tables' id of the frame's network): tenants may use
 * the very same addresses and ports at once, and share nothing. */
struct vfp_lru_ent {
	uint32_t network;
	uint32_t vni;    /* conntrack: the VNI its XDP key carries when published at the underlay */
	uint8_t src[16];
	uint8_t vip[16]; /* destination of the entry's direction */
	uint16_t sport, vport;
	uint8_t proto, used;
	uint8_t ct;      /* a conntrack entry: its XDP key is published at xdp_port */
	uint8_t closing; /* conntrack TCP: VFP_LRU_FIN (this direction sent one), VFP_LRU_CLOSED (conn.c) */
	uint32_t backend_id;
	uint32_t stamp;
	uint8_t nat_addr[16];
	uint16_t nat_port;
	uint16_t backend_idx; /* affinity entries: where backend_id was in the VIP's backends (a hint) */
	uint32_t xdp_port;
};

struct vfp_lru {
	struct vfp_lru_ent *ents;
	uint32_t set_mask;
	uint32_t clock;
};

int vfp_lru_init(struct vfp_lru *l, uint32_t slots);
void vfp_lru_destroy(struct vfp_lru *l);
/* Returns the entry for the key, or NULL; *slot gets the way to fill on a miss. Inline: every
 * VIP frame of a batch looks up its connection, and a call through the PLT costs it its
 * spills and reloads besides the call. */
/* A conntrack TCP connection seen to end, and a UDP flow, are the first ways reused after
 * unused ones: they never crowd out a live TCP connection, however long that one has been
 * idle (evicting one cuts it: OVS never saw it). A closed connection's entries stay until
 * then (a retransmitted FIN or the last ACK still finds them); a UDP flow's next datagram is
 * simply dealt again, to the same slot. */
#define VFP_LRU_FIN 1u    /* this direction sent a FIN */
#define VFP_LRU_CLOSED 2u /* the connection ended (conn.c, note_end) */
#define VFP_LRU_RST 4u    /* ...by a RST: a later packet other than a RST makes it live again */
#define VFP_LRU_ENDED 8u  /* it ended once (counted once, whatever comes back to life) */

/* Whether evicting e costs nothing but a new deal: a closed TCP connection, a UDP flow, or a
 * passthrough connection (whose packets OVS then switches, as well). */
static inline int vfp_lru_cheap(const struct vfp_lru_ent *e)
{
	return e->ct && ((e->closing & VFP_LRU_CLOSED) || (e->proto & VFP_LRU_PASS) || VFP_LRU_L4(e->proto) == 17);
}

/* Eviction order of a way: unused, closed connections, UDP flows and passthrough ones, the rest; then by age. */
static inline int vfp_lru_rank(const struct vfp_lru_ent *e)
{
	return !e->used ? 0 : !vfp_lru_cheap(e) ? 3 : (e->closing & VFP_LRU_CLOSED) ? 1 : 2;
}

static inline struct vfp_lru_ent *vfp_lru_find(struct vfp_lru *l, uint64_t hash, uint32_t network,
						const uint8_t src[16], const uint8_t vip[16], uint16_t sport,
						uint16_t vport, uint8_t proto, struct vfp_lru_ent **slot)
{
	struct vfp_lru_ent *set = &l->ents[(size_t)(hash & l->set_mask) * VFP_LRU_WAYS], *old = set;
	uint32_t w;

	l->clock++;
	for (w = 0; w < VFP_LRU_WAYS; w++) {
		struct vfp_lru_ent *e = &set[w];
		if (e->used && e->sport == sport && e->vport == vport && e->proto == proto && e->network == network &&
		    !memcmp(e->src, src, 16) && !memcmp(e->vip, vip, 16)) {
			e->stamp = l->clock;
			return e;
		}
		/* Unused ways first, then closed connections', then the oldest stamp (wrap-safe
		 * difference); keep scanning either way: a later way may still hit. */
		{
			int re = vfp_lru_rank(e), ro = vfp_lru_rank(old);
			if (re < ro || (re == ro && re > 0 && (int32_t)(e->stamp - old->stamp) < 0))
				old = e;
		}
	}
	*slot = old;
	return NULL;
}

#endif
