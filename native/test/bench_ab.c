/*
 * A/B of libraries in one process: the workload of bench_classify.c (FLOWS MAC flows, VIPS VIPs
 * x 8 backends, 64-byte frames, batches of 64), each library given on the command line loaded
 * with dlopen (its own tables and context), rounds of each row interleaved between them (order
 * reversed every other round), so a shared machine's load falls on all of them alike. Rows,
 * ns/pkt of this thread's CPU time: classify (random order), forward (restore + classify/act
 * over 4,096 chunks 2 KiB apart, as bench_classify), restore alone; printed as the 10th
 * percentile, quartile and median of REPS rounds of MS ms (many short rounds: the lower
 * percentiles are the rounds nothing else disturbed). THP=1 backs the frame buffers with huge
 * pages (a diagnostic). ICOUNT=1 only runs 4,096 forward batches of the first library (for
 * callgrind --toggle-collect=vfp_forward_umem: instructions per packet).
 *   make -C native build/bench_ab && FLOWS=100000 REPS=100 MS=5 taskset -c 1 build/bench_ab A.so B.so
 */
#include <dlfcn.h>
#include <sys/mman.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "../include/vfp.h"
#include "bench_workload.h"
struct L {
	const char *path;
	struct vfp_ctx *ctx;
	uint8_t *fwd;
	void (*cu)(struct vfp_ctx *, uint32_t, const uint8_t *, const uint32_t *, const uint32_t *, uint32_t, struct vfp_verdict *);
	uint32_t (*fu)(struct vfp_ctx *, uint32_t, uint8_t *, uint32_t, uint32_t *, uint32_t *, uint32_t, struct vfp_verdict *);
	double f[512], r[512], c[512];
};
static double now(void) { struct timespec ts; clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); return ts.tv_sec * 1e9 + ts.tv_nsec; }
static uint32_t rs = 1;
static double rnd(void) { rs = rs * 1664525u + 1013904223u; return rs / 4294967296.0; }
static void mac_of(uint8_t m[6], uint32_t i) { m[0] = 2; m[1] = 0; m[2] = (uint8_t)(i >> 24); m[3] = (uint8_t)(i >> 16); m[4] = (uint8_t)(i >> 8); m[5] = (uint8_t)i; }
static void mapped(uint8_t a[16], uint32_t ip) { memset(a, 0, 16); a[10] = a[11] = 0xff; a[12] = (uint8_t)(ip >> 24); a[13] = (uint8_t)(ip >> 16); a[14] = (uint8_t)(ip >> 8); a[15] = (uint8_t)ip; }
static void wr16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void wr32(uint8_t *p, uint32_t v) { wr16(p, v >> 16); wr16(p + 2, v); }
static void frame(uint8_t *f, uint32_t flows, uint32_t vips)
{
	uint32_t sport = 1024 + (uint32_t)(rnd() * 60000), s = 0, k, src = 0x0a000001, dst = 0x0a000101, dport = 9;
	uint8_t dmac[6];
	memset(f, 0, 64);
	if (vips && rnd() < 0.1) { uint32_t v = (uint32_t)(rnd() * vips); mac_of(dmac, 0); src += (uint32_t)(rnd() * 1000); dst = 0x0a600000 + v; dport = 80; }
	else mac_of(dmac, (uint32_t)(rnd() * flows));
	memcpy(f, dmac, 6); f[6] = 2; f[7] = 0xff; f[11] = 1; wr16(f + 12, 0x0800); f[14] = 0x45; wr16(f + 16, 50); wr16(f + 20, 0x4000); f[22] = 64; f[23] = 17;
	wr32(f + 26, src); wr32(f + 30, dst);
	for (k = 0; k < 20; k += 2) s += (uint32_t)(f[14 + k] << 8 | f[15 + k]);
	while (s >> 16) s = (s & 0xffff) + (s >> 16);
	wr16(f + 24, ~s & 0xffff); wr16(f + 34, sport); wr16(f + 36, dport); wr16(f + 38, 30);
}
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }
static uint8_t *buf, *pristine;
static uint32_t offs[NFRAMES], lens[NFRAMES], foffs[NFWD], flens[NFWD], at;
static struct vfp_verdict v[BATCH];
static struct L *cur;
static void restore(void) { for (uint32_t i = 0; i < BATCH; i++) { uint32_t o = (at + i) * STRIDE + HEADROOM; memcpy(cur->fwd + o - 64, pristine + o - 64, 128); foffs[at + i] = o; flens[at + i] = 64; } }
static uint32_t run_random(void) { cur->cu(cur->ctx, 1, buf, offs + at, lens + at, BATCH, v); at = (at + BATCH) % NFRAMES; return BATCH; }
static uint32_t run_restore(void) { restore(); at = (at + BATCH) % NFWD; return BATCH; }
static uint32_t run_forward(void) { restore(); cur->fu(cur->ctx, 1, cur->fwd, STRIDE, foffs + at, flens + at, BATCH, v); at = (at + BATCH) % NFWD; return BATCH; }
static double timeit(uint32_t (*fn)(void), double ms)
{
	double t0 = now(), t; uint64_t pkts = 0;
	do { for (int j = 0; j < 256; j++) pkts += fn(); t = now(); } while (t - t0 < ms * 1e6);
	return (t - t0) / (double)pkts;
}
#define SYM(h, n) ({ void *p_ = dlsym(h, #n); if (!p_) { fprintf(stderr, "%s\n", dlerror()); exit(1); } p_; })
int main(int argc, char **argv)
{
	uint32_t flows = getenv("FLOWS") ? (uint32_t)atoi(getenv("FLOWS")) : 1000, vips = getenv("VIPS") ? (uint32_t)atoi(getenv("VIPS")) : 1000, i, k;
	int reps = getenv("REPS") ? atoi(getenv("REPS")) : 9, n = argc - 1, li;
	double ms = getenv("MS") ? atof(getenv("MS")) : 60;
	struct L *L;
	if (n < 1) {
		fprintf(stderr, "usage: [FLOWS=n] [VIPS=n] [REPS=n] [MS=ms] bench_ab LIB.so [LIB.so...]\n");
		return 2;
	}
	if (reps < 1 || reps > 512)
		reps = 9;
	L = calloc((size_t)n, sizeof(*L));
	rs = flows;
	buf = malloc((size_t)NFRAMES * 64); pristine = calloc(NFWD, STRIDE);
	if (getenv("THP")) { pristine = aligned_alloc(2 << 20, (size_t)NFWD * STRIDE); madvise(pristine, (size_t)NFWD * STRIDE, MADV_HUGEPAGE); memset(pristine, 0, (size_t)NFWD * STRIDE); }
	for (i = 0; i < NFRAMES; i++) { frame(buf + 64 * i, flows, vips); offs[i] = 64 * i; lens[i] = 64; }
	for (i = 0; i < NFWD; i++) memcpy(pristine + i * STRIDE + HEADROOM, buf + 64 * i, 64);
	for (li = 0; li < n; li++) {
		void *h = dlopen(argv[li + 1], RTLD_NOW | RTLD_LOCAL);
		if (!h) { fprintf(stderr, "%s\n", dlerror()); return 1; }
		struct vfp_dp *(*dp_new)(void) = SYM(h, vfp_dp_new);
		struct vfp_builder *(*b_new)(void) = SYM(h, vfp_builder_new);
		int (*add_port)(struct vfp_builder *, uint32_t, uint32_t, uint32_t) = SYM(h, vfp_builder_add_port);
		int (*add_vtep)(struct vfp_builder *, uint32_t, uint32_t, const uint8_t *, uint8_t) = SYM(h, vfp_builder_add_vtep);
		int (*set_lv)(struct vfp_builder *, uint32_t, const uint8_t *) = SYM(h, vfp_builder_set_local_vtep);
		int (*mac_l)(struct vfp_builder *, uint32_t, const uint8_t *, uint32_t) = SYM(h, vfp_builder_add_mac_local);
		int (*mac_r)(struct vfp_builder *, uint32_t, const uint8_t *, uint32_t, uint32_t) = SYM(h, vfp_builder_add_mac_remote);
		/* ABI 7 added the VIP's network (first argument); earlier libraries take none. */
		uint32_t (*abi)(void) = SYM(h, vfp_abi_version);
		int (*add_vip6)(struct vfp_builder *, uint8_t, const uint8_t *, uint16_t) = SYM(h, vfp_builder_add_vip);
		int (*add_vip)(struct vfp_builder *, uint32_t, uint8_t, const uint8_t *, uint16_t) = SYM(h, vfp_builder_add_vip);
		int (*add_be)(struct vfp_builder *, uint32_t, uint32_t, const uint8_t *, uint16_t, uint16_t) = SYM(h, vfp_builder_add_backend);
		int64_t (*commit)(struct vfp_dp *, const struct vfp_builder *) = SYM(h, vfp_dp_commit);
		struct vfp_ctx *(*ctx_new)(struct vfp_dp *, uint32_t) = SYM(h, vfp_ctx_new);
		uint8_t m[6], nh[6] = { 2, 0, 0, 0, 0, 0xfe }, lm[6] = { 2, 0, 0, 0, 0, 0xfd }, a[16], ba[16];
		struct vfp_dp *dp = dp_new();
		struct vfp_builder *b = b_new();
		L[li].path = argv[li + 1];
		L[li].cu = SYM(h, vfp_classify_umem);
		L[li].fu = SYM(h, vfp_forward_umem);
		add_port(b, 1, 1, 0); add_vtep(b, 1, 0xc0a80002, nh, VFP_ENCAP_VXLAN); set_lv(b, 0xc0a80001, lm);
		for (i = 0; i < flows; i++) { mac_of(m, i); if (i % 2) mac_l(b, 1, m, 2 + i % 100); else mac_r(b, 1, m, 1, 5000); }
		for (i = 0; i < vips; i++) { int vi; mapped(a, 0x0a600000 + i); vi = abi() >= 7 ? add_vip(b, 1, 17, a, 80) : add_vip6(b, 17, a, 80); for (k = 0; k < BACKENDS; k++) { mapped(ba, 0x0a020000 + k); add_be(b, (uint32_t)vi, k, ba, 8080, 1); } }
		if (commit(dp, b) < 0) return 1;
		L[li].ctx = ctx_new(dp, 1u << 16);
		L[li].fwd = calloc(NFWD, STRIDE);
		if (getenv("THP")) { L[li].fwd = aligned_alloc(2 << 20, (size_t)NFWD * STRIDE); madvise(L[li].fwd, (size_t)NFWD * STRIDE, MADV_HUGEPAGE); memset(L[li].fwd, 0, (size_t)NFWD * STRIDE); }
	}
	if (getenv("ICOUNT")) { cur = &L[0]; at = 0; for (i = 0; i < 4096; i++) run_forward(); return 0; }
	for (int r = -1; r < reps; r++)
		for (int q = 0; q < n; q++) {
			cur = &L[(r & 1) ? n - 1 - q : q];
			at = 0; double c = timeit(run_random, ms);
			at = 0; double f = timeit(run_forward, ms);
			at = 0; double s = timeit(run_restore, ms);
			if (r >= 0) { cur->c[r] = c; cur->f[r] = f; cur->r[r] = s; }
		}
	printf("%u flows, %d rounds of %.0f ms each, interleaved\n", flows, reps, ms);
	for (li = 0; li < n; li++) {
		struct L *l = &L[li];
		double d[512];
		for (k = 0; k < (uint32_t)reps; k++) d[k] = l->f[k] - l->r[k];
		qsort(l->c, (size_t)reps, sizeof(double), cmp); qsort(l->f, (size_t)reps, sizeof(double), cmp);
		qsort(l->r, (size_t)reps, sizeof(double), cmp); qsort(d, (size_t)reps, sizeof(double), cmp);
		printf("  %-14s classify p10 %5.1f med %5.1f | forward p10 %5.1f p25 %5.1f med %5.1f | restore p10 %4.1f med %4.1f | fwd-restore p10 %5.1f med %5.1f\n",
		       l->path, l->c[reps / 10], l->c[reps / 2], l->f[reps / 10], l->f[reps / 4], l->f[reps / 2], l->r[reps / 10], l->r[reps / 2],
		       l->f[reps / 10] - l->r[reps / 10], l->f[reps / 2] - l->r[reps / 2]);
	}
	return 0;
}
