/**
 * A load balancer's SCTP listener across two simulated hypervisors. The kernel here has no
 * SCTP module, so the VMs speak SCTP by hand over raw sockets (test/support/sctp-raw.py):
 * a client's INIT to the VIP reaches a backend with the backend's address and the target
 * port, the backend's INIT-ACK comes back from the VIP, and a listener without a backend
 * answers an INIT with an ABORT from the VIP (RFC 9260 8.4: an out-of-the-blue INIT), so the
 * client's connect fails at once rather than retrying for a minute.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Vm } from '../harness/testbed';
import { describeOvs } from '../integration/ovsdb-helpers';
import { eventually } from '../support/vnetd';
import { G, overlayApi, overlayBed, type Obj } from './overlay-support';

const SCTP_RAW = join(__dirname, '..', 'support', 'sctp-raw.py');
const NS = 'e-lbsctp';
/** OVS's userspace conntrack keeps SCTP ports from 3.2 on: before, every association of a client to a VIP is one connection. */
const ovsVersion = execFileSync('ovs-vswitchd', ['--version'], { encoding: 'utf8' }).match(/(\d+)\.(\d+)/)!.slice(1).map(Number);
const sctpPortsTracked = ovsVersion[0]! > 3 || (ovsVersion[0] === 3 && ovsVersion[1]! >= 2);

function log(line: string): void {
  process.stdout.write(`[overlay-lb-sctp] ${line}\n`);
}

type Answer = { timeout?: true; from?: string; sport?: number; dport?: number; vtag?: number; chunk?: number; flags?: number; crc_ok?: boolean };
type Seen = { from: string; to: string; sport: number; dport: number; tag: number };

describeOvs('overlay: load balancer with an SCTP listener', () => {
  const fixture = overlayBed();
  const { children } = fixture;
  const api = overlayApi(fixture.vnetd);
  const { call, waitReady, network, replace } = api;
  const vmFor = (name: string, hv: string) => api.vmFor(fixture.bed(), NS, 'net', name, hv, { vmName: `sc${name}`.slice(0, 8) });

  const init = async (client: Vm, vip: string, port: number, sport: number, tag: number): Promise<Answer> =>
    JSON.parse(await client.exec(['python3', SCTP_RAW, 'init', vip, String(port), String(sport), String(tag), '2'])) as Answer;

  /** A backend answering INITs; what it saw, line by line. */
  const serve = async (vm: Vm, name: string): Promise<{ seen: Seen[]; child: ChildProcess }> => {
    const child = spawn('ip', ['netns', 'exec', vm.netns, 'python3', SCTP_RAW, 'serve', name], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.add(child);
    child.on('exit', () => children.delete(child));
    const seen: Seen[] = [];
    let buf = '';
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`sctp server ${name} did not start`)), 10_000);
      child.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        const lines = buf.split('\n');
        buf = lines.pop()!;
        for (const l of lines) {
          const o = JSON.parse(l) as Seen | { listening: string };
          if ('listening' in o) {
            clearTimeout(t);
            resolve();
          } else seen.push(o);
        }
      });
    });
    return { seen, child };
  };

  it('an INIT to the VIP reaches a backend at its address and target port, its INIT-ACK comes back from the VIP; with no backend, an ABORT from the VIP', async () => {
    await network(NS, 'net', { subnets: [{ cidr: '10.62.0.0/24' }] });
    const client = await vmFor('client', 'hv1');
    const b1 = await vmFor('b1', 'hv1');
    const b2 = await vmFor('b2', 'hv2');
    const servers = [await serve(b1.vm, 'b1'), await serve(b2.vm, 'b2')];
    const vip = '10.62.0.100';
    await call('POST', `${G}/namespaces/${NS}/loadbalancers`, {
      metadata: { name: 'sig' },
      spec: { network: 'net', vip, listeners: [{ protocol: 'SCTP', port: 38412, targetPort: 9000 }], backends: [{ port: 'b1' }, { port: 'b2' }] },
    });
    await waitReady(NS, 'loadbalancers', 'sig', 30_000);
    // Each INIT from its own source port; each is answered by the backend it was dealt to,
    // through the VIP (the first one may meet a node still applying the load balancer).
    const answers: Answer[] = [];
    for (let i = 0; i < 8; i++) {
      const tag = 0x1000 + i;
      answers.push(await eventually(async () => {
        const a = await init(client.vm, vip, 38412, 40000 + i, tag);
        return a.timeout ? undefined : a;
      }, 10_000, 100));
    }
    const seen = servers.flatMap((s, i) => s.seen.map((x) => ({ ...x, backend: `b${i + 1}` })));
    log(`8 INITs to ${vip}:38412 (targetPort 9000; OVS ${ovsVersion.join('.')}): answers ${JSON.stringify(answers.map((a) => `${a.from}:${a.sport}->${a.dport} chunk ${a.chunk} tag ${a.vtag}`))}; backends saw ${JSON.stringify(seen.map((x) => `${x.backend} ${x.from}:${x.sport}->${x.to}:${x.dport}`))}`);
    // The backends were reached at their own address and the target port (before 2026-11-30,
    // on OVS 3.1, at the VIP's port 38412), and their INIT-ACKs reached the client from the
    // VIP's address and port, checksums right (OVS recomputes SCTP's CRC32c on each rewrite).
    expect(seen.length).toBeGreaterThanOrEqual(8);
    for (const x of seen) expect(x).toMatchObject({ from: client.port.spec!.ips![0], to: x.backend === 'b1' ? b1.port.spec!.ips![0] : b2.port.spec!.ips![0], dport: 9000 });
    for (const [i, a] of answers.entries()) expect(a).toMatchObject({ from: vip, sport: 38412, dport: 40000 + i, vtag: 0x1000 + i, chunk: 2, crc_ok: true });
    const backendsSeen = new Set(seen.map((x) => x.backend));
    if (sctpPortsTracked) expect(backendsSeen.size).toBe(2);
    else log(`OVS ${ovsVersion.join('.')} tracks SCTP by addresses: all of one client's associations went to ${[...backendsSeen].join(', ')}`);

    // No backend any more: an INIT is answered at once with an ABORT from the VIP, tagged
    // with the INIT's Initiate Tag (T bit clear), so the client's connect fails with
    // ECONNREFUSED; before, the INIT was dropped and the client retried for a minute.
    await replace<Obj & { spec: Record<string, unknown> }>(`${G}/namespaces/${NS}/loadbalancers/sig`, (cur) => ({ ...cur, spec: { ...cur.spec, backends: [] } }));
    const t0 = performance.now();
    const abort = await eventually(async () => {
      const a = await init(client.vm, vip, 38412, 41000, 0xabcdef);
      return a.chunk === 6 ? a : undefined;
    }, 15_000, 100);
    log(`no backend: an INIT answered with ${JSON.stringify(abort)} ${(performance.now() - t0).toFixed(0)} ms after the change`);
    expect(abort).toMatchObject({ from: vip, sport: 38412, dport: 41000, vtag: 0xabcdef, chunk: 6, flags: 0, crc_ok: true });
  }, 120_000);
});
