/**
 * OpenFlow meters the pipeline's flows use; every vnetd connection to a node's bridge puts
 * them there (reconcile/kinds/switch-config.ts) before its flows.
 *
 * ACTIVATION: RARP announcements from standby NICs (rarp.ts).
 *
 * REFUSE: the refusals of connections to a VIP without a backend (or a port no listener has)
 * go to vnetd as packet-ins, which it answers (lb-reject.ts) at most 200 a second per node and
 * 50 per VM port. A VM's SYN flood at an empty VIP (47k packets a second, QA-133 F2) still
 * reached vnetd whole, every one a packet-in to read and drop: the switch now drops what is
 * past a few times that budget, so a flood costs vnetd a bounded share of a core.
 */
import { MeterFlags, OFPP, type MeterBand } from '../openflow';
import type { DesiredFlow } from '../openflow/sync';
import { deepFreeze } from './shared-parts';

export interface MeterSpec {
  meterId: number;
  flags: number;
  bands: MeterBand[];
}

/** A meter dropping what passes `rate` packets a second (beyond a burst), with its counters kept (STATS: dump-meters shows them). */
function dropMeter(meterId: number, rate: number, burstSize: number): MeterSpec {
  return { meterId, flags: MeterFlags.PKTPS | MeterFlags.BURST | MeterFlags.STATS, bands: [{ type: 'drop', rate, burstSize }] };
}

/** Packets a second the refusals of a node may bring to vnetd (5x its answer budget), and a burst. */
export const REFUSE_METER: MeterSpec = dropMeter(1, 1000, 200);

/**
 * Packets a second tunnel probes and their echoes may bring to vnetd per node (tunnel-probe.ts),
 * and a burst. A node gets four per peer and round (a probe and an echo per tunnel type): 2,400
 * a second with 3,000 nodes every 5 s. Probes come from the underlay, whose every host can send
 * them: before this meter a flood of them reached vnetd whole.
 */
export const PROBE_METER: MeterSpec = dropMeter(2, 5000, 1000);

/**
 * Packet-ins a node's standby NICs may bring to vnetd (rarp.ts): a paused VM sends nothing and
 * qemu announces 5 times; a guest running twice (a migration gone wrong) that sends RARPs in a
 * loop costs vnetd at most this.
 */
export const ACTIVATION_METER: MeterSpec = dropMeter(3, 50, 20);

/**
 * The reflections a node's switch sends of probes (tunnel-probe.ts), apart from the probes and
 * echoes that reach vnetd (PROBE_METER): a flood of probes to reflect, which anyone on the
 * underlay can send, no longer uses up the budget of the node's own echoes, which made it
 * report its peers lost (review). It bounds the node as a reflector too.
 */
export const REFLECT_METER: MeterSpec = dropMeter(4, 5000, 1000);

export const PIPELINE_METERS: readonly MeterSpec[] = [REFUSE_METER, PROBE_METER, ACTIVATION_METER, REFLECT_METER];

/**
 * A health check's answer (a SYN-ACK or RST, or an ICMP port unreachable quoting a UDP probe:
 * 128 bytes hold an ICMPv6 error's quote, 110) to the controller. Not metered: one node-wide
 * meter let a tenant's backend, flooding its own VIP from the checked port, drop every other
 * tenant's answers, which counted as failed checks (review); the flows match only the backends'
 * own addresses from local VM ports instead, so a flood costs vnetd CPU, not verdicts.
 */
export const HEALTH_ANSWER_INSTRUCTIONS: DesiredFlow['instructions'] = deepFreeze([{ type: 'apply_actions', actions: [{ type: 'output', port: OFPP.CONTROLLER, maxLen: 128 }] }]);
