/*
 * The hash OVS's `multipath` action computes for a new load-balancer connection, so that
 * the fast path deals a connection to the very backend OVS would: both look up the same
 * slot table (src/pipeline/load-balancer.ts dealSlots, 256 to 8192 slots), and a
 * connection, a reused 4-tuple or a ClientIP client lands on one backend whichever datapath
 * takes it.
 *
 * What OVS 3.1 computes (lib/flow.c flow_hash_fields, lib/hash.h, lib/jhash.c, the
 * generic build without SSE 4.2's CRC32, which is Debian's): for symmetric_l3l4+udp, a
 * murmur3-style hash of (nw_src ^ nw_dst), nw_proto and (tp_src ^ tp_dst), the
 * addresses and ports as their network-order bytes read as host integers; for nw_src
 * (ClientIP), Bob Jenkins' lookup3 hash of the source address's 4 bytes. multipath's
 * modulo_n takes that hash modulo the number of links (the table's size). Basis 0 in both,
 * as the pipeline sets it.
 * test/integration/ovs-lb-hash.test.ts checks this against a running ovs-vswitchd.
 */
#ifndef VFP_OVS_HASH_H
#define VFP_OVS_HASH_H

#include <stdint.h>

#include "parse.h"

/* The slot (below n_slots) OVS's LbNat flow picks for p: nw_src with ClientIP affinity. */
uint32_t vfp_ovs_lb_slot(const struct vfp_pkt *p, int client_ip, uint32_t n_slots);

#endif
