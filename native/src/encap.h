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
	/* Each address word (the ports and protocol folded into one) times its own odd 32-bit
	 * constant (an immediate operand: no 64-bit constant to load; four independent
	 * multiplies), summed, then one finaliser. An IPv4 address sits in the upper half of its
	 * second word: the destination's is rotated down so the two addresses reach different
	 * bits of the sum. Two finalisers in a row before were six dependent multiplies and ~40
	 * instructions of every encapsulated and every VIP frame. */
	uint64_t l4 = ((uint64_t)sport << 32) | ((uint64_t)dport << 16) | proto;
	uint64_t d1 = vfp_load64(dst + 8);
	uint64_t h = (vfp_load64(src + 8) ^ l4) * 0x7feb352dull + ((d1 << 32) | (d1 >> 32)) * 0x846ca68bull +
		     vfp_load64(src) * 0x2c1b3c6dull + vfp_load64(dst) * 0x297a2d39ull;
	return vfp_mix64(h);
}

/* Flow hash of a parsed frame: the Maglev key and the outer UDP source port's entropy. */
static inline uint64_t vfp_tuple_hash(const struct vfp_pkt *p)
{
	return vfp_key_hash(p->src, p->dst, p->sport, p->dport, p->proto);
}

#endif
