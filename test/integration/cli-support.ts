/**
 * Runs vnetctl as a subprocess, the way users run it. The CLI is bundled once per test
 * file with esbuild (a node start of the bundle takes ~0.25 s against ~0.8 s through
 * tsx); set VNETCTL_BIN=dist/cli/main.js to test the tsc build instead.
 */
import { spawn } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { scratchDir } from '../support/scratch';

const ROOT = resolve(__dirname, '..', '..');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A long-running command (watch, wait): read its output as it comes, then interrupt it like Ctrl-C. */
export interface RunningCli {
  /** Resolves once stdout matches (rejects after timeoutMs). */
  until(re: RegExp, timeoutMs?: number): Promise<void>;
  /** Sends SIGINT and resolves with the result. */
  interrupt(): Promise<CliResult>;
}

export interface CliRunner {
  /** The argv that runs vnetctl (node and the bundle), for a wrapper script or a shell. */
  argv: string[];
  start(args: string[]): RunningCli;
  /** uid/gid: run as that user (the test runs as root), e.g. 65534 for an unprivileged user. */
  run(args: string[], opts?: { env?: Record<string, string | undefined>; stdin?: string; cwd?: string; uid?: number; gid?: number }): Promise<CliResult>;
}

async function bundle(): Promise<string[]> {
  if (process.env.VNETCTL_BIN) return [resolve(ROOT, process.env.VNETCTL_BIN)];
  const dir = scratchDir('vnetctl-bin');
  // Readable by every user: tests also run the CLI as an unprivileged user.
  chmodSync(dir, 0o755);
  const out = join(dir, 'vnetctl.js');
  try {
    const esbuild = require('esbuild') as typeof import('esbuild');
    await esbuild.build({ entryPoints: [join(ROOT, 'src/cli/main.ts')], bundle: true, platform: 'node', target: 'node20', outfile: out, logLevel: 'warning' });
    return [out];
  } catch {
    return ['--import', 'tsx', join(ROOT, 'src/cli/main.ts')];
  }
}

export async function cliRunner(baseEnv: Record<string, string | undefined>): Promise<CliRunner> {
  const entry = await bundle();
  const envOf = (extra: Record<string, string | undefined> = {}) => {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries({ PATH: process.env.PATH, HOME: '/nonexistent-home', ...baseEnv, ...extra })) if (v !== undefined) env[k] = v;
    return env;
  };
  return {
    argv: [process.execPath, ...entry],
    start(args) {
      const child = spawn(process.execPath, [...entry, ...args], { cwd: ROOT, env: envOf(), stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const closed = new Promise<CliResult>((r) => child.on('close', (code) => r({ code: code ?? -1, stdout, stderr })));
      return {
        async until(re, timeoutMs = 15_000) {
          const deadline = Date.now() + timeoutMs;
          while (!re.test(stdout)) {
            if (Date.now() > deadline) throw new Error(`vnetctl ${args.join(' ')}: stdout never matched ${re}: ${JSON.stringify(stdout)} ${stderr}`);
            await new Promise((r) => setTimeout(r, 25));
          }
        },
        interrupt() {
          child.kill('SIGINT');
          return closed;
        },
      };
    },
    run(args, opts = {}) {
      return new Promise((resolvePromise) => {
        const env: Record<string, string> = {};
        for (const [k, v] of Object.entries({ PATH: process.env.PATH, HOME: '/nonexistent-home', ...baseEnv, ...opts.env })) if (v !== undefined) env[k] = v;
        // libuv drops the supplementary groups when it changes uid/gid (setgroups(0, NULL)).
        const ids = opts.uid !== undefined ? { uid: opts.uid, gid: opts.gid ?? opts.uid } : {};
        const child = spawn(process.execPath, [...entry, ...args], { cwd: opts.cwd ?? ROOT, env, stdio: ['pipe', 'pipe', 'pipe'], ...ids });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
        child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
        child.on('close', (code) => resolvePromise({ code: code ?? -1, stdout, stderr }));
        child.stdin.end(opts.stdin ?? '');
      });
    },
  };
}

/** vnetctl's stdout; a non-zero exit throws, naming the command, its code and its stderr. */
export async function cliOk(cli: CliRunner, ...args: string[]): Promise<string> {
  const r = await cli.run(args);
  if (r.code !== 0) throw new Error(`vnetctl ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** A refusal as vnetctl gives one: one line on stderr ("error: ..."), the exit code, nothing on stdout. Returns the stderr. */
export async function cliFails(cli: CliRunner, code: number, ...args: string[]): Promise<string> {
  const r = await cli.run(args);
  expect({ code: r.code, stdout: r.stdout }).toEqual({ code, stdout: '' });
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(/^error: /);
  return r.stderr;
}
