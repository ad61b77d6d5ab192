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
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "../include/vfp.h"
#include "maglev.h"

struct vfp_port_ent {
	uint32_t network;
	uint32_t flags; /* VFP_PORT_* | PRESENT */
};
#define VFP_PORT_PRESENT 0x80000000u

/* (network, MAC) -> local port or remote VTEP, in 16 bytes: four entries to a 64-byte
 * line, and a lookup starts at the first entry of its home line (a bucket of four), so the
 * one line the batch prefetches for a frame nearly always holds the answer (linear probing
 * continues into the next line only when a bucket overflows, rare at load <= 1/2). At
 * 100,000 flows the table is 4 MiB instead of 8: half the cache and TLB footprint, and one
 * prefetched line per frame instead of two. The key word holds the MAC and a tag that says
 * what a hit means, resolved when the snapshot is built (no VTEP hash lookup per packet):
 *   tag 0: empty slot (the whole word is 0), VFP_MAC_LOCAL: val is the port,
 *   VFP_MAC_SLOW: a remote MAC whose VTEP is unknown (the slow path decides),
 *   VFP_MAC_VTEP0 + k: behind the VTEP in vteps[k] (its id, encap and address), val the VNI. */
struct vfp_mac_ent {
	uint64_t key;      /* 48-bit MAC | tag << 48 */
	uint32_t network;
	uint32_t val;      /* LOCAL: port; VTEP: VNI */
};
_Static_assert(sizeof(struct vfp_mac_ent) == 16, "four MAC entries to a cache line");
#define VFP_MAC_LOCAL 1u
#define VFP_MAC_SLOW 2u
#define VFP_MAC_VTEP0 3u
#define VFP_MAC_BUCKET 4u /* entries per line: where a lookup starts */
#define VFP_MAC48 0xffffffffffffull

/* What a MAC hit with a given tag means, as verdict fields (mac_verdicts[tag] of a
 * snapshot, made when it is built): the classifier copies these and merges the entry's
 * val in with masks, so a frame's verdict costs no branch on local/remote. */
struct vfp_mac_verdict {
	/* As a whole verdict: kind (VFP_V_LOCAL or VFP_V_ENCAP; tag VFP_MAC_SLOW is taken apart),
	 * encap, port (ENCAP: the VTEP id; LOCAL: 0, the port is val), addr[8..15] (ENCAP:
	 * ::ffff:VTEP-IP's low half; LOCAL: 0), the rest zero. The batch's common lane copies it
	 * and sets three words, instead of zeroing a verdict and filling it field by field (~10
	 * instructions of every such frame); the general path takes those four fields from it. */
	struct vfp_verdict tmpl;
	uint32_t port_mask; /* verdict port = tmpl.port | (val & port_mask) */
	uint32_t vni_mask;  /* verdict vni = (val & vni_mask) | (vni & ~vni_mask): LOCAL keeps the decap VNI */
};

struct vfp_vni_ent {
	uint32_t vni;
	uint32_t network;
	uint16_t used;
	/* The network's encapsulation + 1 (VFP_ENCAP_*), 0: either (vfp_builder_add_vni). */
	uint16_t encap;
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
	uint32_t network;    /* the VIP's network: part of its key (tenants may reuse an address) */
	uint32_t index;      /* position in the builder, stable across commits of it */
	uint32_t flags;      /* VFP_VIP_* */
	uint32_t n_backends;
	struct vfp_backend *backends; /* sorted by id */
	const uint16_t *ring; /* ringobj->slot: VFP_MAGLEV_M entries, NULL when no usable backend */
	struct vfp_ring *ringobj;
	uint16_t *lb_slots;  /* conntrack VIPs: OVS's slot table, backend index per slot (0xffff none), or NULL */
	uint32_t n_lb_slots; /* its size, 1 to VFP_LB_SLOTS_MAX */
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
	/* network -> its VNI (the first one given for it): what its frames arrive in, so what a
	 * connection key at the underlay names (conn.c). Same size as vnis, keyed by network. */
	struct vfp_vni_ent *net_vnis;
	struct vfp_vtep_ent *vteps;
	uint32_t vtep_mask;
	/* Outer headers toward each VTEP (same slot as vteps[]), made when the snapshot is
	 * built: encapsulating copies them and patches the per-frame fields (forward.c). */
	struct vfp_vtep_tmpl *vtep_tmpl;
	/* MAC entry tag -> verdict fields: VFP_MAC_VTEP0 + vtep_mask + 1 entries. */
	struct vfp_mac_verdict *mac_verdicts;
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
static inline uint64_t vfp_vip_hash(uint32_t network, uint8_t proto, const uint8_t *a, uint16_t port)
{
	uint64_t x, h, w0, w1;
	__builtin_memcpy(&w0, a, 8);
	__builtin_memcpy(&w1, a + 8, 8);
	x = w0 ^ w1 ^ ((uint64_t)network << 24) ^ ((uint64_t)port << 8) ^ proto;
	x ^= x >> 32;
	h = x * 0x9e3779b97f4a7c15ull;
	return (h >> 32) | (h << 32);
}

#if defined(__SSE2__)
/* The compare key of (network, mac) as the SSE2 lookup wants it: the network part made once
 * per batch (vfp_mac_net), each frame's MAC merged in with one move and one OR. */
static inline __m128i vfp_mac_net(uint32_t network) { return _mm_set_epi32(0, (int)network, 0, 0); }
static inline __m128i vfp_mac_key(__m128i net, uint64_t mac)
{
	return _mm_or_si128(net, _mm_cvtsi64_si128((long long)mac));
}
/* vfp_mac_lookup_h with the key already made. SSE2 (every x86-64): an entry's first 12
 * bytes, its tag masked off, against (MAC, network); its last 4 (val) are masked to 0 on
 * both sides. An empty entry is all zero: it matches only MAC 0 in network 0, which the
 * tag test below rules out. */
static inline const struct vfp_mac_ent *vfp_mac_lookup_key(const struct vfp_tables *t, __m128i key, uint32_t h)
{
	const __m128i mask = _mm_set_epi32(0, -1, 0xffff, -1);
	for (h &= t->mac_mask & ~(VFP_MAC_BUCKET - 1);; h = (h + VFP_MAC_BUCKET) & t->mac_mask) {
		const struct vfp_mac_ent *b = &t->macs[h];
		const __m128i *v = (const __m128i *)(const void *)b;
		/* The four compares narrowed to one byte per 32-bit lane (signed saturation keeps
		 * 0 and -1) and read with one movemask: entry k matches when its nibble is 0xf. */
		__m128i c01 = _mm_packs_epi32(_mm_cmpeq_epi32(_mm_and_si128(_mm_load_si128(v), mask), key),
					      _mm_cmpeq_epi32(_mm_and_si128(_mm_load_si128(v + 1), mask), key));
		__m128i c23 = _mm_packs_epi32(_mm_cmpeq_epi32(_mm_and_si128(_mm_load_si128(v + 2), mask), key),
					      _mm_cmpeq_epi32(_mm_and_si128(_mm_load_si128(v + 3), mask), key));
		uint32_t m = (uint32_t)_mm_movemask_epi8(_mm_packs_epi16(c01, c23));
		uint32_t hit = m & (m >> 1);
		hit &= (hit >> 2) & 0x1111u;
		if (__builtin_expect(hit != 0, 1)) {
			const struct vfp_mac_ent *e = &b[__builtin_ctz(hit) >> 2];
			if (__builtin_expect(e->key != 0, 1))
				return e;
			return NULL; /* MAC 0 in network 0 matched an empty entry: the bucket ends there */
		}
		if (!b[0].key || !b[1].key || !b[2].key || !b[3].key)
			return NULL;
	}
}
#endif
const struct vfp_mac_ent *vfp_mac_lookup(const struct vfp_tables *t, uint32_t network, uint64_t mac);
/* The same with h = vfp_mac_hash(network, mac) already computed. */
static inline const struct vfp_mac_ent *vfp_mac_lookup_h(const struct vfp_tables *t, uint32_t network, uint64_t mac,
							 uint32_t h)
{
	/* A whole bucket is compared at once, without a branch per entry: with random flows
	 * the position of the key in its bucket is random, and a loop that stopped at the
	 * first match mispredicted its exit on nearly every frame. Entries are never removed
	 * from a snapshot, so a bucket with an empty entry ends the probe. */
#if defined(__SSE2__)
	return vfp_mac_lookup_key(t, vfp_mac_key(vfp_mac_net(network), mac), h);
#else
	for (h &= t->mac_mask & ~(VFP_MAC_BUCKET - 1);; h = (h + VFP_MAC_BUCKET) & t->mac_mask) {
		const struct vfp_mac_ent *b = &t->macs[h];
		uint32_t hit = 0, k;
#pragma GCC unroll 4
		for (k = 0; k < VFP_MAC_BUCKET; k++)
			hit |= (uint32_t)((((b[k].key & VFP_MAC48) ^ mac) | (b[k].network ^ network)) == 0 && b[k].key) << k;
		if (__builtin_expect(hit != 0, 1))
			return &b[__builtin_ctz(hit)];
		if (!b[0].key || !b[1].key || !b[2].key || !b[3].key)
			return NULL;
	}
#endif
}
/* The line a lookup of hash h starts in (what the batch prefetches). */
static inline const struct vfp_mac_ent *vfp_mac_home(const struct vfp_tables *t, uint32_t h)
{
	return &t->macs[h & t->mac_mask & ~(VFP_MAC_BUCKET - 1)];
}
/* Port `port`'s entry, or NULL when the tables have no such port. */
static inline const struct vfp_port_ent *vfp_port_lookup(const struct vfp_tables *t, uint32_t port)
{
	return port < t->n_ports && (t->ports[port].flags & VFP_PORT_PRESENT) ? &t->ports[port] : NULL;
}
const struct vfp_vni_ent *vfp_vni_lookup(const struct vfp_tables *t, uint32_t vni);
/* The VNI of a network (vfp_vni_ent.vni), or NULL when the tables give it none. */
const struct vfp_vni_ent *vfp_network_vni(const struct vfp_tables *t, uint32_t network);
const struct vfp_vtep_ent *vfp_vtep_lookup(const struct vfp_tables *t, uint32_t id);
const struct vfp_vip *vfp_vip_lookup(const struct vfp_tables *t, uint32_t network, uint8_t proto,
				     const uint8_t addr[16], uint16_t port);
/* The same with hv = vfp_vip_hash(network, proto, addr, port) already computed. */
const struct vfp_vip *vfp_vip_lookup_h(const struct vfp_tables *t, uint32_t network, uint8_t proto,
				       const uint8_t addr[16], uint16_t port, uint64_t hv);
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
