/**
 * FastPathNodes where AF_XDP cannot start: Node status.fastpath says Unavailable with the
 * reason, the log says it once however often the node recompiles, and /metrics exports
 * the state. Disabled nodes get no runner and no status. Uses the real library (no
 * AF_XDP port is opened: the namespace does not exist).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import pino from 'pino';
import { Registry } from 'prom-client';
import { registerFastPathMetrics } from '../../api/fastpath-metrics';
import type { OvsSnapshot } from '../../chassis/layout-plan';
import type { Bridge, Interface, Port } from '../../ovsdb/models/open_vswitch';
import { indexModel } from '../../pipeline/compiler';
import type { LogicalModel } from '../../pipeline/model';
import type { HypervisorNode } from '../../resources/kinds';
import { NODES } from '../../store/kinds';
import { ObjectStore } from '../../store/object-store';
import { ResourceCatalog } from '../../resources/catalog';
import { SchemaValidator } from '../../resources/schema-validator';
import { MemoryStore } from '../testing/memory-store';
import { openFastPath } from '../../fastpath/fastpath';
import type { NativeLib } from '../../fastpath/native';
import { libWith } from '../../fastpath/testing/lib-with';
import { ADDS_COALESCE_MS, FastPathNodes, type UnderlayFacts } from './fastpath.nodes';

const model: LogicalModel = {
  networks: new Map([['n', { uid: 'n', key: 't/n', version: '1', vni: 100, encapsulation: 'vxlan' }]]),
  ports: new Map([['p', { uid: 'p', key: 't/p', version: '1', network: 'n', mac: '02:00:00:00:00:05', ips: ['10.0.0.5'], portSecurity: true, allowedAddressPairs: [], binding: { node: 'hv1', ofport: 5 } }]]),
  nodes: new Map([['hv1', { name: 'hv1', tunnelIP: '127.0.0.1', tunnelPorts: { vxlan: 1 } }]]),
};

const row = <T>(x: Partial<T>): T => x as T;
const ovs: OvsSnapshot = {
  ovs: undefined,
  bridges: [row<Bridge>({ _uuid: 'b1', name: 'br-int', ports: ['p5'] }), row<Bridge>({ _uuid: 'b2', name: 'br-phy', ports: ['pu'] })],
  ports: new Map([['p5', row<Port>({ _uuid: 'p5', name: 'tap5', interfaces: ['i5'] })], ['pu', row<Port>({ _uuid: 'pu', name: 'eth9', interfaces: ['iu'] })]]),
  interfaces: new Map([['i5', row<Interface>({ _uuid: 'i5', name: 'tap5', type: '', ofport: 5 })], ['iu', row<Interface>({ _uuid: 'iu', name: 'eth9', type: '', ofport: 1 })]]),
  controllers: new Map(),
};

/** A compile, and its apply (a compile that only adds resolves before it). */
async function compiledAndApplied(fp: FastPathNodes, node: HypervisorNode, m: LogicalModel): Promise<void> {
  await fp.nodeCompiled(node, m, indexModel(m), ovs);
  await fp.whenApplied(node.metadata.name);
}

async function setup(spec: HypervisorNode['spec'], extra: { underlay?: UnderlayFacts; level?: string } = {}) {
  const objects = new ObjectStore(new MemoryStore());
  await objects.create(NODES, { apiVersion: 'vnet.dev/v1alpha1', kind: 'Node', metadata: { name: 'hv1' }, spec } as HypervisorNode);
  const lines: string[] = [];
  const logger = pino({ level: extra.level ?? 'info' }, { write: (l: string) => void lines.push(l) });
  const fp = new FastPathNodes({ objects, logger, underlay: extra.underlay, underlayRefreshMs: 3_600_000 });
  const node = (await objects.get<HypervisorNode>(NODES, undefined, 'hv1'))!;
  return { objects, lines, fp, node };
}

describe('FastPathNodes', () => {
  it('reports a node whose AF_XDP cannot start as Unavailable, once in the log, in status and in /metrics', async () => {
    const { objects, lines, fp, node } = await setup({ tunnelIP: '127.0.0.1', fastPath: { enabled: true, netns: 'vnetd-no-such-netns' } });
    try {
      for (let i = 0; i < 3; i++) fp.nodeCompiled(node, model, indexModel(model), ovs);
      const until = Date.now() + 5000;
      let st: HypervisorNode['status'];
      while (Date.now() < until && (st = (await objects.get<HypervisorNode>(NODES, undefined, 'hv1'))!.status)?.fastpath?.state !== 'Unavailable') await new Promise((r) => setTimeout(r, 20));
      expect(st?.fastpath).toMatchObject({ state: 'Unavailable', reason: 'network namespace vnetd-no-such-netns not found' });
      await new Promise((r) => setTimeout(r, 200));
      const warned = lines.filter((l) => l.includes('"fastpath.state"') && l.includes('Unavailable'));
      expect(warned).toHaveLength(1);
      const registry = new Registry();
      registerFastPathMetrics(registry, fp);
      const text = await registry.metrics();
      expect(text).toContain('vnetd_fastpath_state{node="hv1",state="Unavailable"} 1');
      expect(text).toContain('vnetd_fastpath_state{node="hv1",state="Running"} 0');
    } finally {
      await fp.stop();
    }
  });

  it('tries a node that could not start again, backing off, with no new compile: its network namespace made after the Node is taken up (it stayed Unavailable until the next compile)', async () => {
    const netns = `vr${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
    const { objects, fp, node } = await setup({ tunnelIP: '127.0.0.1', fastPath: { enabled: true, netns } });
    const state = async () => (await objects.get<HypervisorNode>(NODES, undefined, 'hv1'))!.status?.fastpath;
    const until = async (ok: (s: Awaited<ReturnType<typeof state>>) => boolean) => {
      const deadline = Date.now() + 5000;
      while (!ok(await state())) {
        if (Date.now() > deadline) throw new Error(`not met: ${JSON.stringify(await state())}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    try {
      await compiledAndApplied(fp, node, model);
      expect(await state()).toMatchObject({ state: 'Unavailable', reason: `network namespace ${netns} not found` });
      execFileSync('ip', ['netns', 'add', netns]);
      // Applied again on its own: past the namespace check now (its interfaces are not there).
      await until((s) => s?.state !== 'Unavailable' || s.reason !== `network namespace ${netns} not found`);
    } finally {
      await fp.stop();
      spawnSync('ip', ['netns', 'del', netns]);
    }
  });

  it('nodeCompiled resolves once that compile is applied (the pipeline programs OVS after it), coalesced compiles included', async () => {
    const { objects, fp, node } = await setup({ tunnelIP: '127.0.0.1', fastPath: { enabled: true, netns: 'vnetd-no-such-netns' } });
    try {
      const applied = [fp.nodeCompiled(node, model, indexModel(model), ovs), fp.nodeCompiled(node, model, indexModel(model), ovs)];
      await Promise.all(applied);
      // No polling: the state is there as soon as the promise says so.
      expect((await objects.get<HypervisorNode>(NODES, undefined, 'hv1'))!.status?.fastpath?.state).toBe('Unavailable');
      await expect(fp.nodeCompiled({ ...node, spec: { tunnelIP: '127.0.0.1' } }, model, indexModel(model), ovs)).resolves.toBeUndefined();
    } finally {
      await fp.stop();
    }
  });

  it('a node enabled again while its disabling is being reported keeps its state (its next runner is not orphaned)', async () => {
    const { objects, fp, node } = await setup({ tunnelIP: '127.0.0.1', fastPath: { enabled: true, netns: 'vnetd-no-such-netns' } });
    try {
      await fp.nodeCompiled(node, model, indexModel(model), ovs);
      expect(fp.counters().map((c) => c.node)).toEqual(['hv1']);
      // Hold the Disabled status write open, and enable the node again meanwhile.
      const modify = objects.modify.bind(objects);
      let entered!: () => void, release!: () => void;
      const inWrite = new Promise<void>((r) => (entered = r)), released = new Promise<void>((r) => (release = r));
      objects.modify = (async (...args: Parameters<typeof modify>) => {
        entered();
        await released;
        return modify(...args);
      }) as typeof objects.modify;
      const off = fp.nodeCompiled({ ...node, spec: { tunnelIP: '127.0.0.1', fastPath: { enabled: false } } }, model, indexModel(model), ovs);
      await inWrite;
      const on = fp.nodeCompiled(node, model, indexModel(model), ovs);
      release();
      await Promise.all([off, on]);
      objects.modify = modify;
      // The enable's apply ran on the node's state, which is still the node's (and Unavailable
      // again: the namespace does not exist).
      expect(fp.counters()).toEqual([{ node: 'hv1', state: 'Unavailable', counters: undefined }]);
    } finally {
      await fp.stop();
    }
  });

  it('leaves nodes without spec.fastPath.enabled alone (no runner, no status)', async () => {
    const { objects, fp, node } = await setup({ tunnelIP: '127.0.0.1' });
    try {
      fp.nodeCompiled(node, model, indexModel(model), ovs);
      await new Promise((r) => setTimeout(r, 100));
      expect((await objects.get<HypervisorNode>(NODES, undefined, 'hv1'))!.status?.fastpath).toBeUndefined();
      expect(fp.counters()).toEqual([]);
    } finally {
      await fp.stop();
    }
  });
});

describe('FastPathNodes underlay facts', () => {
  // hv1 holds the fast path; a port on hv2 makes hv2's VTEP one of hv1's next hops.
  const twoNodes: LogicalModel = {
    ...model,
    ports: new Map([...model.ports, ['q', { uid: 'q', key: 't/q', version: '1', network: 'n', mac: '02:00:00:00:00:06', ips: ['10.0.0.6'], portSecurity: true, allowedAddressPairs: [], binding: { node: 'hv2', ofport: 7 } }]]),
    nodes: new Map([...model.nodes, ['hv2', { name: 'hv2', tunnelIP: '192.0.2.2', tunnelPorts: { vxlan: 1 } }]]),
  };
  const fakeUnderlay = () => {
    const reads = { localMac: 0, known: 0, resolve: 0 };
    const macs = new Map<string, string>([['192.0.2.2', '02:aa:00:00:00:02']]);
    const facts: UnderlayFacts = {
      localMacOf: async () => (reads.localMac++, '02:bb:00:00:00:01'),
      knownNextHopMac: async (_ns, ip) => (reads.known++, macs.get(ip)),
      nextHopMac: async (_ns, ip) => (reads.resolve++, macs.get(ip)),
    };
    return { reads, macs, facts };
  };
  const vtepMacsApplied = (lines: string[]) =>
    lines.filter((l) => l.includes('fastpath: applying tables')).map((l) => (JSON.parse(l) as { tables: { vteps: Array<{ mac: string }> } }).tables.vteps.map((v) => v.mac).join(','));

  it('an apply reads the kernel only for facts it has never read: none on later compiles', async () => {
    const { reads, facts } = fakeUnderlay();
    const { fp, node, lines } = await setup({ tunnelIP: '127.0.0.1', fastPath: { enabled: true } }, { underlay: facts, level: 'debug' });
    try {
      for (let i = 0; i < 5; i++) await compiledAndApplied(fp, node, twoNodes);
      expect(vtepMacsApplied(lines)).toEqual(Array(5).fill('02:aa:00:00:00:02'));
      // Before: an `ip addr show` and, per VTEP, an `ip route get` + `ip neigh show` on every apply.
      expect(reads).toEqual({ localMac: 1, known: 0, resolve: 1 });
    } finally {
      await fp.stop();
    }
  });

  it('warns once per node when the underlay NIC may answer ARP for the tunnel IP with its own MAC (arp_ignore 0)', async () => {
    const { facts } = fakeUnderlay();
    const asked: string[] = [];
    facts.arpFluxRisk = async (_ns, nic) => (asked.push(nic), true);
    const { fp, node, lines } = await setup({ tunnelIP: '127.0.0.1', fastPath: { enabled: true, underlay: 'up0' } }, { underlay: facts });
    try {
      for (let i = 0; i < 3; i++) await compiledAndApplied(fp, node, twoNodes);
      await new Promise((r) => setImmediate(r));
      expect(asked).toEqual(['up0']);
      const warned = lines.filter((l) => l.includes('"fastpath.arp_flux"'));
      expect(warned).toHaveLength(1);
      expect(warned[0]).toContain('net.ipv4.conf.up0.arp_ignore=1');
    } finally {
      await fp.stop();
    }
  });

  it('reads the local MAC again on each apply while no device holds the tunnel IP, and caches it once one does', async () => {
    const { reads, facts } = fakeUnderlay();
    let holder: string | undefined;
    facts.localMacOf = async () => (reads.localMac++, holder);
    const { fp, node, lines } = await setup({ tunnelIP: '127.0.0.1', fastPath: { enabled: true } }, { underlay: facts, level: 'debug' });
    try {
      await compiledAndApplied(fp, node, twoNodes);
      await compiledAndApplied(fp, node, twoNodes);
      expect(vtepMacsApplied(lines)).toEqual([]);
      holder = '02:bb:00:00:00:01';
      for (let i = 0; i < 3; i++) await compiledAndApplied(fp, node, twoNodes);
      expect(vtepMacsApplied(lines)).toEqual(Array(3).fill('02:aa:00:00:00:02'));
      expect(reads.localMac).toBe(3);
    } finally {
      await fp.stop();
    }
  });

  it('a restarted process applies first with the facts its predecessor recorded in Node status, then reads them at once', async () => {
    const { reads, macs, facts } = fakeUnderlay();
    const { objects, fp, node, lines } = await setup({ tunnelIP: '127.0.0.1', fastPath: { enabled: true } }, { underlay: facts, level: 'debug' });
    await compiledAndApplied(fp, node, twoNodes);
    await fp.stop();
    const recorded = (await objects.get<HypervisorNode>(NODES, undefined, 'hv1'))!;
    expect(recorded.status?.fastpath?.underlayFacts).toEqual({ tunnelIP: '127.0.0.1', tunnelMac: '02:bb:00:00:00:01', nextHops: { '192.0.2.2': '02:aa:00:00:00:02' } });
    expect(reads).toEqual({ localMac: 1, known: 0, resolve: 1 });

    // The next process: its kernel reads wait until released, and the next hop has moved meanwhile.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const gated: UnderlayFacts = {
      localMacOf: async (ns, ip) => (await gate, facts.localMacOf(ns, ip)),
      knownNextHopMac: async (ns, ip) => (await gate, facts.knownNextHopMac(ns, ip)),
      nextHopMac: async (ns, ip) => (await gate, facts.nextHopMac(ns, ip)),
    };
    macs.set('192.0.2.2', '02:aa:00:00:00:99');
    const logger = pino({ level: 'debug' }, { write: (l: string) => void lines.push(l) });
    const next = new FastPathNodes({ objects, logger, underlay: gated, underlayRefreshMs: 3_600_000 });
    try {
      // Applied while every read still waits: from status alone.
      await compiledAndApplied(next, recorded, twoNodes);
      expect(vtepMacsApplied(lines)).toEqual(['02:aa:00:00:00:02', '02:aa:00:00:00:02']);
      release();
      await new Promise((r) => setTimeout(r, 50));
      await next.whenApplied('hv1');
      expect(vtepMacsApplied(lines)).toEqual(['02:aa:00:00:00:02', '02:aa:00:00:00:02', '02:aa:00:00:00:99']);
      // Verified once each: the seeded next hop by a read that resolves it when the kernel has forgotten it.
      expect(reads).toEqual({ localMac: 2, known: 0, resolve: 2 });
      const now = await objects.get<HypervisorNode>(NODES, undefined, 'hv1');
      expect(now?.status?.fastpath?.underlayFacts?.nextHops).toEqual({ '192.0.2.2': '02:aa:00:00:00:99' });
    } finally {
      await next.stop();
    }
  });

  it('ignores recorded facts that are not MACs (status is writable) and reads the kernel before applying', async () => {
    const { reads, facts } = fakeUnderlay();
    const { objects, fp, node, lines } = await setup({ tunnelIP: '127.0.0.1', fastPath: { enabled: true } }, { underlay: facts, level: 'debug' });
    try {
      const forged = { ...node, status: { fastpath: { state: 'Running' as const, underlayFacts: { tunnelIP: '127.0.0.1', tunnelMac: 'zz', nextHops: { '192.0.2.2': '02:aa:00:00:00:66' } } } } };
      await compiledAndApplied(fp, forged, twoNodes);
      expect(vtepMacsApplied(lines)).toEqual(['02:aa:00:00:00:02']);
      expect(reads).toEqual({ localMac: 1, known: 0, resolve: 1 });
      expect((await objects.get<HypervisorNode>(NODES, undefined, 'hv1'))?.status?.fastpath?.underlayFacts?.tunnelMac).toBe('02:bb:00:00:00:01');
    } finally {
      await fp.stop();
    }
  });

  it('the refresh re-reads them and applies the newest compile again only when one changed; an unresolved VTEP is retried there', async () => {
    const { reads, macs, facts } = fakeUnderlay();
    macs.delete('192.0.2.2');
    const { fp, node, lines } = await setup({ tunnelIP: '127.0.0.1', fastPath: { enabled: true } }, { underlay: facts, level: 'debug' });
    try {
      await compiledAndApplied(fp, node, twoNodes);
      await compiledAndApplied(fp, node, twoNodes);
      // Not resolvable yet: its MACs stay with OVS, and it is not asked again on each apply.
      expect(vtepMacsApplied(lines)).toEqual(['', '']);
      expect(reads.resolve).toBe(1);
      await fp.refreshUnderlay();
      expect(vtepMacsApplied(lines)).toHaveLength(2);
      macs.set('192.0.2.2', '02:aa:00:00:00:02');
      await fp.refreshUnderlay();
      expect(vtepMacsApplied(lines)).toEqual(['', '', '02:aa:00:00:00:02']);
      macs.set('192.0.2.2', '02:aa:00:00:00:99');
      await fp.refreshUnderlay();
      expect(vtepMacsApplied(lines)).toEqual(['', '', '02:aa:00:00:00:02', '02:aa:00:00:00:99']);
      await fp.refreshUnderlay();
      expect(vtepMacsApplied(lines)).toHaveLength(4);
      expect(lines.filter((l) => l.includes('"fastpath.underlay_changed"'))).toHaveLength(2);
    } finally {
      await fp.stop();
    }
  });
});

const runnerBedWhy = process.getuid?.() !== 0 ? 'not root' : spawnSync('sh', ['-c', 'command -v ip']).status !== 0 ? 'iproute2 not installed' : null;
if (runnerBedWhy) console.warn(`skipping FastPathNodes runner test: ${runnerBedWhy}`);

(runnerBedWhy ? describe.skip : describe)('FastPathNodes with a runner (a network namespace with a VM NIC and an underlay NIC)', () => {
  const id = `${process.pid % 100000}`;
  const NS = `vfnh${id}`, TAP = `vfnt${id}`, PEER = `vfnp${id}`, UL = `vfnu${id}`, WIRE = `vfnw${id}`;
  const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });
  beforeAll(() => {
    ip('netns', 'add', NS);
    ip('-n', NS, 'link', 'add', TAP, 'type', 'veth', 'peer', 'name', PEER);
    ip('-n', NS, 'link', 'add', UL, 'type', 'veth', 'peer', 'name', WIRE);
    for (const d of [TAP, PEER, UL, WIRE]) ip('-n', NS, 'link', 'set', d, 'up');
  });
  afterAll(() => {
    spawnSync('ip', ['netns', 'del', NS]);
  });

  /** FastPathNodes on lib for node hv1 of this bed, and an OVS snapshot with TAP as ofport 5 (and PEER as 6) and UL on br-phy. */
  const onBed = async (lib: NativeLib, withPeer = false, logger = pino({ level: 'silent' })) => {
    const facts: UnderlayFacts = { localMacOf: async () => '02:bb:00:00:00:01', knownNextHopMac: async () => undefined, nextHopMac: async () => undefined };
    const objects = new ObjectStore(new MemoryStore());
    await objects.create(NODES, { apiVersion: 'vnet.dev/v1alpha1', kind: 'Node', metadata: { name: 'hv1' }, spec: { tunnelIP: '127.0.0.1', fastPath: { enabled: true, netns: NS, underlay: UL } } } as HypervisorNode);
    const fp = new FastPathNodes({ objects, logger, underlay: facts, underlayRefreshMs: 3_600_000, library: lib });
    const node = (await objects.get<HypervisorNode>(NODES, undefined, 'hv1'))!;
    const nics: Array<[port: string, name: string, ofport: number]> = [['p5', TAP, 5], ...(withPeer ? [['p6', PEER, 6] as [string, string, number]] : []), ['pu', UL, 1]];
    const snapshot: OvsSnapshot = {
      ...ovs,
      bridges: [row<Bridge>({ _uuid: 'b1', name: 'br-int', ports: nics.filter(([p]) => p !== 'pu').map(([p]) => p) }), row<Bridge>({ _uuid: 'b2', name: 'br-phy', ports: ['pu'] })],
      ports: new Map(nics.map(([p, name]) => [p, row<Port>({ _uuid: p, name, interfaces: [`i${p.slice(1)}`] })])),
      interfaces: new Map(nics.map(([p, name, ofport]) => [`i${p.slice(1)}`, row<Interface>({ _uuid: `i${p.slice(1)}`, name, type: '', ofport })])),
    };
    return { objects, fp, node, snapshot };
  };

  it('OVS is not kept waiting behind a slow apply for a compile that only adds; a compile that takes a port away waits for its own apply', async () => {
    const { fastPath: real } = openFastPath();
    const lib = libWith(real!.lib, {
      // A NIC opening on a loaded host beside hundreds of others.
      runnerAdd: async (...args) => {
        await new Promise((go) => setTimeout(go, 1500));
        return real!.lib.runnerAdd(...args);
      },
    });
    const { fp, node, snapshot } = await onBed(lib, true);
    const second = { uid: 'q', key: 't/q', version: '1', network: 'n', mac: '02:00:00:00:00:06', ips: ['10.0.0.6'], portSecurity: true, allowedAddressPairs: [], binding: { node: 'hv1', ofport: 6 } };
    const withSecond: LogicalModel = { ...model, ports: new Map([...model.ports, ['q', second]]) };
    const took = async (m: LogicalModel): Promise<number> => {
      const t0 = performance.now();
      await fp.nodeCompiled(node, m, indexModel(m), snapshot);
      return performance.now() - t0;
    };
    try {
      await took(model);
      for (let i = 0; i < 250 && fp.counters()[0]?.state !== 'Running'; i++) await new Promise((go) => setTimeout(go, 20));
      expect(fp.counters()[0]).toMatchObject({ state: 'Running' });
      // A second port: OVS goes on at once.
      expect(await took(withSecond)).toBeLessThan(500);
      // The same again (nothing taken away): at once.
      expect(await took(withSecond)).toBeLessThan(500);
      // Their apply starts (it waits ADDS_COALESCE_MS for more otherwise): the NIC opens for 1.5 s.
      const applying = fp.whenApplied('hv1');
      await new Promise((go) => setTimeout(go, 100));
      // The second port gone: OVS waits until the fast path let it go, behind the open.
      expect(await took(model)).toBeGreaterThan(800);
      await applying;
    } finally {
      await fp.stop();
    }
  }, 30_000);

  it('the compiles of a burst that only add share one apply', async () => {
    const lines: string[] = [];
    const { fp, node, snapshot } = await onBed(openFastPath().fastPath!.lib, true, pino({ level: 'debug' }, { write: (l: string) => void lines.push(l) }));
    const applies = () => lines.filter((l) => l.includes('fastpath: applying tables')).length;
    const second = { uid: 'q', key: 't/q', version: '1', network: 'n', mac: '02:00:00:00:00:06', ips: ['10.0.0.6'], portSecurity: true, allowedAddressPairs: [], binding: { node: 'hv1', ofport: 6 } };
    const withSecond: LogicalModel = { ...model, ports: new Map([...model.ports, ['q', second]]) };
    try {
      await fp.nodeCompiled(node, model, indexModel(model), snapshot);
      for (let i = 0; i < 250 && fp.counters()[0]?.state !== 'Running'; i++) await new Promise((go) => setTimeout(go, 20));
      await fp.whenApplied('hv1');
      const before = applies();
      for (let i = 0; i < 10; i++) await fp.nodeCompiled(node, withSecond, indexModel(withSecond), snapshot);
      await new Promise((go) => setTimeout(go, ADDS_COALESCE_MS + 200));
      await fp.whenApplied('hv1');
      expect(applies() - before).toBe(1);
      expect(fp.counters()[0]).toMatchObject({ state: 'Running', counters: { interfaces: expect.arrayContaining([expect.objectContaining({ ifname: PEER })]) } });
    } finally {
      await fp.stop();
    }
  }, 30_000);

  it('a node programmed here again while its old runner is still stopping starts the new one only once the old one let go of the interfaces', async () => {
    const { fastPath: real } = openFastPath();
    const events: string[] = [];
    // A stop that takes a while (many ports, a loaded host): the window the new runner must not use.
    const slowly =
      (stop: NativeLib['runnerStop']): NativeLib['runnerStop'] =>
      async (r) => {
        events.push('stop');
        await new Promise((go) => setTimeout(go, 300));
        await stop(r);
        events.push('stopped');
      };
    const lib = libWith(real!.lib, {
      runnerStart: async (...args) => {
        events.push('start');
        return real!.lib.runnerStart(...args);
      },
      runnerStop: slowly(real!.lib.runnerStop),
      runnerRelease: slowly(real!.lib.runnerRelease),
    });
    const { objects, fp, node, snapshot } = await onBed(lib);
    // A runner that starts is waited for (it takes over an earlier process's connections before
    // OVS goes on); a port added to a running one is not (NodeRunner's narrowed spec).
    const running = async () => {
      for (let i = 0; i < 250 && fp.counters()[0]?.state !== 'Running'; i++) await new Promise((go) => setTimeout(go, 20));
      expect(fp.counters()[0]).toMatchObject({ node: 'hv1', state: 'Running' });
    };
    try {
      await fp.nodeCompiled(node, model, indexModel(model), snapshot);
      await running();
      // Node status: the underlay's counters and the VM NICs' summed, not a list that grows with the NICs.
      let status: HypervisorNode['status'];
      for (let i = 0; i < 100 && !status?.fastpath?.counters; i++) {
        status = (await objects.get<HypervisorNode>(NODES, undefined, 'hv1'))!.status;
        if (!status?.fastpath?.counters) await new Promise((go) => setTimeout(go, 20));
      }
      expect(status?.fastpath).toMatchObject({ state: 'Running', interfaces: 2, counters: { underlay: { name: UL, rx: 0 }, vmNics: { count: 1, rx: 0, drops: 0 } } });
      expect(Object.keys(status!.fastpath!.counters!).sort()).toEqual(['tables', 'underlay', 'vmNics']);
      // The node leaves (its agent was replaced, say) and comes back at once.
      fp.nodeGone('hv1');
      await fp.nodeCompiled(node, model, indexModel(model), snapshot);
      await running();
      // Before, the new runner started during the old one's stop, whose detach could take the new program off.
      expect(events).toEqual(['start', 'stop', 'stopped', 'start']);
    } finally {
      await fp.stop();
    }
  }, 30_000);
});

describe('Node spec.fastPath validation', () => {
  const catalog = ResourceCatalog.load();
  const validator = new SchemaValidator(catalog);
  const nodes = catalog.byPluralName('nodes')!;
  const check = (fastPath: unknown) =>
    validator.validate(nodes, { apiVersion: 'vnet.dev/v1alpha1', kind: 'Node', metadata: { name: 'hv1' }, spec: { tunnelIP: '198.18.0.1', fastPath } }, 'Strict').causes;

  it('accepts enabled, a netns name, an underlay NIC and loadBalancers', () => {
    expect(check({ enabled: true, netns: 'hv1-ns', underlay: 'eth0', loadBalancers: true })).toEqual([]);
  });

  it('refuses a netns that is a path, a non-boolean enabled, a long NIC name and unknown fields, naming each field', () => {
    const fields = (c: ReturnType<typeof check>) => c.map((x) => x.field).sort();
    expect(fields(check({ netns: '../../proc/1/ns/net' }))).toEqual(['spec.fastPath.netns']);
    expect(fields(check({ enabled: 'yes' }))).toEqual(['spec.fastPath.enabled']);
    expect(fields(check({ loadBalancers: 'on' }))).toEqual(['spec.fastPath.loadBalancers']);
    expect(fields(check({ underlay: 'an-interface-name-too-long' }))).toEqual(['spec.fastPath.underlay']);
    expect(check({ turbo: true }).length).toBe(1);
  });
});
