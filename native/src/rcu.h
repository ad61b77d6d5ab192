/*
 * Epoch-based reclamation for table snapshots (the RCU pattern, in user space).
 *
 * Readers (classify contexts) never lock: around each batch they publish the global
 * epoch they entered in, load the snapshot pointer, and clear their slot on exit. The
 * writer publishes a new pointer, advances the epoch, and waits until every reader slot
 * is empty or at the new epoch: no reader can still hold the old pointer, so it is freed.
 * All accesses are seq_cst where ordering matters (see rcu.c for the argument).
 */
#ifndef VFP_RCU_H
#define VFP_RCU_H

#include <stdint.h>

#include "../include/vfp.h"

/* One cache line per reader slot: each classify thread writes its own twice a batch,
 * and sharing a line would make threads on different cores invalidate each other. */
struct vfp_rcu_slot {
	uint64_t epoch; /* 0 means "not reading" */
	uint64_t used;
	uint8_t pad[48];
};

struct vfp_rcu {
	uint64_t epoch; /* starts at 1 */
	uint8_t pad[56];
	struct vfp_rcu_slot slots[VFP_MAX_READERS];
};

int vfp_rcu_register(struct vfp_rcu *r);
void vfp_rcu_unregister(struct vfp_rcu *r, int slot);

static inline void vfp_rcu_enter(struct vfp_rcu *r, int slot)
{
	uint64_t e = __atomic_load_n(&r->epoch, __ATOMIC_SEQ_CST);
	__atomic_store_n(&r->slots[slot].epoch, e, __ATOMIC_SEQ_CST);
}

static inline void vfp_rcu_exit(struct vfp_rcu *r, int slot)
{
	__atomic_store_n(&r->slots[slot].epoch, 0, __ATOMIC_RELEASE);
}

/* Called by the writer after publishing a new pointer: returns once no reader can
 * hold anything published before the call. */
void vfp_rcu_synchronize(struct vfp_rcu *r);

#endif
