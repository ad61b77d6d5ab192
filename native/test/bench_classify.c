/* Pure-C timing of vfp_classify_umem (no koffi), cache-hot: separates call overhead from work. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../include/vfp.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(void)
{
	struct vfp_dp *dp = vfp_dp_new();
	struct vfp_builder *b = vfp_builder_new();
	uint8_t buf[64 * 64], m[6] = { 2, 0, 0, 0, 0, 0 };
	uint32_t offs[64], lens[64], i, it;
	struct vfp_verdict v[64];
	struct vfp_ctx *c;
	double t0;

	vfp_builder_add_port(b, 1, 1, 0);
	for (i = 0; i < 1000; i++) {
		m[5] = (uint8_t)i;
		m[4] = (uint8_t)(i >> 8);
		vfp_builder_add_mac_local(b, 1, m, 2);
	}
	if (getenv("VIPS")) {
		uint8_t a[16] = { 0 };
		a[10] = a[11] = 0xff; a[12] = 10; a[13] = 96;
		for (i = 0; i < (uint32_t)atoi(getenv("VIPS")); i++) {
			int vi;
			a[14] = (uint8_t)(i >> 8); a[15] = (uint8_t)i;
			vi = vfp_builder_add_vip(b, 17, a, 80);
			vfp_builder_add_backend(b, (uint32_t)vi, 1, a, 80, 1);
		}
	}
	vfp_dp_commit(dp, b);
	c = vfp_ctx_new(dp, 0);
	memset(buf, 0, sizeof(buf));
	for (i = 0; i < 64; i++) {
		uint8_t *f = buf + 64 * i;
		f[0] = 2; f[4] = (uint8_t)(i >> 8); f[5] = (uint8_t)i;
		f[12] = 0x08; f[13] = 0x00;
		f[14] = 0x45; f[16] = 0; f[17] = 46; f[22] = 64; f[23] = 17;
		/* checksum */
		{
			uint32_t s = 0, k;
			for (k = 0; k < 20; k += 2) s += (uint32_t)(f[14 + k] << 8 | f[15 + k]);
			while (s >> 16) s = (s & 0xffff) + (s >> 16);
			s = ~s & 0xffff;
			f[24] = (uint8_t)(s >> 8); f[25] = (uint8_t)s;
		}
		f[34] = 4; f[36] = 0; f[37] = 9; f[39] = 26;
		offs[i] = 64 * i;
		lens[i] = 64;
	}
	for (it = 0; it < 1000; it++)
		vfp_classify_umem(c, 1, buf, offs, lens, 64, v);
	t0 = now();
	for (it = 0; it < 200000; it++)
		vfp_classify_umem(c, 1, buf, offs, lens, 64, v);
	printf("kind %d port %u: %.1f ns/pkt\n", v[0].kind, v[0].port, (now() - t0) / (200000.0 * 64));
	return 0;
}
