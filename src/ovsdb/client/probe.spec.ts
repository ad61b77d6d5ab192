import * as net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProbeTimeoutError } from '../errors';
import { JsonRpcConnection } from '../jsonrpc/connection';
import type { Json } from '../wire/json';
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

  it('does not blame the server for a stall of its own process (QA-124 F1)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ovsdb-probe-'));
    const path = join(dir, 's.sock');
    let echoes = 0;
    const server = net.createServer((s) =>
      s.on('data', (d) => {
        for (const m of d.toString().matchAll(/"method":"echo","params":\["probe"\],"id":(\d+)/g)) {
          echoes++;
          s.write(JSON.stringify({ id: Number(m[1]), result: ['probe'], error: null }));
        }
      }),
    );
    await new Promise<void>((r) => server.listen(path, r));
    const conn = new JsonRpcConnection(await dial(parseEndpoint(`unix:${path}`)));
    let closedWith: Error | undefined | null = null;
    conn.onClose((e) => (closedWith = e));
    // Block the loop right after the echo goes out, before its answer can be read, as a
    // synchronous compile or verify of half a million flows did for 6-10 s.
    const request = conn.request.bind(conn);
    let blocked = false;
    conn.request = ((method: string, params: Json[]) => {
      const answer = request(method, params);
      if (method === 'echo' && !blocked) {
        blocked = true;
        const until = Date.now() + 900;
        while (Date.now() < until);
      }
      return answer;
    }) as typeof conn.request;
    const stop = startProbe(conn, 100);
    try {
      await new Promise((r) => setTimeout(r, 1300));
      expect(blocked).toBe(true);
      expect(closedWith).toBeNull();
      expect(echoes).toBeGreaterThanOrEqual(1);
    } finally {
      stop();
      conn.close();
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
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
