/* In-place actions; see forward.h. */
#include "forward.h"

#include <string.h>

#include "encap.h"
#include "hash.h"

uint16_t vfp_entropy_port(const uint8_t *f, uint32_t len, const struct vfp_pkt *p)
{
	uint32_t h = (p->flags & VFP_PF_HAS_L4) ? (uint32_t)vfp_tuple_hash(p)
						 : vfp_fnv1a(VFP_FNV_SEED1, f, len < 14 ? len : 14);
	return vfp_entropy_of(h);
}

int vfp_apply(const struct vfp_tables *t, const struct vfp_pkt *p, const struct vfp_verdict *v, uint8_t *base,
	      uint32_t chunk_size, uint32_t *off, uint32_t *len)
{
	uint8_t *f = base + *off;

	switch (v->kind) {
	case VFP_V_LOCAL:
		if (v->inner_off) { /* decap: deliver just the inner frame */
			uint32_t end = (uint32_t)p->l3_off + p->ip_len;
			*off += v->inner_off;
			*len = end - v->inner_off;
		}
		return 0;
	case VFP_V_ENCAP: {
		const struct vfp_vtep_ent *vt = vfp_vtep_lookup(t, v->port);
		if (!vt)
			return VFP_R_MAC_MISS;
		return vfp_encap_tmpl(&t->vtep_tmpl[vt - t->vteps], base, chunk_size, off, len,
				      vfp_entropy_port(f, *len, p), v->vni);
	}
	case VFP_V_VIP:
		return vfp_rewrite_vip(p, v, f);
	default:
		return 0;
	}
}
