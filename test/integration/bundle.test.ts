/**
 * What `npm start` runs: the single-file build (dist/bundle/vnetd.js, esbuild, made by
 * `npm run build`). It must find what the per-file build finds beside it (schemas/, the
 * native library, the externals in node_modules) and serve the same API; on a restart it
 * is up in about two thirds of the per-file build's time (README, bench:converge). Its entry
 * (src/app/launch.ts) runs the bundle with V8's code cache kept in a private data dir.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { eventually, kubeconfigCaller } from '../support/vnetd';
import { startVnetdProcess, stopVnetdProcess } from '../support/vnetd-process';

const ROOT = resolve(__dirname, '..', '..');
const BUNDLE = join(ROOT, 'dist', 'bundle', 'vnetd.js');
const built = existsSync(BUNDLE);
if (!built) process.stdout.write('SKIP bundle test: dist/bundle/vnetd.js is not built (npm test builds it first; or run npm run build)\n');

(built ? describe : describe.skip)('the bundled vnetd (npm start)', () => {
  it('serves the API on a fresh data dir, validates against the schemas, and stops on SIGTERM', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'vnetd-bundle-'));
    const child = spawn(process.execPath, [BUNDLE], {
      cwd: tmpdir(), // nothing may depend on the working directory
      env: { ...process.env, VNETD_DATA_DIR: dataDir, VNETD_LISTEN: '127.0.0.1:0', VNETD_LOG_LEVEL: 'warn', VNETD_LOCAL_OVS: '0' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      const kubeconfig = join(dataDir, 'admin.kubeconfig');
      await eventually(async () => {
        if (child.exitCode !== null) throw new Error(`vnetd exited while starting (${child.exitCode}): ${stderr}`);
        return existsSync(kubeconfig);
      }, 45_000, 50);
      const call = kubeconfigCaller(kubeconfig);

      expect((await call('GET', '/version')).status).toBe(200);
      const G = '/apis/vnet.dev/v1alpha1/namespaces/default/virtualnetworks';
      const created = await call('POST', G, { metadata: { name: 'b' }, spec: { subnets: [{ cidr: '10.9.0.0/24' }] } });
      expect(created.status).toBe(201);
      // The CRD schemas are read from schemas/ next to the package: a bad field is refused by name.
      const bad = await call('POST', G, { metadata: { name: 'bad' }, spec: { subnets: [{ cidr: 7 }] } });
      expect(bad.status).toBe(422);
      expect(bad.json).toMatchObject({ kind: 'Status', reason: 'Invalid' });
      expect((await call('GET', '/metrics')).text).toContain('vnetd_store_revision');
    } finally {
      child.kill('SIGTERM');
      const code = await exited;
      rmSync(dataDir, { recursive: true, force: true });
      expect(code).toBe(0);
    }
  }, 60_000);
});

/** The bundle on dataDir until it is ready: its ready line's codeCache, and a stop that returns the exit code. */
async function startBundle(dataDir: string): Promise<{ codeCache: string | undefined; stop(): Promise<number | null> }> {
  const p = await startVnetdProcess(dataDir, { VNETD_LOG_LEVEL: 'info', VNETD_CHASSIS: '0' }, { entry: 'bundle' });
  const stop = async () => {
    await stopVnetdProcess(p, 'SIGTERM');
    return p.child.exitCode;
  };
  try {
    const ready = await eventually(async () => readFileSync(p.log, 'utf8').split('\n').find((l) => l.includes('"vnetd.ready"')), 10_000, 20);
    return { codeCache: (JSON.parse(ready) as { codeCache?: string }).codeCache, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

(built ? describe : describe.skip)('the bundle\'s code cache (src/app/launch.ts)', () => {
  let dataDir: string;
  beforeEach(() => (dataDir = mkdtempSync(join(tmpdir(), 'vnetd-codecache-'))));
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));
  const cacheDir = () => join(dataDir, 'code-cache');
  const cached = () => (existsSync(cacheDir()) ? readdirSync(cacheDir()) : []);

  it('is written in the data dir by a process that ran a while, in place of an earlier build\'s, and used by the next start', async () => {
    mkdirSync(cacheDir(), { mode: 0o700 });
    const stale = `vnetd-app-${'0'.repeat(32)}.bin`;
    writeFileSync(join(cacheDir(), stale), 'an earlier build');
    const first = await startBundle(dataDir);
    expect(first.codeCache).toBe('none');
    await eventually(async () => cached().length === 1 && cached()[0] !== stale, 15_000, 100);
    expect(await first.stop()).toBe(0);
    expect(cached()[0]).toMatch(/^vnetd-app-[0-9a-f]{32}\.bin$/);
    const second = await startBundle(dataDir);
    expect(second.codeCache).toBe('used');
    expect(await second.stop()).toBe(0);
  }, 60_000);

  it('a cache V8 refuses (corrupt) costs only the compile: the process serves, and writes a good one', async () => {
    const first = await startBundle(dataDir);
    await eventually(async () => cached().length === 1, 15_000, 100);
    await first.stop();
    const [name] = cached();
    writeFileSync(join(cacheDir(), name!), Buffer.alloc(4096, 0x5a));
    const second = await startBundle(dataDir);
    expect(second.codeCache).toBe('rejected');
    await eventually(async () => statSync(join(cacheDir(), name!)).size !== 4096, 15_000, 100);
    await second.stop();
    const third = await startBundle(dataDir);
    expect(third.codeCache).toBe('used');
    await third.stop();
  }, 60_000);

  it('is neither read nor written where others may write the data dir, or with VNETD_CODE_CACHE=0', async () => {
    mkdirSync(cacheDir(), { mode: 0o700 });
    chmodSync(dataDir, 0o777);
    const open = await startBundle(dataDir);
    expect(open.codeCache).toBe('off');
    await open.stop();
    chmodSync(dataDir, 0o700);
    process.env.VNETD_CODE_CACHE = '0';
    try {
      const off = await startBundle(dataDir);
      expect(off.codeCache).toBe('off');
      await off.stop();
    } finally {
      delete process.env.VNETD_CODE_CACHE;
    }
    expect(cached()).toEqual([]);
  }, 60_000);
});
