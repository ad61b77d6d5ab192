import { execFile } from 'node:child_process';
import { accessSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Test helper: ovs-ofctl as an oracle for encoded bytes. */

export function ovsOfctlPath(): string | undefined {
  for (const p of ['/usr/bin/ovs-ofctl', '/usr/local/bin/ovs-ofctl']) {
    try {
      accessSync(p);
      return p;
    } catch {
      // try the next location
    }
  }
  return undefined;
}

function run(bin: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(bin, args, { maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      // ofp-parse exits non-zero after a decode error but still prints everything.
      if (err && !stdout) reject(err);
      else resolve({ stdout, stderr });
    });
  });
}

/**
 * Prints many messages with ONE ovs-ofctl process: they are written back to
 * back into a file for `ovs-ofctl ofp-parse`, and its output is split on the
 * lines that start a message. Every message must carry a unique xid.
 */
export async function ofpPrintBatch(messages: readonly Buffer[]): Promise<string[]> {
  const bin = ovsOfctlPath();
  if (!bin) throw new Error('ovs-ofctl not installed');
  const dir = await mkdtemp(join(tmpdir(), 'ofp-print-'));
  try {
    const file = join(dir, 'stream.bin');
    await writeFile(file, Buffer.concat(messages));
    const { stdout } = await run(bin, ['ofp-parse', file]);
    const out: string[] = [];
    let currentXid: string | undefined;
    for (const line of stdout.split('\n')) {
      const head = /^[A-Z]\S*_\S+ .*\(xid=(0x[0-9a-f]+)\)/.exec(line);
      // A bundle's inner message repeats the outer xid: it continues the record.
      if ((head && head[1] !== currentXid) || line.startsWith('***')) {
        out.push(line);
        currentXid = head?.[1];
      } else if (out.length && line !== '') {
        out[out.length - 1] += `\n${line}`;
      }
    }
    return out;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
