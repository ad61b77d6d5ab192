/**
 * What one port's life costs the store, on real Open vSwitch (two hypervisors, vnetd with
 * its chassis and pipeline, as bench:converge runs it): every store revision is a commit,
 * a watch event to every informer and watch, and the reconciles those trigger, so the
 * count per port bounds vnetd's CPU per port.
 *  - a port whose NIC is already on br-int (the bench's case) goes from create to Ready in
 *    2 revisions of its object: the create (its addresses allocated at admission, status
 *    included), then its binding with Ready=True. It took 4 before: IPAM wrote the
 *    allocation one revision after the create, the chassis the binding, the pipeline
 *    Ready, often with Realizing written on the way (5);
 *  - the create's response already says AddressesAllocated=True with status.mac/ips;
 *  - the chassis leaves a new binding to that Ready write, and writes it itself when no
 *    Ready write has carried it after boundWithReadyMs (no pipeline, flows that cannot be
 *    installed); an unbound state it writes at once;
 *  - bad inputs lose nothing: a full subnet is a 422 naming the network, and a create that
 *    fails after its address was picked (the name exists) leaves that address free.
 */
import pino from 'pino';
import { ChassisManager } from '../../src/chassis/chassis-manager';
import { MemoryStore } from '../../src/reconcile/testing/memory-store';
import type { HypervisorNode, VirtualPort } from '../../src/resources/kinds';
import { NODES, PORTS } from '../../src/store/kinds';
import { ObjectStore } from '../../src/store/object-store';
import { G, joinBed, overlayApi, plugInternalNic, readyNow, type Obj } from '../e2e/overlay-support';
import { startTestbed, type Testbed } from '../harness/testbed';
import { REALIZING_QUIET_MS } from '../../src/reconcile/kinds/pipeline.reconciler';
import { eventually, startTestVnetd, type TestVnetd } from '../support/vnetd';
import { describeOvs } from './ovsdb-helpers';

const NS = 'revs';

type Port = Obj & { metadata: { name: string; resourceVersion?: string }; spec?: { ips?: string[]; mac?: string; interfaceId?: string }; status?: Obj['status'] & { ips?: string[]; mac?: string; observedGeneration?: number } };

describeOvs('a port\'s store revisions from create to Ready', () => {
  let v: TestVnetd | undefined;
  let bed: Testbed | undefined;
  const api = overlayApi(() => v!);

  beforeAll(async () => {
    v = await startTestVnetd({ chassis: true });
    bed = await startTestbed({ hypervisors: 2 });
    await joinBed(bed, api.call);
    await api.network(NS, 'net', { subnets: [{ cidr: '10.77.0.0/24' }] });
    await api.network(NS, 'tiny', { subnets: [{ cidr: '10.78.0.0/29' }] });
    await api.waitReady(NS, 'virtualnetworks', 'net', 30_000);
  }, 90_000);

  afterAll(async () => {
    await bed?.stop();
    await v?.stop();
  }, 60_000);

  it('a port whose NIC is already plugged is allocated in its create, and bound and Ready in one more revision', async () => {
    const hvs = bed!.hypervisors;
    // First a port on each node, so the network is on both already: the first port of a
    // network on a node makes every port of the network lag there once (a Realizing write).
    for (const [i, hv] of hvs.entries()) {
      await plugInternalNic(hv, `rvw${i}`, `if-w${i}`);
      await api.call('POST', `${G}/namespaces/${NS}/virtualports`, { metadata: { name: `w${i}` }, spec: { network: 'net', node: hv.name, interfaceId: `if-w${i}` } });
    }
    for (const i of hvs.keys()) await api.waitReady(NS, 'virtualports', `w${i}`, 20_000);
    const names = ['a0', 'a1', 'a2', 'a3'];
    for (const [i, name] of names.entries()) await plugInternalNic(hvs[i % 2]!, `rv${name}`, `if-${name}`);
    // Every revision of every port object, from before the first create.
    const revisions = new Map<string, Array<{ rev: number; conditions: string; allocation: string }>>();
    const w = v!.objects.kv.watch<Port>(`/registry/vnet.dev/virtualports/${NS}/`, (e) => {
      const name = e.kv.key.split('/').pop()!;
      const conds = (e.kv.value.status?.conditions ?? []).map((c) => `${c.type}=${c.status}${c.type === "Ready" ? ` (${(c as { message?: string }).message})` : ""}`).join(",");
      const st = e.kv.value.status;
      const allocation = JSON.stringify([st?.mac, st?.ips, st?.conditions?.find((c) => c.type === 'AddressesAllocated')]);
      revisions.set(name, [...(revisions.get(name) ?? []), { rev: e.kv.modRevision, conditions: conds, allocation }]);
    });
    try {
      const created = await Promise.all(
        names.map((name, i) => api.call('POST', `${G}/namespaces/${NS}/virtualports`, { metadata: { name }, spec: { network: 'net', node: hvs[i % 2]!.name, interfaceId: `if-${name}` } }) as Promise<Port>),
      );
      for (const p of created) {
        expect(p.status?.conditions?.find((c) => c.type === 'AddressesAllocated')).toMatchObject({ status: 'True', observedGeneration: 1 });
        expect(p.status?.ips).toEqual(p.spec?.ips);
        expect(p.status?.mac).toBe(p.spec?.mac);
        // Nothing describes the whole status yet: that comes with Ready (below).
        expect(p.status?.observedGeneration).toBeUndefined();
      }
      for (const name of names) await api.waitReady(NS, 'virtualports', name, 20_000);
      // Whatever would still follow Ready counts too: a late IPAM write, or the chassis
      // writing the binding when its wait for a Ready write to carry it is up.
      await new Promise((r) => setTimeout(r, REALIZING_QUIET_MS + 2500));
      const counts = names.map((name) => {
        const revs = revisions.get(name) ?? [];
        process.stdout.write(`[port-revisions] ${name}: ${revs.length} revisions: ${revs.map((r) => `${r.rev}[${r.conditions}]`).join(' ')}\n`);
        // Allocated in the create: no later revision changes the allocation status.
        expect(revs.map((r) => r.allocation)).toEqual(revs.map(() => revs[0]!.allocation));
        return revs.length;
      });
      expect(Math.max(...counts)).toBeLessThanOrEqual(2);
    } finally {
      w.stop();
    }
  }, 60_000);

  it('status.observedGeneration comes with Ready: no revision says the status describes a generation its Ready does not', async () => {
    const hv = bed!.hypervisors[0]!;
    await plugInternalNic(hv, 'rvgen', 'if-gen');
    const seen: Array<{ rev: number; generation?: number; observed?: number; ready?: string }> = [];
    const w = v!.objects.kv.watch<Port>(`/registry/vnet.dev/virtualports/${NS}/gen`, (e) => {
      const p = e.kv.value;
      const r = p.status?.conditions?.find((c) => c.type === 'Ready') as { status: string; observedGeneration?: number } | undefined;
      seen.push({ rev: e.kv.modRevision, generation: p.metadata.generation, observed: p.status?.observedGeneration, ready: r ? `${r.status}@${r.observedGeneration}` : undefined });
    });
    try {
      await api.call('POST', `${G}/namespaces/${NS}/virtualports`, { metadata: { name: 'gen' }, spec: { network: 'net', node: hv.name, interfaceId: 'if-gen' } });
      await api.waitReady(NS, 'virtualports', 'gen', 20_000);
      // A new generation (IPAM writes its AddressesAllocated for it at once, Ready follows the flows).
      expect((await v!.call('PATCH', `${G}/namespaces/${NS}/virtualports/gen`, { spec: { allowedAddressPairs: [{ ip: '10.77.0.200' }] } }, { contentType: 'application/merge-patch+json' })).status).toBe(200);
      await eventually(async () => seen.some((s) => s.generation === 2 && s.ready === 'True@2'), 20_000, 20);
      process.stdout.write(`[port-revisions] gen: ${seen.map((s) => `${s.rev}[g${s.generation} og${s.observed ?? '-'} Ready ${s.ready ?? '-'}]`).join(' ')}\n`);
      for (const s of seen) if (s.observed !== undefined) expect({ rev: s.rev, ready: s.ready }).toEqual({ rev: s.rev, ready: expect.stringMatching(new RegExp(`@${s.observed}$`)) });
      expect(seen.at(-1)).toMatchObject({ generation: 2, observed: 2, ready: 'True@2' });
    } finally {
      w.stop();
    }
  }, 60_000);

  it('a load balancer edited stays Ready while its new flows go in: no Ready=False revision for the milliseconds they take', async () => {
    // The network's ports w0/w1 (first test) are bound on both nodes: the LB is realized on both.
    const lbPath = `${G}/namespaces/${NS}/loadbalancers/edited`;
    const readiness: string[] = [];
    const w = v!.objects.kv.watch<Port>(`/registry/vnet.dev/loadbalancers/${NS}/edited`, (e) => {
      const r = e.kv.value.status?.conditions?.find((c) => c.type === 'Ready') as { status: string; reason?: string; observedGeneration?: number } | undefined;
      if (r) readiness.push(`g${e.kv.value.metadata.generation} ${r.status}:${r.reason}@${r.observedGeneration}`);
    });
    try {
      await api.call('POST', `${G}/namespaces/${NS}/loadbalancers`, { metadata: { name: 'edited' }, spec: { network: 'net', listeners: [{ port: 80, targetPort: 8080 }], backends: [{ port: 'w0' }] } });
      await api.waitReady(NS, 'loadbalancers', 'edited', 20_000);
      for (const [i, body] of [{ spec: { listeners: [{ port: 80, targetPort: 8080 }, { port: 443, targetPort: 8443 }] } }, { spec: { backends: [{ port: 'w0' }, { port: 'w1' }] } }].entries()) {
        expect((await v!.call('PATCH', lbPath, body, { contentType: 'application/merge-patch+json' })).status).toBe(200);
        await eventually(async () => readiness.at(-1) === `g${i + 2} True:Realized@${i + 2}`, 20_000, 20);
      }
      process.stdout.write(`[port-revisions] lb edited: Ready ${readiness.join(' -> ')}\n`);
      expect(readiness.filter((r) => !r.includes(' True:'))).toEqual([]);
    } finally {
      w.stop();
      await v!.call('DELETE', lbPath);
    }
  }, 60_000);

  it('the binding arriving in the store with Ready compiles nothing more', async () => {
    const hv = bed!.hypervisors[0]!;
    await plugInternalNic(hv, 'rvsolo', 'if-solo');
    const compiled = () => bed!.hypervisors.reduce((n, h) => n + v!.pipeline.agent(h.name)!.compiles.ownersCompiled, 0);
    // Taken as the Ready write commits (watch handlers run in the commit): every compile
    // the port needed to become Ready is in it, none that its Ready write causes.
    let atReady: number | undefined;
    const w = v!.objects.kv.watch<Port>(`/registry/vnet.dev/virtualports/${NS}/solo`, (e) => {
      if (atReady === undefined && readyNow(e.kv.value)) atReady = compiled();
    });
    try {
      const before = compiled();
      await api.call('POST', `${G}/namespaces/${NS}/virtualports`, { metadata: { name: 'solo' }, spec: { network: 'net', node: hv.name, interfaceId: 'if-solo' } });
      await api.waitReady(NS, 'virtualports', 'solo', 20_000);
      await new Promise((r) => setTimeout(r, 1000));
      process.stdout.write(`[port-revisions] solo: ${atReady! - before} owners compiled until Ready, ${compiled() - atReady!} after\n`);
      expect(atReady! - before).toBeGreaterThan(0);
      // Before: the store's binding (node, ofport) changed the port's signature and its
      // owners were compiled again on both nodes, flows unchanged.
      expect(compiled() - atReady!).toBe(0);
    } finally {
      w.stop();
    }
  }, 60_000);

  it('a full subnet is a clear 422, and a create that fails after picking an address leaves it free', async () => {
    // 10.78.0.0/29: .1 is the gateway, .2-.6 are for ports.
    const post = (name: string) => v!.call('POST', `${G}/namespaces/${NS}/virtualports`, { metadata: { name }, spec: { network: 'tiny' } });
    const ips: string[] = [];
    for (const name of ['t0', 't1', 't2', 't3']) {
      const r = await post(name);
      expect(r.status).toBe(201);
      ips.push((r.json as Port).spec!.ips![0]!);
    }
    const ip = ips[0]!;
    // The name exists: admission picks the last free address, then the store refuses the
    // create with that address's claim. The address must stay free.
    const dup = await post('t0');
    expect(dup.status).toBe(409);
    const last = await post('t4');
    expect(last.status).toBe(201);
    expect(new Set([...ips, (last.json as Port).spec!.ips![0]!]).size).toBe(5);
    const full = await post('t5');
    expect(full.status).toBe(422);
    expect(full.json).toMatchObject({ kind: 'Status', reason: 'Invalid' });
    expect(full.text).toContain('no free IPv4 address left in VirtualNetwork \\"tiny\\"');
    // Deleting t0 releases its address: the next create gets it (nothing leaked by the failures above).
    expect((await v!.call('DELETE', `${G}/namespaces/${NS}/virtualports/t0`)).status).toBe(200);
    await eventually(async () => (await v!.call('GET', `${G}/namespaces/${NS}/virtualports/t0`)).status === 404, 10_000);
    const again = await post('t6');
    expect(again.status).toBe(201);
    expect((again.json as Port).spec!.ips).toEqual([ip]);
    expect(readyNow(again.json as Obj)).toBe(false);
  }, 60_000);
});

describeOvs('chassis: a new binding left to the Ready write, written by the chassis when none comes', () => {
  let bed: Testbed | undefined;
  let chassis: ChassisManager | undefined;

  afterAll(async () => {
    await chassis?.stop();
    await bed?.stop();
  }, 60_000);

  it('writes Bound=True itself once boundWithReadyMs is up, and an unbound state at once', async () => {
    const logger = pino({ level: 'silent' });
    const objects = new ObjectStore(new MemoryStore());
    bed = await startTestbed({ hypervisors: 1 });
    const hv = bed.hypervisors[0]!;
    await objects.create<HypervisorNode>(NODES, { apiVersion: 'vnet.dev/v1alpha1', kind: 'Node', metadata: { name: hv.name }, spec: hv.nodeSpec() } as HypervisorNode);
    // No pipeline here: nothing will carry the binding in a Ready write.
    const waitMs = 1500;
    chassis = new ChassisManager({ objects, logger, boundWithReadyMs: waitMs });
    await chassis.start();
    await eventually(async () => chassis!.session(hv.name)?.ready, 30_000, 50);
    const port = (name: string) =>
      objects.create<VirtualPort>(PORTS, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name, namespace: NS }, spec: { network: 'net', node: hv.name, mac: '0a:77:00:00:00:0a', ips: ['10.77.0.10'], interfaceId: `if-${name}` } } as VirtualPort);
    const bound = async (name: string) => (await objects.get<VirtualPort>(PORTS, NS, name))?.status?.conditions?.find((c) => c.type === 'Bound');

    // Not plugged: InterfaceNotFound is written at once (nothing to wait for).
    await port('loose');
    await eventually(async () => (await bound('loose'))?.reason === 'InterfaceNotFound', 5000, 20);

    await plugInternalNic(hv, 'rvplug', 'if-plugged');
    const t0 = Date.now();
    await port('plugged');
    const c = await eventually(async () => {
      const b = await bound('plugged');
      return b?.status === 'True' ? b : undefined;
    }, waitMs + 10_000, 20);
    const tookMs = Date.now() - t0;
    process.stdout.write(`[port-revisions] Bound=True written by the chassis after ${tookMs} ms (boundWithReadyMs ${waitMs})\n`);
    expect(c.reason).toBe('InterfaceFound');
    expect(tookMs).toBeGreaterThanOrEqual(waitMs);
    expect((await objects.get<VirtualPort>(PORTS, NS, 'plugged'))?.status?.node).toBe(hv.name);
  }, 90_000);
});
