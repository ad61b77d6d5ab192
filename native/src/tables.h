/*
 * Classifier tables. A vfp_tables is an immutable snapshot: built once from a builder,
 * read by any number of classify threads, never written after publication (rcu.h
 * swaps and frees whole snapshots). Hash tables are open addressing with linear
 * probing at load <= 1/2 over power-of-two arrays: one cache line per typical lookup.
 */
#ifndef VFP_TABLES_H
#define VFP_TABLES_H

#include <stddef.h>
#include <stdint.h>

#include "maglev.h"

struct vfp_port_ent {
	uint32_t network;
	uint32_t flags; /* VFP_PORT_* | PRESENT */
};
#define VFP_PORT_PRESENT 0x80000000u

/* (network, MAC) -> local port or remote VTEP. Networks are 32 bit, so the key is the
 * pair (48-bit MAC, network) compared field by field. The entry holds its verdict ready
 * made (a remote MAC's VTEP is resolved when the snapshot is built), so a hit is copied
 * into the verdict without a second lookup or a branch on local/remote. 32 bytes in a
 * 64-byte aligned array: an entry never straddles two cache lines, so the one line the
 * batch prefetches for a frame holds its home slot and, half the time, the next probe. */
struct vfp_mac_ent {
	uint64_t mac;      /* 48-bit MAC; empty slots have used == 0 */
	uint32_t network;
	uint8_t used;
	uint8_t kind;      /* VFP_V_LOCAL, VFP_V_ENCAP, or VFP_V_SLOW: a remote MAC whose VTEP is unknown */
	uint8_t encap;     /* ENCAP: the VTEP's enum vfp_encap */
	uint8_t pad;
	uint32_t port;     /* LOCAL: the port; ENCAP: the VTEP id */
	uint32_t vni;      /* ENCAP */
	uint64_t addr_hi;  /* verdict.addr[8..15]: ENCAP: ::ffff:VTEP-IP's low half; LOCAL: 0 */
};
_Static_assert(sizeof(struct vfp_mac_ent) == 32, "MAC entries are half a cache line");
_Static_assert(sizeof(struct vfp_mac_ent) == 32, "MAC entries are half a cache line");

struct vfp_vni_ent {
	uint32_t vni;
	uint32_t network;
	uint32_t used;
};

struct vfp_vtep_ent {
	uint32_t id;
	uint32_t ip;
	uint8_t nh_mac[6];
	uint8_t encap;
	uint8_t used;
};

/* Ethernet/IPv4/UDP/VXLAN|GENEVE toward one VTEP with the lengths, UDP source port and
 * VNI zero; ip_sum is the one's-complement sum of the IPv4 header without its total length
 * and checksum (unfolded), so a frame's checksum is ~fold(ip_sum + total length). */
struct vfp_vtep_tmpl {
	uint8_t hdr[50];
	uint16_t pad;
	uint32_t ip_sum;
};

/* A Maglev ring, shared between consecutive snapshots while the VIP's backends do not
 * change: rebuilding 1,000 rings costs seconds, reusing them nothing. refs is only
 * touched by the control plane (under the commit lock), never on the packet path. */
struct vfp_ring {
	uint32_t refs;
	uint16_t slot[];
};

struct vfp_vip {
	uint8_t addr[16];
	uint16_t port;
	uint8_t proto;
	uint8_t used;
	uint32_t index;      /* position in the builder, stable across commits of it */
	uint32_t flags;      /* VFP_VIP_* */
	uint32_t n_backends;
	struct vfp_backend *backends; /* sorted by id */
	const uint16_t *ring; /* ringobj->slot: VFP_MAGLEV_M entries, NULL when no usable backend */
	struct vfp_ring *ringobj;
	uint32_t *id_slots;  /* id -> backend index + 1 (0 empty), id_mask + 1 entries */
	uint32_t *id_keys;
	uint32_t id_mask;
};

struct vfp_tables {
	uint64_t generation;
	uint32_t local_ip;     /* outer source of encapsulated frames (host order) */
	uint8_t local_mac[6];
	struct vfp_port_ent *ports; /* direct index by port number */
	uint32_t n_ports;
	struct vfp_mac_ent *macs;
	uint32_t mac_mask;
	struct vfp_vni_ent *vnis;
	uint32_t vni_mask;
	struct vfp_vtep_ent *vteps;
	uint32_t vtep_mask;
	/* Outer headers toward each VTEP (same slot as vteps[]), made when the snapshot is
	 * built: encapsulating copies them and patches the per-frame fields (forward.c). */
	struct vfp_vtep_tmpl *vtep_tmpl;
	/* VIPs: a dense array, found through a compact index of (fingerprint, position)
	 * pairs at load <= 1/4, so a miss (most packets: they are not for a VIP) reads
	 * one or two 8-byte slots instead of probing 80-byte VIP records. */
	struct vfp_vip *vips;
	uint32_t n_vips;
	struct vfp_vip_slot { uint32_t fp; uint32_t pos; } *vip_idx;
	uint32_t vip_mask;
};

struct vfp_builder; /* defined in tables.c */

/* Zeroed, 64-byte aligned memory for a table that random lookups walk (free() frees it).
 * From 2 MiB up it is 2 MiB aligned and marked for transparent huge pages: at 100,000
 * flows the MAC table and the LRU span thousands of 4 KiB pages, and with random flows
 * nearly every lookup would add a TLB miss (a page walk) to its cache miss. */
void *vfp_table_alloc(size_t bytes);

/* Build a snapshot (NULL on allocation failure); rings are reused from prev (may be
 * NULL) for VIPs whose sorted backend list is unchanged. */
struct vfp_tables *vfp_tables_build(const struct vfp_builder *b, uint64_t generation, const struct vfp_tables *prev);
void vfp_tables_free(struct vfp_tables *t);

/* Destination MAC of a frame (at least 14 bytes long, so 8 bytes can be read): one load
 * and a byte swap instead of six loads and shifts. */
static inline uint64_t vfp_frame_mac48(const uint8_t *f)
{
	uint64_t w;
	__builtin_memcpy(&w, f, 8);
	return __builtin_bswap64(w) >> 16;
}

static inline uint64_t vfp_mac48(const uint8_t *m)
{
	return ((uint64_t)m[0] << 40) | ((uint64_t)m[1] << 32) | ((uint64_t)m[2] << 24) |
	       ((uint64_t)m[3] << 16) | ((uint64_t)m[4] << 8) | m[5];
}

/* Lookup hashes sit on every packet's critical path: a fold and one multiply (a few
 * cycles of latency) instead of a full finaliser. A product's bit k depends only on
 * input bits <= k, so the key's upper half is first folded onto its lower half, and
 * the index is taken from the product's bits 32 and up, which all 32 folded bits reach.
 * Exposed so the batch classifier can hash every frame first and prefetch the slots. */
static inline uint32_t vfp_mac_hash(uint32_t network, uint64_t mac)
{
	uint64_t x = (mac << 16) ^ network;
	x ^= x >> 32;
	return (uint32_t)((x * 0x9e3779b97f4a7c15ull) >> 32);
}

/* Index in the low 32 bits of the result, fingerprint in the high 32 (see vfp_mac_hash
 * for why the index comes from the product's upper half). */
static inline uint64_t vfp_vip_hash(uint8_t proto, const uint8_t *a, uint16_t port)
{
	uint64_t x, h, w0, w1;
	__builtin_memcpy(&w0, a, 8);
	__builtin_memcpy(&w1, a + 8, 8);
	x = w0 ^ w1 ^ ((uint64_t)port << 8) ^ proto;
	x ^= x >> 32;
	h = x * 0x9e3779b97f4a7c15ull;
	return (h >> 32) | (h << 32);
}

const struct vfp_mac_ent *vfp_mac_lookup(const struct vfp_tables *t, uint32_t network, uint64_t mac);
/* The same with h = vfp_mac_hash(network, mac) already computed. */
static inline const struct vfp_mac_ent *vfp_mac_lookup_h(const struct vfp_tables *t, uint32_t network, uint64_t mac,
							 uint32_t h)
{
	for (h &= t->mac_mask;; h = (h + 1) & t->mac_mask) {
		const struct vfp_mac_ent *e = &t->macs[h];
		if (!e->used)
			return NULL;
		if (e->mac == mac && e->network == network)
			return e;
	}
}
const struct vfp_vni_ent *vfp_vni_lookup(const struct vfp_tables *t, uint32_t vni);
const struct vfp_vtep_ent *vfp_vtep_lookup(const struct vfp_tables *t, uint32_t id);
const struct vfp_vip *vfp_vip_lookup(const struct vfp_tables *t, uint8_t proto, const uint8_t addr[16],
				     uint16_t port);
/* The same with hv = vfp_vip_hash(proto, addr, port) already computed. */
const struct vfp_vip *vfp_vip_lookup_h(const struct vfp_tables *t, uint8_t proto, const uint8_t addr[16],
				       uint16_t port, uint64_t hv);
/* First VIP record whose fingerprint matches hv (a candidate to prefetch), or NULL. */
static inline const struct vfp_vip *vfp_vip_candidate(const struct vfp_tables *t, uint64_t hv)
{
	uint32_t h = (uint32_t)hv & t->vip_mask, fp = (uint32_t)(hv >> 32) | 1u;
	for (;; h = (h + 1) & t->vip_mask) {
		const struct vfp_vip_slot *sl = &t->vip_idx[h];
		if (!sl->fp)
			return NULL;
		if (sl->fp == fp)
			return &t->vips[sl->pos];
	}
}
/* Backend index for id in vip, or -1. */
int vfp_vip_backend_index(const struct vfp_vip *v, uint32_t id);

#endif
