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

#define VFP_LRU_WAYS 4u

/* Conntrack VIPs keep two entries per connection (vfp_conn in classify.c): the forward one
 * (client -> VIP, proto as is) and the reverse one (backend -> client, proto | VFP_LRU_REVERSE)
 * whose nat_* say what the reply's source becomes; the forward one's nat_* name the backend,
 * so either entry finds its twin. xdp_port is where its XDP key was published. */
#define VFP_LRU_REVERSE 0x80u
struct vfp_lru_ent {
	uint8_t src[16];
	uint8_t vip[16]; /* destination of the entry's direction */
	uint16_t sport, vport;
	uint8_t proto, used;
	uint8_t ct;      /* a conntrack entry: its XDP key is published at xdp_port */
	uint8_t pad;
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
/* Returns the entry for the key, or NULL; *slot gets the way to fill on a miss. */
struct vfp_lru_ent *vfp_lru_find(struct vfp_lru *l, uint64_t hash, const uint8_t src[16], const uint8_t vip[16],
				 uint16_t sport, uint16_t vport, uint8_t proto, struct vfp_lru_ent **slot);

#endif
