/* Acting on verdicts in place, in the frame's own buffer (no copies): encapsulate into
 * the headroom, strip the outer headers, rewrite toward a VIP backend. */
#ifndef VFP_FORWARD_H
#define VFP_FORWARD_H

#include <stdint.h>

#include "../include/vfp.h"
#include "parse.h"
#include "tables.h"

/* Returns 0, or a VFP_R_* reason when the frame cannot be forwarded (verdict untouched). */
int vfp_apply(const struct vfp_tables *t, const struct vfp_pkt *p, const struct vfp_verdict *v, uint8_t *base,
	      uint32_t chunk_size, uint32_t *off, uint32_t *len);

/* Write Ethernet/IPv4/UDP/VXLAN|GENEVE headers for an inner frame of inner_len bytes
 * at out (VFP_ENCAP_OVERHEAD bytes). */
void vfp_write_outer(const struct vfp_encap_params *p, uint8_t *out, uint32_t inner_len);

/* Outer UDP source port for a frame: flow entropy in 49152..65535 (RFC 7348 5). */
uint16_t vfp_entropy_port(const uint8_t *f, uint32_t len, const struct vfp_pkt *p);

#endif
