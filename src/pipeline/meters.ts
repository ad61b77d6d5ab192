/**
 * OpenFlow meters the pipeline's flows use; every vnetd connection to a node's bridge puts
 * them there (reconcile/kinds/switch-config.ts) before its flows.
 *
 * REFUSE: the refusals of connections to a VIP without a backend (or a port no listener has)
 * go to vnetd as packet-ins, which it answers (lb-reject.ts) at most 200 a second per node and
 * 50 per VM port. A VM's SYN flood at an empty VIP (47k packets a second, QA-133 F2) still
 * reached vnetd whole, every one a packet-in to read and drop: the switch now drops what is
 * past a few times that budget, so a flood costs vnetd a bounded share of a core.
 */
import { MeterFlags, type MeterBand } from '../openflow';

export interface MeterSpec {
  meterId: number;
  flags: number;
  bands: MeterBand[];
}

/** Packets a second the refusals of a node may bring to vnetd (5x its answer budget), and a burst. */
export const REFUSE_METER: MeterSpec = {
  meterId: 1,
  flags: MeterFlags.PKTPS | MeterFlags.BURST | MeterFlags.STATS,
  bands: [{ type: 'drop', rate: 1000, burstSize: 200 }],
};

/**
 * Packets a second tunnel probes and their echoes may bring to vnetd per node (tunnel-probe.ts),
 * and a burst. A node gets four per peer and round (a probe and an echo per tunnel type): 2,400
 * a second with 3,000 nodes every 5 s. Probes come from the underlay, whose every host can send
 * them: before this meter a flood of them reached vnetd whole.
 */
export const PROBE_METER: MeterSpec = {
  meterId: 2,
  flags: MeterFlags.PKTPS | MeterFlags.BURST | MeterFlags.STATS,
  bands: [{ type: 'drop', rate: 5000, burstSize: 1000 }],
};

export const PIPELINE_METERS: readonly MeterSpec[] = [REFUSE_METER, PROBE_METER];
