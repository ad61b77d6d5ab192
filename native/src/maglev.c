/* Maglev ring population; see maglev.h for the algorithm and why it is shaped so. */
#include "maglev.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../include/vfp.h"
#include "hash.h"

static int by_id(const void *a, const void *b)
{
	const struct vfp_backend *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

void vfp_backends_sort(struct vfp_backend *be, uint32_t n) { qsort(be, n, sizeof(*be), by_id); }

int vfp_maglev_fill(struct vfp_backend *be, uint32_t n, uint16_t *ring)
{
	const uint32_t M = VFP_MAGLEV_M;
	uint32_t *next, *skip, *credit, i, filled = 0, wmax = 0;

	for (i = 0; i < M; i++)
		ring[i] = VFP_MAGLEV_EMPTY;
	if (n == 0 || n >= VFP_MAGLEV_EMPTY)
		return -EINVAL;
	qsort(be, n, sizeof(*be), by_id);
	for (i = 0; i < n; i++)
		if (be[i].weight > wmax)
			wmax = be[i].weight;
	if (wmax == 0)
		return -EINVAL;

	next = malloc(3 * sizeof(uint32_t) * n);
	if (!next)
		return -ENOMEM;
	skip = next + n;
	credit = skip + n;
	for (i = 0; i < n; i++) {
		uint8_t key[18];
		memcpy(key, be[i].addr, 16);
		key[16] = (uint8_t)(be[i].port >> 8);
		key[17] = (uint8_t)be[i].port;
		next[i] = vfp_fnv1a(VFP_FNV_SEED1, key, 18) % M;
		skip[i] = vfp_fnv1a(VFP_FNV_SEED2, key, 18) % (M - 1) + 1;
		credit[i] = 0;
	}
	/* Rounds until full. next[i] walks backend i's permutation incrementally
	 * (add skip, subtract M) instead of a multiply and modulo per step. */
	for (;;) {
		for (i = 0; i < n; i++) {
			uint32_t c;
			credit[i] += be[i].weight;
			if (credit[i] < wmax)
				continue;
			credit[i] -= wmax;
			do {
				c = next[i];
				next[i] += skip[i];
				if (next[i] >= M)
					next[i] -= M;
			} while (ring[c] != VFP_MAGLEV_EMPTY);
			ring[c] = (uint16_t)i;
			if (++filled == M)
				goto done;
		}
	}
done:
	free(next);
	return 0;
}

int vfp_maglev_build(const uint32_t ids[], const uint8_t addrs[][16], const uint16_t ports[],
		     const uint16_t weights[], uint32_t n, uint16_t *ring)
{
	struct vfp_backend *be = calloc(n ? n : 1, sizeof(*be));
	uint32_t i;
	int rc;

	if (!be)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		be[i].id = ids[i];
		memcpy(be[i].addr, addrs[i], 16);
		be[i].port = ports[i];
		be[i].weight = weights[i];
	}
	rc = vfp_maglev_fill(be, n, ring);
	free(be);
	return rc;
}
