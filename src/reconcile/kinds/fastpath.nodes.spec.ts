/**
 * FastPathNodes where AF_XDP cannot start: Node status.fastpath says Unavailable with the
 * reason, the log says it once however often the node recompiles, and /metrics exports
 * the state. Disabled nodes get no runner and no status. Uses the real library (no
 * AF_XDP port is opened: the namespace does not exist).
 */
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
import { FastPathNodes } from './fastpath.nodes';

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

async function setup(spec: HypervisorNode['spec']) {
  const objects = new ObjectStore(new MemoryStore());
  await objects.create(NODES, { apiVersion: 'vnet.dev/v1alpha1', kind: 'Node', metadata: { name: 'hv1' }, spec } as HypervisorNode);
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
  const fp = new FastPathNodes({ objects, logger });
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
