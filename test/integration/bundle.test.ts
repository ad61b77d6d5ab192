/**
 * What `npm start` runs: the single-file build (dist/bundle/vnetd.js, esbuild, made by
 * `npm run build`). It must find what the per-file build finds beside it (schemas/, the
 * native library, the externals in node_modules) and serve the same API; on a restart it
 * is up in about two thirds of the per-file build's time (README, bench:converge).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { eventually, kubeconfigCaller } from '../support/vnetd';

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
