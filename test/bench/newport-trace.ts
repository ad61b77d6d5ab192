/**
 * Where vnetd spent a new port's time: reads a vnetd debug log (pino JSON lines, e.g.
 * from `BENCH_VNETD_LOG=debug BENCH_LOG_DIR=DIR npm run bench:converge`) and prints the
 * new-port chain's events (event: chassis.*, pipeline.* and openflow.*: flow installs) from a
 * moment on, in ms after it:
 *
 *   npx tsx test/bench/newport-trace.ts DIR/vnetd-N1000-1.log <plug epoch ms> [window ms, default 3000]
 *
 * The plug epoch is printed by the bench ("plug at epoch ..."). The chain: the hypervisor's
 * Interface row (chassis.interface, with its ofport) -> the pipeline reads the binding
 * from it (pipeline.live-binding) -> node queue wait and compile (pipeline.compiled:
 * queuedMs, compileMs) -> bundle committed on the node (openflow.bundle: barrierMs, the
 * switch's answer to the adds, and ms, with the commit; pipeline.applied); beside it,
 * the chassis layer's store write (chassis.bind-start, chassis.bind-written) and its
 * watch event reaching the pipeline (pipeline.object-event).
 */
import { readFileSync } from 'node:fs';

const [file, fromArg, windowArg] = process.argv.slice(2);
if (!file || !fromArg) {
  process.stderr.write('usage: newport-trace.ts LOG PLUG_EPOCH_MS [WINDOW_MS]\n');
  process.exit(2);
}
const from = Number(fromArg);
const windowMs = Number(windowArg ?? 3000);
const SKIP = new Set(['level', 'time', 'service', 'msg', 'component', 'event']);

for (const line of readFileSync(file, 'utf8').split('\n')) {
  if (!line.startsWith('{')) continue;
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    continue;
  }
  const t = Number(o.time);
  if (!(t >= from && t <= from + windowMs)) continue;
  const event = typeof o.event === 'string' ? o.event : undefined;
  if (!event || !/^(chassis|pipeline|openflow)\./.test(event)) continue;
  const fields = Object.entries(o)
    .filter(([k]) => !SKIP.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(' ');
  process.stdout.write(`${String(t - from).padStart(6)} ms  ${event.padEnd(24)} ${fields}\n`);
}
