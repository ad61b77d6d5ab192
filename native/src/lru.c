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
