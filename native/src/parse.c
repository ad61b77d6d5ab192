/* Packet parser; see parse.h. Offsets are uint16_t: frames longer than 64 KiB are refused. */
#include "parse.h"

#include <string.h>

#define ETH_HLEN 14u
#define ET_VLAN 0x8100u
#define ET_QINQ 0x88a8u
#define ET_ARP 0x0806u
#define ET_IPV4 0x0800u
#define ET_IPV6 0x86ddu

uint32_t vfp_csum_add(uint32_t sum, const uint8_t *d, uint32_t len)
{
	uint32_t i;
	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)vfp_rd16(d + i);
	if (len & 1)
		sum += (uint32_t)d[len - 1] << 8;
	return sum;
}

/* HC' = ~(~HC + ~m + m') over 16-bit words. */
void vfp_csum_replace(uint8_t *field, const uint8_t *old, const uint8_t *new, uint32_t len, int udp)
{
	vfp_csum_replace_inline(field, old, new, len, udp);
}

/* L4 headers: only the fields the classifier needs, each bounded by `end`. */
static int parse_l4(const uint8_t *f, uint32_t end, struct vfp_pkt *p)
{
	uint32_t off = p->l4_off, avail = end > off ? end - off : 0;

	switch (p->proto) {
	case 17: /* UDP */
		if (avail < 8)
			return VFP_P_TRUNC_L4;
		/* A UDP length beyond what the IP header carries is malformed, but for a first
		 * fragment's: it counts the whole datagram, the rest in later fragments. */
		if (vfp_rd16(f + off + 4) < 8 || (vfp_rd16(f + off + 4) > avail && !(p->flags & VFP_PF_FRAG)))
			return VFP_P_BAD_L4;
		p->sport = vfp_rd16(f + off);
		p->dport = vfp_rd16(f + off + 2);
		p->payload_off = (uint16_t)(off + 8);
		break;
	case 6: { /* TCP */
		uint32_t doff;
		if (avail < 20)
			return VFP_P_TRUNC_L4;
		doff = (uint32_t)(f[off + 12] >> 4) * 4u;
		if (doff < 20)
			return VFP_P_BAD_L4;
		if (doff > avail)
			return VFP_P_TRUNC_L4;
		p->sport = vfp_rd16(f + off);
		p->dport = vfp_rd16(f + off + 2);
		p->tcp_flags = f[off + 13];
		p->payload_off = (uint16_t)(off + doff);
		break;
	}
	case 1:  /* ICMP */
	case 58: /* ICMPv6 */
		if (avail < 4)
			return VFP_P_TRUNC_L4;
		p->sport = (uint16_t)((f[off] << 8) | f[off + 1]);
		p->dport = 0;
		p->payload_off = (uint16_t)(off + 4);
		break;
	default:
		return VFP_P_OK; /* other protocols: L3 only */
	}
	p->flags |= VFP_PF_HAS_L4;
	return VFP_P_OK;
}

/* The one's-complement sum of an IPv4 header (ihl a multiple of 4) is 0xffff when its
 * checksum is right. Summed as 32-bit words in host order: the one's-complement sum does
 * not depend on byte order, and 0xffff is its own byte swap. */
static inline int ipv4_csum_ok(const uint8_t *h, uint32_t ihl)
{
	uint64_t s = 0;
	uint32_t i, w;
	for (i = 0; i < ihl; i += 4) {
		memcpy(&w, h + i, 4);
		s += w;
	}
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffffu) + (s >> 16);
	s = (s & 0xffffu) + (s >> 16);
	return s == 0xffffu;
}

static int parse_ipv4(const uint8_t *f, uint32_t len, struct vfp_pkt *p)
{
	uint32_t off = p->l3_off, ihl, tot, frag;
	const uint8_t *h = f + off;

	if (len - off < 20)
		return VFP_P_TRUNC_IPV4;
	if ((h[0] >> 4) != 4)
		return VFP_P_BAD_IPV4;
	ihl = (uint32_t)(h[0] & 0xf) * 4u;
	if (ihl < 20)
		return VFP_P_BAD_IPV4;
	if (ihl > len - off)
		return VFP_P_TRUNC_IPV4;
	tot = vfp_rd16(h + 2);
	if (tot < ihl)
		return VFP_P_BAD_IPV4;
	if (tot > len - off) /* Ethernet padding may follow, but never less than tot */
		return VFP_P_TRUNC_IPV4;
	p->ip_len = (uint16_t)tot;
	p->ttl = h[8];
	p->proto = h[9];
	vfp_map4(p->src, h + 12);
	vfp_map4(p->dst, h + 16);
	p->l4_off = (uint16_t)(off + ihl);
	frag = vfp_rd16(h + 6);
	if (frag & 0x3fffu) { /* MF set or a non-zero offset */
		p->flags |= VFP_PF_FRAG;
		if (frag & 0x1fffu)
			p->flags |= VFP_PF_LATER_FRAG;
	}
	/* A correct header sums (with its checksum) to 0xffff. Checked after the fields are
	 * read: such a frame is still switched by its addresses (vfp_parse_l3_sound). */
	if (!ipv4_csum_ok(h, ihl))
		return VFP_P_BAD_IPV4_CSUM;
	if (p->flags & VFP_PF_LATER_FRAG)
		return VFP_P_OK;
	return parse_l4(f, off + tot, p);
}

static int parse_ipv6(const uint8_t *f, uint32_t len, struct vfp_pkt *p)
{
	uint32_t off = p->l3_off, end, hop;
	const uint8_t *h = f + off;
	uint8_t nh;

	if (len - off < 40)
		return VFP_P_TRUNC_IPV6;
	if ((h[0] >> 4) != 6)
		return VFP_P_BAD_IPV6;
	end = off + 40 + vfp_rd16(h + 4);
	if (end > len)
		return VFP_P_TRUNC_IPV6;
	p->ip_len = (uint16_t)(end - off);
	p->ttl = h[7];
	memcpy(p->src, h + 8, 16);
	memcpy(p->dst, h + 24, 16);
	nh = h[6];
	off += 40;
	/* Skip at most a few extension headers: enough for real traffic, bounded work. */
	for (hop = 0; hop < 4; hop++) {
		if (nh == 0 || nh == 43 || nh == 60) { /* hop-by-hop, routing, destination */
			if (end - off < 8)
				return VFP_P_TRUNC_IPV6;
			nh = f[off];
			off += ((uint32_t)f[off + 1] + 1u) * 8u;
			if (off > end)
				return VFP_P_TRUNC_IPV6;
		} else if (nh == 44) { /* fragment */
			if (end - off < 8)
				return VFP_P_TRUNC_IPV6;
			p->flags |= VFP_PF_FRAG;
			if (vfp_rd16(f + off + 2) & 0xfff8u)
				p->flags |= VFP_PF_LATER_FRAG;
			nh = f[off];
			off += 8;
		} else {
			break;
		}
	}
	if (nh == 0 || nh == 43 || nh == 60 || nh == 44)
		return VFP_P_BAD_IPV6; /* extension chain longer than we follow */
	p->proto = nh;
	p->l4_off = (uint16_t)off;
	if (p->flags & VFP_PF_LATER_FRAG)
		return VFP_P_OK;
	return parse_l4(f, end, p);
}

int vfp_parse(const uint8_t *f, uint32_t len, struct vfp_pkt *p)
{
	if (vfp_parse_common(f, len, p) == 0)
		return VFP_P_OK;
	return vfp_parse_general(f, len, p);
}

int vfp_parse_general(const uint8_t *f, uint32_t len, struct vfp_pkt *p)
{
	uint32_t off = 12;
	uint16_t et;

	memset(p, 0, sizeof(*p));
	if (len < ETH_HLEN)
		return VFP_P_TRUNC_ETH;
	if (len > 0xffffu)
		return VFP_P_TRUNC_ETH; /* offsets are 16 bit; no such frame on our ports */
	et = vfp_rd16(f + off);
	while (et == ET_VLAN || et == ET_QINQ) {
		if (p->n_vlans == 2)
			return VFP_P_TOO_MANY_VLANS;
		if (len - off < 6)
			return VFP_P_TRUNC_VLAN;
		p->vlan_tci[p->n_vlans++] = vfp_rd16(f + off + 2);
		off += 4;
		et = vfp_rd16(f + off);
	}
	p->ethertype = et;
	p->l3_off = (uint16_t)(off + 2);
	switch (et) {
	case ET_ARP:
		/* Ethernet/IPv4 ARP is 28 bytes; anything shorter cannot be answered. */
		if (len - p->l3_off < 28)
			return VFP_P_TRUNC_ARP;
		p->l3 = VFP_L3_ARP;
		return VFP_P_OK;
	case ET_IPV4:
		p->l3 = VFP_L3_IPV4;
		return parse_ipv4(f, len, p);
	case ET_IPV6:
		p->l3 = VFP_L3_IPV6;
		return parse_ipv6(f, len, p);
	default:
		return VFP_P_OK;
	}
}
