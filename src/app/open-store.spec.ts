import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { openStore } from './open-store';

describe('openStore', () => {
  it('says why a SQLite file held by another vnetd cannot be opened, and what serves several replicas', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vnetd-busy-'));
    const log = pino({ level: 'silent' });
    const first = await openStore({ kind: 'sqlite' }, dir, log);
    try {
      await expect(openStore({ kind: 'sqlite' }, dir, log)).rejects.toThrow(/store\.db is in use by another vnetd process: SQLite serves one process; for several controller replicas use VNETD_STORE=etcd:\/\//);
    } finally {
      await first.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
