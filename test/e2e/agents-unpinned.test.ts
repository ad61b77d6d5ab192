/**
 * Unpinned ports under agents (the libvirt way: a port names no node, and binds wherever a
 * NIC with its iface-id shows up). Each agent learns of such a port from the NIC on its own
 * switch (node-scope.ts), not from a watch of every unpinned port in the cluster. Proves,
 * with a controller and one agent per hypervisor, that:
 *  - a port declared before its NIC is plugged, and one declared after, each bind on the
 *    hypervisor of their NIC and carry traffic between hypervisors;
 *  - a NIC moved to the other hypervisor (unplugged, plugged there) moves its port's binding
 *    and its traffic;
 *  - an agent restarted while an unpinned port is bound to it loses no packet of a 10 ms ping;
 *  - a live migration's switchover (source link down, destination up) moves the binding to the
 *    destination's agent at once, with the source's NIC still plugged (QA-135 F2);
 *  - with both taps' links up (as qemu's are), the destination VM's RARP announcement moves it
 *    to the destination's agent at once, and the source's agent leaves it there;
 *  - a hypervisor that crashes (agent and switch) is marked silent a heartbeat after its last
 *    renewal, its peers' tunnel probes witnessing, so its VM restarted elsewhere is reachable
 *    then, not after the whole agent timeout (QA-135 F5).
 * And that a spoofing VM's port gets its PortSecurityDrops event, which an agent reports and
 * the controller records (an agent's token writes no event).
 */
import type { VirtualPort } from '../../src/resources/kinds';
import type { Vm } from '../harness/testbed';
import { describeOvs } from '../integration/ovsdb-helpers';
import { eventually } from '../support/vnetd';
import { startPing } from '../chaos/chaos-support';
import { G, agentsBed, armAnnouncement, migrationTarget, migrationTargetUp, overlayApi, startStampedPing, switchover, switchoverLinksUp, tapLinkState } from './overlay-support';

function log(line: string): void {
  process.stdout.write(`[agents-unpinned] ${line}\n`);
}

// Verified (dumped with counters) every 2 s, so that port security drops are seen within the test.
process.env.VNETD_FLOW_VERIFY_MS ??= '2000';

describeOvs('agents: unpinned ports bind where their NIC appears', () => {
  const setup = agentsBed();
  const { children, agents, startAgentFor } = setup;
  const api = overlayApi(setup.vnetd);

  const ns = 'unpinned';
  const port = async (name: string) => (await api.call('GET', `${G}/namespaces/${ns}/virtualports/${name}`)) as VirtualPort;
  /** Ready, bound on `node`, as of its current generation. */
  const boundOn = (name: string, node: string, timeoutMs = 20_000) =>
    eventually(async () => {
      const p = await port(name);
      const ready = p.status?.conditions?.find((c) => c.type === 'Ready');
      return p.status?.node === node && ready?.status === 'True' && ready.observedGeneration === p.metadata.generation ? p : undefined;
    }, timeoutMs, 50);
  const quiet = async (vm: Vm) => {
    await vm.exec(['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1']);
    await vm.hypervisor.exec(['sysctl', '-qw', `net.ipv6.conf.${vm.tap}.disable_ipv6=1`]).catch(() => undefined);
  };
  const pings = (from: Vm, to: string) => eventually(() => from.exec(['ping', '-c', '1', '-W', '1', to]).then(() => true, () => false), 10_000, 100);

  it('bind on the hypervisor of their NIC, plugged before or after the port; follow a NIC that moves; an agent restart loses nothing', async () => {
    const bed = setup.bed();
    await api.network(ns, 'net', { subnets: [{ cidr: '10.63.0.0/24' }] });

    // a: the port first (no node), then its NIC on hv1.
    const a = (await api.call('POST', `${G}/namespaces/${ns}/virtualports`, { metadata: { name: 'a' }, spec: { network: 'net' } })) as VirtualPort;
    const t0 = performance.now();
    const aVm = await bed.addVm('hv1', { name: 'ua', ifaceId: a.spec!.interfaceId!, mac: a.spec!.mac, ip: `${a.spec!.ips![0]}/24` });
    await quiet(aVm);
    await boundOn('a', 'hv1');
    const aMs = performance.now() - t0;

    // b: its NIC first on hv2 (a VM booting), then the port that names its iface-id.
    const bIface = `unpinned-b-${process.pid}`;
    let bVm = await bed.addVm('hv2', { name: 'ub', ifaceId: bIface });
    await quiet(bVm);
    const t1 = performance.now();
    const b = (await api.call('POST', `${G}/namespaces/${ns}/virtualports`, { metadata: { name: 'b' }, spec: { network: 'net', interfaceId: bIface, mac: bVm.mac } })) as VirtualPort;
    const bIp = b.spec!.ips![0]!;
    await bVm.exec(['ip', 'addr', 'add', `${bIp}/24`, 'dev', bVm.iface]);
    await boundOn('b', 'hv2');
    const bMs = performance.now() - t1;
    await pings(aVm, bIp);

    // b's NIC moves to hv1: its binding and its traffic follow.
    const t2 = performance.now();
    await bed.removeVm(bVm);
    bVm = await bed.addVm('hv1', { name: 'ub2', ifaceId: bIface, mac: b.spec!.mac, ip: `${bIp}/24` });
    await quiet(bVm);
    await boundOn('b', 'hv1');
    await pings(aVm, bIp);
    const moveMs = performance.now() - t2;

    // hv1's agent restarts under a 10 ms ping between the two unpinned ports bound to it.
    const COUNT = 600;
    const ping = startPing(aVm, bVm, COUNT, children);
    await new Promise((r) => setTimeout(r, 500));
    await agents.get('hv1')!.close();
    const again = await startAgentFor('hv1');
    await again.claimed;
    const { sent, received } = await ping.done;
    // And it still programs what comes next: a third NIC, plugged after the restart, binds.
    const c = (await api.call('POST', `${G}/namespaces/${ns}/virtualports`, { metadata: { name: 'c' }, spec: { network: 'net' } })) as VirtualPort;
    const cVm = await bed.addVm('hv1', { name: 'uc', ifaceId: c.spec!.interfaceId!, mac: c.spec!.mac, ip: `${c.spec!.ips![0]}/24` });
    await quiet(cVm);
    await boundOn('c', 'hv1');
    await pings(cVm, a.spec!.ips![0]!);

    log(
      `port before NIC: plugged to Ready on hv1 in ${aMs.toFixed(0)} ms; NIC before port: declared to Ready on hv2 in ${bMs.toFixed(0)} ms; ` +
        `NIC moved hv2 -> hv1, rebound and answering in ${moveMs.toFixed(0)} ms; agent restart under a 10 ms ping: ${sent} sent, ${sent - received} lost`,
    );
    expect(sent).toBe(COUNT);
    expect(sent - received).toBe(0);
  }, 120_000);

  it('a live migration (the NIC on both hypervisors for a while) keeps the binding on the source until its NIC is gone, with no fight between the agents', async () => {
    const bed = setup.bed();
    const client = (await api.call('POST', `${G}/namespaces/${ns}/virtualports`, { metadata: { name: 'mc' }, spec: { network: 'net' } })) as VirtualPort;
    const cVm = await bed.addVm('hv1', { name: 'umc', ifaceId: client.spec!.interfaceId!, mac: client.spec!.mac, ip: `${client.spec!.ips![0]}/24` });
    await quiet(cVm);
    const m = (await api.call('POST', `${G}/namespaces/${ns}/virtualports`, { metadata: { name: 'mm' }, spec: { network: 'net' } })) as VirtualPort;
    const mIp = m.spec!.ips![0]!;
    const source = await bed.addVm('hv1', { name: 'umm1', ifaceId: m.spec!.interfaceId!, mac: m.spec!.mac, ip: `${mIp}/24` });
    await quiet(source);
    await boundOn('mm', 'hv1');
    await boundOn('mc', 'hv1');
    await pings(cVm, mIp);

    // The destination's NIC (the VM paused: no address yet) appears on hv2 while the source runs.
    const dest = await bed.addVm('hv2', { name: 'umm2', ifaceId: m.spec!.interfaceId!, mac: m.spec!.mac });
    await quiet(dest);
    const rv0 = Number((await port('mm')).metadata.resourceVersion);
    const t0 = performance.now();
    const nodes = new Set<string>();
    while (performance.now() - t0 < 3000) {
      nodes.add((await port('mm')).status?.node ?? '-');
      await new Promise((r) => setTimeout(r, 100));
    }
    const writes = Number((await port('mm')).metadata.resourceVersion) > rv0 ? await countWrites(rv0) : 0;
    expect([...nodes]).toEqual(['hv1']);
    await pings(cVm, mIp);

    // The source goes: the destination takes over, and traffic follows.
    const t1 = performance.now();
    await bed.removeVm(source);
    await dest.exec(['ip', 'addr', 'add', `${mIp}/24`, 'dev', dest.iface]);
    await boundOn('mm', 'hv2');
    await pings(cVm, mIp);
    const switchMs = performance.now() - t1;
    log(`live migration: NIC on both hypervisors for 3 s: binding stayed on hv1 (${writes} writes of the port), then the source unplugged -> bound on hv2 and answering in ${switchMs.toFixed(0)} ms`);
    expect(writes).toBeLessThan(3);
  }, 120_000);

  it("a live migration's switchover (the source's link down, the destination's up) moves the binding to the destination's agent at once, not when the source's NIC is unplugged later (QA-135 F2)", async () => {
    const bed = setup.bed();
    // The first test's network, made here when this one runs alone (-t).
    await setup.vnetd().call('POST', '/api/v1/namespaces', { metadata: { name: ns } });
    await setup.vnetd().call('POST', `${G}/namespaces/${ns}/virtualnetworks`, { metadata: { name: 'net' }, spec: { subnets: [{ cidr: '10.63.0.0/24' }] } });
    const client = (await api.call('POST', `${G}/namespaces/${ns}/virtualports`, { metadata: { name: 'sc' }, spec: { network: 'net' } })) as VirtualPort;
    const cVm = await bed.addVm('hv1', { name: 'usc', ifaceId: client.spec!.interfaceId!, mac: client.spec!.mac, ip: `${client.spec!.ips![0]}/24` });
    await quiet(cVm);
    const m = (await api.call('POST', `${G}/namespaces/${ns}/virtualports`, { metadata: { name: 'sm' }, spec: { network: 'net' } })) as VirtualPort;
    const mIp = m.spec!.ips![0]!;
    const source = await bed.addVm('hv1', { name: 'usm1', ifaceId: m.spec!.interfaceId!, mac: m.spec!.mac, ip: `${mIp}/24` });
    await quiet(source);
    await boundOn('sm', 'hv1');
    await boundOn('sc', 'hv1');
    await pings(cVm, mIp);
    // The destination's NIC on hv2, its VM paused (link down), while the source runs: the binding stays.
    const dest = await migrationTarget(bed, source, 'hv2', 'usm2');
    await new Promise((r) => setTimeout(r, 1000));
    expect((await port('sm')).status?.node).toBe('hv1');
    const UNPLUG_AFTER_MS = 3000;
    const ping = startStampedPing(cVm, mIp, 7, children);
    await new Promise((r) => setTimeout(r, 1500));
    const at = await switchover(source, dest);
    const moved = await eventually(async () => (await port('sm')).status?.node === 'hv2', UNPLUG_AFTER_MS - 500, 20).then(() => Date.now() - at, () => undefined);
    // Taken by hv2's agent, it stays there: hv1's agent, its NIC still plugged, does not take it back.
    const nodes = new Set<string>();
    while (Date.now() < at + UNPLUG_AFTER_MS) {
      if (moved !== undefined) nodes.add((await port('sm')).status?.node ?? '-');
      await new Promise((r) => setTimeout(r, 50));
    }
    await bed.removeVm(source);
    const r = await ping.done;
    log(`live migration with agents, source NIC unplugged ${UNPLUG_AFTER_MS} ms after switchover: longest gap in a 10 ms ping ${r.gapMs.toFixed(0)} ms (starting ${(r.gapFrom - at).toFixed(0)} ms from switchover; ${r.sent} sent, ${r.received} answered); bound on hv2 ${moved === undefined ? 'only after the unplug' : `${moved} ms after switchover, then ${[...nodes].join(', ')} until the unplug`}; gaps of 50 ms or more: ${r.gaps.map((g) => `${g.ms.toFixed(0)} ms at ${(g.from - at).toFixed(0)}`).join(', ') || 'none'}`);
    expect(moved).toBeDefined();
    expect([...nodes]).toEqual(['hv2']);
    // Before, the source's unplug ended it (UNPLUG_AFTER_MS); half of that leaves room for a loaded machine.
    expect(r.gapMs).toBeLessThan(UNPLUG_AFTER_MS / 2);
    await boundOn('sm', 'hv2');
  }, 120_000);

  it("a live migration with both taps' links up (as qemu's are): the destination VM's RARP announcement moves the binding to the destination's agent at once, not when the source's NIC is unplugged later", async () => {
    const bed = setup.bed();
    await setup.vnetd().call('POST', '/api/v1/namespaces', { metadata: { name: ns } });
    await setup.vnetd().call('POST', `${G}/namespaces/${ns}/virtualnetworks`, { metadata: { name: 'net' }, spec: { subnets: [{ cidr: '10.63.0.0/24' }] } });
    const client = (await api.call('POST', `${G}/namespaces/${ns}/virtualports`, { metadata: { name: 'rc' }, spec: { network: 'net' } })) as VirtualPort;
    const cVm = await bed.addVm('hv1', { name: 'urc', ifaceId: client.spec!.interfaceId!, mac: client.spec!.mac, ip: `${client.spec!.ips![0]}/24` });
    await quiet(cVm);
    const m = (await api.call('POST', `${G}/namespaces/${ns}/virtualports`, { metadata: { name: 'rm' }, spec: { network: 'net' } })) as VirtualPort;
    const mIp = m.spec!.ips![0]!;
    const source = await bed.addVm('hv1', { name: 'urm1', ifaceId: m.spec!.interfaceId!, mac: m.spec!.mac, ip: `${mIp}/24` });
    await quiet(source);
    await boundOn('rm', 'hv1');
    await boundOn('rc', 'hv1');
    await pings(cVm, mIp);
    // The destination's NIC on hv2, link up, its VM paused: the binding stays (both live).
    const dest = await migrationTargetUp(bed, source, 'hv2', 'urm2');
    await new Promise((r) => setTimeout(r, 1000));
    expect((await port('rm')).status?.node).toBe('hv1');
    expect([await tapLinkState(source), await tapLinkState(dest)]).toEqual(['up', 'up']);
    const UNPLUG_AFTER_MS = 3000;
    const announcement = await armAnnouncement(dest, children);
    const ping = startStampedPing(cVm, mIp, 7, children);
    await new Promise((r) => setTimeout(r, 1500));
    const at = await switchoverLinksUp(source, announcement);
    const moved = await eventually(async () => (await port('rm')).status?.node === 'hv2', UNPLUG_AFTER_MS - 500, 20).then(() => Date.now() - at, () => undefined);
    // Taken by hv2's agent, it stays there: hv1's agent, its NIC still plugged and up, does not take it back.
    const nodes = new Set<string>();
    while (Date.now() < at + UNPLUG_AFTER_MS) {
      if (moved !== undefined) nodes.add((await port('rm')).status?.node ?? '-');
      await new Promise((r) => setTimeout(r, 50));
    }
    const sourceLink = await tapLinkState(source);
    const bound = (await port('rm')).status?.conditions?.find((c) => c.type === 'Bound');
    const sent = await announcement.sent;
    await bed.removeVm(source);
    const r = await ping.done;
    log(`live migration with agents, both links up, RARP at switchover (frames sent ${sent.map((t) => (t - at).toFixed(0)).join(', ')} ms after it), source NIC unplugged ${UNPLUG_AFTER_MS} ms after: longest gap in a 10 ms ping ${r.gapMs.toFixed(0)} ms (starting ${(r.gapFrom - at).toFixed(0)} ms from switchover; ${r.sent} sent, ${r.received} answered); bound on hv2 ${moved === undefined ? 'only after the unplug' : `${moved} ms after switchover, then ${[...nodes].join(', ')} until the unplug`}; gaps of 50 ms or more: ${r.gaps.map((g) => `${g.ms.toFixed(0)} ms at ${(g.from - at).toFixed(0)}`).join(', ') || 'none'}`);
    expect(sourceLink).toBe('up');
    expect(moved).toBeDefined();
    expect([...nodes]).toEqual(['hv2']);
    expect(bound).toMatchObject({ status: 'True', reason: 'Activated', message: expect.stringContaining("on node hv2: activated by the VM's RARP announcement at ") });
    // Before, the source's unplug ended it (UNPLUG_AFTER_MS); half of that leaves room for a loaded machine.
    expect(r.gapMs).toBeLessThan(UNPLUG_AFTER_MS / 2);
    await boundOn('rm', 'hv2');
  }, 120_000);

  it('a crashed hypervisor (its agent and switch gone at once): its unpinned VM, restarted on the other one, is reachable a heartbeat after the crash, not after the 60 s agent timeout (QA-135 F5)', async () => {
    const bed = setup.bed();
    await setup.vnetd().call('POST', '/api/v1/namespaces', { metadata: { name: ns } });
    await setup.vnetd().call('POST', `${G}/namespaces/${ns}/virtualnetworks`, { metadata: { name: 'net' }, spec: { subnets: [{ cidr: '10.63.0.0/24' }] } });
    const client = (await api.call('POST', `${G}/namespaces/${ns}/virtualports`, { metadata: { name: 'ec' }, spec: { network: 'net' } })) as VirtualPort;
    const cVm = await bed.addVm('hv1', { name: 'uec', ifaceId: client.spec!.interfaceId!, mac: client.spec!.mac, ip: `${client.spec!.ips![0]}/24` });
    await quiet(cVm);
    const e = (await api.call('POST', `${G}/namespaces/${ns}/virtualports`, { metadata: { name: 'ev' }, spec: { network: 'net' } })) as VirtualPort;
    const eIp = e.spec!.ips![0]!;
    const first = await bed.addVm('hv2', { name: 'uev1', ifaceId: e.spec!.interfaceId!, mac: e.spec!.mac, ip: `${eIp}/24` });
    await quiet(first);
    await boundOn('ev', 'hv2');
    await boundOn('ec', 'hv1');
    await pings(cVm, eIp);
    // Both peers' probes judged (two 5 s rounds since hv2's agent came back, when an earlier test restarted it).
    type NodeObj = { status?: { unansweredPeers?: string[]; conditions?: Array<{ type: string; status: string; reason?: string; message?: string }> } };
    const nodeObj = async (name: string) => (await api.call('GET', `${G}/nodes/${name}`)) as NodeObj;
    await eventually(async () => (await nodeObj('hv1')).status?.conditions?.find((c) => c.type === 'TunnelsUp')?.reason === 'ProbesAnswered', 30_000, 200).catch(async (err: Error) => {
      throw new Error(`${err.message}: hv1: ${JSON.stringify((await nodeObj('hv1')).status?.conditions)}; hv2: ${JSON.stringify((await nodeObj('hv2')).status?.conditions)}`);
    });
    const hv2 = bed.hv('hv2');
    try {
      // The crash: hv2's agent and ovs-vswitchd end together (the agent first, so it writes nothing of its switch's end).
      await agents.get('hv2')!.close();
      await hv2.ovs.killVswitchd('SIGKILL');
      const t0 = performance.now();
      // Its VM restarted on hv1 (an HA restart: the same port, a new NIC), as soon as someone noticed.
      await new Promise((r) => setTimeout(r, 3000));
      await bed.removeVm(first);
      const again = await bed.addVm('hv1', { name: 'uev2', ifaceId: e.spec!.interfaceId!, mac: e.spec!.mac, ip: `${eIp}/24` });
      await quiet(again);
      const marked = eventually(async () => {
        const n = await nodeObj('hv2');
        const ready = n.status?.conditions?.find((c) => c.type === 'Ready');
        return ready?.reason === 'AgentNotReporting' ? { at: performance.now() - t0, message: ready.message } : undefined;
      }, 60_000, 100);
      const reachable = eventually(() => cVm.exec(['ping', '-c', '1', '-W', '1', eIp]).then(() => performance.now() - t0, () => undefined), 70_000, 100);
      const [m, r] = await Promise.all([marked, reachable]);
      const bound = await boundOn('ev', 'hv1', 10_000);
      log(`crashed hypervisor hv2: marked Ready=Unknown ${(m.at / 1000).toFixed(1)} s after the crash, its VM restarted on hv1 reachable after ${(r / 1000).toFixed(1)} s (the agent timeout is 60 s, a heartbeat 20 s): ${m.message}`);
      expect(m.message).toMatch(/and no tunnel probe comes back from it to its peer \(hv1\): the hypervisor looks down/);
      // A heartbeat and a quarter (25 s) after the last renewal at most, with room for a loaded machine: well before 60 s.
      expect(r).toBeLessThan(45_000);
      expect(bound.status?.node).toBe('hv1');
    } finally {
      await hv2.ovs.restartVswitchd();
      await startAgentFor('hv2');
    }
    // Back: hv2's agent writes its own Ready over the leader's mark.
    await eventually(async () => (await nodeObj('hv2')).status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True', 30_000, 200);
    await pings(cVm, eIp);
  }, 180_000);

  /** Writes of port mm after revision rv (its resourceVersion only says the last one). */
  async function countWrites(rv: number): Promise<number> {
    const r = await setup.vnetd().call('GET', `${G}/namespaces/${ns}/virtualports?watch=true&resourceVersion=${rv}&fieldSelector=metadata.name=mm&timeoutSeconds=1`);
    return r.text.split('\n').filter((l) => l.includes('"MODIFIED"')).length;
  }

  it('a VM whose frames port security drops gets a Warning event on its port, which its agent reports and the controller records (QA-131 F9)', async () => {
    const bed = setup.bed();
    const s = await api.vmFor(bed, ns, 'net', 'spoofer', 'hv1', { vmName: 'usp' });
    const d = await api.vmFor(bed, ns, 'net', 'target', 'hv2', { vmName: 'utg' });
    await quiet(s.vm);
    await pings(s.vm, d.port.spec!.ips![0]!);
    // From an address that is not the port's, at a MAC it knows: every frame dropped on hv1.
    await s.vm.exec(['ip', 'addr', 'add', '10.63.0.177/24', 'dev', s.vm.iface]);
    await s.vm.exec(['ip', 'neigh', 'replace', d.port.spec!.ips![0]!, 'lladdr', d.vm.mac, 'dev', s.vm.iface]);
    type Ev = { reason: string; type: string; message: string; involvedObject: { name: string } };
    // A burst per try: the agent's first verify that sees the new port's flows only takes their
    // counters as its baseline (the drops before it are not counted), and a verify (every 2 s
    // here) in the middle of a burst splits it; 40 frames leave 20 or more on one side.
    const event = await eventually(async () => {
      await s.vm.exec(['ping', '-c', '40', '-i', '0.005', '-W', '1', '-I', '10.63.0.177', d.port.spec!.ips![0]!]).catch(() => undefined);
      const evs = ((await api.call('GET', `/api/v1/namespaces/${ns}/events`)) as { items: Ev[] }).items;
      return evs.find((e) => e.reason === 'PortSecurityDrops' && e.involvedObject.name === 'spoofer');
    }, 20_000, 500);
    log(`port security with agents: ${event!.type} ${event!.reason} on port/spoofer: ${event!.message.slice(0, 70)}...`);
    expect(event).toMatchObject({ type: 'Warning', message: expect.stringMatching(/^on node hv1, port security dropped \d+ frame\(s\) it sent/) });
    // The well-behaved VM has none.
    const evs = ((await api.call('GET', `/api/v1/namespaces/${ns}/events`)) as { items: Ev[] }).items;
    expect(evs.filter((e) => e.reason === 'PortSecurityDrops' && e.involvedObject.name === 'target')).toEqual([]);
  }, 60_000);

  it("a hypervisor's flows deleted by hand are put back by its agent, and the repair is an event on its Node, which the agent reports and the controller records (QA-155 F5)", async () => {
    const bed = setup.bed();
    const hv2 = bed.hypervisors.find((h) => h.name === 'hv2')!;
    await hv2.ovs.ofctl(['-O', 'OpenFlow13', 'del-flows', `unix:${hv2.ovs.bridgeMgmtSocket('br-int')}`]);
    type Ev = { reason: string; type: string; message: string; involvedObject: { kind: string; name: string } };
    const t0 = performance.now();
    const event = await eventually(async () => {
      const evs = ((await api.call('GET', '/api/v1/namespaces/default/events')) as { items: Ev[] }).items;
      return evs.find((e) => e.reason === 'FlowsRepaired' && e.involvedObject.kind === 'Node' && e.involvedObject.name === 'hv2');
    }, 30_000, 250);
    log(`hv2's flows deleted by hand: ${event!.type} ${event!.reason} on node/hv2 after ${(performance.now() - t0).toFixed(0)} ms: ${event!.message.slice(0, 80)}...`);
    expect(event).toMatchObject({ type: 'Warning', message: expect.stringMatching(/^(its flow table had 0 of vnetd's flows where \d+ were desired|\d+ of vnetd's flows or groups differed from the desired ones)/) });
  }, 60_000);

  it("the agents did all of it with their own node's token: the API refused none of their requests", async () => {
    const refused = await setup.refused();
    log(`the API's 403 answers over the file: ${refused.length ? refused.join(', ') : 'none'}`);
    expect(refused).toEqual([]);
  });
});
