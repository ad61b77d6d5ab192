/*
 * Packet parser: Ethernet, up to two 802.1Q/802.1ad tags, ARP, IPv4 (header checksum
 * verified), IPv6 (common extension headers skipped), UDP, TCP, ICMP/ICMPv6.
 * Every read is bounds-checked against len; the parser never reads past the frame.
 */
#ifndef VFP_PARSE_H
#define VFP_PARSE_H

#include <stdint.h>
#include <string.h>

enum vfp_parse_err {
	VFP_P_OK = 0,
	VFP_P_TRUNC_ETH = 1,
	VFP_P_TRUNC_VLAN = 2,
	VFP_P_TRUNC_ARP = 3,
	VFP_P_TRUNC_IPV4 = 4,
	VFP_P_BAD_IPV4 = 5,       /* version, IHL or total length wrong */
	VFP_P_BAD_IPV4_CSUM = 6,
	VFP_P_TRUNC_IPV6 = 7,
	VFP_P_BAD_IPV6 = 8,
	VFP_P_TRUNC_L4 = 9,
	VFP_P_BAD_L4 = 10,        /* UDP length or TCP data offset wrong */
	VFP_P_TOO_MANY_VLANS = 11,
};

enum vfp_l3 { VFP_L3_OTHER = 0, VFP_L3_ARP = 1, VFP_L3_IPV4 = 2, VFP_L3_IPV6 = 3 };

#define VFP_PF_FRAG 1u       /* IPv4/IPv6 fragment */
#define VFP_PF_LATER_FRAG 2u /* not the first fragment: no L4 header */
#define VFP_PF_HAS_L4 4u     /* sport/dport (or ICMP type/code) are valid */

struct vfp_pkt {
	uint16_t ethertype; /* after VLAN tags */
	uint16_t vlan_tci[2];
	uint8_t n_vlans;
	uint8_t l3;         /* enum vfp_l3 */
	uint8_t proto;      /* IP protocol / IPv6 next header of the L4 */
	uint8_t flags;      /* VFP_PF_* */
	uint16_t l3_off, l4_off, payload_off;
	uint16_t sport, dport; /* host order; ICMP: type << 8 | code in sport */
	uint16_t ip_len;    /* L3 length from the IP header (bytes from l3_off) */
	uint8_t tcp_flags;
	uint8_t ttl;
	uint8_t src[16], dst[16]; /* IPv4 mapped as ::ffff:a.b.c.d */
};

/*
 * Whether a frame vfp_parse refused still has sound Ethernet and IP headers, with p's L3
 * fields filled and no L4 (VFP_PF_HAS_L4 clear): a bad IPv4 header checksum, a truncated or
 * inconsistent TCP/UDP header. OVS switches such frames by their addresses without looking
 * further, and so does the classifier (never to a VIP: that needs the ports).
 */
static inline int vfp_parse_l3_sound(int err)
{
	return err == VFP_P_BAD_IPV4_CSUM || err == VFP_P_TRUNC_L4 || err == VFP_P_BAD_L4;
}

/*
 * Whether a VM's frame is one that port security keeps from its neighbours (OpenStack's
 * and OVS's pipeline alike): a router advertisement or ICMPv6 redirect (a rogue router takes
 * over their default route), a DHCP or DHCPv6 server's reply. The classifier leaves these to
 * the slow path, whose port security decides (a port without port security may be a router).
 */
static inline int vfp_router_guarded(const struct vfp_pkt *p)
{
	if (p->proto == 17 && (p->flags & VFP_PF_HAS_L4))
		return (p->l3 == VFP_L3_IPV4 && p->sport == 67) || (p->l3 == VFP_L3_IPV6 && p->sport == 547);
	if (p->proto == 58 && p->l3 == VFP_L3_IPV6 && (p->flags & VFP_PF_HAS_L4))
		return (p->sport >> 8) == 134 || (p->sport >> 8) == 137;
	return 0;
}

/* Returns VFP_P_OK and fills p, or an error code; p is partly filled on error. */
int vfp_parse(const uint8_t *f, uint32_t len, struct vfp_pkt *p);
/* The same without the shortcut for the common frame (the fuzz target's reference). */
int vfp_parse_general(const uint8_t *f, uint32_t len, struct vfp_pkt *p);

/* One's-complement sum helper shared with encap.c. */
uint32_t vfp_csum_add(uint32_t sum, const uint8_t *d, uint32_t len);
/* The checksum of a 32-bit one's-complement sum: two folds leave at most 0xffff for any
 * uint32_t (the first gives at most 0x1ffff - 1, the second at most 0xffff), so no loop.
 * Inline: the forwarding loop writes one per encapsulated frame. */
static inline uint16_t vfp_csum_fold(uint32_t sum)
{
	sum = (sum & 0xffffu) + (sum >> 16);
	sum = (sum & 0xffffu) + (sum >> 16);
	return (uint16_t)~sum;
}
/* RFC 1624 incremental update of the checksum at field after len bytes (even) changed from
 * old to new; udp: a result of 0 is sent as 0xffff (0 means "no checksum" in UDP). */
void vfp_csum_replace(uint8_t *field, const uint8_t *old, const uint8_t *new, uint32_t len, int udp);

static inline uint16_t vfp_rd16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t vfp_rd32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline void vfp_wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void vfp_wr32(uint8_t *p, uint32_t v)
{
	/* One byte swap and one store: byte by byte, GCC split the VNI word of every encapsulated
	 * frame into three stores and their shifts. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	v = __builtin_bswap32(v);
#endif
	memcpy(p, &v, 4);
}

/* ipv4_csum_ok for a header without options, unrolled. */
static inline uint32_t vfp_ld32(const uint8_t *p)
{
	uint32_t w;
	memcpy(&w, p, 4);
	return w;
}

/* A constant in the byte order of a 4-byte load (bytes in memory order as the constant's
 * big-endian digits), so a load can be compared with bytes without swapping it. */
static inline uint32_t vfp_le32(uint32_t be)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return __builtin_bswap32(be);
#else
	return be;
#endif
}

/* Five loads straight from the frame: copying the header to a local array first made the
 * compiler store it with a 16-byte vector and reload 4-byte words from that store, which
 * the CPU cannot forward (measured: a fifth of the parser's time). */
static inline int vfp_ipv4_csum_ok20(const uint8_t *h)
{
	uint64_t s = (uint64_t)vfp_ld32(h) + vfp_ld32(h + 4) + vfp_ld32(h + 8) + vfp_ld32(h + 12) + vfp_ld32(h + 16);
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffffu) + (s >> 16);
	s = (s & 0xffffu) + (s >> 16);
	return s == 0xffffu;
}

/* ::ffff:a.b.c.d written as two 8-byte stores: the lookups read addresses as 8-byte words,
 * and a load that spans several narrower stores cannot be forwarded from them (a stall of
 * a dozen cycles per packet, measured). */
static inline void vfp_map4(uint8_t a[16], const uint8_t *ip)
{
	uint64_t lo = 0, w;
	uint32_t x;
	memcpy(&x, ip, 4);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	w = ((uint64_t)x << 32) | 0xffff0000u; /* bytes 0 0 ff ff a b c d */
#else
	w = 0xffff00000000ull | x;
#endif
	memcpy(a, &lo, 8);
	memcpy(a + 8, &w, 8);
}

/*
 * The frame nearly all traffic is: untagged Ethernet, IPv4 without options, not a
 * fragment, UDP or TCP, every length consistent and the header checksum right. It is
 * recognised with a few straight-line checks (inline: the batch classifier parses every
 * frame with it) and filled exactly as the general walk below
 * would (fuzz_classify checks that the two agree on every input); anything else, errors
 * included, returns -1 and takes the general walk, which reports them.
 */
static inline __attribute__((always_inline)) int vfp_parse_common(const uint8_t *f, uint32_t len, struct vfp_pkt *p)
{
	const uint8_t *h = f + 14, *l4 = f + 34;
	uint32_t tot, avail, doff;

	/* EtherType 0x0800 and version 4 with a 20-byte header, bytes 12-14, in one compare. */
	if (len < 14 + 20 + 8 || len > 0xffffu || (vfp_ld32(f + 12) & vfp_le32(0xffffff00u)) != vfp_le32(0x08004500u))
		return -1;
	tot = vfp_rd16(h + 2);
	if (tot < 28 || tot > len - 14 || (vfp_rd16(h + 6) & 0x3fffu))
		return -1;
	avail = tot - 20;
	if (h[9] == 17) {
		uint32_t ulen = vfp_rd16(l4 + 4);
		if (ulen < 8 || ulen > avail)
			return -1;
		doff = 8;
	} else if (h[9] == 6) {
		if (avail < 20)
			return -1;
		doff = (uint32_t)(l4[12] >> 4) * 4u;
		if (doff < 20 || doff > avail)
			return -1;
	} else {
		return -1;
	}
	if (!vfp_ipv4_csum_ok20(h))
		return -1;
	memset(p, 0, sizeof(*p));
	p->ethertype = 0x0800u;
	p->l3 = VFP_L3_IPV4;
	p->proto = h[9];
	p->flags = VFP_PF_HAS_L4;
	p->l3_off = 14;
	p->l4_off = 34;
	p->payload_off = (uint16_t)(34 + doff);
	p->sport = vfp_rd16(l4);
	p->dport = vfp_rd16(l4 + 2);
	p->ip_len = (uint16_t)tot;
	if (h[9] == 6)
		p->tcp_flags = l4[13];
	p->ttl = h[8];
	vfp_map4(p->src, h + 12);
	vfp_map4(p->dst, h + 16);
	return VFP_P_OK;
}

/* vfp_csum_replace inline (the VIP rewrite of the batch loop: 4 and 2 bytes, unrolled). */
static inline __attribute__((always_inline)) void vfp_csum_replace_inline(uint8_t *field, const uint8_t *old,
									   const uint8_t *new, uint32_t len, int udp)
{
	uint32_t sum = (uint16_t)~vfp_rd16(field), i;
	uint16_t r;
	for (i = 0; i < len; i += 2) {
		sum += (uint16_t)~vfp_rd16(old + i);
		sum += vfp_rd16(new + i);
	}
	r = vfp_csum_fold(sum);
	if (udp && r == 0)
		r = 0xffff;
	vfp_wr16(field, r);
}

#endif
