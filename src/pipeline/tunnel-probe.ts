/**
 * Tunnel probes: each node's controller sends, through every tunnel port, a probe to every
 * peer's tunnel IP; the peer's controller sends it back the same way (reconcile/kinds/
 * tunnel-probes.ts). A round trip proves what a Node's flows cannot: that the host holds its
 * tunnel IP, routes to the peer, and that UDP 4789/6081 passes both ways.
 *
 * Probes travel with tunnel id 0, which no network has (VNIs start at 1), and are recognised
 * by their EtherType: here one flow per tunnel port hands them to the controller.
 */
import { OFPP, type KnownOxm } from '../openflow';
import type { DesiredFlow } from '../openflow/sync';
import { Priority, flow } from './compiler';
import type { Encapsulation } from '../resources/kinds';
import { PROBE_METER } from './meters';
import { TABLES } from './tables';

/** The tunnel id of probes: never a network's VNI (1..16777215). */
export const PROBE_TUNNEL_ID = 0n;
/** IEEE 802 "local experimental" EtherType: what a probe's inner frame carries. */
export const PROBE_ETHERTYPE = 0x88b5;
/** A probe frame's bytes as the controller receives them at most (Ethernet + a JSON body naming two nodes, up to 253 characters each). */
export const PROBE_BYTES = 1024;

/** On a node with these tunnel ports: probes and their echoes arriving on them go to the controller, through the node's probe meter (meters.ts). */
export function tunnelProbeFlows(tunnelPorts: Partial<Record<Encapsulation, number>> | undefined): DesiredFlow[] {
  return Object.values(tunnelPorts ?? {})
    .filter((p): p is number => typeof p === 'number')
    .sort((a, b) => a - b)
    .map((ofport) => {
      const toController = flow(
        TABLES.Classifier,
        Priority.Normal,
        [{ field: 'in_port', value: ofport }, { field: 'tunnel_id', value: PROBE_TUNNEL_ID }, { field: 'eth_type', value: PROBE_ETHERTYPE } as KnownOxm],
        [{ type: 'output', port: OFPP.CONTROLLER, maxLen: PROBE_BYTES }],
      );
      return { ...toController, instructions: [{ type: 'meter', meterId: PROBE_METER.meterId }, ...toController.instructions] };
    });
}
