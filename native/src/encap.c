/* Encapsulation and decapsulation; see encap.h. The outer UDP checksum is 0, which
 * IPv4 allows and every VXLAN/GENEVE receiver (Linux, OVS) accepts. */
#include "encap.h"

#include <errno.h>
#include <string.h>

#include "../include/vfp.h"
#include "forward.h"
#include "hash.h"

void vfp_write_outer(const struct vfp_encap_params *p, uint8_t *out, uint32_t inner_len)
{
	uint8_t *ip = out + 14, *udp = ip + 20, *tun = udp + 8;
	uint32_t total = VFP_ENCAP_OVERHEAD + inner_len;

	memcpy(out, p->dst_mac, 6);
	memcpy(out + 6, p->src_mac, 6);
	vfp_wr16(out + 12, 0x0800);

	ip[0] = 0x45;
	ip[1] = 0;
	vfp_wr16(ip + 2, (uint16_t)(total - 14));
	vfp_wr16(ip + 4, p->ip_id);
	vfp_wr16(ip + 6, 0x4000); /* DF: the underlay MTU is sized for us, never fragment */
	ip[8] = p->ttl;
	ip[9] = 17;
	vfp_wr16(ip + 10, 0);
	vfp_wr32(ip + 12, p->src_ip);
	vfp_wr32(ip + 16, p->dst_ip);
	vfp_wr16(ip + 10, vfp_csum_fold(vfp_csum_add(0, ip, 20)));

	vfp_wr16(udp, p->src_port);
	vfp_wr16(udp + 2, p->type == VFP_ENCAP_VXLAN ? VFP_VXLAN_PORT : VFP_GENEVE_PORT);
	vfp_wr16(udp + 4, (uint16_t)(total - 34));
	vfp_wr16(udp + 6, 0);

	if (p->type == VFP_ENCAP_VXLAN) {
		vfp_wr32(tun, 0x08000000u); /* I flag: the VNI is valid */
		vfp_wr32(tun + 4, p->vni << 8);
	} else {
		tun[0] = 0; /* version 0, no options */
		tun[1] = 0;
		vfp_wr16(tun + 2, 0x6558); /* Transparent Ethernet Bridging */
		vfp_wr32(tun + 4, p->vni << 8);
	}
}

int vfp_encap(const struct vfp_encap_params *p, const uint8_t *inner, uint32_t inner_len, uint8_t *out,
	      uint32_t out_cap)
{
	uint32_t total = VFP_ENCAP_OVERHEAD + inner_len;

	if (p->type > VFP_ENCAP_GENEVE || p->vni > 0xffffffu)
		return -EINVAL;
	if (total > out_cap || total - 14 > 0xffffu)
		return -ENOSPC;
	vfp_write_outer(p, out, inner_len);
	/* memmove: callers may encapsulate in place with the frame at out + 50. */
	memmove(out + VFP_ENCAP_OVERHEAD, inner, inner_len);
	return (int)total;
}

int vfp_decap_parsed(const uint8_t *f, uint32_t len, const struct vfp_pkt *p, uint32_t *inner_off,
		     uint32_t *vni)
{
	uint32_t off = p->payload_off, end = (uint32_t)p->l3_off + p->ip_len, hl;
	const uint8_t *t;

	if (p->proto != 17 || !(p->flags & VFP_PF_HAS_L4) || (p->flags & VFP_PF_FRAG))
		return -1;
	if (end > len || end < off + 8)
		return -1;
	t = f + off;
	/* Headers as OVS's tunnel ports take them (netdev-native-tnl.c): VXLAN with exactly the
	 * I flag and zero reserved fields; GENEVE version 0 carrying Ethernet, no critical option. */
	if (p->dport == VFP_VXLAN_PORT) {
		if (vfp_rd32(t) != 0x08000000u || t[7] != 0)
			return -1;
		hl = 8;
	} else if (p->dport == VFP_GENEVE_PORT) {
		if ((t[0] >> 6) != 0 || (t[1] & 0x40) || vfp_rd16(t + 2) != 0x6558)
			return -1;
		hl = 8 + (uint32_t)(t[0] & 0x3f) * 4u;
	} else {
		return -1;
	}
	if (end - off < hl + 14) /* the inner frame needs at least an Ethernet header */
		return -1;
	*vni = vfp_rd32(t + 4) >> 8;
	*inner_off = off + hl;
	return p->dport == VFP_VXLAN_PORT ? VFP_ENCAP_VXLAN : VFP_ENCAP_GENEVE;
}

int vfp_decap(const uint8_t *frame, uint32_t len, uint32_t *inner_off, uint32_t *vni)
{
	struct vfp_pkt p;
	if (vfp_parse(frame, len, &p) != VFP_P_OK)
		return -1;
	return vfp_decap_parsed(frame, len, &p, inner_off, vni);
}

uint32_t vfp_flow_hash(const uint8_t *frame, uint32_t len)
{
	struct vfp_pkt p;
	if (vfp_parse(frame, len, &p) != VFP_P_OK || !(p.flags & VFP_PF_HAS_L4))
		return vfp_fnv1a(VFP_FNV_SEED1, frame, len < 14 ? len : 14);
	return (uint32_t)vfp_tuple_hash(&p);
}
