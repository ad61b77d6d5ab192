/**
 * What one port's life costs the store, on real Open vSwitch (two hypervisors, vnetd with
 * its chassis and pipeline, as bench:converge runs it): every store revision is a commit,
 * a watch event to every informer and watch, and the reconciles those trigger, so the
 * count per port bounds vnetd's CPU per port.
 *  - a port whose NIC is already on br-int (the bench's case) goes from create to Ready in
 *    at most 3 revisions of its object: the create (its addresses allocated at admission,
 *    status included), the binding, Ready. Before addresses were allocated in the create's
 *    status, IPAM wrote them one revision later (4);
 *  - the create's response already says AddressesAllocated=True with status.mac/ips;
 *  - bad inputs lose nothing: a full subnet is a 422 naming the network, and a create that
 *    fails after its address was picked (the name exists) leaves that address free.
 */
import { G, joinBed, overlayApi, readyNow, type Obj } from '../e2e/overlay-support';
import { startTestbed, type Hypervisor, type Testbed } from '../harness/testbed';
import { eventually, startTestVnetd, type TestVnetd } from '../support/vnetd';
import { describeOvs } from './ovsdb-helpers';

const NS = 'revs';

type Port = Obj & { metadata: { name: string; resourceVersion?: string }; spec?: { ips?: string[]; mac?: string; interfaceId?: string }; status?: Obj['status'] & { ips?: string[]; mac?: string; observedGeneration?: number } };

async function plugNic(hv: Hypervisor, name: string, ifaceId: string): Promise<void> {
  await hv.ovs.vsctl(['add-port', 'br-int', name, '--', 'set', 'Interface', name, 'type=internal', `external_ids:iface-id=${ifaceId}`]);
}

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

  it('a port whose NIC is already plugged is allocated in its create, and Ready after at most 4 revisions', async () => {
    const hvs = bed!.hypervisors;
    // First a port on each node, so the network is on both already: the first port of a
    // network on a node makes every port of the network lag there once (a Realizing write).
    for (const [i, hv] of hvs.entries()) {
      await plugNic(hv, `rvw${i}`, `if-w${i}`);
      await api.call('POST', `${G}/namespaces/${NS}/virtualports`, { metadata: { name: `w${i}` }, spec: { network: 'net', node: hv.name, interfaceId: `if-w${i}` } });
    }
    for (const i of hvs.keys()) await api.waitReady(NS, 'virtualports', `w${i}`, 20_000);
    const names = ['a0', 'a1', 'a2', 'a3'];
    for (const [i, name] of names.entries()) await plugNic(hvs[i % 2]!, `rv${name}`, `if-${name}`);
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
        expect(p.status?.observedGeneration).toBe(1);
      }
      for (const name of names) await api.waitReady(NS, 'virtualports', name, 20_000);
      // Whatever would still follow Ready (a late IPAM or binding write) counts too.
      await new Promise((r) => setTimeout(r, 500));
      const counts = names.map((name) => {
        const revs = revisions.get(name) ?? [];
        process.stdout.write(`[port-revisions] ${name}: ${revs.length} revisions: ${revs.map((r) => `${r.rev}[${r.conditions}]`).join(' ')}\n`);
        // Allocated in the create: no later revision changes the allocation status.
        expect(revs.map((r) => r.allocation)).toEqual(revs.map(() => revs[0]!.allocation));
        return revs.length;
      });
      expect(Math.max(...counts)).toBeLessThanOrEqual(4);
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
