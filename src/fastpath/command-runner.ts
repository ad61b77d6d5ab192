/**
 * Runs short commands (iproute2, sysctl, ping) from a small helper process rather than from
 * vnetd's own. Node forks to spawn, and forking vnetd while it carries a thousand ports held
 * its event loop 15-25 ms per command: the fast path's underlay refresh (three commands per
 * node every 5 s) was 689 ms of the main thread in one bench:converge run at N=1000, and an
 * API request arriving meanwhile waited for it (2026-12-01 profile). The helper, a bare Node
 * process, forks cheaply and off vnetd's event loop.
 *
 * The helper starts on first use and is started again if it dies (its pending commands fail);
 * it neither keeps vnetd alive nor outlives it: it ends when its stdin closes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';

/** The helper: newline-delimited JSON requests on stdin, one JSON line per answer on stdout. */
const HELPER = `const {execFile}=require('child_process');let buf='';const running=new Set();process.stdin.setEncoding('utf8');
process.stdin.on('data',(d)=>{buf+=d;let i;while((i=buf.indexOf('\\n'))>=0){const r=JSON.parse(buf.slice(0,i));buf=buf.slice(i+1);
const c=execFile(r.file,r.args,{timeout:r.timeoutMs,maxBuffer:64<<20},(err,stdout,stderr)=>{running.delete(c);process.stdout.write(JSON.stringify({id:r.id,stdout:String(stdout??''),error:err?(String(stderr).trim()||String(err.message).trim())+(err.signal?' (killed: '+err.signal+')':''):undefined})+'\\n')});running.add(c);}});
process.stdin.on('end',()=>{for(const c of running)c.kill();process.exit(0)});`;

interface Pending {
  resolve(stdout: string): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export class CommandRunner {
  private child?: ChildProcess;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  /** file's stdout; rejects when it fails or exits non-zero (its stderr), or takes longer than timeoutMs. */
  run(file: string, args: readonly string[], timeoutMs: number): Promise<string> {
    const child = this.helper();
    const id = this.nextId++;
    return new Promise<string>((resolve, reject) => {
      // The helper's own timeout ends the command; this one also covers a helper that hangs,
      // and keeps the process alive while the command runs (the helper's pipes do not).
      const timer = setTimeout(() => this.settle(id, new Error(`${file} ${args.join(' ')}: no answer in ${timeoutMs + 1000} ms`)), timeoutMs + 1000);
      this.pending.set(id, { resolve, reject, timer });
      child.stdin!.write(`${JSON.stringify({ id, file, args, timeoutMs })}\n`);
    });
  }

  /** Ends the helper (it exits when its stdin closes); pending commands fail. */
  close(): void {
    const child = this.child;
    this.child = undefined;
    child?.stdin?.end();
    this.failAll(new Error('command runner closed'));
  }

  private helper(): ChildProcess {
    if (this.child) return this.child;
    // Not vnetd's NODE_OPTIONS (an --inspect port, a preload): the helper is plain Node.
    const child = spawn(process.execPath, ['-e', HELPER], { stdio: ['pipe', 'pipe', 'ignore'], env: { ...process.env, NODE_OPTIONS: '' } });
    this.child = child;
    // Each helper its own buffer: the rest of a dead one's output must not mix into the next's.
    let buf = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      if (this.child !== child) return;
      buf += d;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        let answer: { id: number; stdout: string; error?: string };
        try {
          answer = JSON.parse(line) as typeof answer;
        } catch {
          // Never from a sound helper: start afresh (its commands fail, the next gets a new one).
          child.kill('SIGKILL');
          return;
        }
        this.settle(answer.id, answer.error !== undefined ? new Error(answer.error) : undefined, answer.stdout);
      }
    });
    const gone = (why: string) => {
      if (this.child !== child) return;
      this.child = undefined;
      this.failAll(new Error(`command helper ${why}`));
    };
    child.on('exit', (code, signal) => gone(`exited (${signal ?? code})`));
    child.on('error', (err) => gone(`failed: ${err.message}`));
    // A write to a helper that just died fails its command through 'exit', not as an uncaught error.
    child.stdin!.on('error', () => undefined);
    // Neither the helper nor its pipes keep vnetd running.
    child.unref();
    (child.stdin as Socket).unref();
    (child.stdout as Socket).unref();
    return child;
  }

  private settle(id: number, err: Error | undefined, stdout = ''): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (err) p.reject(err);
    else p.resolve(stdout);
  }

  private failAll(err: Error): void {
    for (const id of [...this.pending.keys()]) this.settle(id, err);
  }
}
