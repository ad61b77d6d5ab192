/* The classifier benchmarks' common workload (bench_classify.c, bench_ab.c, and the same
 * figures in test/bench/fastpath.bench.ts): frames in the ring, frames the forward row
 * acts on, batch size, UMEM-like chunk stride and headroom, backends per VIP. */
#ifndef VFP_BENCH_WORKLOAD_H
#define VFP_BENCH_WORKLOAD_H
#define NFRAMES 65536u
#define NFWD 4096u
#define BATCH 64u
#define STRIDE 2048u
#define HEADROOM 256u
#define BACKENDS 8u
#endif
