/**
 * Hitless controller restart: `kill -9` of the vnetd process while two VMs on different
 * hypervisors ping each other every 10 ms, then a new vnetd on the same data dir. No
 * packet may be lost (the flows stay on the switches; the new process installs its own
 * cookie round and deletes the old one only afterwards), and the tables end up equal to
 * what they were, under the new round only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { startTestbed, type Hypervisor, type Testbed, type Vm } from '../harness/testbed';
import { describeOvs } from '../integration/ovsdb-helpers';
import { eventually, httpsCall, type ApiResponse } from '../support/vnetd';

const ROOT = resolve(__dirname, '..', '..');
const G = '/apis/vnet.dev/v1alpha1';

interface Server {
  child: ChildProcess;
  call(method: string, path: string, body?: unknown): Promise<ApiResponse>;
}

let runs = 0;

async function startServer(dataDir: string): Promise<Server> {
  const kubeconfig = join(dataDir, 'admin.kubeconfig');
  if (existsSync(kubeconfig)) unlinkSync(kubeconfig);
  const log = openSync(join(dataDir, `vnetd-${++runs}.log`), 'w');
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/main.ts')], {
    cwd: ROOT,
    env: { ...process.env, VNETD_DATA_DIR: dataDir, VNETD_LISTEN: '127.0.0.1:0', VNETD_LOG_LEVEL: process.env.VNETD_TEST_LOG ?? 'warn', VNETD_LOCAL_OVS: '0', VNETD_CHASSIS: '1' },
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  await eventually(async () => existsSync(kubeconfig), 60_000, 50);
  const cfg = parse(readFileSync(kubeconfig, 'utf8')) as {
    clusters: { cluster: { server: string; 'certificate-authority-data': string } }[];
    users: { user: { token: string } }[];
  };
  const server = cfg.clusters[0]!.cluster.server;
  const ca = Buffer.from(cfg.clusters[0]!.cluster['certificate-authority-data'], 'base64').toString();
  const token = cfg.users[0]!.user.token;
  return { child, call: (method, path, body) => httpsCall(server, ca, method, path, body, { defaultToken: token }) };
}

function kill(s: Server, signal: NodeJS.Signals): Promise<void> {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => {
    s.child.once('exit', () => r());
    s.child.kill(signal);
  });
}

/** Our flows on br-int (cookie app byte 0x56) as round -> normalized texts. */
async function ourFlows(hv: Hypervisor): Promise<Map<number, string[]>> {
  const out = await hv.ovs.ofctl(['-O', 'OpenFlow13', 'dump-flows', `unix:${hv.ovs.bridgeMgmtSocket('br-int')}`]);
  const rounds = new Map<number, string[]>();
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
  }
  for (const v of rounds.values()) v.sort();
  return rounds;
}

describeOvs('overlay: controller restart', () => {
  let dataDir: string;
  let server: Server | undefined;
  let bed: Testbed | undefined;
  let pinger: ChildProcess | undefined;

  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'vnetd-restart-'));
  });
  afterAll(async () => {
    if (pinger?.pid && pinger.exitCode === null) process.kill(pinger.pid, 'SIGTERM');
    if (server) await kill(server, 'SIGKILL');
    await bed?.stop();
    if (process.env.VNETD_TEST_LOG) for (let i = 1; i <= runs; i++) process.stdout.write(`--- vnetd run ${i}\n${readFileSync(join(dataDir, `vnetd-${i}.log`), 'utf8')}`);
    rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  it('kill -9 of vnetd during a 10 ms ping loses nothing; the new run replaces the old cookie round', async () => {
    server = await startServer(dataDir);
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
    const before = await Promise.all(bed.hypervisors.map(ourFlows));
    const oldRounds = before.map((m) => [...m.keys()]);
    for (const r of oldRounds) expect(r).toHaveLength(1);

    // 700 pings 10 ms apart (7 s or more); kill -9 vnetd after 1 s and start a new one right away.
    // A count, not a deadline (-w): a deadline ends ping with the last reply still in flight,
    // which under load reads as one lost packet that the network never lost.
    const COUNT = 700;
    let out = '';
    pinger = spawn('ip', ['netns', 'exec', a.netns, 'ping', '-i', '0.01', '-c', String(COUNT), '-W', '2', target], { stdio: ['ignore', 'pipe', 'ignore'] });
    pinger.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    // 'close', not 'exit': the summary parsed below may still be unread when ping exits.
    const pingDone = new Promise((r) => pinger!.once('close', r));
    await new Promise((r) => setTimeout(r, 1000));
    await kill(server, 'SIGKILL');
    const t0 = performance.now();
    server = await startServer(dataDir);
    // Converged: every node has exactly one round of ours, a new one.
    let seen: number[][] = [];
    const after = await eventually(
      async () => {
        const flows = await Promise.all(bed!.hypervisors.map(ourFlows));
        seen = flows.map((m) => [...m.keys()]);
        return flows.every((m, i) => m.size === 1 && !m.has(oldRounds[i]![0]!)) ? flows : undefined;
      },
      30_000,
      100,
    ).catch((e: Error) => {
      throw new Error(`rounds did not converge: before ${JSON.stringify(oldRounds)}, now ${JSON.stringify(seen)} (${e.message})`);
    });
    const convergeMs = performance.now() - t0;
    await pingDone;
    const sent = Number(/(\d+) packets transmitted/.exec(out)?.[1] ?? 0);
    const received = Number(/(\d+) received/.exec(out)?.[1] ?? 0);
    const answered = new Set([...out.matchAll(/icmp_seq=(\d+)/g)].map((m) => Number(m[1])));
    const missing = Array.from({ length: sent }, (_, i) => i + 1).filter((seq) => !answered.has(seq));
    process.stdout.write(
      `[overlay-restart] ping every 10 ms: ${sent} sent, ${received} received, ${sent - received} lost${missing.length ? ` (icmp_seq ${missing.slice(0, 20).join(',')})` : ''}; new round installed and old one gone ${convergeMs.toFixed(0)} ms after kill -9\n`,
    );
    expect(sent).toBe(COUNT);
    expect(sent - received).toBe(0);
    // The same flows as before the crash, only under the new round (nothing flushed, nothing stale).
    for (const [i, m] of after.entries()) expect([...m.values()][0]).toEqual([...before[i]!.values()][0]);
    await kill(server, 'SIGTERM');
    server = undefined;
  }, 120_000);
});
