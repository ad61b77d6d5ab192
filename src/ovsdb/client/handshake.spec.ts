import { createServer, type AddressInfo, type Socket } from 'node:net';
import { createOvsdbClient } from '../index';
import { RequestTimeoutError } from '../errors';

describe('connect handshake', () => {
  it('gives up on an endpoint that accepts the connection and never answers get_schema (it used to wait forever)', async () => {
    const sockets = new Set<Socket>();
    let closed = 0;
    const server = createServer((s) => {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => closed++);
      s.resume();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const client = createOvsdbClient({ endpoints: `tcp:127.0.0.1:${port}`, database: 'Open_vSwitch', handshakeTimeoutMs: 200, reconnect: false });
    try {
      const t0 = performance.now();
      const err = await client.connect().then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(RequestTimeoutError);
      expect((err as Error).message).toBe(`tcp:127.0.0.1:${port} accepted the connection but did not answer get_schema within 200 ms (is it an OVSDB server?)`);
      expect(performance.now() - t0).toBeLessThan(2000);
      // The silent connection was closed, not left open.
      await new Promise((r) => setTimeout(r, 100));
      expect([sockets.size, closed]).toEqual([1, 1]);
    } finally {
      await client.close();
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    }
  });
});
