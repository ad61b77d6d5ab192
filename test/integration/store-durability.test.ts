/**
 * Crash durability of SqliteStore: a child process writes a burst, we kill -9 it mid-way
 * (twice, the second run starting from the crashed file), then check that every write
 * acknowledged to the child is in the file and nothing that was never attempted is.
 * The fixture's key scheme is described in test/fixtures/store-writer.ts.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteStore } from '../../src/store/sqlite-store';

const ROOT = path.resolve(__dirname, '../..');
const WRITER = path.join(ROOT, 'test/fixtures/store-writer.ts');

interface Run {
  attempted: number[];
  acked: { seq: number; revision: number }[];
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Runs the writer from startSeq and SIGKILLs it a moment after `killAfterAcks` acknowledgements. */
function runAndKill(file: string, startSeq: number, killAfterAcks: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WRITER, file, String(startSeq), '100000'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const run: Run = { attempted: [], acked: [], signal: null, stderr: '' };
    let partial = '';
    let killScheduled = false;
    const timeout = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop()!; // an unterminated last line is not yet a report
      for (const line of lines) {
        const [kind, a, b] = line.split(' ');
        if (kind === 'A') run.attempted.push(Number(a));
        if (kind === 'K') run.acked.push({ seq: Number(a), revision: Number(b) });
      }
      if (!killScheduled && run.acked.length >= killAfterAcks) {
        killScheduled = true;
        // A varying delay so the kill lands anywhere in a txn, not just after an ack line.
        setTimeout(() => child.kill('SIGKILL'), Math.floor(Math.random() * 15));
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => (run.stderr += chunk));
    child.on('error', reject);
    child.on('close', (_code, signal) => {
      clearTimeout(timeout);
      run.signal = signal;
      resolve(run);
    });
  });
}

describe('SqliteStore durability', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vnetd-durability-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('keeps every acknowledged write across kill -9, and invents nothing', async () => {
    const file = path.join(dir, 'store.db');
    const runs: Run[] = [];
    let start = 0;
    for (const killAfter of [300, 200]) {
      const run = await runAndKill(file, start, killAfter);
      expect({ signal: run.signal, stderr: run.stderr }).toEqual({ signal: 'SIGKILL', stderr: '' });
      expect(run.acked.length).toBeGreaterThanOrEqual(killAfter);
      runs.push(run);
      // The next run starts with fresh groups after everything this one may have written.
      start = Math.ceil((Math.max(...run.attempted) + 1) / 4) * 4;
    }

    const acked = runs.flatMap((r) => r.acked);
    const attempted = new Set(runs.flatMap((r) => r.attempted));
    for (let i = 1; i < acked.length; i++) expect(acked[i]!.revision).toBeGreaterThan(acked[i - 1]!.revision);

    const store = SqliteStore.open(file);
    try {
      expect(await store.currentRevision()).toBeGreaterThanOrEqual(acked[acked.length - 1]!.revision);

      // Every acknowledged write is there (or was overwritten by a later attempted one).
      for (const { seq, revision } of acked) {
        const group = Math.floor(seq / 4);
        for (const side of ['a', 'b']) {
          const kv = await store.get<{ seq: number }>(`/burst/g${group}/${side}`);
          expect({ seq, present: kv !== undefined }).toEqual({ seq, present: true });
          expect(kv!.modRevision).toBeGreaterThanOrEqual(revision);
          expect(kv!.value.seq).toBeGreaterThanOrEqual(seq);
        }
      }

      // Nothing else: every stored value comes from an attempted write of its own group,
      // and both keys of a txn are there with the same value (atomicity across the crash).
      const { items } = await store.list<{ seq: number }>('/burst/');
      expect(items.length % 2).toBe(0);
      const byGroup = new Map<string, number[]>();
      for (const kv of items) {
        const m = /^\/burst\/g(\d+)\/(a|b)$/.exec(kv.key);
        expect(m).not.toBeNull();
        const group = Number(m![1]);
        expect(attempted.has(kv.value.seq)).toBe(true);
        expect(Math.floor(kv.value.seq / 4)).toBe(group);
        byGroup.set(m![1]!, [...(byGroup.get(m![1]!) ?? []), kv.value.seq]);
      }
      for (const [group, seqs] of byGroup) {
        expect({ group, seqs }).toEqual({ group, seqs: [seqs[0], seqs[0]] });
      }
      // At most the one write in flight at each kill is there without an acknowledgement.
      const ackedSeqs = new Set(acked.map((a) => a.seq));
      const unacked = [...byGroup.values()].map((s) => s[0]!).filter((seq) => !ackedSeqs.has(seq));
      expect(unacked.length).toBeLessThanOrEqual(runs.length);

      // The crashed file is fully usable.
      const r = await store.txn([{ type: 'create', key: '/after-crash', value: {} }]);
      expect(r.revision).toBe((await store.currentRevision()));
    } finally {
      await store.close();
    }
  }, 30_000);
});
