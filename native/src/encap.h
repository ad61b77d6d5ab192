/* VXLAN (RFC 7348) and GENEVE (RFC 8926) over IPv4/UDP: build and strip outer headers. */
#ifndef VFP_ENCAP_H
#define VFP_ENCAP_H

#include <stdint.h>

#include "parse.h"

#define VFP_VXLAN_PORT 4789u
#define VFP_GENEVE_PORT 6081u
#define VFP_ENCAP_OVERHEAD 50u /* Ethernet 14 + IPv4 20 + UDP 8 + VXLAN/GENEVE 8 */

/* Given an already parsed outer frame, find the tunnel payload. Returns the
 * encap type (>= 0) with *inner_off and *vni set, or -1 when it is not our tunnel. */
int vfp_decap_parsed(const uint8_t *f, uint32_t len, const struct vfp_pkt *p, uint32_t *inner_off,
		     uint32_t *vni);

/* Flow hash of a parsed frame: the Maglev key and the outer UDP source port's entropy. */
uint64_t vfp_tuple_hash(const struct vfp_pkt *p);

#endif
