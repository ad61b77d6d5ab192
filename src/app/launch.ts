#!/usr/bin/env node
/**
 * The entry of the single-file build (dist/bundle/vnetd.js): runs the bundle beside it
 * (vnetd-app.js) with a V8 code cache. Compiling the 5 MB bundle took 0.1-0.15 s of each start
 * (771-1120 ms to ready without a cache, 676-972 ms with one, eight alternating restarts,
 * 2026-12-02), and a restart's takeover of the fast path's connections waits for the start.
 * Node 20 has no module.enableCompileCache, hence vm.Script's cachedData.
 *
 * Two caches, the first found is read: DATA_DIR/code-cache (written by this process once it
 * has run a while, so it holds what this role compiled; only where the data dir belongs to
 * this user and nobody else may write it, never in /tmp), then the build's own beside the
 * bundle (`npm run build` primes it from a start; a pod's data dir is an emptyDir others may
 * write, so there it is the only one). VNETD_CODE_CACHE=0 turns both off. What happened is left
 * in VNETD_CODE_CACHE_STATE for the ready log line: used (the data dir's), shipped (the
 * build's), none, rejected (V8 refused it: a compile, nothing else), off.
 * VNETD_CODE_CACHE_PRIME=1 is the build's primer (prime-code-cache.ts): compile afresh and
 * write the build's cache at exit. Imports nothing of vnetd but code-cache.ts: this file is
 * bundled alone.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { Script, constants } from 'node:vm';
import { codeCacheName, privateDir, protectedLike, readAppSource, replaceCache } from './code-cache';

const APP = join(__dirname, 'vnetd-app.js');
/** How long after start the data dir's cache is written (unref'd: a process that stops sooner writes none). */
const WRITE_AFTER_MS = 5_000;

const source = readAppSource(APP);
const name = codeCacheName(source);
const off = process.env.VNETD_CODE_CACHE === '0';
const priming = process.env.VNETD_CODE_CACHE_PRIME === '1';
/** Turned off, or the primer (which compiles afresh and writes only the build's): no cache is read, nor the data dir's written. */
const readsCaches = !off && !priming;
// As loadConfig resolves it; the data dir is made by vnetd itself (a first start has none yet).
const dataDir = resolve(process.env.VNETD_DATA_DIR ?? '.vnetd');
const ownFile = !readsCaches || !privateDir(dataDir) ? undefined : join(dataDir, 'code-cache', name);
const shippedFile = join(__dirname, name);

function read(file: string | undefined, trusted: (file: string) => boolean): Buffer | undefined {
  if (!file || !trusted(file)) return undefined;
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

const own = read(ownFile, (f) => privateDir(dirname(f)));
const cachedData = own ?? (readsCaches ? read(shippedFile, (f) => protectedLike(f, APP)) : undefined);
const script = new Script(Module.wrap(source), { filename: APP, cachedData, importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER });
const rejected = cachedData !== undefined && script.cachedDataRejected === true;
process.env.VNETD_CODE_CACHE_STATE = off ? 'off' : !cachedData ? 'none' : rejected ? 'rejected' : own ? 'used' : 'shipped';

if (ownFile && (!own || rejected)) {
  setTimeout(() => {
    try {
      mkdirSync(dirname(ownFile), { recursive: true, mode: 0o700 });
      if (privateDir(dirname(ownFile))) replaceCache(ownFile, script.createCachedData(), 0o600);
    } catch {
      // A read-only or full disk costs the next start the compile, nothing else.
    }
  }, WRITE_AFTER_MS).unref();
}
// Only from a start that ran and stopped cleanly; readable by every user the bundle runs as (the image's controller is not its owner).
if (priming) process.once('exit', (code) => code === 0 && replaceCache(shippedFile, script.createCachedData(), 0o644));

const app = new Module(APP, module);
app.filename = APP;
const run = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: Module, filename: string, dirname: string) => void;
run.call(app.exports, app.exports, createRequire(APP), app, APP, __dirname);
