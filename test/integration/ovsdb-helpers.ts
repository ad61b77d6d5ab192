/** Shared helpers for the ovsdb integration suites (not a test file itself). */
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import type { Row, RowChange } from '../../src/ovsdb';
import { LAB_SCHEMA } from '../../src/ovsdb/testing/lab-schema';
import { ovsAvailability, findBinary } from '../harness/ovs';

/** describe, or describe.skip with the reason printed when OVS is not usable here. */
export function describeOvs(name: string, fn: () => void): void {
  const a = ovsAvailability();
  if (!a.ok) {
    // eslint-disable-next-line no-console
    console.warn(`skipping "${name}": ${a.reason}`);
    describe.skip(name, fn);
  } else {
    describe(name, fn);
  }
}

const schemaDirs: string[] = [];
// Jest's sandboxed `process` never fires 'exit', so clean up with a file-level hook
// (registered when a test file imports this module).
afterAll(() => {
  for (const d of schemaDirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Writes the Lab test schema to a temp file (removed after the test file) and returns its path. */
export function labSchemaFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'lab-schema-'));
  const p = join(dir, 'lab.ovsschema');
  writeFileSync(p, JSON.stringify(LAB_SCHEMA));
  schemaDirs.push(dir);
  return p;
}

export async function waitFor(cond: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** `ovsdb-client CMD unix:SOCK ARGS...`, stdout. */
export function ovsdbClient(cmd: string, socket: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(findBinary('ovsdb-client')!, [cmd, `unix:${socket}`, ...args], (err, out, stderr) =>
      err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(out),
    );
  });
}

/** Rows of one table per `ovsdb-client dump -f json`, as column -> wire value objects. */
export async function dumpTable(socket: string, db: string, table: string): Promise<Array<Record<string, unknown>>> {
  const out = JSON.parse(await ovsdbClient('dump', socket, ['-f', 'json', db, table])) as {
    headings: string[];
    data: unknown[][];
  };
  return out.data.map((row) => Object.fromEntries(out.headings.map((h, i) => [h, row[i]])));
}

export function uuidOf(wire: unknown): string {
  return (wire as [string, string])[1];
}

/**
 * Replays change events into a map, failing on anything inconsistent: an insert of a
 * row already present (duplicate), an update/delete whose `old` is not the row last
 * reported (a lost event). Returns the replayed rows.
 */
export function replay(events: RowChange[]): Map<string, Row> {
  const rows = new Map<string, Row>();
  for (const e of events) {
    if (e.kind === 'insert') {
      if (rows.has(e.uuid)) throw new Error(`duplicate insert of ${e.uuid}`);
      rows.set(e.uuid, e.new!);
    } else {
      expect(rows.get(e.uuid)).toEqual(e.old);
      if (e.kind === 'update') rows.set(e.uuid, e.new!);
      else rows.delete(e.uuid);
    }
  }
  return rows;
}
