/** CPU time of other processes, for the benchmarks that compare vnetd's with OVS's. */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/**
 * CPU time (user + system, all threads, ms) a process has used, from /proc/PID/stat: unlike
 * wall time it hardly moves with the machine's load.
 */
export function processCpuMs(pid: number): number {
  return statCpuMs(`/proc/${pid}/stat`);
}

/**
 * CPU time of a process's main thread alone (ms): for Node, the event loop, which a burst is
 * bound by; the rest of processCpuMs is V8's compiler and GC threads and libuv's pool.
 */
export function mainThreadCpuMs(pid: number): number {
  return statCpuMs(`/proc/${pid}/task/${pid}/stat`);
}

function statCpuMs(path: string): number {
  const stat = readFileSync(path, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 (utime, stime) in clock ticks; after "pid (comm) " they are at 11 and 12.
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / CLOCK_TICKS;
}

/**
 * CPU time per thread (ms) of a process, keyed "name/index" with index the thread's place in
 * creation order (0: the main thread): Node 20 leaves V8's compiler and GC helpers named like
 * the process, so only their order tells them apart (Node starts its platform's workers right
 * after its main thread, libuv's pool on first use). Threads that ended are not counted.
 */
export function threadCpuMs(pid: number): Map<string, number> {
  const byName = new Map<string, number>();
  const tids = readdirSync(`/proc/${pid}/task`).map(Number).sort((a, b) => a - b);
  for (const [index, tid] of tids.entries()) {
    let name: string;
    let ms: number;
    try {
      name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      ms = statCpuMs(`/proc/${pid}/task/${tid}/stat`);
    } catch {
      continue; // the thread ended between the listing and the read
    }
    byName.set(`${name}/${index}`, ms);
  }
  return byName;
}

/** `after` minus `before`, per name, as "name ms" pairs, largest first. */
export function threadCpuDelta(before: Map<string, number>, after: Map<string, number>): string {
  return [...after]
    .map(([name, ms]) => [name, ms - (before.get(name) ?? 0)] as const)
    .filter(([, ms]) => ms > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([name, ms]) => `${name} ${ms.toFixed(0)}`)
    .join(', ');
}

/** Read and write system calls of a process and their bytes, from /proc/PID/io (sockets included). */
export interface ProcessIo {
  readCalls: number;
  readBytes: number;
  writeCalls: number;
  writeBytes: number;
}

export function processIo(pid: number): ProcessIo {
  const f = new Map(readFileSync(`/proc/${pid}/io`, 'utf8').trim().split('\n').map((l) => l.split(':').map((x) => x.trim()) as [string, string]));
  return { readCalls: Number(f.get('syscr')), readBytes: Number(f.get('rchar')), writeCalls: Number(f.get('syscw')), writeBytes: Number(f.get('wchar')) };
}

/** "W writes (B KiB), R reads (B KiB)" between two readings. */
export function ioDelta(a: ProcessIo, b: ProcessIo): string {
  const kib = (x: number) => (x / 1024).toFixed(0);
  return `${b.writeCalls - a.writeCalls} writes (${kib(b.writeBytes - a.writeBytes)} KiB), ${b.readCalls - a.readCalls} reads (${kib(b.readBytes - a.readBytes)} KiB)`;
}
