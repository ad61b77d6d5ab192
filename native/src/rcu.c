/*
 * Grace periods; see rcu.h. Why this is safe: the writer's sequence is
 *   store(ptr, new); e = ++epoch; for each slot: wait while 0 < slot < e.
 * A reader's is  load(epoch) -> store(slot) -> load(ptr). In the seq_cst total order,
 * if the writer's read of a slot comes before the reader's store to it, the reader's
 * later load(ptr) follows store(ptr, new) and sees the new snapshot; otherwise the
 * writer sees the slot's value, and a value below e means the reader may hold the old
 * pointer, so the writer waits for it to leave (slot 0) or re-enter (slot >= e).
 */
#include "rcu.h"

#include <errno.h>
#include <sched.h>

int vfp_rcu_register(struct vfp_rcu *r)
{
	uint32_t i;
	for (i = 0; i < VFP_MAX_READERS; i++) {
		uint64_t expect = 0;
		if (__atomic_compare_exchange_n(&r->slots[i].used, &expect, 1, 0, __ATOMIC_SEQ_CST,
						__ATOMIC_SEQ_CST)) {
			__atomic_store_n(&r->slots[i].epoch, 0, __ATOMIC_SEQ_CST);
			return (int)i;
		}
	}
	return -ENOSPC;
}

void vfp_rcu_unregister(struct vfp_rcu *r, int slot)
{
	__atomic_store_n(&r->slots[slot].epoch, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&r->slots[slot].used, 0, __ATOMIC_SEQ_CST);
}

void vfp_rcu_synchronize(struct vfp_rcu *r)
{
	uint64_t e = __atomic_add_fetch(&r->epoch, 1, __ATOMIC_SEQ_CST);
	uint32_t i;
	for (i = 0; i < VFP_MAX_READERS; i++) {
		for (;;) {
			uint64_t s = __atomic_load_n(&r->slots[i].epoch, __ATOMIC_SEQ_CST);
			if (s == 0 || s >= e)
				break;
			sched_yield(); /* a batch lasts microseconds: yielding is enough */
		}
	}
}
