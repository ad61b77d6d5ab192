/* Table builder (control plane side) and snapshot construction/lookup; see tables.h. */
#include "tables.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "../include/vfp.h"
#include "forward.h"
#include "hash.h"

/* A growable array: the builder only appends, the snapshot is built in one pass. */
struct vec {
	void *d;
	uint32_t n, cap, sz;
};

static void *vec_push(struct vec *v)
{
	if (v->n == v->cap) {
		uint32_t cap = v->cap ? v->cap * 2 : 16;
		void *d = realloc(v->d, (size_t)cap * v->sz);
		if (!d)
			return NULL;
		v->d = d;
		v->cap = cap;
	}
	return (char *)v->d + (size_t)v->n++ * v->sz;
}

struct b_mac {
	uint32_t network;
	uint8_t mac[6];
	uint8_t remote;
	uint32_t target, vni;
};
struct b_vip {
	uint8_t addr[16];
	uint16_t port;
	uint8_t proto;
	uint32_t network;
	uint32_t flags;
	struct vec backends; /* struct vfp_backend */
	uint32_t *slot_ids;  /* n_slots backend ids (vfp_builder_set_vip_slots), or NULL */
	uint32_t n_slots;
};

struct vfp_builder {
	uint32_t local_ip;
	uint8_t local_mac[6];
	struct vec ports; /* struct { port, network, flags } as 3 x u32 */
	struct vec vnis;  /* vni, network, encap + 1 (0: either) as 3 x u32 */
	struct vec vteps; /* struct vfp_vtep_ent */
	struct vec macs;  /* struct b_mac */
	struct vec vips;  /* struct b_vip */
};

struct vfp_builder *vfp_builder_new(void)
{
	struct vfp_builder *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->ports.sz = 3 * sizeof(uint32_t);
	b->vnis.sz = 3 * sizeof(uint32_t);
	b->vteps.sz = sizeof(struct vfp_vtep_ent);
	b->macs.sz = sizeof(struct b_mac);
	b->vips.sz = sizeof(struct b_vip);
	return b;
}

void vfp_builder_clear(struct vfp_builder *b)
{
	uint32_t i;
	for (i = 0; i < b->vips.n; i++) {
		free(((struct b_vip *)b->vips.d)[i].backends.d);
		free(((struct b_vip *)b->vips.d)[i].slot_ids);
	}
	b->ports.n = b->vnis.n = b->vteps.n = b->macs.n = b->vips.n = 0;
}

void vfp_builder_free(struct vfp_builder *b)
{
	if (!b)
		return;
	vfp_builder_clear(b);
	free(b->ports.d);
	free(b->vnis.d);
	free(b->vteps.d);
	free(b->macs.d);
	free(b->vips.d);
	free(b);
}

int vfp_builder_set_local_vtep(struct vfp_builder *b, uint32_t ip, const uint8_t mac[6])
{
	b->local_ip = ip;
	memcpy(b->local_mac, mac, 6);
	return 0;
}

int vfp_builder_add_port(struct vfp_builder *b, uint32_t port, uint32_t network, uint32_t flags)
{
	uint32_t *e;
	if (port >= (1u << 20))
		return -EINVAL; /* ports index an array directly: keep it bounded */
	e = vec_push(&b->ports);
	if (!e)
		return -ENOMEM;
	e[0] = port;
	e[1] = network;
	e[2] = flags & (VFP_PORT_UNDERLAY | VFP_PORT_CONNTRACK);
	return 0;
}

int vfp_builder_add_vni(struct vfp_builder *b, uint32_t vni, uint32_t network)
{
	uint32_t *e = vec_push(&b->vnis);
	if (!e)
		return -ENOMEM;
	e[0] = vni;
	e[1] = network;
	e[2] = 0;
	return 0;
}

int vfp_builder_add_vni_encap(struct vfp_builder *b, uint32_t vni, uint32_t network, uint32_t encap)
{
	if (encap > VFP_ENCAP_GENEVE)
		return -EINVAL;
	if (vfp_builder_add_vni(b, vni, network) < 0)
		return -ENOMEM;
	((uint32_t *)b->vnis.d)[3 * (b->vnis.n - 1) + 2] = encap + 1;
	return 0;
}

int vfp_builder_add_vtep(struct vfp_builder *b, uint32_t id, uint32_t ip, const uint8_t nh_mac[6],
			 uint32_t encap)
{
	struct vfp_vtep_ent *e;
	if (encap > VFP_ENCAP_GENEVE)
		return -EINVAL;
	e = vec_push(&b->vteps);
	if (!e)
		return -ENOMEM;
	e->id = id;
	e->ip = ip;
	memcpy(e->nh_mac, nh_mac, 6);
	e->encap = (uint8_t)encap;
	e->used = 1;
	return 0;
}

static int add_mac(struct vfp_builder *b, uint32_t network, const uint8_t mac[6], int remote,
		   uint32_t target, uint32_t vni)
{
	struct b_mac *e = vec_push(&b->macs);
	if (!e)
		return -ENOMEM;
	e->network = network;
	memcpy(e->mac, mac, 6);
	e->remote = (uint8_t)remote;
	e->target = target;
	e->vni = vni;
	return 0;
}

int vfp_builder_add_mac_local(struct vfp_builder *b, uint32_t network, const uint8_t mac[6], uint32_t port)
{
	return add_mac(b, network, mac, 0, port, 0);
}

int vfp_builder_add_mac_remote(struct vfp_builder *b, uint32_t network, const uint8_t mac[6],
			       uint32_t vtep_id, uint32_t vni)
{
	return add_mac(b, network, mac, 1, vtep_id, vni);
}

int vfp_builder_add_vip(struct vfp_builder *b, uint32_t network, uint8_t proto, const uint8_t addr[16], uint16_t port)
{
	struct b_vip *v = vec_push(&b->vips);
	if (!v)
		return -ENOMEM;
	memset(v, 0, sizeof(*v));
	v->network = network;
	memcpy(v->addr, addr, 16);
	v->port = port;
	v->proto = proto;
	v->backends.sz = sizeof(struct vfp_backend);
	return (int)(b->vips.n - 1);
}

int vfp_builder_set_vip_flags(struct vfp_builder *b, uint32_t vip_index, uint32_t flags)
{
	if (vip_index >= b->vips.n || (flags & ~(VFP_VIP_CLIENT_IP | VFP_VIP_CONNTRACK)))
		return -EINVAL;
	((struct b_vip *)b->vips.d)[vip_index].flags = flags;
	return 0;
}

int vfp_builder_set_vip_slots(struct vfp_builder *b, uint32_t vip_index, const uint32_t *ids, uint32_t n_slots)
{
	struct b_vip *v;
	uint32_t *copy;
	if (vip_index >= b->vips.n || n_slots == 0 || n_slots > VFP_LB_SLOTS_MAX)
		return -EINVAL;
	v = &((struct b_vip *)b->vips.d)[vip_index];
	if (v->n_slots != n_slots) {
		if (!(copy = malloc(n_slots * sizeof(uint32_t))))
			return -ENOMEM;
		free(v->slot_ids);
		v->slot_ids = copy;
		v->n_slots = n_slots;
	}
	memcpy(v->slot_ids, ids, n_slots * sizeof(uint32_t));
	return 0;
}

int vfp_builder_add_backend_mac(struct vfp_builder *b, uint32_t vip_index, uint32_t id, const uint8_t addr[16],
				uint16_t port, uint16_t weight, const uint8_t mac[6])
{
	int rc = vfp_builder_add_backend(b, vip_index, id, addr, port, weight);
	if (rc == 0) {
		struct b_vip *v = &((struct b_vip *)b->vips.d)[vip_index];
		memcpy(((struct vfp_backend *)v->backends.d)[v->backends.n - 1].mac, mac, 6);
	}
	return rc;
}

int vfp_builder_add_backend(struct vfp_builder *b, uint32_t vip_index, uint32_t id, const uint8_t addr[16],
			    uint16_t port, uint16_t weight)
{
	struct b_vip *v;
	struct vfp_backend *be;
	if (vip_index >= b->vips.n)
		return -EINVAL;
	v = &((struct b_vip *)b->vips.d)[vip_index];
	if (v->backends.n >= VFP_MAGLEV_EMPTY - 1)
		return -ENOSPC;
	be = vec_push(&v->backends);
	if (!be)
		return -ENOMEM;
	memset(be, 0, sizeof(*be)); /* padding too: rings are reused by memcmp of backend lists */
	be->id = id;
	memcpy(be->addr, addr, 16);
	be->port = port;
	be->weight = weight;
	return 0;
}

/* ---- snapshot ---- */

void *vfp_table_alloc(size_t bytes)
{
	const size_t huge = (size_t)2 << 20;
	size_t align = bytes >= huge ? huge : 64, size = (bytes + align - 1) / align * align;
	void *p = aligned_alloc(align, size ? size : align);

	if (!p)
		return NULL;
	if (align == huge)
		madvise(p, size, MADV_HUGEPAGE); /* a hint: without THP the table still works */
	memset(p, 0, size);
	return p;
}

static uint32_t pow2_slots(uint32_t n)
{
	uint32_t s = 16;
	while (s < 2 * n)
		s <<= 1;
	return s;
}

/* Ids and VNIs index small tables (VTEPs, VNIs, a VIP's backends) that the packet path
 * looks up per frame (an encapsulated frame's VTEP, a VIP frame's backend): one multiply,
 * the index from the product's upper half (see vfp_mac_hash), not a two-multiply finaliser. */
static inline uint32_t u32_hash(uint32_t k) { return (uint32_t)(((uint64_t)k * 0x9e3779b97f4a7c15ull) >> 32); }

/* Fingerprint from the hash bits the index does not use; never 0 (0 = empty slot). */
static inline uint32_t vip_fp(uint64_t h) { return (uint32_t)(h >> 32) | 1u; }

static void ring_put(struct vfp_ring *r)
{
	if (r && --r->refs == 0)
		free(r);
}

static void vip_release(struct vfp_vip *v)
{
	free(v->backends);
	ring_put(v->ringobj);
	free(v->id_slots);
	free(v->lb_slots);
	memset(v, 0, sizeof(*v));
}

void vfp_tables_free(struct vfp_tables *t)
{
	uint32_t i;
	if (!t)
		return;
	if (t->vips)
		for (i = 0; i < t->n_vips; i++)
			vip_release(&t->vips[i]);
	free(t->ports);
	free(t->macs);
	free(t->vnis);
	free(t->net_vnis);
	free(t->vteps);
	free(t->vtep_tmpl);
	free(t->mac_verdicts);
	free(t->vips);
	free(t->vip_idx);
	free(t);
}

static int build_vip(struct vfp_vip *v, const struct b_vip *s, const struct vfp_tables *prev)
{
	const struct vfp_vip *old;
	uint32_t i, slots;
	memcpy(v->addr, s->addr, 16);
	v->network = s->network;
	v->port = s->port;
	v->proto = s->proto;
	v->used = 1;
	v->flags = s->flags;
	v->n_backends = s->backends.n;
	if (s->backends.n == 0)
		return 0;
	v->backends = malloc((size_t)s->backends.n * sizeof(struct vfp_backend));
	slots = pow2_slots(s->backends.n);
	v->id_slots = calloc((size_t)slots * 2, sizeof(uint32_t));
	if (!v->backends || !v->id_slots)
		return -ENOMEM;
	v->id_keys = v->id_slots + slots;
	v->id_mask = slots - 1;
	memcpy(v->backends, s->backends.d, (size_t)s->backends.n * sizeof(struct vfp_backend));
	vfp_backends_sort(v->backends, v->n_backends);
	old = prev ? vfp_vip_lookup(prev, v->network, v->proto, v->addr, v->port) : NULL;
	if (old && old->ringobj && old->n_backends == v->n_backends &&
	    !memcmp(old->backends, v->backends, (size_t)v->n_backends * sizeof(struct vfp_backend))) {
		v->ringobj = old->ringobj;
		v->ringobj->refs++;
	} else {
		v->ringobj = malloc(sizeof(struct vfp_ring) + VFP_MAGLEV_M * sizeof(uint16_t));
		if (!v->ringobj)
			return -ENOMEM;
		v->ringobj->refs = 1;
		if (vfp_maglev_fill(v->backends, v->n_backends, v->ringobj->slot) < 0) {
			ring_put(v->ringobj); /* no weight anywhere: the VIP is known but has no backend */
			v->ringobj = NULL;
		}
	}
	v->ring = v->ringobj ? v->ringobj->slot : NULL;
	for (i = 0; i < v->n_backends; i++) {
		uint32_t h = u32_hash(v->backends[i].id) & v->id_mask;
		while (v->id_slots[h])
			h = (h + 1) & v->id_mask;
		v->id_slots[h] = i + 1;
		v->id_keys[h] = v->backends[i].id;
	}
	if (s->slot_ids) {
		if (!(v->lb_slots = malloc(s->n_slots * sizeof(uint16_t))))
			return -ENOMEM;
		v->n_lb_slots = s->n_slots;
		for (i = 0; i < s->n_slots; i++) {
			int bi = s->slot_ids[i] == VFP_LB_NO_BACKEND ? -1 : vfp_vip_backend_index(v, s->slot_ids[i]);
			v->lb_slots[i] = bi < 0 ? 0xffff : (uint16_t)bi;
		}
	}
	return 0;
}

static void vtep_template(const struct vfp_tables *t, const struct vfp_vtep_ent *vt, struct vfp_vtep_tmpl *tm)
{
	struct vfp_encap_params ep;
	uint8_t *ip = tm->hdr + 14;
	uint32_t k;

	memset(&ep, 0, sizeof(ep));
	ep.type = vt->encap;
	ep.ttl = 64;
	ep.src_ip = t->local_ip;
	ep.dst_ip = vt->ip;
	memcpy(ep.src_mac, t->local_mac, 6);
	memcpy(ep.dst_mac, vt->nh_mac, 6);
	vfp_write_outer(&ep, tm->hdr, 0);
	memset(ip + 2, 0, 2);  /* total length */
	memset(ip + 10, 0, 2); /* checksum */
	memset(tm->hdr + 38, 0, 2); /* UDP length */
	tm->ip_sum = 0;
	for (k = 0; k < 20; k += 2)
		tm->ip_sum += (uint32_t)(ip[k] << 8 | ip[k + 1]);
}

struct vfp_tables *vfp_tables_build(const struct vfp_builder *b, uint64_t generation, const struct vfp_tables *prev)
{
	struct vfp_tables *t = calloc(1, sizeof(*t));
	uint32_t i, max_port = 0;

	if (!t)
		return NULL;
	t->generation = generation;
	t->local_ip = b->local_ip;
	memcpy(t->local_mac, b->local_mac, 6);
	for (i = 0; i < b->ports.n; i++) {
		uint32_t p = ((uint32_t *)b->ports.d)[3 * i];
		if (p + 1 > max_port)
			max_port = p + 1;
	}
	t->n_ports = max_port;
	t->ports = calloc(max_port ? max_port : 1, sizeof(*t->ports));
	t->mac_mask = pow2_slots(b->macs.n) - 1;
	t->macs = vfp_table_alloc((size_t)(t->mac_mask + 1) * sizeof(*t->macs));
	t->vni_mask = pow2_slots(b->vnis.n) - 1;
	t->vnis = calloc(t->vni_mask + 1, sizeof(*t->vnis));
	t->net_vnis = calloc(t->vni_mask + 1, sizeof(*t->net_vnis));
	t->vtep_mask = pow2_slots(b->vteps.n) - 1;
	t->vteps = calloc(t->vtep_mask + 1, sizeof(*t->vteps));
	t->vtep_tmpl = calloc(t->vtep_mask + 1, sizeof(*t->vtep_tmpl));
	t->mac_verdicts = calloc(VFP_MAC_VTEP0 + t->vtep_mask + 1, sizeof(*t->mac_verdicts));
	t->vip_mask = pow2_slots(2 * b->vips.n) - 1;
	t->vip_idx = calloc(t->vip_mask + 1, sizeof(*t->vip_idx));
	t->vips = calloc(b->vips.n ? b->vips.n : 1, sizeof(*t->vips));
	if (!t->ports || !t->macs || !t->vnis || !t->net_vnis || !t->vteps || !t->vtep_tmpl || !t->mac_verdicts || !t->vips || !t->vip_idx)
		goto fail;

	for (i = 0; i < b->ports.n; i++) {
		const uint32_t *e = (const uint32_t *)b->ports.d + 3 * i;
		t->ports[e[0]].network = e[1];
		t->ports[e[0]].flags = e[2] | VFP_PORT_PRESENT;
	}
	for (i = 0; i < b->vteps.n; i++) {
		const struct vfp_vtep_ent *e = &((const struct vfp_vtep_ent *)b->vteps.d)[i];
		uint32_t h = u32_hash(e->id) & t->vtep_mask;
		while (t->vteps[h].used && t->vteps[h].id != e->id)
			h = (h + 1) & t->vtep_mask;
		t->vteps[h] = *e;
	}
	for (i = 0; i <= t->vtep_mask; i++)
		if (t->vteps[i].used)
			vtep_template(t, &t->vteps[i], &t->vtep_tmpl[i]);
	t->mac_verdicts[VFP_MAC_LOCAL] = (struct vfp_mac_verdict){ .tmpl.kind = VFP_V_LOCAL, .port_mask = ~0u };
	for (i = 0; i <= t->vtep_mask; i++) {
		const struct vfp_vtep_ent *vt = &t->vteps[i];
		struct vfp_mac_verdict *mv = &t->mac_verdicts[VFP_MAC_VTEP0 + i];
		uint8_t hi[8] = { 0, 0, 0xff, 0xff, (uint8_t)(vt->ip >> 24), (uint8_t)(vt->ip >> 16),
				  (uint8_t)(vt->ip >> 8), (uint8_t)vt->ip };
		if (!vt->used)
			continue;
		*mv = (struct vfp_mac_verdict){ .tmpl.kind = VFP_V_ENCAP, .tmpl.encap = vt->encap, .tmpl.port = vt->id, .vni_mask = ~0u };
		memcpy(mv->tmpl.addr + 8, hi, 8);
	}
	/* Later entries replace earlier ones with the same key: the builder is a log. A remote
	 * MAC's VTEP is resolved here, once, instead of a hash lookup per packet. */
	for (i = 0; i < b->macs.n; i++) {
		const struct b_mac *m = &((const struct b_mac *)b->macs.d)[i];
		uint64_t mac = vfp_mac48(m->mac);
		uint32_t h = vfp_mac_hash(m->network, mac) & t->mac_mask & ~(VFP_MAC_BUCKET - 1);
		const struct vfp_vtep_ent *vt = m->remote ? vfp_vtep_lookup(t, m->target) : NULL;
		uint64_t tag = VFP_MAC_LOCAL;
		while (t->macs[h].key && !((t->macs[h].key & VFP_MAC48) == mac && t->macs[h].network == m->network))
			h = (h + 1) & t->mac_mask;
		if (m->remote) /* a MAC pointing at an unknown VTEP (or past the tag's range): the slow path decides */
			tag = vt && vt - t->vteps <= 0xffff - VFP_MAC_VTEP0 ? VFP_MAC_VTEP0 + (uint64_t)(vt - t->vteps) : VFP_MAC_SLOW;
		t->macs[h] = (struct vfp_mac_ent){ .key = mac | tag << 48, .network = m->network,
						   .val = m->remote ? m->vni : m->target };
	}
	for (i = 0; i < b->vnis.n; i++) {
		const uint32_t *e = (const uint32_t *)b->vnis.d + 3 * i;
		uint32_t h = u32_hash(e[0]) & t->vni_mask;
		while (t->vnis[h].used && t->vnis[h].vni != e[0])
			h = (h + 1) & t->vni_mask;
		t->vnis[h] = (struct vfp_vni_ent){ .vni = e[0], .network = e[1], .used = 1, .encap = (uint16_t)e[2] };
		h = u32_hash(e[1]) & t->vni_mask;
		while (t->net_vnis[h].used && t->net_vnis[h].network != e[1])
			h = (h + 1) & t->vni_mask;
		if (!t->net_vnis[h].used)
			t->net_vnis[h] = (struct vfp_vni_ent){ .vni = e[0], .network = e[1], .used = 1 };
	}
	for (i = 0; i < b->vips.n; i++) {
		const struct b_vip *s = &((const struct b_vip *)b->vips.d)[i];
		uint64_t hv = vfp_vip_hash(s->network, s->proto, s->addr, s->port);
		uint32_t h = (uint32_t)hv & t->vip_mask, fp = vip_fp(hv);
		struct vfp_vip *v;
		while (t->vip_idx[h].fp) {
			struct vfp_vip *o = &t->vips[t->vip_idx[h].pos];
			if (o->network == s->network && o->proto == s->proto && o->port == s->port && !memcmp(o->addr, s->addr, 16))
				break;
			h = (h + 1) & t->vip_mask;
		}
		if (t->vip_idx[h].fp) { /* duplicate VIP: the later one wins, in place */
			v = &t->vips[t->vip_idx[h].pos];
			vip_release(v);
		} else {
			t->vip_idx[h].fp = fp;
			t->vip_idx[h].pos = t->n_vips;
			v = &t->vips[t->n_vips++];
		}
		v->index = i;
		if (build_vip(v, s, prev) < 0)
			goto fail;
	}
	return t;
fail:
	vfp_tables_free(t);
	return NULL;
}

const struct vfp_mac_ent *vfp_mac_lookup(const struct vfp_tables *t, uint32_t network, uint64_t mac)
{
	return vfp_mac_lookup_h(t, network, mac, vfp_mac_hash(network, mac));
}

/* The entry of key in one of the VNI tables: vnis by VNI, net_vnis by network. */
static inline const struct vfp_vni_ent *vni_probe(const struct vfp_vni_ent *slots, uint32_t mask, uint32_t key,
						   int by_network)
{
	uint32_t h = u32_hash(key) & mask;
	for (;; h = (h + 1) & mask) {
		const struct vfp_vni_ent *e = &slots[h];
		if (!e->used)
			return NULL;
		if ((by_network ? e->network : e->vni) == key)
			return e;
	}
}

const struct vfp_vni_ent *vfp_vni_lookup(const struct vfp_tables *t, uint32_t vni)
{
	return vni_probe(t->vnis, t->vni_mask, vni, 0);
}

const struct vfp_vni_ent *vfp_network_vni(const struct vfp_tables *t, uint32_t network)
{
	return vni_probe(t->net_vnis, t->vni_mask, network, 1);
}

const struct vfp_vtep_ent *vfp_vtep_lookup(const struct vfp_tables *t, uint32_t id)
{
	uint32_t h = u32_hash(id) & t->vtep_mask;
	for (;;) {
		const struct vfp_vtep_ent *e = &t->vteps[h];
		if (!e->used)
			return NULL;
		if (e->id == id)
			return e;
		h = (h + 1) & t->vtep_mask;
	}
}

const struct vfp_vip *vfp_vip_lookup(const struct vfp_tables *t, uint32_t network, uint8_t proto,
				     const uint8_t addr[16], uint16_t port)
{
	if (!t->n_vips)
		return NULL;
	return vfp_vip_lookup_h(t, network, proto, addr, port, vfp_vip_hash(network, proto, addr, port));
}

const struct vfp_vip *vfp_vip_lookup_h(const struct vfp_tables *t, uint32_t network, uint8_t proto,
				       const uint8_t addr[16], uint16_t port, uint64_t hv)
{
	uint32_t h = (uint32_t)hv & t->vip_mask, fp = vip_fp(hv);
	for (;;) {
		const struct vfp_vip_slot *sl = &t->vip_idx[h];
		if (!sl->fp)
			return NULL;
		if (sl->fp == fp) {
			const struct vfp_vip *v = &t->vips[sl->pos];
			if (v->network == network && v->proto == proto && v->port == port && !memcmp(v->addr, addr, 16))
				return v;
		}
		h = (h + 1) & t->vip_mask;
	}
}

int vfp_vip_backend_index(const struct vfp_vip *v, uint32_t id)
{
	uint32_t h;
	if (!v->id_slots)
		return -1;
	h = u32_hash(id) & v->id_mask;
	while (v->id_slots[h]) {
		if (v->id_keys[h] == id)
			return (int)v->id_slots[h] - 1;
		h = (h + 1) & v->id_mask;
	}
	return -1;
}
