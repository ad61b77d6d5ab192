/**
 * kill -9 of the vnetd process: every write acknowledged to a client survives, nothing
 * else appears, and address allocation stays unique across the crash.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { eventually, kubeconfigCaller, type ApiResponse } from '../support/vnetd';

const ROOT = resolve(__dirname, '..', '..');
const G = '/apis/vnet.dev/v1alpha1';

interface Server {
  child: ChildProcess;
  call(method: string, path: string, body?: unknown): Promise<ApiResponse>;
}

async function startServer(dataDir: string): Promise<Server> {
  const kubeconfig = join(dataDir, 'admin.kubeconfig');
  if (existsSync(kubeconfig)) unlinkSync(kubeconfig);
  // `node --import tsx` runs vnetd in this one process (the tsx CLI would fork a child
  // that a SIGKILL of the parent leaves running).
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/main.ts')], {
    cwd: ROOT,
    env: { ...process.env, VNETD_DATA_DIR: dataDir, VNETD_LISTEN: '127.0.0.1:0', VNETD_LOG_LEVEL: 'warn', VNETD_LOCAL_OVS: '0' },
    stdio: 'ignore',
  });
  // Start-up under tsx takes seconds on a quiet machine and can take half a minute on a loaded one.
  try {
    await eventually(async () => {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`vnetd exited while starting (code ${child.exitCode}, signal ${child.signalCode})`);
      return existsSync(kubeconfig);
    }, 45000, 50);
  } catch (err) {
    // Not returned to the caller, so nobody else would stop it.
    child.kill('SIGKILL');
    throw err;
  }
  return { child, call: kubeconfigCaller(kubeconfig) };
}

function kill9(s: Server): Promise<void> {
  return new Promise((r) => {
    s.child.once('exit', () => r());
    s.child.kill('SIGKILL');
  });
}

let dataDir: string;
let current: Server | undefined;

beforeAll(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'vnetd-crash-'));
});
afterAll(async () => {
  if (current && current.child.exitCode === null && current.child.signalCode === null) await kill9(current);
  rmSync(dataDir, { recursive: true, force: true });
});

it('keeps every acknowledged write and no other, and never hands out an address twice', async () => {
  current = await startServer(dataDir);
  expect((await current.call('POST', '/api/v1/namespaces', { metadata: { name: 'c' } })).status).toBe(201);
  expect((await current.call('POST', `${G}/namespaces/c/virtualnetworks`, { metadata: { name: 'n' }, spec: { subnets: [{ cidr: '10.0.0.0/22' }] } })).status).toBe(201);

  // A burst of port creations, 8 in flight at a time, killed in the middle.
  const acked = new Map<string, string>();
  const attempted = new Set<string>();
  let stop = false;
  const worker = async (w: number) => {
    for (let i = 0; !stop; i++) {
      const name = `p-${w}-${i}`;
      attempted.add(name);
      try {
        const r = await current!.call('POST', `${G}/namespaces/c/virtualports`, { metadata: { name }, spec: { network: 'n' } });
        if (r.status === 201) acked.set(name, r.json.spec.ips[0]);
      } catch {
        return; // connection reset by the kill
      }
    }
  };
  const workers = Array.from({ length: 8 }, (_, w) => worker(w));
  await eventually(async () => acked.size >= 100, 30000, 10);
  const victim = current;
  await kill9(victim);
  stop = true;
  await Promise.all(workers);

  current = await startServer(dataDir);
  const list = await current.call('GET', `${G}/namespaces/c/virtualports`);
  const stored = new Map<string, string>(list.json.items.map((p: { metadata: { name: string }; spec: { ips: string[] } }) => [p.metadata.name, p.spec.ips[0]]));
  for (const [name, ip] of acked) expect(stored.get(name)).toBe(ip);
  for (const name of stored.keys()) expect(attempted.has(name)).toBe(true);
  expect(stored.size - acked.size).toBeLessThanOrEqual(8); // at most the in-flight ones

  // After the restart, 100 more concurrent creations still get distinct addresses.
  const more = await Promise.all(
    Array.from({ length: 100 }, (_, i) => current!.call('POST', `${G}/namespaces/c/virtualports`, { metadata: { name: `after-${i}` }, spec: { network: 'n' } })),
  );
  expect(more.every((r) => r.status === 201)).toBe(true);
  const all = [...stored.values(), ...more.map((r) => r.json.spec.ips[0] as string)];
  expect(new Set(all).size).toBe(all.length);
  await kill9(current);
}, 120000);
