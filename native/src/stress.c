/*
 * Test support: a C thread classifying the same frames in a loop while the control
 * plane (the Jest test, through koffi) commits table A, B, A, ... Each verdict must
 * equal the one table A or table B gives, and a whole batch must come from one of
 * them (one snapshot per batch). Lives in the library so Jest can drive it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../include/vfp.h"

#define STRESS_BATCH 64u

struct vfp_stress {
	pthread_t th;
	struct vfp_ctx *ctx;
	uint32_t in_port, n;
	const uint8_t *base;
	const uint32_t *offs, *lens;
	const struct vfp_verdict *a, *b;
	int stop;
	uint64_t out[6];
};

static void *loop(void *arg)
{
	struct vfp_stress *s = arg;
	struct vfp_verdict v[STRESS_BATCH];
	uint32_t at = 0;

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		uint32_t k = s->n - at < STRESS_BATCH ? s->n - at : STRESS_BATCH, i;
		int all_a = 1, all_b = 1;
		vfp_classify_umem(s->ctx, s->in_port, s->base, s->offs + at, s->lens + at, k, v);
		for (i = 0; i < k; i++) {
			int is_a = !memcmp(&v[i], &s->a[at + i], sizeof(v[i]));
			int is_b = !memcmp(&v[i], &s->b[at + i], sizeof(v[i]));
			if (!is_a && !is_b)
				s->out[2]++;
			all_a &= is_a;
			all_b &= is_b;
		}
		if (!all_a && !all_b)
			s->out[3]++;
		else if (all_a && !all_b)
			s->out[4]++;
		else if (all_b && !all_a)
			s->out[5]++;
		s->out[0]++;
		s->out[1] += k;
		at += k;
		if (at == s->n)
			at = 0;
	}
	return NULL;
}

struct vfp_stress *vfp_stress_start(struct vfp_dp *dp, uint32_t in_port, const uint8_t *base,
				    const uint32_t offs[], const uint32_t lens[], uint32_t n,
				    const struct vfp_verdict exp_a[], const struct vfp_verdict exp_b[])
{
	struct vfp_stress *s;
	if (n == 0)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	/* LRU off: affinity would legitimately keep a connection on an A backend in B. */
	s->ctx = vfp_ctx_new(dp, 0);
	if (!s->ctx) {
		free(s);
		return NULL;
	}
	s->in_port = in_port;
	s->base = base;
	s->offs = offs;
	s->lens = lens;
	s->n = n;
	s->a = exp_a;
	s->b = exp_b;
	if (pthread_create(&s->th, NULL, loop, s)) {
		vfp_ctx_free(s->ctx);
		free(s);
		return NULL;
	}
	return s;
}

int vfp_stress_stop(struct vfp_stress *s, uint64_t out[6])
{
	if (!s)
		return -EINVAL;
	__atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
	pthread_join(s->th, NULL);
	memcpy(out, s->out, sizeof(s->out));
	vfp_ctx_free(s->ctx);
	free(s);
	return 0;
}
