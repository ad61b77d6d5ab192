/* Runner-side extras of the AF_XDP ports (src/xsk.c) that are not part of the koffi API. */
#ifndef VFP_XSK_H
#define VFP_XSK_H

#include <stdint.h>

struct vfp_xsk;

/* Frames already forwarded but held because their output's TX ring stayed full; while
 * any are held, vfp_xsk_rx_forward takes nothing new from RX (back-pressure), so the
 * runner must keep calling it (and not sleep waiting for RX). */
uint32_t vfp_xsk_backlog(const struct vfp_xsk *x);

/* How long the frames of a connection the fast path owns are held (dropped, for TCP to
 * retransmit) while no runner takes them: a restart's gap, not a runner gone for good. */
#define VFP_CONN_HOLD_NS (30ull * 1000000000ull)

/* The filter maps all of a node's VM NICs share (bpf/xdp_redirect.c vfp_dst and
 * vfp_vipaddr, keyed by network): created once per runner, taken by each VM NIC's program.
 * -1: the program's own. */
struct vfp_xsk_shared {
	int dst, vipaddr;
};
int vfp_xsk_shared_create(struct vfp_xsk_shared *s, char *err, uint32_t errlen);
void vfp_xsk_shared_close(struct vfp_xsk_shared *s);
/* A VM NIC's network tag and own MAC (vfp_cfg.net, .mac): net 0, none of vfp_dst applies. */
int vfp_xsk_set_net(struct vfp_xsk *x, uint32_t net, const uint8_t mac[6]);
/* Clears the tag if it is still net with that MAC (a newer one stays). */
int vfp_xsk_clear_net(struct vfp_xsk *x, uint32_t net, const uint8_t mac[6]);

/* Opening in two steps, so a runner can take over an earlier process's connections
 * between them: the XDP program first (attached, inheriting the vfp_conn map of the
 * program it replaces), then the UMEM and socket. */
struct vfp_xsk *vfp_xsk_open_program(const char *ifname, uint32_t queue, const char *obj_path, uint32_t mode,
				     uint32_t flags, uint32_t skb_mode, const struct vfp_xsk_shared *shared, char *err,
				     uint32_t errlen);
int vfp_xsk_open_socket(struct vfp_xsk *x, char *err, uint32_t errlen);
/* Puts the socket in its program's vfp_xsks: from then on the program hands it frames. Apart
 * from opening it, so that a runner takes over the connections the program inherited first. */
int vfp_xsk_map_socket(struct vfp_xsk *x, char *err, uint32_t errlen);
/* 1 when the program's vfp_conn map was inherited from the program it replaced. */
int vfp_xsk_conn_inherited(const struct vfp_xsk *x);
/* Sets the program's hold (vfp_cfg.hold_until, CLOCK_MONOTONIC ns). */
int vfp_xsk_hold(struct vfp_xsk *x, uint64_t until_ns);
uint64_t vfp_xsk_now_ns(void);
/* keep_program: close the socket but leave the XDP program (and its maps) attached, held,
 * for the next process to take over (vfp_xsk_close detaches it). */
void vfp_xsk_close_keep(struct vfp_xsk *x, int keep_program);

#endif
