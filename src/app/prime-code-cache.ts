/**
 * The last step of `npm run build`: starts the bundle once (a private data dir, no OVS, the API
 * on a loopback port the kernel picks) and stops it once it is ready, so that its entry writes
 * V8's code cache of what start-up compiled beside the bundle. Every start that has no cache of
 * its own in its data dir reads that one: an image's pods (their data dir is an emptyDir, which
 * others may write), a first start, the tests. A build whose cache is already there skips it.
 *
 * Fails the build with one line when the start does: a bundle that cannot start should not ship.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { codeCacheName, readAppSource } from './code-cache';

const BUNDLE_DIR = resolve(__dirname, '..', 'bundle');
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 20_000;

/** The line of a failed start's output that says why: an uncaught error's, or vnetd's own error or fatal log line. */
function firstError(output: string): string {
  const lines = output.split('\n').filter((l) => l.trim() !== '');
  const error = lines.find((l) => /^\w*Error\b|"level":(50|60)\b/.test(l));
  return (error ?? lines.at(-1) ?? 'no output').slice(0, 400);
}

async function prime(): Promise<string> {
  const name = codeCacheName(readAppSource(join(BUNDLE_DIR, 'vnetd-app.js')));
  const cache = join(BUNDLE_DIR, name);
  if (existsSync(cache)) return cache;
  const dataDir = mkdtempSync(join(tmpdir(), 'vnetd-prime-'));
  try {
    // Only what this start needs: NODE_OPTIONS or a VNETD_STORE of the builder's would change what compiles (or V8's flags, which a cache must match).
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', VNETD_DATA_DIR: dataDir, VNETD_LOCAL_OVS: '0', VNETD_LISTEN: '127.0.0.1:0', VNETD_LOG_LEVEL: 'info', VNETD_CODE_CACHE_PRIME: '1' };
    const child = spawn(process.execPath, [join(BUNDLE_DIR, 'vnetd.js')], { cwd: dataDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    const ready = await new Promise<boolean>((done) => {
      const timer = setTimeout(() => done(false), START_TIMEOUT_MS);
      const see = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('"vnetd.ready"')) done(true);
      };
      child.stdout.on('data', see);
      child.stderr.on('data', see);
      void exited.then(() => done(false)).finally(() => clearTimeout(timer));
    });
    if (child.exitCode === null) child.kill('SIGTERM');
    const kill = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    const code = await exited;
    clearTimeout(kill);
    if (!ready) throw new Error(`the bundle did not start (exit ${code ?? 'by signal'}): ${firstError(output)}`);
    if (!existsSync(cache)) throw new Error(`the bundle stopped (exit ${code ?? 'by signal'}) without writing ${cache}`);
    return cache;
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

prime().then(
  () => undefined,
  (err: unknown) => {
    process.stderr.write(`prime-code-cache: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
