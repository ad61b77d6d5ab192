/* Runner-side extras of the AF_XDP ports (src/xsk.c) that are not part of the koffi API. */
#ifndef VFP_XSK_H
#define VFP_XSK_H

#include <stdint.h>

struct vfp_xsk;

/* Frames already forwarded but held because their output's TX ring stayed full; while
 * any are held, vfp_xsk_rx_forward takes nothing new from RX (back-pressure), so the
 * runner must keep calling it (and not sleep waiting for RX). */
uint32_t vfp_xsk_backlog(const struct vfp_xsk *x);

#endif
