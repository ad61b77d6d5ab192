/**
 * Hitless controller restart: `kill -9` of the vnetd process while two VMs on different
 * hypervisors ping each other every 10 ms, then a new vnetd on the same data dir. No
 * packet may be lost (the flows stay on the switches; the new process compares each table
 * with what it compiles and sends only the difference, here none), and the tables end up
 * exactly as they were: same flows, same cookie round, none of them re-added.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestbed, type Hypervisor, type Testbed, type Vm } from '../harness/testbed';
import { describeOvs } from '../integration/ovsdb-helpers';
import { judgePings, pingArgs } from '../support/ping';
import { eventually, nodesInSync } from '../support/vnetd';
import { dumpVnetdLogs, startVnetdProcess, stopVnetdProcess, type VnetdProcess } from '../support/vnetd-process';

const G = '/apis/vnet.dev/v1alpha1';


/** Our flows on br-int (cookie app byte 0x56): round -> normalized texts, and each flow's age (s) by text. */
async function ourFlows(hv: Hypervisor): Promise<{ rounds: Map<number, string[]>; ages: Map<string, number> }> {
  const out = await hv.ovs.ofctl(['-O', 'OpenFlow13', 'dump-flows', `unix:${hv.ovs.bridgeMgmtSocket('br-int')}`]);
  const rounds = new Map<number, string[]>();
  const ages = new Map<string, number>();
  for (const line of out.split('\n')) {
    const m = /cookie=0x([0-9a-f]+),/.exec(line);
    if (!m) continue;
    const cookie = BigInt(`0x${m[1]}`);
    if (((cookie >> 32n) & 0xffn) !== 0x56n) continue;
    const round = Number(cookie >> 48n);
    const text = line
      .replace(/cookie=0x[0-9a-f]+, /, `cookie=${(cookie & 0xffffffffffffn).toString(16)}, `)
      .replace(/duration=[^,]+, |n_packets=\d+, |n_bytes=\d+, |idle_age=\d+, /g, '')
      .trim();
    rounds.set(round, [...(rounds.get(round) ?? []), text]);
    ages.set(text, Number(/duration=([0-9.]+)s/.exec(line)?.[1] ?? -1));
  }
  for (const v of rounds.values()) v.sort();
  return { rounds, ages };
}

describeOvs('overlay: controller restart', () => {
  let dataDir: string;
  let server: VnetdProcess | undefined;
  let bed: Testbed | undefined;
  let pinger: ChildProcess | undefined;

  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'vnetd-restart-'));
  });
  afterAll(async () => {
    if (pinger?.pid && pinger.exitCode === null) process.kill(pinger.pid, 'SIGTERM');
    if (server) await stopVnetdProcess(server, 'SIGKILL');
    await bed?.stop();
    dumpVnetdLogs(dataDir);
    rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  it('kill -9 of vnetd during a 10 ms ping loses nothing; the new run leaves every flow in place', async () => {
    server = await startVnetdProcess(dataDir, { VNETD_TUNNEL_PROBE_MS: '500' });
    const call = async (method: string, path: string, body?: unknown) => {
      const r = await server!.call(method, path, body);
      if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
      return r.json;
    };
    bed = await startTestbed({ hypervisors: 2 });
    for (const hv of bed.hypervisors) await call('POST', `${G}/nodes`, { metadata: { name: hv.name }, spec: hv.nodeSpec() });
    await bed.underlayReady();
    await call('POST', `${G}/namespaces/default/virtualnetworks`, { metadata: { name: 'rnet' }, spec: { subnets: [{ cidr: '10.40.0.0/24' }] } });
    const vms: Vm[] = [];
    for (const hv of bed.hypervisors) {
      const port = await call('POST', `${G}/namespaces/default/virtualports`, { metadata: { name: `r-${hv.name}` }, spec: { network: 'rnet', node: hv.name } });
      vms.push(await bed.addVm(hv.name, { name: `r${hv.name}`, ifaceId: port.spec.interfaceId, mac: port.spec.mac, ip: `${port.spec.ips[0]}/24` }));
    }
    for (const vm of vms) {
      let last: unknown;
      await eventually(async () => {
        const p = (await server!.call('GET', `${G}/namespaces/default/virtualports/r-${vm.hypervisor.name}`)).json;
        last = p.status;
        return p.status?.conditions?.some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True');
      }, 30_000).catch((e: Error) => {
        throw new Error(`port r-${vm.hypervisor.name} not Ready: ${JSON.stringify(last)} (${e.message})`);
      });
    }
    const [a, b] = vms as [Vm, Vm];
    const target = b.ip!.split('/')[0]!;
    await eventually(() => a.exec(['ping', '-c', '1', '-W', '1', target]).then(() => true, () => false), 15_000, 100);
    // A UDP load balancer: a's datagrams from fixed source ports leave conntrack entries on
    // hv1. The new process flushes the VIPs' UDP entries once it has synced a node (a removal
    // whose flush the dead process never sent would otherwise strand such clients for good).
    const lb = await call('POST', `${G}/namespaces/default/loadbalancers`, { metadata: { name: 'rlb' }, spec: { network: 'rnet', listeners: [{ protocol: 'UDP', port: 53, targetPort: 5353 }], backends: [{ port: `r-${b.hypervisor.name}` }] } });
    const vip = lb.spec.vip as string;
    const vni = ((await call('GET', `${G}/namespaces/default/virtualnetworks/rnet`)) as { spec: { vni: number } }).spec.vni;
    const udpToVip = async () => (await a.hypervisor.ovs.appctl('ovs-vswitchd', ['dpctl/dump-conntrack', `zone=${(vni % 65535) + 1}`])).split('\n').filter((l) => l.startsWith('udp,') && l.includes(`dst=${vip},`)).length;
    const udpFrom = `const d=require('dgram');const [vip,base,n]=process.argv.slice(1);let left=+n;for(let i=0;i<+n;i++){const s=d.createSocket('udp4');s.bind(+base+i,()=>s.send('q',53,vip,()=>{s.close();if(--left===0)process.exit(0)}))}`;
    await eventually(async () => {
      await a.exec([process.execPath, '-e', udpFrom, vip, '47000', '10']);
      return (await udpToVip()) >= 10;
    }, 15_000, 200);
    const nodeConditions = async () => Promise.all(bed!.hypervisors.map(async (hv) => ((await call('GET', `${G}/nodes/${hv.name}`)) as { status?: { conditions?: unknown } }).status?.conditions));
    // TunnelsUp too (probes every 500 ms here), and ConntrackPressure (read 1 s after start):
    // the new process must not rewrite them either.
    await eventually(async () => {
      const c = (await nodeConditions()) as Array<Array<{ type: string; status: string }> | undefined>;
      const up = (x: Array<{ type: string; status: string }> | undefined) => x?.some((k) => k.type === 'TunnelsUp' && k.status === 'True' && (k as { reason?: string }).reason === 'ProbesAnswered');
      return c.every((x) => up(x) && x?.some((k) => k.type === 'ConntrackPressure')) ? true : undefined;
    }, 30_000, 100);
    const nodesBefore = await nodeConditions();
    const portsNow = () => Promise.all(vms.map(async (vm) => (await call('GET', `${G}/namespaces/default/virtualports/r-${vm.hypervisor.name}`)) as { metadata: { resourceVersion: string }; status: unknown }));
    const portsBefore = await portsNow();
    const before = await Promise.all(bed.hypervisors.map(ourFlows));
    const oldRounds = before.map((f) => [...f.rounds.keys()]);
    for (const r of oldRounds) expect(r).toHaveLength(1);

    // 700 pings 10 ms apart (7 s or more); kill -9 vnetd after 1 s and start a new one right away.
    // A count, not a deadline (-w): a deadline ends ping with the last reply still in flight,
    // which under load reads as one lost packet that the network never lost.
    const COUNT = 700;
    let out = '';
    // A few more are sent and not judged: ping waits only two RTTs for the last reply (pingArgs).
    pinger = spawn('ip', ['netns', 'exec', a.netns, ...pingArgs(target, COUNT)], { stdio: ['ignore', 'pipe', 'ignore'] });
    pinger.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    // 'close', not 'exit': the summary parsed below may still be unread when ping exits.
    const pingDone = new Promise((r) => pinger!.once('close', r));
    await new Promise((r) => setTimeout(r, 1000));
    await stopVnetdProcess(server, 'SIGKILL');
    const t0 = performance.now();
    server = await startVnetdProcess(dataDir, { VNETD_TUNNEL_PROBE_MS: '500' });
    // Converged: the new process has synced every node's table (its own count, from zero).
    const names = bed.hypervisors.map((hv) => hv.name);
    let synced = new Set<string>();
    await eventually(async () => {
      synced = await nodesInSync(server!.call);
      return names.every((n) => synced.has(n));
    }, 30_000, 50).catch((e: Error) => {
      throw new Error(`the new vnetd did not sync every node: in sync ${JSON.stringify([...synced])} of ${JSON.stringify(names)} (${e.message})`);
    });
    const convergeMs = performance.now() - t0;
    const after = await Promise.all(bed.hypervisors.map(ourFlows));
    await eventually(async () => (await udpToVip()) === 0, 10_000, 100);
    // Nothing about the ports changed, so the new process writes nothing to them: no Bound
    // flapping to Unknown while its OVSDB sessions connect, no rewritten Ready. (Read after
    // the sessions are up and the tables synced, and again a moment later.)
    await new Promise((r) => setTimeout(r, 1500));
    const portsAfter = await portsNow();
    await pingDone;
    const { sent, received, missing } = judgePings(out, COUNT);
    // A flow re-added by the new run would be younger than it was before the kill.
    const readded = after.flatMap((f, i) => [...f.ages].filter(([text, age]) => age < before[i]!.ages.get(text)!).map(([text]) => text));
    process.stdout.write(
      `[overlay-restart] ping every 10 ms: ${sent} sent, ${received} received, ${sent - received} lost${missing.length ? ` (icmp_seq ${missing.slice(0, 20).join(',')})` : ''}; every node synced by the new vnetd (${server.entry}) ${convergeMs.toFixed(0)} ms after kill -9; flows re-added: ${readded.length}; the VIP's UDP conntrack entries flushed by the new run\n`,
    );
    expect(sent).toBe(COUNT);
    expect(sent - received).toBe(0);
    // The same flows as before the crash, under the same round (nothing flushed, nothing
    // stale, nothing rewritten).
    for (const [i, f] of after.entries()) expect(f.rounds).toEqual(before[i]!.rounds);
    expect(readded).toEqual([]);
    expect(portsAfter.map((p) => p.status)).toEqual(portsBefore.map((p) => p.status));
    // Nor did the Nodes go Connecting (NotConnected) and back: same conditions, same times.
    expect(await nodeConditions()).toEqual(nodesBefore);
    expect(portsAfter.map((p) => p.metadata.resourceVersion)).toEqual(portsBefore.map((p) => p.metadata.resourceVersion));
    await stopVnetdProcess(server, 'SIGTERM');
    server = undefined;
  }, 120_000);
});
