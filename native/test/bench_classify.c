/*
 * Pure-C timing of the classifier (no koffi), the same workload as test/bench/fastpath.bench.ts:
 * 64-byte UDP frames, FLOWS (network, MAC) flows (half local, half behind a VXLAN VTEP),
 * VIPS VIPs x 8 backends, ~10% of the frames toward a VIP. Rows:
 *   random   65,536 frames in random flow order, classified in batches of 64 walking the buffer
 *   hot      the same 64 frames over and over (tables and frames in L1/L2)
 *   forward  classify + act (encapsulate into headroom / VIP rewrite) over 4,096 UMEM-like chunks,
 *            each frame restored from a pristine copy first (restore timed alone and subtracted)
 * Each row is timed REPS times (~60 ms each); best and median are printed, because the
 * machine is shared and only the best approaches what the code costs.
 *   FLOWS=1000 VIPS=1000 REPS=7 [ONLY=random|hot|forward] build/bench_classify
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../include/vfp.h"
#include "bench_workload.h"

/* CLOCK=cpu: this thread's CPU time instead of wall time, so rounds in which the shared
 * machine ran something else on this core do not count that time as the classifier's. */
static clockid_t clk = CLOCK_MONOTONIC;
static double now(void)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static uint32_t rs = 1;
static double rnd(void)
{
	rs = rs * 1664525u + 1013904223u;
	return rs / 4294967296.0;
}

static void mac_of(uint8_t m[6], uint32_t i)
{
	m[0] = 2; m[1] = 0; m[2] = (uint8_t)(i >> 24); m[3] = (uint8_t)(i >> 16); m[4] = (uint8_t)(i >> 8); m[5] = (uint8_t)i;
}

static void mapped(uint8_t a[16], uint32_t ip)
{
	memset(a, 0, 16);
	a[10] = a[11] = 0xff;
	a[12] = (uint8_t)(ip >> 24); a[13] = (uint8_t)(ip >> 16); a[14] = (uint8_t)(ip >> 8); a[15] = (uint8_t)ip;
}

static void wr16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void wr32(uint8_t *p, uint32_t v) { wr16(p, v >> 16); wr16(p + 2, v); }

/* A 64-byte Ethernet/IPv4/UDP frame (UDP checksum 0, DF set), as reference.ts builds it. */
static double vip_share = 0.1; /* VIPSHARE: share of frames toward a VIP (diagnostics) */
static void frame(uint8_t *f, uint32_t flows, uint32_t vips)
{
	uint32_t sport = 1024 + (uint32_t)(rnd() * 60000), s = 0, k, src = 0x0a000001, dst = 0x0a000101, dport = 9;
	uint8_t dmac[6];

	memset(f, 0, 64);
	if (vips && rnd() < vip_share) {
		uint32_t v = (uint32_t)(rnd() * vips);
		mac_of(dmac, 0);
		src += (uint32_t)(rnd() * 1000);
		dst = 0x0a600000 + v;
		dport = 80;
	} else {
		mac_of(dmac, (uint32_t)(rnd() * flows));
	}
	memcpy(f, dmac, 6);
	f[6] = 2; f[7] = 0xff; f[11] = 1;
	wr16(f + 12, 0x0800);
	f[14] = 0x45;
	wr16(f + 16, 50);
	wr16(f + 20, 0x4000);
	f[22] = 64; f[23] = 17;
	wr32(f + 26, src);
	wr32(f + 30, dst);
	for (k = 0; k < 20; k += 2)
		s += (uint32_t)(f[14 + k] << 8 | f[15 + k]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	wr16(f + 24, ~s & 0xffff);
	wr16(f + 34, sport);
	wr16(f + 36, dport);
	wr16(f + 38, 30);
}

/* How much of this process sits on transparent huge pages (the MAC table and the LRU ask
 * for them: without, random lookups over megabytes add a page walk to each cache miss). */
static void print_thp(void)
{
	char line[256];
	FILE *f = fopen("/proc/self/smaps_rollup", "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "Rss:", 4) || !strncmp(line, "AnonHugePages:", 14))
			printf("  %s", line);
	fclose(f);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static struct vfp_ctx *ctx;
static uint8_t *buf, *fwd, *pristine;
static uint32_t offs[NFRAMES], lens[NFRAMES], foffs[NFWD], flens[NFWD], at;
static struct vfp_verdict v[BATCH];

static uint32_t run_random(void)
{
	vfp_classify_umem(ctx, 1, buf, offs + at, lens + at, BATCH, v);
	at = (at + BATCH) % NFRAMES;
	return BATCH;
}

static uint32_t run_hot(void)
{
	vfp_classify_umem(ctx, 1, buf, offs, lens, BATCH, v);
	return BATCH;
}

static uint32_t restore(void)
{
	uint32_t i;
	for (i = 0; i < BATCH; i++) {
		uint32_t o = (at + i) * STRIDE + HEADROOM;
		memcpy(fwd + o - 64, pristine + o - 64, 128);
		foffs[at + i] = o;
		flens[at + i] = 64;
	}
	return BATCH;
}

static uint32_t run_restore(void)
{
	restore();
	at = (at + BATCH) % NFWD;
	return BATCH;
}

static uint32_t run_forward(void)
{
	restore();
	vfp_forward_umem(ctx, 1, fwd, STRIDE, foffs + at, flens + at, BATCH, v);
	at = (at + BATCH) % NFWD;
	return BATCH;
}

/* ns/pkt: best and median over reps. */
static void timeit(uint32_t (*fn)(void), int reps, double *best, double *median)
{
	double r[64];
	int k;
	for (k = 0; k < reps; k++) {
		double t0 = now(), t;
		uint64_t pkts = 0;
		do {
			uint32_t j;
			for (j = 0; j < 256; j++)
				pkts += fn();
			t = now();
		} while (t - t0 < 60e6);
		r[k] = (t - t0) / (double)pkts;
	}
	qsort(r, (size_t)reps, sizeof(double), cmp);
	*best = r[0];
	*median = r[reps / 2];
}

static void row(const char *name, double best, double median)
{
	printf("  %-34s best %6.1f ns/pkt (%5.1f Mpps)  median %6.1f ns/pkt (%5.1f Mpps)\n", name, best, 1e3 / best, median,
	       1e3 / median);
}

int main(void)
{
	uint32_t flows = getenv("FLOWS") ? (uint32_t)atoi(getenv("FLOWS")) : 1000;
	uint32_t vips = getenv("VIPS") ? (uint32_t)atoi(getenv("VIPS")) : 1000;
	int reps = getenv("REPS") ? atoi(getenv("REPS")) : 15;
	const char *only = getenv("ONLY") && *getenv("ONLY") ? getenv("ONLY") : NULL; /* one row (profiling) */
	struct vfp_dp *dp = vfp_dp_new();
	struct vfp_builder *b = vfp_builder_new();
	uint8_t m[6], nh[6] = { 2, 0, 0, 0, 0, 0xfe }, lm[6] = { 2, 0, 0, 0, 0, 0xfd }, a[16], ba[16];
	uint64_t c[VFP_C_COUNT];
	double rb, rm, hb, hm, fb, fm, sb, sm;
	uint32_t i, k;

	if (getenv("VIPSHARE"))
		vip_share = atof(getenv("VIPSHARE"));
	if (getenv("CLOCK") && !strcmp(getenv("CLOCK"), "cpu"))
		clk = CLOCK_THREAD_CPUTIME_ID;
	if (reps < 1 || reps > 64)
		reps = 15;
	rs = flows;
	vfp_builder_add_port(b, 1, 1, 0);
	vfp_builder_add_vtep(b, 1, 0xc0a80002, nh, VFP_ENCAP_VXLAN);
	vfp_builder_set_local_vtep(b, 0xc0a80001, lm);
	for (i = 0; i < flows; i++) {
		mac_of(m, i);
		if (i % 2)
			vfp_builder_add_mac_local(b, 1, m, 2 + i % 100);
		else
			vfp_builder_add_mac_remote(b, 1, m, 1, 5000);
	}
	for (i = 0; i < vips; i++) {
		int vi;
		mapped(a, 0x0a600000 + i);
		vi = vfp_builder_add_vip(b, 1, 17, a, 80);
		for (k = 0; k < BACKENDS; k++) {
			mapped(ba, 0x0a020000 + k);
			vfp_builder_add_backend(b, (uint32_t)vi, k, ba, 8080, 1);
		}
	}
	if (vfp_dp_commit(dp, b) < 0)
		return 1;
	ctx = vfp_ctx_new(dp, 1u << 16);
	buf = malloc((size_t)NFRAMES * 64);
	fwd = calloc(NFWD, STRIDE);
	pristine = calloc(NFWD, STRIDE);
	for (i = 0; i < NFRAMES; i++) {
		frame(buf + 64 * i, flows, vips);
		offs[i] = 64 * i;
		lens[i] = 64;
	}
	for (i = 0; i < NFWD; i++)
		memcpy(pristine + i * STRIDE + HEADROOM, buf + 64 * i, 64);

	printf("%u MAC flows, %u VIPs x %u backends, 64-byte frames, batches of %u, %d reps\n", flows, vips, BACKENDS,
	       BATCH, reps);
	at = 0;
	if (!only || !strcmp(only, "random")) {
		timeit(run_random, reps, &rb, &rm);
		row("classify, random order", rb, rm);
	}
	if (!only || !strcmp(only, "hot")) {
		timeit(run_hot, reps, &hb, &hm);
		row("classify, cache-hot (64 frames)", hb, hm);
	}
	if (!only || !strcmp(only, "forward")) {
		at = 0;
		timeit(run_forward, reps, &fb, &fm);
		at = 0;
		timeit(run_restore, reps, &sb, &sm);
		row("forward (restore subtracted)", fb - sb, fm - sm);
	}
	print_thp();
	vfp_ctx_counters(ctx, c, VFP_C_COUNT);
	printf("  counters: packets %llu macHit %llu macMiss %llu vipHit %llu lruHit %llu parseErr %llu\n",
	       (unsigned long long)c[VFP_C_PACKETS], (unsigned long long)c[VFP_C_MAC_HIT],
	       (unsigned long long)c[VFP_C_MAC_MISS], (unsigned long long)c[VFP_C_VIP_HIT],
	       (unsigned long long)c[VFP_C_LRU_HIT], (unsigned long long)c[VFP_C_PARSE_ERR]);
	vfp_ctx_free(ctx);
	vfp_dp_free(dp);
	return 0;
}
