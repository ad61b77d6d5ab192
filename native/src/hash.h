/* Hashes shared by tables, Maglev and the LRU. FNV-1a is used where the TypeScript
 * reference must reproduce the value (Maglev permutations); the mixers are for speed. */
#ifndef VFP_HASH_H
#define VFP_HASH_H

#include <stdint.h>

#define VFP_FNV_SEED1 0x811c9dc5u
#define VFP_FNV_SEED2 0x050c5d1fu

static inline uint32_t vfp_fnv1a(uint32_t h, const uint8_t *d, uint32_t n)
{
	uint32_t i;
	for (i = 0; i < n; i++) {
		h ^= d[i];
		h *= 16777619u;
	}
	return h;
}

/* 64-bit finaliser (murmur3 fmix64): cheap and well-spread for table indexes. */
static inline uint64_t vfp_mix64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ull;
	k ^= k >> 33;
	return k;
}

static inline uint64_t vfp_load64(const uint8_t *p)
{
	uint64_t v;
	__builtin_memcpy(&v, p, 8);
	return v;
}

/*
 * Prefetches the compiler must keep. GCC 12 deleted some __builtin_prefetch calls of the
 * batch classifier (its loop prefetching the next stage's frames compiled to nothing, seen
 * in objdump), so the batch loop's prefetches are volatile asm on x86-64. vfp_prefetchw
 * asks for the line in a writable state (PREFETCHW; __builtin_prefetch(p, 1) emits a plain
 * read prefetch for baseline x86-64).
 */
static inline void vfp_prefetch(const void *p)
{
#if defined(__x86_64__)
	__asm__ volatile("prefetcht0 %0" : : "m"(*(const char *)p));
#else
	__builtin_prefetch(p, 0, 3);
#endif
}

static inline void vfp_prefetchw(const void *p)
{
#if defined(__x86_64__)
	__asm__ volatile("prefetchw %0" : : "m"(*(const char *)p));
#else
	__builtin_prefetch(p, 1, 3);
#endif
}

#endif
