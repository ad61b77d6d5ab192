/* OVS's multipath hashes (see ovs_hash.h for why and which). */
#include "ovs_hash.h"

#include <arpa/inet.h>
#include <string.h>

#include "../include/vfp.h"

static inline uint32_t rotl32(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }

/* One murmur3 block; a zero word leaves the hash as it is (OVS skips it too). */
static uint32_t murmur_add(uint32_t h, uint32_t w)
{
	if (w) {
		w *= 0xcc9e2d51u;
		w = rotl32(w, 15);
		w *= 0x1b873593u;
		h ^= w;
	}
	return rotl32(h, 13) * 5 + 0xe6546b64u;
}

static uint32_t murmur_finish(uint32_t h, uint32_t final)
{
	h ^= final;
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

/* multipath(symmetric_l3l4+udp, 0, ...) of an IPv4 TCP/UDP packet. */
static uint32_t hash_symmetric_l3l4(uint32_t saddr_raw, uint32_t daddr_raw, uint8_t proto, uint16_t sport_raw,
				    uint16_t dport_raw)
{
	uint32_t h = 0; /* basis */
	h = murmur_add(h, saddr_raw ^ daddr_raw);
	h = murmur_add(h, proto);
	if (proto == 6 || proto == 17 || proto == 132)
		h = murmur_add(h, (uint16_t)(sport_raw ^ dport_raw));
	return murmur_finish(h, 0);
}

/* lookup3's final mix (three words in, c out). */
static uint32_t lookup3_final(uint32_t a, uint32_t b, uint32_t c)
{
	c ^= b; c -= rotl32(b, 14);
	a ^= c; a -= rotl32(c, 11);
	b ^= a; b -= rotl32(a, 25);
	c ^= b; c -= rotl32(b, 16);
	a ^= c; a -= rotl32(c, 4);
	b ^= a; b -= rotl32(a, 14);
	c ^= b; c -= rotl32(b, 24);
	return c;
}

/* multipath(nw_src, 0, ...) of an IPv4 packet. */
static uint32_t hash_nw_src(uint32_t saddr_raw)
{
	uint32_t init = 0xdeadbeefu + 4; /* + length in bytes + basis 0 */
	return lookup3_final(init + saddr_raw, init, init);
}

/* Addresses and ports as the frame's bytes read as host integers, as OVS reads them; then
 * multipath's modulo_n: the hash modulo the number of links (lib/multipath.c). */
static uint32_t slot_raw(uint32_t s, uint32_t d, uint8_t proto, uint16_t sport, uint16_t dport, int client_ip,
			 uint32_t n_slots)
{
	return (client_ip ? hash_nw_src(s) : hash_symmetric_l3l4(s, d, proto, sport, dport)) % n_slots;
}

uint32_t vfp_ovs_lb_slot(const struct vfp_pkt *p, int client_ip, uint32_t n_slots)
{
	uint32_t s, d;
	memcpy(&s, p->src + 12, 4);
	memcpy(&d, p->dst + 12, 4);
	return slot_raw(s, d, p->proto, htons(p->sport), htons(p->dport), client_ip, n_slots);
}

uint32_t vfp_ovs_lb_slot_of(uint32_t saddr, uint32_t daddr, uint8_t proto, uint16_t sport, uint16_t dport,
			    uint32_t client_ip, uint32_t n_slots)
{
	if (n_slots == 0 || n_slots > VFP_LB_SLOTS_MAX)
		return VFP_LB_NO_BACKEND;
	/* Host-order arguments (the binding's), turned into the frame's bytes. */
	return slot_raw(htonl(saddr), htonl(daddr), proto, htons(sport), htons(dport), client_ip != 0, n_slots);
}
