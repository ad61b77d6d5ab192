/* VXLAN (RFC 7348) and GENEVE (RFC 8926) over IPv4/UDP: build and strip outer headers. */
#ifndef VFP_ENCAP_H
#define VFP_ENCAP_H

#include <stdint.h>

#include "hash.h"
#include "parse.h"

#define VFP_VXLAN_PORT 4789u
#define VFP_GENEVE_PORT 6081u
#define VFP_ENCAP_OVERHEAD 50u /* Ethernet 14 + IPv4 20 + UDP 8 + VXLAN/GENEVE 8 */

/* Given an already parsed outer frame, find the tunnel payload. Returns the
 * encap type (>= 0) with *inner_off and *vni set, or -1 when it is not our tunnel. */
int vfp_decap_parsed(const uint8_t *f, uint32_t len, const struct vfp_pkt *p, uint32_t *inner_off,
		     uint32_t *vni);

/* Hash of a flow key (addresses as ::ffff:a.b.c.d for IPv4): vfp_tuple_hash of a frame
 * with these fields. Inline: the batch loop hashes every frame it may encapsulate. */
static inline uint64_t vfp_key_hash(const uint8_t src[16], const uint8_t dst[16], uint16_t sport, uint16_t dport,
				    uint8_t proto)
{
	uint64_t a = vfp_load64(src) ^ vfp_load64(src + 8) * 0x9e3779b97f4a7c15ull;
	uint64_t b = vfp_load64(dst) ^ vfp_load64(dst + 8) * 0xc2b2ae3d27d4eb4full;
	uint64_t l4 = ((uint64_t)sport << 32) | ((uint64_t)dport << 16) | proto;
	return vfp_mix64(a ^ vfp_mix64(b ^ l4));
}

/* Flow hash of a parsed frame: the Maglev key and the outer UDP source port's entropy. */
static inline uint64_t vfp_tuple_hash(const struct vfp_pkt *p)
{
	return vfp_key_hash(p->src, p->dst, p->sport, p->dport, p->proto);
}

#endif
