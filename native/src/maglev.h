/*
 * Maglev consistent hashing (Eisenbud et al., NSDI 2016) with weights.
 *
 * Each backend has a permutation of the M ring slots: offset = h1 % M,
 * skip = h2 % (M - 1) + 1, slot j = (offset + j * skip) % M, with h1/h2 FNV-1a of the
 * backend's (address, port) under two seeds. Backends are taken in ascending id order;
 * in each round a backend earns `weight` credit and claims its next free slot when its
 * credit reaches the largest weight. So slots are shared in proportion to weight and
 * the ring does not depend on the order the control plane listed the backends in.
 * src/fastpath/maglev-reference.ts is the naive version of exactly this.
 */
#ifndef VFP_MAGLEV_H
#define VFP_MAGLEV_H

#include <stdint.h>

#define VFP_MAGLEV_EMPTY 0xffffu

struct vfp_backend {
	uint32_t id;
	uint8_t addr[16];
	uint16_t port;
	uint16_t weight;
	uint8_t mac[6]; /* for conntrack VIPs' L2 delivery (zero when not given) */
	uint16_t pad;
};

/* Sorts backends by id: the order the ring's indexes refer to. */
void vfp_backends_sort(struct vfp_backend *be, uint32_t n);

/* Fills ring[VFP_MAGLEV_M] with indexes into be[] (which it sorts by id).
 * Returns 0, or -EINVAL when no backend has a weight (ring is then all EMPTY). */
int vfp_maglev_fill(struct vfp_backend *be, uint32_t n, uint16_t *ring);

#endif
