/**
 * OpenFlow benchmark: install 10,000 and 100,000 flows into one ovs-vswitchd
 * through our library (raw bundle, and the FlowTableManager's full sync) and
 * through `ovs-ofctl --bundle add-flows FILE`, same flows, same run, same
 * switch, table cleared in between; then encode/decode rates per message type.
 *
 *   npm run bench:openflow            (or: npx tsx test/bench/openflow.bench.ts [sizes...])
 */
/* eslint-disable no-console */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createConnection, decodeMessage, encodeMessage, type OfMessage, type OpenFlowConnection } from '../../src/openflow';
import { createFlowTableManager } from '../../src/openflow/sync';
import { runPrefix, startOvs, type OvsInstance } from '../harness/ovs';
import { addFlowMods, generateFlows, normalizeOfctlDump, ofctlLine, ownerChanges, type GeneratedFlow } from '../integration/openflow-sync-fixtures';

const ROUND = 1;

async function clear(ovs: OvsInstance): Promise<void> {
  await ovs.ofctl(['-O', 'OpenFlow13', 'del-flows', 'br0']);
}

async function flowCount(ovs: OvsInstance): Promise<number> {
  const out = await ovs.ofctl(['-O', 'OpenFlow13', 'dump-aggregate', 'br0']);
  return Number(/flow_count=(\d+)/.exec(out)?.[1] ?? -1);
}

async function connect(ovs: OvsInstance): Promise<OpenFlowConnection> {
  const c = createConnection(`unix:${ovs.bridgeMgmtSocket('br0')}`, { reconnect: false, requestTimeoutMs: 600_000 });
  await c.ready();
  return c;
}

async function timeIt(fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/** Fresh connection, one bundle of flow_mods (the library's raw path). */
async function viaBundle(ovs: OvsInstance, flows: readonly GeneratedFlow[]): Promise<number> {
  return timeIt(async () => {
    const c = await connect(ovs);
    await c.bundle(addFlowMods(flows, ROUND), { flags: 3 });
    await c.close();
  });
}

/** Fresh connection, desired state loaded, start(): dump + diff + one bundle. */
async function viaManager(ovs: OvsInstance, flows: readonly GeneratedFlow[]): Promise<number> {
  return timeIt(async () => {
    const c = await connect(ovs);
    const m = createFlowTableManager(c, { round: ROUND });
    await m.apply(ownerChanges(flows));
    await m.start();
    if (m.counters().lastSyncFlowMods !== flows.length) throw new Error(`manager sent ${m.counters().lastSyncFlowMods} flow_mods`);
    m.stop();
    await c.close();
  });
}

async function viaOfctl(ovs: OvsInstance, file: string): Promise<number> {
  return timeIt(async () => {
    await ovs.ofctl(['-O', 'OpenFlow13', '--bundle', 'add-flows', 'br0', file]);
  });
}

function rate(n: number, ms: number): string {
  return `${Math.round((n / ms) * 1000).toLocaleString('en-US')}/s`;
}

async function installBench(ovs: OvsInstance, n: number, reps: number): Promise<void> {
  const flows = generateFlows(n);
  const file = join(ovs.dir, `flows-${n}.txt`);
  await writeFile(file, flows.map((g) => ofctlLine(g, ROUND)).join('\n') + '\n');
  const times: Record<'ofctl' | 'bundle' | 'manager', number[]> = { ofctl: [], bundle: [], manager: [] };
  let reference: string[] | undefined;
  for (let r = 0; r < reps; r++) {
    // Alternate the order so neither side always runs on a warmer switch.
    const order: (keyof typeof times)[] = r % 2 === 0 ? ['ofctl', 'bundle', 'manager'] : ['manager', 'bundle', 'ofctl'];
    for (const way of order) {
      await clear(ovs);
      const ms = way === 'ofctl' ? await viaOfctl(ovs, file) : way === 'bundle' ? await viaBundle(ovs, flows) : await viaManager(ovs, flows);
      times[way].push(ms);
      const count = await flowCount(ovs);
      if (count !== n) throw new Error(`${way}: expected ${n} flows, switch has ${count}`);
      if (r === 0 && n <= 10_000) {
        // Same flows either way: the dumps must be identical.
        const dump = normalizeOfctlDump(await ovs.ofctl(['-O', 'OpenFlow13', 'dump-flows', 'br0']));
        if (!reference) reference = dump;
        else if (dump.join('\n') !== reference.join('\n')) throw new Error(`${way}: dump differs from the first method's`);
      }
    }
  }
  const best = (xs: number[]): number => Math.min(...xs);
  const o = best(times.ofctl);
  console.log(`\n${n.toLocaleString('en-US')} flows, one bundle, best of ${reps} (table cleared before each):`);
  for (const way of ['ofctl', 'bundle', 'manager'] as const) {
    const b = best(times[way]);
    const label = { ofctl: 'ovs-ofctl --bundle add-flows', bundle: 'library conn.bundle()', manager: 'FlowTableManager full sync' }[way];
    const ratio = way === 'ofctl' ? '' : `  ratio ovs-ofctl/ours = ${(o / b).toFixed(2)}x${o / b >= 1 ? ' (ours faster)' : ' (ours slower)'}`;
    console.log(`  ${label.padEnd(30)} ${b.toFixed(0).padStart(6)} ms  ${rate(n, b).padStart(12)}  [${times[way].map((t) => t.toFixed(0)).join(', ')}]${ratio}`);
  }
}

/** Runs fn repeatedly for ~ms milliseconds and returns operations per second. */
function opsPerSec(fn: () => void, ms = 400): number {
  let n = 0;
  const end = performance.now() + ms;
  const t0 = performance.now();
  while (performance.now() < end) {
    for (let i = 0; i < 100; i++) fn();
    n += 100;
  }
  return (n / (performance.now() - t0)) * 1000;
}

function codecBench(): void {
  const flows = generateFlows(50);
  const fm: OfMessage = {
    type: 'flow_mod',
    xid: 1,
    command: 'add',
    cookie: 0x1n,
    cookieMask: 0n,
    tableId: flows[3]!.flow.tableId,
    idleTimeout: 0,
    hardTimeout: 0,
    priority: 100,
    bufferId: 0xffffffff,
    outPort: 0xffffffff,
    outGroup: 0xffffffff,
    flags: 0,
    match: flows[3]!.flow.match,
    instructions: flows[3]!.flow.instructions,
  };
  const pin: OfMessage = {
    type: 'packet_in',
    xid: 2,
    bufferId: 0xffffffff,
    totalLen: 98,
    reason: 1,
    tableId: 3,
    cookie: 0x5n,
    match: [
      { field: 'in_port', value: 1 },
      { field: 'reg0', value: 7 },
      { field: 'metadata', value: 0x10n },
    ],
    data: Buffer.alloc(98, 0xab),
  };
  const reply: OfMessage = {
    type: 'multipart_reply',
    xid: 3,
    flags: 0,
    body: {
      kind: 'flow',
      flows: flows.map((g, i) => ({
        tableId: g.flow.tableId,
        durationSec: 10,
        durationNsec: 5,
        priority: g.flow.priority,
        idleTimeout: 0,
        hardTimeout: 0,
        flags: 0,
        cookie: BigInt(i),
        packetCount: 0n,
        byteCount: 0n,
        match: g.flow.match,
        instructions: g.flow.instructions,
      })),
    },
  };
  console.log('\ncodec rates (single core, this process):');
  for (const [name, msg, per] of [
    ['flow_mod', fm, 1],
    ['packet_in (98-byte frame)', pin, 1],
    ['multipart flow stats reply (50 flows)', reply, 50],
  ] as const) {
    const bytes = encodeMessage(msg);
    const enc = opsPerSec(() => void encodeMessage(msg));
    const dec = opsPerSec(() => void decodeMessage(bytes));
    const perFlow = per > 1 ? `  (= ${Math.round(enc * per).toLocaleString('en-US')} / ${Math.round(dec * per).toLocaleString('en-US')} flow entries/s)` : '';
    console.log(
      `  ${name.padEnd(40)} ${String(bytes.length).padStart(5)} B  encode ${Math.round(enc).toLocaleString('en-US').padStart(10)} msg/s  decode ${Math.round(dec).toLocaleString('en-US').padStart(10)} msg/s${perFlow}`,
    );
  }
}

async function main(): Promise<void> {
  const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
  // Own netns: two userspace datapaths in one netns fight over the ovs-netdev tap device.
  const ovs = await startOvs({ name: 'of-bench', netns: `${runPrefix()}-ofb` });
  try {
    await ovs.vsctl(['add-br', 'br0', '--', 'set', 'bridge', 'br0', 'datapath_type=netdev', 'protocols=OpenFlow13', 'fail_mode=secure']);
    for (const p of ['p1', 'p2']) await ovs.vsctl(['add-port', 'br0', p, '--', 'set', 'interface', p, 'type=internal', `ofport_request=${p.slice(1)}`]);
    for (const n of sizes.length ? sizes : [10_000, 100_000]) await installBench(ovs, n, n >= 100_000 ? 2 : 3);
    codecBench();
  } finally {
    await ovs.stop();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
