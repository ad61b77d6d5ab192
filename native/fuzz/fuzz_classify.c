/*
 * libFuzzer target: parser, classifier (VM-facing and underlay ports, VIPs with the
 * LRU on, one conntrack VIP and a connection of it, whose ICMP errors are rewritten), decap
 * and encap over arbitrary bytes. The first input byte picks the
 * ingress port; the rest is the frame. Sanitizers catch any out-of-bounds read.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../include/vfp.h"
#include "../src/parse.h"

static struct vfp_dp *dp;
static struct vfp_ctx *ctx;
/* Fed the same frames in the same order, one as a batch, one frame per call: their LRUs
 * evolve alike, so every verdict must be the same (the staged batch is only a schedule). */
static struct vfp_ctx *ctx_batch, *ctx_single;

static void setup(void)
{
	static const uint8_t mac_a[6] = { 2, 0, 0, 0, 0, 1 }, mac_b[6] = { 2, 0, 0, 0, 0, 2 }, mac_c[6] = { 2, 0, 0, 0, 0, 3 };
	static const uint8_t nh[6] = { 2, 0, 0, 0, 0, 0xfe };
	uint8_t vip[16] = { 0 }, be[16] = { 0 };
	struct vfp_builder *b = vfp_builder_new();
	int v, i;

	vfp_builder_set_local_vtep(b, 0x0a000001, nh);
	vfp_builder_add_port(b, 1, 100, 0);
	vfp_builder_add_port(b, 2, 100, 0);
	vfp_builder_add_port(b, 3, 0, VFP_PORT_UNDERLAY);
	vfp_builder_add_vni(b, 5000, 100);
	vfp_builder_add_vtep(b, 7, 0x0a000002, nh, VFP_ENCAP_VXLAN);
	vfp_builder_add_vtep(b, 8, 0x0a000003, nh, VFP_ENCAP_GENEVE);
	vfp_builder_add_mac_local(b, 100, mac_a, 1);
	vfp_builder_add_mac_remote(b, 100, mac_b, 7, 5000);
	vip[10] = vip[11] = 0xff;
	vip[12] = 10; vip[13] = 96; vip[14] = 0; vip[15] = 1;
	memcpy(be, vip, 16);
	for (int proto = 6; proto <= 17; proto += 11) {
		v = vfp_builder_add_vip(b, 100, (uint8_t)proto, vip, 80);
		for (i = 0; i < 4; i++) {
			be[15] = (uint8_t)(10 + i);
			vfp_builder_add_backend(b, (uint32_t)v, (uint32_t)i, be, 8080, (uint16_t)(i + 1));
		}
	}
	/* A conntrack VIP (conn.c): SYNs open connections, replies are reverse-NATed; its
	 * backends are the two known MACs (one local, one remote). */
	vip[15] = 2;
	v = vfp_builder_add_vip(b, 100, 6, vip, 443);
	vfp_builder_set_vip_flags(b, (uint32_t)v, VFP_VIP_CONNTRACK);
	be[15] = 20;
	vfp_builder_add_backend_mac(b, (uint32_t)v, 20, be, 8443, 1, mac_a);
	be[15] = 21;
	vfp_builder_add_backend_mac(b, (uint32_t)v, 21, be, 8443, 2, mac_b);
	/* Another tenant (port 0, network 101) with the same conntrack VIP and backend address:
	 * its own record, entries and keys. */
	vfp_builder_add_port(b, 0, 101, VFP_PORT_CONNTRACK);
	vfp_builder_add_vni(b, 5001, 101);
	vfp_builder_add_mac_local(b, 101, mac_c, 0);
	v = vfp_builder_add_vip(b, 101, 6, vip, 443);
	vfp_builder_set_vip_flags(b, (uint32_t)v, VFP_VIP_CONNTRACK);
	be[15] = 20;
	vfp_builder_add_backend_mac(b, (uint32_t)v, 20, be, 8443, 1, mac_c);
	vfp_dp_commit(dp, b);
	vfp_builder_free(b);
}

/* A connection every context has from the start (10.96.0.9:40000 -> 10.96.0.2:443 from mac_a
 * on port 1, a SYN: dealt to one of the conntrack VIP's backends), so that an input quoting
 * it in an ICMP error (seeds icmp-unreach-be20/21: 10.96.0.9:40000 -> 10.96.0.20 or 21:8443)
 * reaches the ICMP rewrite (conn.c icmp_reverse), classify and forward alike. */
static void open_connection(struct vfp_ctx *c)
{
	static const uint8_t syn[54] = { 2, 0x4c, 0x42, 0, 0, 1, 2, 0, 0, 0, 0, 1, 0x08, 0x00, 0x45, 0, 0, 40, 0, 1, 0, 0,
					 0x40, 6, 0x66, 0x05, 10, 96, 0, 9, 10, 96, 0, 2, 0x9c, 0x40, 0x01, 0xbb,
					 0, 0, 0, 0, 0, 0, 0, 0, 0x50, 0x02, 0x04, 0, 0, 0, 0, 0 };
	const uint8_t *fr = syn;
	uint32_t len = sizeof(syn);
	struct vfp_verdict v;

	vfp_classify_batch(c, 1, &fr, &len, 1, &v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vfp_verdict v;
	struct vfp_pkt p;
	uint32_t len, off, vni, in_port;
	const uint8_t *frame;
	uint8_t *copy, out[256];

	if (!dp) {
		dp = vfp_dp_new();
		ctx = vfp_ctx_new(dp, 1024);
		ctx_batch = vfp_ctx_new(dp, 1024);
		ctx_single = vfp_ctx_new(dp, 1024);
		setup();
		open_connection(ctx);
		open_connection(ctx_batch);
		open_connection(ctx_single);
	}
	if (size < 1)
		return 0;
	in_port = data[0] % 4;
	len = (uint32_t)(size - 1);
	/* An exact-size heap copy so ASan sees any read past the frame. */
	copy = malloc(len ? len : 1);
	memcpy(copy, data + 1, len);
	frame = copy;
	{
		/* The parser's shortcut for common frames agrees with the general walk. */
		struct vfp_pkt q;
		int rc = vfp_parse(frame, len, &p), rq = vfp_parse_general(frame, len, &q);
		if (rc != rq || (rc == 0 && memcmp(&p, &q, sizeof(p))))
			abort();
	}
	{
		/* A batch mixing the input with a hit and a VIP frame, twice over, decides as
		 * the same frames one by one (same snapshot, LRUs fed alike). */
		static const uint8_t hit[60] /* to the UDP VIP 10.96.0.1:80 */ = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 9, 0x08, 0x00, 0x45, 0, 0, 46, 0, 0,
						 0x40, 0, 64, 17, 0x26, 0x56, 10, 0, 0, 9, 10, 96, 0, 1, 0x9c, 0x40,
						 0, 80, 0, 26 };
		const uint8_t *fr[5] = { frame, hit, frame, hit, frame };
		uint32_t ln[5] = { len, 60, len, 60, len }, k;
		struct vfp_verdict vb[5], vs;
		vfp_classify_batch(ctx_batch, in_port, fr, ln, 5, vb);
		for (k = 0; k < 5; k++) {
			vfp_classify_batch(ctx_single, in_port, &fr[k], &ln[k], 1, &vs);
			if (memcmp(&vs, &vb[k], sizeof(vs)))
				abort();
		}
	}
	vfp_classify_batch(ctx, in_port, &frame, &len, 1, &v);
	if (v.kind == VFP_V_LOCAL && v.inner_off >= len)
		abort(); /* a decap verdict must point inside the frame */
	if (vfp_decap(frame, len, &off, &vni) >= 0 && off + 14 > len)
		abort();
	vfp_flow_hash(frame, len);
	/* forward acts in place: a 2 KiB chunk with 256 bytes of headroom, as in a UMEM.
	 * The chunk is exactly sized so ASan flags writes outside it. */
	if (len <= 2048 - 256) {
		uint8_t *chunk = malloc(2048);
		uint32_t o = 256, l = len;
		memcpy(chunk + o, frame, len);
		if (vfp_forward_umem(ctx, in_port, chunk, 2048, &o, &l, 1, &v) && (o + l > 2048 || o < 206))
			abort(); /* a forwarded frame must stay inside its chunk */
		free(chunk);
	}
	if (len <= sizeof(out) - 50) {
		struct vfp_encap_params ep = { .type = VFP_ENCAP_GENEVE, .ttl = 64, .vni = 5000 };
		if (vfp_encap(&ep, frame, len, out, sizeof(out)) != (int)len + 50)
			abort();
	}
	free(copy);
	return 0;
}
