import * as net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProbeTimeoutError } from '../errors';
import { JsonRpcConnection } from '../jsonrpc/connection';
import { dial, parseEndpoint } from '../jsonrpc/transport';
import { startProbe } from './probe';
import { Backoff } from './backoff';

describe('inactivity probe', () => {
  it('sends an echo when idle and closes with ProbeTimeoutError when nothing comes back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ovsdb-probe-'));
    const path = join(dir, 's.sock');
    const got: string[] = [];
    const server = net.createServer((s) => s.on('data', (d) => got.push(d.toString()))); // never answers
    await new Promise<void>((r) => server.listen(path, r));
    const conn = new JsonRpcConnection(await dial(parseEndpoint(`unix:${path}`)));
    const closed = new Promise<Error | undefined>((r) => conn.onClose(r));
    const stop = startProbe(conn, 60);
    const t0 = Date.now();
    expect(await closed).toBeInstanceOf(ProbeTimeoutError);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(100);
    expect(got.join('')).toContain('"method":"echo"');
    stop();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('Backoff', () => {
  it('grows exponentially with jitter up to the cap and resets', () => {
    const b = new Backoff({ initialDelayMs: 100, maxDelayMs: 1000 });
    const d = Array.from({ length: 6 }, () => b.next());
    expect(d[0]).toBeGreaterThanOrEqual(50);
    expect(d[0]).toBeLessThanOrEqual(100);
    expect(d[3]).toBeGreaterThanOrEqual(400);
    expect(d[5]).toBeLessThanOrEqual(1000);
    b.reset();
    expect(b.next()).toBeLessThanOrEqual(100);
  });
});
