#!/usr/bin/env node
/**
 * The entry of the single-file build (dist/bundle/vnetd.js): runs the bundle beside it
 * (vnetd-app.js) with V8's code cache kept in the data dir. Compiling the 5 MB bundle took
 * 0.1-0.15 s of each start (771-1120 ms to ready without the cache, 676-972 ms with it, eight
 * alternating restarts, 2026-12-02), and a restart's takeover of the fast path's connections
 * waits for the start. Node 20 has no module.enableCompileCache, hence vm.Script's cachedData.
 *
 * The cache is bytecode the process runs as its own: it is kept only in a data dir this user
 * owns and nobody else may write (never in /tmp), named by the bundle's SHA-256 (V8 checks
 * only the source's length), written once the process has run a while (so it holds the
 * functions start-up compiled), atomically, in place of earlier builds'. VNETD_CODE_CACHE=0 turns it off. What happened is
 * left in VNETD_CODE_CACHE_STATE for the ready log line. Imports nothing of vnetd: this file is
 * bundled alone.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { Script, constants } from 'node:vm';

const APP = join(__dirname, 'vnetd-app.js');
/** How long after start the cache is written (unref'd: a process that stops sooner writes none). */
const WRITE_AFTER_MS = 5_000;

/** dir, when it exists, belongs to this user and only this user may write it. */
function privateDir(dir: string): boolean {
  try {
    const st = statSync(dir);
    return st.isDirectory() && st.uid === process.getuid?.() && (st.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

function cacheFile(source: string): string | undefined {
  if (process.env.VNETD_CODE_CACHE === '0') return undefined;
  // As loadConfig resolves it; the data dir is made by vnetd itself (a first start has none yet).
  const dataDir = resolve(process.env.VNETD_DATA_DIR ?? '.vnetd');
  if (!privateDir(dataDir)) return undefined;
  const digest = createHash('sha256').update(source).update(process.version).digest('hex').slice(0, 32);
  return join(dataDir, 'code-cache', `vnetd-app-${digest}.bin`);
}

function readCache(file: string | undefined): Buffer | undefined {
  if (!file || !privateDir(dirname(file))) return undefined;
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

function writeCache(file: string, script: Script): void {
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    if (!privateDir(dirname(file))) return;
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, script.createCachedData(), { mode: 0o600 });
    renameSync(tmp, file);
    // Earlier builds' caches: each build names a new one (3 MB), and none is read again.
    for (const name of readdirSync(dirname(file))) if (/^vnetd-app-[0-9a-f]{32}\.bin$/.test(name) && name !== basename(file)) unlinkSync(join(dirname(file), name));
  } catch {
    // A read-only or full disk costs the next start the compile, nothing else.
  }
}

const source = readFileSync(APP, 'utf8').replace(/^#!.*/, '');
const file = cacheFile(source);
const cachedData = readCache(file);
const script = new Script(Module.wrap(source), { filename: APP, cachedData, importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER });
const used = cachedData !== undefined && !script.cachedDataRejected;
process.env.VNETD_CODE_CACHE_STATE = !file ? 'off' : used ? 'used' : cachedData ? 'rejected' : 'none';
if (file && !used) setTimeout(() => writeCache(file, script), WRITE_AFTER_MS).unref();

const app = new Module(APP, module);
app.filename = APP;
const run = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: Module, filename: string, dirname: string) => void;
run.call(app.exports, app.exports, createRequire(APP), app, APP, __dirname);
