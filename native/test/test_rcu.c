/*
 * Native test, built twice by `make test`: with ThreadSanitizer (data races between
 * the classify thread and commits) and with AddressSanitizer (use after free of a
 * snapshot or of a Maglev ring shared between snapshots). Two reader threads classify
 * while the main thread commits tables A and B in an irregular order (A A B A B B ...,
 * so rings are both shared and rebuilt); every verdict must be A's or B's.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../include/vfp.h"
#include "../src/parse.h"

#define N 64
static uint8_t frames[N][64];
static uint32_t lens[N], offs[N];
static struct vfp_verdict exp_a[N], exp_b[N];
static struct vfp_dp *dp;
static int stop;
static uint64_t bad;

static void frame(uint8_t *f, uint8_t last_mac, uint32_t dst_ip, uint16_t sport)
{
	uint32_t s = 0, k;
	memset(f, 0, 64);
	f[0] = 2; f[5] = last_mac;
	f[12] = 0x08;
	f[14] = 0x45; f[17] = 50; f[22] = 64; f[23] = 17;
	vfp_wr32(f + 30, dst_ip);
	for (k = 0; k < 20; k += 2)
		s += vfp_rd16(f + 14 + k);
	vfp_wr16(f + 24, vfp_csum_fold(s));
	vfp_wr16(f + 34, sport);
	vfp_wr16(f + 36, 80);
	vfp_wr16(f + 38, 30);
}

static struct vfp_builder *tables(int which)
{
	struct vfp_builder *b = vfp_builder_new();
	uint8_t m[6] = { 2, 0, 0, 0, 0, 1 }, nh[6] = { 2, 0, 0, 0, 0, 0xfe }, a[16] = { 0 }, be[16] = { 0 };
	uint32_t i;
	vfp_builder_add_port(b, 1, 1, 0);
	vfp_builder_add_vtep(b, 7, 0x0a000007, nh, VFP_ENCAP_VXLAN);
	vfp_builder_add_mac_local(b, 1, m, which ? 2 : 3);
	m[5] = 2;
	vfp_builder_add_mac_remote(b, 1, m, 7, which ? 100 : 200);
	a[10] = a[11] = be[10] = be[11] = 0xff;
	for (i = 0; i < 50; i++) {
		int v;
		vfp_wr32(a + 12, 0x0a600000 + i);
		v = vfp_builder_add_vip(b, 1, 17, a, 80);
		for (uint32_t k = 0; k < 4; k++) {
			vfp_wr32(be + 12, 0x0a010000 + k + (i == 0 && which ? 100 : 0));
			vfp_builder_add_backend(b, (uint32_t)v, k + (i == 0 && which ? 100 : 0), be, 8080, 1);
		}
	}
	return b;
}

static void *reader(void *arg)
{
	struct vfp_ctx *c = vfp_ctx_new(dp, 0);
	struct vfp_verdict v[N];
	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		int i, all_a = 1, all_b = 1;
		vfp_classify_umem(c, 1, &frames[0][0], offs, lens, N, v);
		for (i = 0; i < N; i++) {
			all_a &= !memcmp(&v[i], &exp_a[i], sizeof(v[i]));
			all_b &= !memcmp(&v[i], &exp_b[i], sizeof(v[i]));
		}
		if (!all_a && !all_b)
			__atomic_fetch_add(&bad, 1, __ATOMIC_RELAXED);
	}
	vfp_ctx_free(c);
	return NULL;
}

int main(void)
{
	struct vfp_builder *a, *b;
	struct vfp_ctx *c;
	pthread_t th[2];
	int i;
	unsigned seed = 1;

	for (i = 0; i < N; i++) {
		frame(frames[i], (uint8_t)(1 + i % 3), i % 3 == 2 ? 0x0a600000 : 0x0a000001, (uint16_t)(1000 + i));
		offs[i] = (uint32_t)(i * 64);
		lens[i] = 64;
	}
	dp = vfp_dp_new();
	c = vfp_ctx_new(dp, 0);
	a = tables(0);
	b = tables(1);
	vfp_dp_commit(dp, a);
	vfp_classify_umem(c, 1, &frames[0][0], offs, lens, N, exp_a);
	vfp_dp_commit(dp, b);
	vfp_classify_umem(c, 1, &frames[0][0], offs, lens, N, exp_b);
	if (!memcmp(exp_a, exp_b, sizeof(exp_a))) {
		fprintf(stderr, "FAIL: tables A and B classify alike\n");
		return 1;
	}
	for (i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, reader, NULL);
	for (i = 0; i < 300; i++)
		vfp_dp_commit(dp, (rand_r(&seed) & 1) ? a : b);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	vfp_builder_free(a);
	vfp_builder_free(b);
	vfp_ctx_free(c);
	vfp_dp_free(dp);
	if (bad) {
		fprintf(stderr, "FAIL: %llu batches matched neither table\n", (unsigned long long)bad);
		return 1;
	}
	printf("ok: 300 commits under 2 reader threads, every batch A or B\n");
	return 0;
}
