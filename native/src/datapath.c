/* Datapath lifecycle and commits: build a snapshot, swap the pointer, wait a grace
 * period, free the old snapshot. The packet path never takes commit_lock. */
#include "datapath.h"

#include <errno.h>
#include <stdlib.h>

/* The binding decodes these structs by offset: a layout change must change the ABI. */
_Static_assert(sizeof(struct vfp_verdict) == 36, "vfp_verdict layout changed: bump VFP_ABI_VERSION");
_Static_assert(sizeof(struct vfp_encap_params) == 32, "vfp_encap_params layout changed: bump VFP_ABI_VERSION");

uint32_t vfp_abi_version(void) { return VFP_ABI_VERSION; }

struct vfp_dp *vfp_dp_new(void)
{
	struct vfp_dp *dp = calloc(1, sizeof(*dp));
	struct vfp_builder *empty;
	if (!dp)
		return NULL;
	dp->rcu.epoch = 1;
	pthread_mutex_init(&dp->commit_lock, NULL);
	/* Start with an empty snapshot so the packet path never sees NULL. */
	empty = vfp_builder_new();
	dp->tables = empty ? vfp_tables_build(empty, 0, NULL) : NULL;
	vfp_builder_free(empty);
	if (!dp->tables) {
		free(dp);
		return NULL;
	}
	return dp;
}

void vfp_dp_free(struct vfp_dp *dp)
{
	if (!dp)
		return;
	vfp_tables_free(dp->tables);
	vfp_tables_free(dp->prev);
	pthread_mutex_destroy(&dp->commit_lock);
	free(dp);
}

int64_t vfp_dp_commit(struct vfp_dp *dp, const struct vfp_builder *b)
{
	struct vfp_tables *t, *old;
	uint64_t gen;

	pthread_mutex_lock(&dp->commit_lock);
	gen = dp->generation + 1;
	t = vfp_tables_build(b, gen, dp->tables); /* the slow part, before anyone can see it */
	if (!t) {
		pthread_mutex_unlock(&dp->commit_lock);
		return -ENOMEM;
	}
	old = __atomic_exchange_n(&dp->tables, t, __ATOMIC_SEQ_CST);
	old = __atomic_exchange_n(&dp->prev, old, __ATOMIC_SEQ_CST); /* keep one generation back */
	dp->generation = gen;
	vfp_rcu_synchronize(&dp->rcu);
	vfp_tables_free(old);
	pthread_mutex_unlock(&dp->commit_lock);
	return (int64_t)gen;
}

uint64_t vfp_dp_generation(const struct vfp_dp *dp)
{
	return __atomic_load_n(&dp->generation, __ATOMIC_ACQUIRE);
}

struct vfp_ctx *vfp_ctx_new(struct vfp_dp *dp, uint32_t lru_slots)
{
	struct vfp_ctx *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->dp = dp;
	c->slot = vfp_rcu_register(&dp->rcu);
	if (c->slot < 0 || vfp_lru_init(&c->lru, lru_slots) < 0) {
		if (c->slot >= 0)
			vfp_rcu_unregister(&dp->rcu, c->slot);
		free(c);
		return NULL;
	}
	return c;
}

void vfp_ctx_free(struct vfp_ctx *c)
{
	if (!c)
		return;
	vfp_rcu_unregister(&c->dp->rcu, c->slot);
	vfp_lru_destroy(&c->lru);
	free(c);
}

uint32_t vfp_ctx_counters(const struct vfp_ctx *ctx, uint64_t *out, uint32_t n)
{
	uint32_t i;
	if (n > VFP_C_COUNT)
		n = VFP_C_COUNT;
	for (i = 0; i < n; i++)
		out[i] = __atomic_load_n(&ctx->c[i], __ATOMIC_RELAXED);
	return n;
}

uint32_t vfp_ctx_iface_counters(const struct vfp_ctx *ctx, uint32_t port, uint64_t *out, uint32_t n)
{
	uint32_t i;
	if (port >= VFP_MAX_IFACES)
		return 0;
	if (n > VFP_IC_COUNT)
		n = VFP_IC_COUNT;
	for (i = 0; i < n; i++)
		out[i] = __atomic_load_n(&ctx->ic[port][i], __ATOMIC_RELAXED);
	return n;
}
