/* Connection-affinity LRU; see lru.h. */
#include "lru.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tables.h"

int vfp_lru_init(struct vfp_lru *l, uint32_t slots)
{
	uint32_t sets = 1;
	memset(l, 0, sizeof(*l));
	if (slots == 0)
		return 0;
	while (sets * VFP_LRU_WAYS < slots)
		sets <<= 1;
	l->ents = vfp_table_alloc((size_t)sets * VFP_LRU_WAYS * sizeof(*l->ents));
	if (!l->ents)
		return -ENOMEM;
	l->set_mask = sets - 1;
	return 0;
}

void vfp_lru_destroy(struct vfp_lru *l)
{
	free(l->ents);
	l->ents = NULL;
}

struct vfp_lru_ent *vfp_lru_find(struct vfp_lru *l, uint64_t hash, const uint8_t src[16], const uint8_t vip[16],
				 uint16_t sport, uint16_t vport, uint8_t proto, struct vfp_lru_ent **slot)
{
	struct vfp_lru_ent *set = &l->ents[(size_t)(hash & l->set_mask) * VFP_LRU_WAYS], *old = set;
	uint32_t w;

	l->clock++;
	for (w = 0; w < VFP_LRU_WAYS; w++) {
		struct vfp_lru_ent *e = &set[w];
		if (e->used && e->sport == sport && e->vport == vport && e->proto == proto &&
		    !memcmp(e->src, src, 16) && !memcmp(e->vip, vip, 16)) {
			e->stamp = l->clock;
			return e;
		}
		/* Unused ways first, then the oldest stamp (wrap-safe difference). */
		if (!e->used) {
			if (old->used)
				old = e; /* keep scanning: a later way may still hit */
		} else if (old->used && (int32_t)(e->stamp - old->stamp) < 0)
			old = e;
	}
	*slot = old;
	return NULL;
}
