/**
 * What one client may hold open (QA-102): connections that carry no request are closed (a TLS
 * connection that then sent nothing, HTTP/2 or HTTP/1.1, stayed open for good), one with a
 * request in flight, a quiet watch, is not; and a tenant's watches are limited. The limits are
 * lowered here: idle 1.5 s (120 s by default), 3 watches a tenant (250).
 */
import { connect as h2connect } from 'node:http2';
import { request } from 'node:https';
import { connect as tcpConnect } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { startTestVnetd, type TestVnetd } from '../support/vnetd';

const IDLE_MS = 1_500;
let v: TestVnetd;
let port: number;

beforeAll(async () => {
  v = await startTestVnetd({ idleConnectionMs: IDLE_MS, maxWatchesPerTenant: 3 });
  port = Number(new URL(v.url).port);
  await v.call('POST', '/api/v1/namespaces', { metadata: { name: 'quiet' } });
});
afterAll(async () => v.stop());

/** Milliseconds until the socket closes, or undefined if it is still open after `withinMs`. */
function closesWithin(socket: { once(e: 'close', l: () => void): unknown; destroy(): void }, withinMs: number): Promise<number | undefined> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(undefined);
    }, withinMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - t0);
    });
  });
}

function tls(alpn: string): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, ca: v.caCertPem, servername: '127.0.0.1', ALPNProtocols: [alpn] }, () => resolve(s));
    s.on('error', reject);
    // Reading: a paused socket would not see the server's end, nor close.
    s.resume();
  });
}

it('closes a connection that finished its TLS handshake and sent nothing, HTTP/2 or HTTP/1.1', async () => {
  const [h2, h1] = await Promise.all([tls('h2'), tls('http/1.1')]);
  expect(h2.alpnProtocol).toBe('h2');
  const [h2closed, h1closed] = await Promise.all([closesWithin(h2, IDLE_MS * 4), closesWithin(h1, IDLE_MS * 4)]);
  expect(h2closed).toBeGreaterThanOrEqual(IDLE_MS - 100);
  expect(h1closed).toBeGreaterThanOrEqual(IDLE_MS - 100);
});

it('closes a TCP connection that never starts its TLS handshake', async () => {
  const raw = tcpConnect(port, '127.0.0.1');
  raw.on('error', () => undefined);
  expect(await closesWithin(raw, IDLE_MS * 4)).toBeDefined();
});

it('closes an HTTP/1.1 keep-alive connection idle after its request, and an HTTP/2 session idle after its streams', async () => {
  const s = await tls('http/1.1');
  const answered = new Promise<string>((resolve) => {
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.includes('\r\n\r\n')) resolve(buf.split('\r\n')[0]!);
    });
  });
  s.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
  expect(await answered).toBe('HTTP/1.1 200 OK');
  expect(await closesWithin(s, IDLE_MS * 4)).toBeDefined();

  const session = h2connect(v.url, { ca: v.caCertPem });
  const status = await new Promise<number>((resolve, reject) => {
    const req = session.request({ ':path': '/healthz' });
    req.on('response', (h) => resolve(Number(h[':status'])));
    req.on('error', reject);
    req.resume();
    req.end();
  });
  expect(status).toBe(200);
  expect(await closesWithin(session, IDLE_MS * 4)).toBeDefined();
});

it('keeps a quiet watch open past the idle limit, over HTTP/2 and HTTP/1.1', async () => {
  const path = '/apis/vnet.dev/v1alpha1/namespaces/quiet/virtualnetworks?watch=true&timeoutSeconds=30';
  const session = h2connect(v.url, { ca: v.caCertPem });
  session.on('error', () => undefined);
  const h2watch = session.request({ ':path': path, authorization: `Bearer ${v.adminToken}` });
  h2watch.resume();
  const h1watch = request(`${v.url}${path}`, { ca: v.caCertPem, headers: { authorization: `Bearer ${v.adminToken}` } });
  h1watch.on('error', () => undefined);
  h1watch.end();
  const h1socket = await new Promise<TLSSocket>((resolve) => h1watch.on('response', (res) => {
    res.resume();
    resolve(res.socket as TLSSocket);
  }));
  expect(await Promise.all([closesWithin(session, IDLE_MS * 3), closesWithin(h1socket, IDLE_MS * 3)])).toEqual([undefined, undefined]);
});

it('holds a tenant to its watch limit (429 with Retry-After), and gives a slot back when a watch ends, also one whose client left before it started', async () => {
  const token = await v.tenantToken('watcher', ['quiet']);
  const path = '/apis/vnet.dev/v1alpha1/namespaces/quiet/virtualnetworks?watch=true&timeoutSeconds=60';
  const session = h2connect(v.url, { ca: v.caCertPem });
  session.on('error', () => undefined);
  const open = () =>
    new Promise<{ status: number; retryAfter?: string; close(): void }>((resolve, reject) => {
      const stream = session.request({ ':path': path, authorization: `Bearer ${token}` });
      stream.on('response', (h) => resolve({ status: Number(h[':status']), retryAfter: h['retry-after'] as string | undefined, close: () => stream.close() }));
      stream.on('error', reject);
      stream.resume();
    });
  try {
    const held = [await open(), await open(), await open()];
    expect(held.map((w) => w.status)).toEqual([200, 200, 200]);
    const refused = await open();
    expect({ status: refused.status, retryAfter: refused.retryAfter }).toEqual({ status: 429, retryAfter: '1' });
    held.pop()!.close();
    // Clients that leave right after sending their watch (the case of one gone before its watch starts: response-close.spec.ts).
    for (let i = 0; i < 10; i++) {
      const s = await tls('http/1.1');
      s.end(`GET ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n\r\n`);
      s.destroy();
    }
    const deadline = Date.now() + 5_000;
    let again = await open();
    while (again.status !== 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      again = await open();
    }
    expect(again.status).toBe(200);
  } finally {
    session.destroy();
  }
});
