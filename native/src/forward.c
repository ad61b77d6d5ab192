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

static int rewrite_vip(const struct vfp_pkt *p, const struct vfp_verdict *v, uint8_t *f)
{
	static const uint8_t v4map[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	int backend_v4 = !memcmp(v->addr, v4map, 12);
	uint8_t *l4 = f + p->l4_off, *csum = NULL, *daddr, port[2];
	uint32_t alen;

	if (backend_v4 != (p->l3 == VFP_L3_IPV4))
		return VFP_R_VIP_EMPTY; /* no NAT46/64 here: the slow path decides */
	if (p->proto == 6)
		csum = l4 + 16;
	else if (p->proto == 17 && vfp_rd16(l4 + 6) != 0)
		csum = l4 + 6;
	if (p->l3 == VFP_L3_IPV4) {
		daddr = f + p->l3_off + 16;
		alen = 4;
		vfp_csum_replace(f + p->l3_off + 10, daddr, v->addr + 12, 4, 0);
		if (csum)
			vfp_csum_replace(csum, daddr, v->addr + 12, 4, p->proto == 17);
		memcpy(daddr, v->addr + 12, 4);
	} else {
		daddr = f + p->l3_off + 24;
		alen = 16;
		if (csum)
			vfp_csum_replace(csum, daddr, v->addr, 16, p->proto == 17);
		memcpy(daddr, v->addr, 16);
	}
	(void)alen;
	vfp_wr16(port, v->l4port);
	if (csum)
		vfp_csum_replace(csum, l4 + 2, port, 2, p->proto == 17);
	memcpy(l4 + 2, port, 2);
	return 0;
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
		return rewrite_vip(p, v, f);
	default:
		return 0;
	}
}
