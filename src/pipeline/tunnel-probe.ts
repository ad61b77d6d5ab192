/**
 * Tunnel probes: each node's controller sends, through every tunnel port, a probe to every
 * peer's tunnel IP; the peer's switch sends it back the same way, as ovs-vswitchd answers BFD
 * (reconcile/kinds/tunnel-probes.ts). A round trip proves what a Node's flows cannot: that the
 * host holds its tunnel IP, routes to the peer, and that UDP 4789/6081 passes both ways.
 *
 * The switch reflects a probe (REFLECT_MAC) with one flow: its tunnel source becomes its tunnel
 * destination, its Ethernet destination ECHO_MAC, out the port it came in on. Until
 * 2026-12-07 the peer's controller (or agent) echoed it: a hung agent then made every other
 * node report its tunnels down while they carried traffic (QA-146 F1), which is what the
 * agents' heartbeats, not the tunnels, are to tell. A probe of an earlier release
 * (LEGACY_PROBE_MAC), and the echoes such a peer's controller sends, still go to the
 * controller, which answers them as before: a rolling upgrade flips nobody.
 *
 * Probes travel with tunnel id 0, which no network has (VNIs start at 1), and are recognised
 * by their EtherType.
 */
import { OFPP, type KnownOxm } from '../openflow';
import type { DesiredFlow } from '../openflow/sync';
import { Priority, flow } from './compiler';
import type { Encapsulation } from '../resources/kinds';
import { PROBE_METER, REFLECT_METER } from './meters';
import { TABLES } from './tables';

/** The tunnel id of probes: never a network's VNI (1..16777215). */
export const PROBE_TUNNEL_ID = 0n;
/** IEEE 802 "local experimental" EtherType: what a probe's inner frame carries. */
export const PROBE_ETHERTYPE = 0x88b5;
/** A probe frame's bytes as the controller receives them at most (Ethernet + a JSON body naming two nodes, up to 253 characters each). */
export const PROBE_BYTES = 1024;

/** A probe's Ethernet destination: the peer's switch reflects it (this release's probes). */
export const REFLECT_MAC = '02:76:6e:65:74:72';
/** A reflected probe's Ethernet destination: its sender's switch hands it to the controller. */
export const ECHO_MAC = '02:76:6e:65:74:65';
/** The Ethernet destination of probes and echoes of releases before 2026-12-07, which the controller answers. */
export const LEGACY_PROBE_MAC = '02:76:6e:65:74:70';

/**
 * On a node with these tunnel ports, per port: probes reflected back to their sender by the
 * switch, and anything else at tunnel id 0 of the probes' EtherType (echoes of its own probes,
 * an earlier release's probes and echoes) to the controller; both through the node's probe
 * meter (meters.ts), since the underlay's every host can send them.
 */
export function tunnelProbeFlows(tunnelPorts: Partial<Record<Encapsulation, number>> | undefined): DesiredFlow[] {
  return Object.values(tunnelPorts ?? {})
    .filter((p): p is number => typeof p === 'number')
    .sort((a, b) => a - b)
    .flatMap((ofport) => {
      const probes: KnownOxm[] = [{ field: 'in_port', value: ofport }, { field: 'tunnel_id', value: PROBE_TUNNEL_ID }, { field: 'eth_type', value: PROBE_ETHERTYPE } as KnownOxm];
      const metered = (f: DesiredFlow, meterId = PROBE_METER.meterId): DesiredFlow => ({ ...f, instructions: [{ type: 'meter', meterId }, ...f.instructions] });
      const reflect = flow(TABLES.Classifier, Priority.Normal + 1, [...probes, { field: 'eth_dst', value: REFLECT_MAC }], [
        { type: 'reg_move', src: { field: 'tun_ipv4_src', ofs: 0, nbits: 32 }, dst: { field: 'tun_ipv4_dst', ofs: 0, nbits: 32 } },
        { type: 'set_field', field: 'eth_dst', value: ECHO_MAC },
        { type: 'output', port: OFPP.IN_PORT, maxLen: 0 },
      ]);
      const toController = flow(TABLES.Classifier, Priority.Normal, probes, [{ type: 'output', port: OFPP.CONTROLLER, maxLen: PROBE_BYTES }]);
      // Each its own meter: a flood of probes to reflect must not use up the echoes' budget.
      return [metered(reflect, REFLECT_METER.meterId), metered(toController)];
    });
}
