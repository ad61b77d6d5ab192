/* Acting on verdicts in place, in the frame's own buffer (no copies): encapsulate into
 * the headroom, strip the outer headers, rewrite toward a VIP backend. */
#ifndef VFP_FORWARD_H
#define VFP_FORWARD_H

#include <stdint.h>
#include <string.h>

#include "../include/vfp.h"
#include "encap.h"
#include "parse.h"
#include "tables.h"

/* Offset of a frame within its chunk. UMEM chunks are a power of two (2 or 4 KiB) in
 * practice: a mask then, not a division (tens of cycles) per encapsulated frame. */
static inline uint32_t vfp_in_chunk(uint32_t off, uint32_t chunk_size)
{
	return (chunk_size & (chunk_size - 1)) == 0 ? off & (chunk_size - 1) : off % chunk_size;
}

/*
 * Encapsulates the frame at base + *off (*len bytes) into its headroom with a VTEP's ready-made
 * headers (tables.h): the template, then this frame's lengths, IPv4 checksum, entropy port and
 * VNI, the bytes vfp_write_outer would write (tests compare them with an independent reference).
 * Inline: the batch loop calls it once per frame with the template its MAC entry named.
 */
static inline int vfp_encap_tmpl(const struct vfp_vtep_tmpl *tm, uint8_t *base, uint32_t chunk_size, uint32_t *off,
				 uint32_t *len, uint16_t sport, uint32_t vni)
{
	uint32_t ip_len = *len + VFP_ENCAP_OVERHEAD - 14;
	uint8_t *o;

	/* Only the frame's own chunk may be written: never a neighbour's frame. */
	if (!chunk_size || vfp_in_chunk(*off, chunk_size) < VFP_ENCAP_OVERHEAD || ip_len > 0xffffu)
		return VFP_R_NO_HEADROOM;
	o = base + *off - VFP_ENCAP_OVERHEAD;
	__builtin_memcpy(o, tm->hdr, VFP_ENCAP_OVERHEAD);
	vfp_wr16(o + 16, (uint16_t)ip_len);
	vfp_wr16(o + 24, vfp_csum_fold(tm->ip_sum + ip_len));
	vfp_wr16(o + 34, sport);
	vfp_wr16(o + 38, (uint16_t)(ip_len - 20));
	vfp_wr32(o + 46, vni << 8);
	*off -= VFP_ENCAP_OVERHEAD;
	*len += VFP_ENCAP_OVERHEAD;
	return 0;
}

/* Outer UDP source port from a flow's tuple hash (vfp_tuple_hash): 49152..65535. */
static inline uint16_t vfp_entropy_of(uint64_t tuple_h) { return (uint16_t)(0xc000u | ((uint32_t)tuple_h & 0x3fffu)); }

/* A VIP frame's destination address and port rewritten toward its backend (verdict v), with
 * incremental checksum updates; VFP_R_VIP_EMPTY when the families differ (no NAT46/64 here: the
 * slow path decides). Inline: the batch loop rewrites VIP frames itself. */
static inline int vfp_rewrite_vip(const struct vfp_pkt *p, const struct vfp_verdict *v, uint8_t *f)
{
	static const uint8_t v4map[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	int backend_v4 = !memcmp(v->addr, v4map, 12);
	uint8_t *l4 = f + p->l4_off, *csum = NULL, *daddr, port[2];
	uint32_t alen;

	if (backend_v4 != (p->l3 == VFP_L3_IPV4))
		return VFP_R_VIP_EMPTY;
	if (p->proto == 6)
		csum = l4 + 16;
	else if (p->proto == 17 && vfp_rd16(l4 + 6) != 0)
		csum = l4 + 6;
	if (p->l3 == VFP_L3_IPV4) {
		daddr = f + p->l3_off + 16;
		alen = 4;
		vfp_csum_replace_inline(f + p->l3_off + 10, daddr, v->addr + 12, 4, 0);
		if (csum)
			vfp_csum_replace_inline(csum, daddr, v->addr + 12, 4, p->proto == 17);
		memcpy(daddr, v->addr + 12, 4);
	} else {
		daddr = f + p->l3_off + 24;
		alen = 16;
		if (csum)
			vfp_csum_replace_inline(csum, daddr, v->addr, 16, p->proto == 17);
		memcpy(daddr, v->addr, 16);
	}
	(void)alen;
	vfp_wr16(port, v->l4port);
	if (csum)
		vfp_csum_replace_inline(csum, l4 + 2, port, 2, p->proto == 17);
	memcpy(l4 + 2, port, 2);
	return 0;
}

/* Returns 0, or a VFP_R_* reason when the frame cannot be forwarded (verdict untouched). */
int vfp_apply(const struct vfp_tables *t, const struct vfp_pkt *p, const struct vfp_verdict *v, uint8_t *base,
	      uint32_t chunk_size, uint32_t *off, uint32_t *len);

/* Write Ethernet/IPv4/UDP/VXLAN|GENEVE headers for an inner frame of inner_len bytes
 * at out (VFP_ENCAP_OVERHEAD bytes). */
void vfp_write_outer(const struct vfp_encap_params *p, uint8_t *out, uint32_t inner_len);

/* Outer UDP source port for a frame: flow entropy in 49152..65535 (RFC 7348 5). */
uint16_t vfp_entropy_port(const uint8_t *f, uint32_t len, const struct vfp_pkt *p);

#endif
