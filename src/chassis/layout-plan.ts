/**
 * Diffs the desired layout against what the OVSDB replica holds and returns the
 * actions that converge it, plus conflicts it refuses to resolve. Pure.
 *
 * Ownership rules (see owner.ts): rows vnetd did not create are never updated or
 * deleted. On a bridge vnetd owns it adds, updates and removes only its own ports and
 * controller; foreign ports on it (VM NICs plugged by libvirt, the uplink on br-phy)
 * are left alone. A foreign row holding a name vnetd needs is a conflict, reported.
 */
import type { Bridge, Controller, Interface, OpenVSwitch, Port } from '../ovsdb/models/open_vswitch';
import type { DesiredBridge, DesiredController, DesiredLayout, DesiredPort } from './layout';
import { isOwned } from './owner';

export interface OvsSnapshot {
  ovs: OpenVSwitch | undefined;
  bridges: readonly Bridge[];
  ports: ReadonlyMap<string, Port>;
  interfaces: ReadonlyMap<string, Interface>;
  controllers: ReadonlyMap<string, Controller>;
}

/**
 * What planLayout reads, as lookups: a plan then costs O(vnetd's own rows), not O(every
 * row). A hypervisor's bridge holds thousands of VM NICs, and the node's layout is
 * checked whenever its rows change (each plug), so walking them all was O(N) per plug.
 * NodeSession answers these from the replica's indexes; layoutViewOf from a snapshot.
 */
export interface LayoutView {
  bridges: readonly Bridge[];
  port(uuid: string): Port | undefined;
  iface(uuid: string): Interface | undefined;
  controller(uuid: string): Controller | undefined;
  /** Port rows with this name (OVS keeps names unique: at most one). */
  portsNamed(name: string): readonly Port[];
  /** Whether a Port or an Interface row has this name. */
  nameTaken(name: string): boolean;
  /** Port rows whose external_ids:vnetd-owner is owner. */
  ownedPorts(owner: string): readonly Port[];
}

/** A LayoutView over a snapshot's maps (tests, callers without indexes): O(rows) to build. */
export function layoutViewOf(s: OvsSnapshot): LayoutView {
  const taken = takenNames(s);
  const ports = [...s.ports.values()];
  return {
    bridges: s.bridges,
    port: (u) => s.ports.get(u),
    iface: (u) => s.interfaces.get(u),
    controller: (u) => s.controllers.get(u),
    portsNamed: (name) => ports.filter((p) => p.name === name),
    nameTaken: (name) => taken.has(name),
    ownedPorts: (owner) => ports.filter((p) => isOwned(p, owner)),
  };
}

export type BridgeSettings = Partial<Pick<Bridge, 'datapath_type' | 'fail_mode' | 'other_config' | 'protocols'>>;

/** The OpenFlow version vnetd speaks to a bridge it programs. */
export const OPENFLOW_PROTOCOL = 'OpenFlow13';

export type LayoutAction =
  | { kind: 'createBridge'; bridge: DesiredBridge }
  | { kind: 'updateBridge'; uuid: string; name: string; set: BridgeSettings }
  | { kind: 'addController'; bridgeUuid: string; bridge: string; controller: DesiredController }
  | { kind: 'updateController'; uuid: string; bridge: string; set: Partial<Pick<Controller, 'target' | 'connection_mode'>> }
  | { kind: 'removeController'; bridgeUuid: string; bridge: string; uuid: string }
  | { kind: 'addPort'; bridgeUuid: string; bridge: string; port: DesiredPort }
  | { kind: 'updateInterface'; uuid: string; name: string; set: Partial<Pick<Interface, 'type' | 'options'>> }
  | { kind: 'removePort'; bridgeUuid: string; bridge: string; portUuid: string; name: string };

export interface LayoutPlan {
  actions: LayoutAction[];
  conflicts: string[];
}

function sameMap(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

/** Names of all Port and Interface rows (OVS requires both to be unique). */
function takenNames(s: OvsSnapshot): Set<string> {
  const names = new Set<string>();
  for (const p of s.ports.values()) names.add(p.name);
  for (const i of s.interfaces.values()) names.add(i.name);
  return names;
}

export function planLayout(desired: DesiredLayout, s: LayoutView, owner: string): LayoutPlan {
  const actions: LayoutAction[] = [];
  const conflicts: string[] = [];
  for (const want of desired.bridges) {
    const have = s.bridges.find((b) => b.name === want.name);
    if (!have) {
      const ports = want.ports.filter((p) => {
        if (!s.nameTaken(p.name)) return true;
        conflicts.push(`port/interface "${p.name}" already exists outside ${want.name} and is not vnetd's; not adding it`);
        return false;
      });
      if (ports.some((p) => p.name === want.name)) actions.push({ kind: 'createBridge', bridge: { ...want, ports } });
      else conflicts.push(`cannot create bridge ${want.name}: its internal port name is taken`);
      continue;
    }
    if (!isOwned(have, owner)) {
      conflicts.push(`bridge ${want.name} exists and is not owned by vnetd (no external_ids:vnetd-owner=${owner}); leaving it untouched`);
      continue;
    }
    planOwnedBridge(want, have, s, owner, actions, conflicts);
  }
  return { actions, conflicts };
}

function planOwnedBridge(
  want: DesiredBridge,
  have: Bridge,
  s: LayoutView,
  owner: string,
  actions: LayoutAction[],
  conflicts: string[],
): void {
  const set: BridgeSettings = {};
  if (have.datapath_type !== want.datapathType) set.datapath_type = want.datapathType;
  if (have.fail_mode !== want.failMode) set.fail_mode = want.failMode;
  // A bridge vnetd programs must accept its OpenFlow version: with protocols set without it
  // (by hand), ovs-vswitchd refused every connection and the Node still said Ready. Empty
  // means OVS's defaults, which include it; other versions someone enabled stay.
  const protocols = have.protocols ?? [];
  if (want.controller && protocols.length > 0 && !protocols.includes(OPENFLOW_PROTOCOL)) set.protocols = [...protocols, OPENFLOW_PROTOCOL];
  if (Object.entries(want.otherConfig).some(([k, v]) => have.other_config[k] !== v)) {
    set.other_config = { ...have.other_config, ...want.otherConfig };
  }
  if (Object.keys(set).length) actions.push({ kind: 'updateBridge', uuid: have._uuid, name: want.name, set });

  // Controller: ours is updated in place; replacing the row would take the bridge
  // through zero controllers and make ovs-vswitchd flush its flow table.
  const ours = have.controller.map((u) => s.controller(u)).filter((c): c is Controller => !!c && isOwned(c, owner));
  if (want.controller) {
    const [first, ...extra] = ours;
    if (!first) actions.push({ kind: 'addController', bridgeUuid: have._uuid, bridge: want.name, controller: want.controller });
    else if (first.target !== want.controller.target || first.connection_mode !== want.controller.connectionMode) {
      actions.push({
        kind: 'updateController',
        uuid: first._uuid,
        bridge: want.name,
        set: { target: want.controller.target, connection_mode: want.controller.connectionMode },
      });
    }
    for (const c of extra) actions.push({ kind: 'removeController', bridgeUuid: have._uuid, bridge: want.name, uuid: c._uuid });
  } else {
    for (const c of ours) actions.push({ kind: 'removeController', bridgeUuid: have._uuid, bridge: want.name, uuid: c._uuid });
  }

  // Ports on this bridge: looked up by name and by owner, never by walking have.ports
  // (the VM NICs); membership is a scan of its uuid array, once per row found.
  const onBridge = (p: Port) => have.ports.includes(p._uuid);
  for (const wp of want.ports) {
    const p = s.portsNamed(wp.name).find(onBridge);
    if (!p) {
      if (s.nameTaken(wp.name)) conflicts.push(`port/interface "${wp.name}" exists outside ${want.name}; not adding it`);
      else actions.push({ kind: 'addPort', bridgeUuid: have._uuid, bridge: want.name, port: wp });
      continue;
    }
    if (!isOwned(p, owner)) {
      conflicts.push(`port ${wp.name} on ${want.name} is not owned by vnetd; leaving it untouched`);
      continue;
    }
    const iface = p.interfaces.map((u) => s.iface(u)).find((i) => i?.name === wp.name);
    if (!iface || !isOwned(iface, owner)) continue;
    const iset: Partial<Pick<Interface, 'type' | 'options'>> = {};
    if (iface.type !== wp.type) iset.type = wp.type;
    if (!sameMap(iface.options, wp.options)) iset.options = wp.options;
    if (Object.keys(iset).length) actions.push({ kind: 'updateInterface', uuid: iface._uuid, name: wp.name, set: iset });
  }
  // In the bridge's port order, as a walk of have.ports would find them.
  const stale = s.ownedPorts(owner).filter((p) => onBridge(p) && !want.ports.some((wp) => wp.name === p.name));
  stale.sort((a, b) => have.ports.indexOf(a._uuid) - have.ports.indexOf(b._uuid));
  for (const p of stale) actions.push({ kind: 'removePort', bridgeUuid: have._uuid, bridge: want.name, portUuid: p._uuid, name: p.name });
}
