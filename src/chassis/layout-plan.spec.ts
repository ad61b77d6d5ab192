import type { Bridge, Controller, Interface, Port } from '../ovsdb/models/open_vswitch';
import { desiredLayout, type DesiredLayout } from './layout';
import { layoutViewOf, planLayout as planOn, type OvsSnapshot } from './layout-plan';

const OWN = { 'vnetd-owner': 'vnetd' };
let n = 0;
const uuid = () => `00000000-0000-0000-0000-${String(++n).padStart(12, '0')}`;

function layout(): DesiredLayout {
  const r = desiredLayout({
    nodeName: 'hv1',
    spec: { tunnelIP: '192.0.2.1' },
    datapathTypes: ['netdev'],
    ifaceTypes: ['vxlan', 'geneve'],
    controllerTarget: 'punix:/run/br-int.vnetd',
  });
  if (!r.ok) throw new Error(r.message);
  return r.layout;
}

class Db implements OvsSnapshot {
  ovs = undefined;
  bridges: Bridge[] = [];
  ports = new Map<string, Port>();
  interfaces = new Map<string, Interface>();
  controllers = new Map<string, Controller>();

  port(name: string, ext: Record<string, string>, type = '', options: Record<string, string> = {}): Port {
    const i = { _uuid: uuid(), name, type, options, external_ids: ext, ofport: 1, error: null } as unknown as Interface;
    const p = { _uuid: uuid(), name, interfaces: [i._uuid], external_ids: ext } as unknown as Port;
    this.interfaces.set(i._uuid, i);
    this.ports.set(p._uuid, p);
    return p;
  }
  bridge(name: string, ext: Record<string, string>, extra: Partial<Bridge> = {}): Bridge {
    const b = { _uuid: uuid(), name, datapath_type: 'netdev', fail_mode: null, controller: [], ports: [], other_config: {}, external_ids: ext, ...extra } as unknown as Bridge;
    this.bridges.push(b);
    return b;
  }
  controller(target: string, ext: Record<string, string>): Controller {
    const c = { _uuid: uuid(), target, connection_mode: 'out-of-band', external_ids: ext } as unknown as Controller;
    this.controllers.set(c._uuid, c);
    return c;
  }
}

/** A database holding exactly what a converged plan leaves behind. */
function converged(): Db {
  const db = new Db();
  for (const b of layout().bridges) {
    const ports = b.ports.map((p) => db.port(p.name, OWN, p.type, p.options)._uuid);
    const ctl = b.controller ? [db.controller(b.controller.target, OWN)._uuid] : [];
    db.bridge(b.name, OWN, { fail_mode: b.failMode, ports, controller: ctl, other_config: { ...b.otherConfig } });
  }
  return db;
}

const planLayout = (desired: DesiredLayout, db: Db, owner: string) => planOn(desired, layoutViewOf(db), owner);

describe('planLayout', () => {
  it('creates both bridges on an empty database', () => {
    const p = planLayout(layout(), new Db(), 'vnetd');
    expect(p.conflicts).toEqual([]);
    expect(p.actions.map((a) => a.kind)).toEqual(['createBridge', 'createBridge']);
  });

  it('does nothing when converged, even with foreign ports and other_config keys on our bridges', () => {
    const db = converged();
    const brInt = db.bridges[0]!;
    brInt.ports = [...brInt.ports, db.port('vm1', { 'iface-id': 'abc' })._uuid];
    brInt.other_config = { ...brInt.other_config, 'admin-key': 'x' };
    expect(planLayout(layout(), db, 'vnetd')).toEqual({ actions: [], conflicts: [] });
  });

  it('never touches a foreign bridge with our name, and reports it', () => {
    const db = new Db();
    db.bridge('br-int', {}, { fail_mode: 'standalone' });
    const p = planLayout(layout(), db, 'vnetd');
    expect(p.actions.map((a) => a.kind)).toEqual(['createBridge']); // br-phy only
    expect(p.conflicts[0]).toMatch(/br-int exists and is not owned/);
  });

  it('treats another owner value as foreign', () => {
    const db = converged();
    expect(planLayout(layout(), db, 'other-vnetd').conflicts).toHaveLength(2);
  });

  it('repairs drift on owned rows only: settings, controller target, tunnel options, missing and stale ports', () => {
    const db = converged();
    const brInt = db.bridges[0]!;
    brInt.fail_mode = 'standalone';
    const ctl = db.controllers.get(brInt.controller[0]!)!;
    ctl.target = 'punix:/elsewhere';
    const vx = [...db.interfaces.values()].find((i) => i.name === 'vxlan0')!;
    vx.options = { remote_ip: 'flow', key: 'flow', local_ip: '192.0.2.99' };
    const gen = [...db.ports.values()].find((p) => p.name === 'genev0')!;
    brInt.ports = brInt.ports.filter((u) => u !== gen._uuid);
    db.ports.delete(gen._uuid);
    db.interfaces.delete(gen.interfaces[0]!);
    brInt.ports.push(db.port('old0', OWN, 'vxlan')._uuid);
    const kinds = planLayout(layout(), db, 'vnetd').actions.map((a) => a.kind).sort();
    expect(kinds).toEqual(['addPort', 'removePort', 'updateBridge', 'updateController', 'updateInterface']);
  });

  it('adds vnetd\'s OpenFlow version to br-int\'s protocols when they were set without it, keeping the others', () => {
    const db = converged();
    const brInt = db.bridges[0]!;
    expect(planLayout(layout(), db, 'vnetd').actions).toEqual([]);
    brInt.protocols = ['OpenFlow10'];
    expect(planLayout(layout(), db, 'vnetd').actions).toEqual([{ kind: 'updateBridge', uuid: brInt._uuid, name: 'br-int', set: { protocols: ['OpenFlow10', 'OpenFlow13'] } }]);
    brInt.protocols = ['OpenFlow13', 'OpenFlow15'];
    expect(planLayout(layout(), db, 'vnetd').actions).toEqual([]);
  });

  it('does not add a port whose name a foreign row holds', () => {
    const db = converged();
    const brInt = db.bridges[0]!;
    const gen = [...db.ports.values()].find((p) => p.name === 'genev0')!;
    brInt.ports = brInt.ports.filter((u) => u !== gen._uuid);
    gen.external_ids = {};
    const p = planLayout(layout(), db, 'vnetd');
    expect(p.actions).toEqual([]);
    expect(p.conflicts[0]).toMatch(/genev0/);
  });

  it('leaves a foreign controller alone and adds its own beside it', () => {
    const db = converged();
    const brInt = db.bridges[0]!;
    const foreign = db.controller('tcp:192.0.2.9:6653', {});
    brInt.controller = [foreign._uuid];
    expect(planLayout(layout(), db, 'vnetd').actions.map((a) => a.kind)).toEqual(['addController']);
  });
});

describe('planLayout over a bridge full of VM NICs', () => {
  it('reads only vnetd\'s own rows and the names it needs, not the foreign ports', () => {
    const db = converged();
    const brInt = db.bridges[0]!;
    const vms = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const p = db.port(`vnet${i}`, { 'iface-id': `port-${i}` });
      vms.add(p._uuid);
      for (const u of p.interfaces) vms.add(u);
      brInt.ports.push(p._uuid);
    }
    const view = layoutViewOf(db);
    const read: string[] = [];
    const counted = { ...view, port: (u: string) => (read.push(u), view.port(u)), iface: (u: string) => (read.push(u), view.iface(u)) };
    expect(planOn(layout(), counted, 'vnetd')).toEqual({ actions: [], conflicts: [] });
    expect(read.filter((u) => vms.has(u))).toEqual([]);
  });

  it('removes stale owned ports in the bridge\'s port order', () => {
    const db = converged();
    const brInt = db.bridges[0]!;
    const b = db.port('old-b', OWN, 'vxlan');
    const a = db.port('old-a', OWN, 'vxlan');
    brInt.ports.unshift(b._uuid);
    brInt.ports.push(db.port('vm', { 'iface-id': 'x' })._uuid, a._uuid);
    const removed = planLayout(layout(), db, 'vnetd').actions.flatMap((x) => (x.kind === 'removePort' ? [x.name] : []));
    expect(removed).toEqual(['old-b', 'old-a']);
  });
});
