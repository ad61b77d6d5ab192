/**
 * A SQLite data dir whose file system fills up (a tmpfs of 8 MiB, filled by hand): writes are
 * answered 507 InsufficientStorage saying what to do, reads go on, nothing is half-written,
 * and once space is freed writes succeed again. (QA-93: a 500 "this is vnetd's fault".)
 * Needs root (mount); skipped with a message otherwise.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, rmdirSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestVnetd, type TestVnetd } from '../support/vnetd';

const G = '/apis/vnet.dev/v1alpha1';
const root = process.getuid?.() === 0;
if (!root) process.stdout.write('[api-disk-full] skipped: mounting a tmpfs needs root\n');
const maybe = root ? describe : describe.skip;

maybe('a full data dir', () => {
  let dir: string;
  let v: TestVnetd | undefined;
  const filler = () => join(dir, 'filler');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vnetd-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', dir]);
    v = await startTestVnetd({ dataDir: dir });
    await v.call('POST', '/api/v1/namespaces', { metadata: { name: 'd' } });
    await v.call('POST', `${G}/namespaces/d/virtualnetworks`, { metadata: { name: 'n' }, spec: { subnets: [{ cidr: '10.9.0.0/24' }] } });
  }, 30_000);

  afterAll(async () => {
    await v?.stop();
    try {
      execFileSync('umount', [dir]);
    } finally {
      rmdirSync(dir);
    }
  }, 30_000);

  it('refuses writes 507 naming the cause, serves reads, keeps nothing half-written, and writes again once space is freed', async () => {
    // Fill the file system to the last block.
    const fd = openSync(filler(), 'w');
    const chunk = Buffer.alloc(64 * 1024, 1);
    try {
      for (;;) writeSync(fd, chunk);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
    } finally {
      closeSync(fd);
    }
    for (let b = 0; b < 64; b++) {
      try {
        execFileSync('sh', ['-c', `head -c 512 /dev/zero >> ${filler()}`], { stdio: 'ignore' });
      } catch {
        break;
      }
    }
    const port = (name: string) => ({ metadata: { name }, spec: { network: 'n' } });
    let refused: { status: number; json: unknown } | undefined;
    // A few writes: the first ones may still fit in pages SQLite has.
    for (let i = 0; i < 20 && !refused; i++) {
      const r = await v!.call('POST', `${G}/namespaces/d/virtualports`, port(`p${i}`));
      if (r.status !== 201) refused = r;
    }
    expect(refused).toBeDefined();
    const made = ((await v!.call('GET', `${G}/namespaces/d/virtualports`)).json as { items: Array<{ metadata: { name: string } }> }).items.map((p) => p.metadata.name);
    process.stdout.write(`[api-disk-full] ${made.length} port(s) stored before the disk was full; then: ${refused!.status} ${JSON.stringify((refused!.json as { message?: string }).message)}\n`);
    expect(refused).toMatchObject({ status: 507, json: { kind: 'Status', code: 507, reason: 'InsufficientStorage', message: expect.stringMatching(/data dir's file system is full .*frees space/) } });
    // Reads go on.
    expect((await v!.call('GET', `${G}/namespaces/d/virtualnetworks/n`)).status).toBe(200);
    // And the replica says its status is not kept current (QA-126 H5: "[+]store ok" alone, while
    // every object kept the status it had when the disk filled).
    const ready = await v!.call('GET', '/readyz?verbose');
    expect(ready.status).toBe(200);
    expect(ready.text).toMatch(/\[\+\]store ok \(revision \d+; writes refused since \S+: the data dir's file system is full \(status is not being updated\)\)/);
    const metrics = (await v!.call('GET', '/metrics')).text;
    expect(metrics).toMatch(/^vnetd_store_writes_refused\{reason="disk-full"\} 1$/m);
    expect(metrics).toMatch(/^vnetd_store_write_refusals_total\{reason="disk-full"\} [1-9]\d*$/m);
    // Space freed: writes succeed, and the refused port was never half-stored.
    rmSync(filler());
    const refusedName = `p${made.length}`;
    expect((await v!.call('GET', `${G}/namespaces/d/virtualports/${refusedName}`)).status).toBe(404);
    const again = await v!.call('POST', `${G}/namespaces/d/virtualports`, port(refusedName));
    expect(again.status).toBe(201);
    expect((await v!.call('GET', '/readyz?verbose')).text).not.toContain('writes refused');
    expect((await v!.call('GET', '/metrics')).text).toMatch(/^vnetd_store_writes_refused\{reason="disk-full"\} 0$/m);
    const all = ((await v!.call('GET', `${G}/namespaces/d/virtualports`)).json as { items: Array<{ spec: { ips: string[] } }> }).items;
    // Every stored port has its own address: none was claimed by the refused write and kept.
    expect(new Set(all.map((p) => p.spec.ips[0])).size).toBe(all.length);
  }, 60_000);
});
