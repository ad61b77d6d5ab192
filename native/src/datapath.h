/* The datapath object (current snapshot + RCU domain) and a classify context. */
#ifndef VFP_DATAPATH_H
#define VFP_DATAPATH_H

#include <pthread.h>
#include <stdint.h>

#include "../include/vfp.h"
#include "frag.h"
#include "lru.h"
#include "rcu.h"
#include "tables.h"

struct vfp_dp {
	struct vfp_tables *tables; /* read with acquire by classify, swapped by commit */
	/* The snapshot before `tables`, kept until the next commit: a frame the XDP filter took
	 * under it (queued in an rx ring while its key was withdrawn and the tables changed)
	 * and that the current tables miss is decided by it (classify.c, retry_prev). */
	struct vfp_tables *prev;
	struct vfp_rcu rcu;
	pthread_mutex_t commit_lock; /* control plane only: commits are serialised */
	uint64_t generation;
};

struct vfp_ctx {
	struct vfp_dp *dp;
	int slot;
	struct vfp_lru lru;
	/* Conntrack VIPs: where connection keys are published (the runner's XDP maps), and
	 * whether any reverse entry was ever made (replies are only looked up then). */
	vfp_conn_hook conn_hook;
	void *conn_arg;
	uint64_t ct_entries;
	struct vfp_conn_count conn_counts[VFP_CONN_COUNTS]; /* open addressing; used set last */
	/* Reply fragments being un-DNATed (frag.h): 32 KiB, beside the 3 MiB of ic below. */
	struct vfp_frag_ent frags[VFP_FRAG_SETS * VFP_FRAG_WAYS];
	/* Plain counters: one writer (this context's thread), 64-bit aligned loads are
	 * atomic on the platforms we build for, so readers see whole values. */
	uint64_t c[VFP_C_COUNT];
	uint64_t ic[VFP_MAX_IFACES][VFP_IC_COUNT];
};

#endif
