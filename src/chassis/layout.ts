/**
 * The OVS layout vnetd wants on a hypervisor, as plain data (pure; no I/O):
 *
 *   br-int  integration bridge: fail_mode=secure (no flows, no traffic until vnetd
 *           programs it), the OpenFlow controller target, disable-in-band, a stable
 *           datapath-id, and one flow-based tunnel port per encapsulation
 *           (vxlan0, genev0: remote_ip=flow, key=flow, local_ip=tunnelIP) so one port
 *           reaches every remote VTEP, selected per flow with tun_dst/tun_id.
 *   br-phy  only for the userspace (netdev) datapath: the underlay bridge. Userspace
 *           tunnels route encapsulated packets out of the bridge whose internal port
 *           holds the route's source address, so the VTEP address (spec.tunnelIP) must
 *           live on br-phy's internal interface and the uplink NIC must be a port of
 *           br-phy. vnetd creates the bridge (fail_mode=standalone: plain L2 switching,
 *           no controller needed); the host (or the test bed) plugs in the uplink and
 *           assigns the address, since those are host facts a Node spec does not carry.
 */
import { createHash } from 'node:crypto';
import type { NodeSpec } from '../resources/kinds';

export const INTEGRATION_BRIDGE = 'br-int';
export const UNDERLAY_BRIDGE = 'br-phy';
export const TUNNEL_PORTS = [
  { name: 'vxlan0', type: 'vxlan' },
  { name: 'genev0', type: 'geneve' },
] as const;

export interface DesiredPort {
  name: string;
  /** OVS Interface type: 'internal', 'vxlan', 'geneve', '' (a system device). */
  type: string;
  options: Record<string, string>;
}

export interface DesiredController {
  target: string;
  connectionMode: 'out-of-band' | 'in-band';
}

export interface DesiredBridge {
  name: string;
  datapathType: string;
  failMode: 'secure' | 'standalone';
  controller?: DesiredController;
  /** Keys vnetd sets in other_config (other keys are left as they are). */
  otherConfig: Record<string, string>;
  /** Includes the bridge's own internal port (same name as the bridge). */
  ports: DesiredPort[];
}

export interface DesiredLayout {
  datapathType: string;
  bridges: DesiredBridge[];
  /** Things left out, for status messages (e.g. an encapsulation this OVS lacks). */
  notes: string[];
}

export interface LayoutInput {
  nodeName: string;
  spec: NodeSpec;
  /** Open_vSwitch.datapath_types and iface_types (filled in by ovs-vswitchd). */
  datapathTypes: readonly string[];
  ifaceTypes: readonly string[];
  /** OpenFlow controller target for br-int, e.g. "punix:/var/run/openvswitch/br-int.vnetd". */
  controllerTarget: string;
}

export type LayoutResult = { ok: true; layout: DesiredLayout } | { ok: false; reason: string; message: string };

/**
 * Picks the datapath type. OVS lists "system" in datapath_types whenever it is built
 * for Linux, whether or not the openvswitch kernel module exists, so its presence
 * proves nothing: without an explicit spec.datapath we take the userspace datapath,
 * which works on every host, and use "system" only when the Node asks for it.
 */
export function chooseDatapath(spec: NodeSpec, offered: readonly string[]): { ok: true; type: string } | { ok: false; reason: string; message: string } {
  if (spec.datapath) {
    if (offered.length === 0 || offered.includes(spec.datapath)) return { ok: true, type: spec.datapath };
    return {
      ok: false,
      reason: 'DatapathUnsupported',
      message: `spec.datapath "${spec.datapath}" is not offered by this Open vSwitch (datapath_types: ${offered.join(', ')})`,
    };
  }
  if (offered.length === 0) {
    return {
      ok: false,
      reason: 'DatapathUnknown',
      message: 'Open_vSwitch.datapath_types is empty: ovs-vswitchd has not started on this host (or set spec.datapath)',
    };
  }
  const type = offered.includes('netdev') ? 'netdev' : offered.includes('system') ? 'system' : offered[0]!;
  return { ok: true, type };
}

/** A datapath-id (16 hex digits) that stays the same for a node's bridge across re-creation. */
export function stableDatapathId(nodeName: string, bridge: string): string {
  const h = createHash('sha256').update(`vnetd:${nodeName}:${bridge}`).digest();
  h[0] = h[0]! | 0x01; // never all zeros, which OVS would reject
  return h.subarray(0, 8).toString('hex');
}

export function desiredLayout(input: LayoutInput): LayoutResult {
  const dp = chooseDatapath(input.spec, input.datapathTypes);
  if (!dp.ok) return dp;
  const notes: string[] = [];
  const tunnels: DesiredPort[] = [];
  for (const t of TUNNEL_PORTS) {
    // An empty iface_types means vswitchd has not reported yet: assume the usual types.
    if (input.ifaceTypes.length && !input.ifaceTypes.includes(t.type)) {
      notes.push(`${t.type} tunnels are not supported by this Open vSwitch (iface_types lacks "${t.type}")`);
      continue;
    }
    tunnels.push({ name: t.name, type: t.type, options: { remote_ip: 'flow', key: 'flow', local_ip: input.spec.tunnelIP } });
  }
  const bridges: DesiredBridge[] = [
    {
      name: INTEGRATION_BRIDGE,
      datapathType: dp.type,
      failMode: 'secure',
      controller: { target: input.controllerTarget, connectionMode: 'out-of-band' },
      otherConfig: { 'datapath-id': stableDatapathId(input.nodeName, INTEGRATION_BRIDGE), 'disable-in-band': 'true' },
      ports: [{ name: INTEGRATION_BRIDGE, type: 'internal', options: {} }, ...tunnels],
    },
  ];
  if (dp.type === 'netdev') {
    bridges.push({
      name: UNDERLAY_BRIDGE,
      datapathType: dp.type,
      failMode: 'standalone',
      otherConfig: { 'datapath-id': stableDatapathId(input.nodeName, UNDERLAY_BRIDGE) },
      ports: [{ name: UNDERLAY_BRIDGE, type: 'internal', options: {} }],
    });
  }
  return { ok: true, layout: { datapathType: dp.type, bridges, notes } };
}
