import * as net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConnectionClosedError, MessageTooLargeError, ProtocolError, RequestCancelledError, RpcError } from '../errors';
import { JsonStreamSplitter } from './framing';
import { JsonRpcConnection } from './connection';
import { dial, formatEndpoint, parseEndpoint } from './transport';
import type { Json } from '../wire/json';

/** A scripted fake server: records what it receives, lets the test write raw bytes. */
async function fakeServer(): Promise<{ path: string; received: Json[]; peer: Promise<net.Socket>; close(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'ovsdb-conn-'));
  const path = join(dir, 's.sock');
  const received: Json[] = [];
  let resolvePeer!: (s: net.Socket) => void;
  const peer = new Promise<net.Socket>((r) => (resolvePeer = r));
  const server = net.createServer((s) => {
    const splitter = new JsonStreamSplitter();
    s.on('data', (d: Buffer) => received.push(...splitter.push(d)));
    s.on('error', () => undefined);
    resolvePeer(s);
  });
  await new Promise<void>((r) => server.listen(path, r));
  return {
    path,
    received,
    peer,
    close: () => {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const tick = (ms = 20): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Waits (up to 2 s) for what a loaded machine may take more than one tick to deliver. */
async function until(done: () => boolean): Promise<void> {
  for (const deadline = Date.now() + 2000; !done() && Date.now() < deadline; ) await tick(5);
}

describe('JsonRpcConnection', () => {
  let srv: Awaited<ReturnType<typeof fakeServer>>;
  let conn: JsonRpcConnection;
  let peer: net.Socket;

  async function open(maxMessageSize?: number): Promise<void> {
    srv = await fakeServer();
    conn = new JsonRpcConnection(await dial(parseEndpoint(`unix:${srv.path}`)), { maxMessageSize });
    peer = await srv.peer;
  }
  afterEach(() => {
    conn.close();
    srv.close();
  });

  it('matches replies to requests by id, even out of order and split across writes', async () => {
    await open();
    const a = conn.request('list_dbs', []);
    const b = conn.request('get_server_id', []);
    await until(() => srv.received.length >= 2);
    expect(srv.received).toEqual([
      { method: 'list_dbs', params: [], id: 1 },
      { method: 'get_server_id', params: [], id: 2 },
    ]);
    const replies = JSON.stringify({ id: 2, result: 'sid', error: null }) + JSON.stringify({ id: 1, result: ['db'], error: null });
    peer.write(replies.slice(0, 10));
    await tick();
    peer.write(replies.slice(10));
    await expect(a).resolves.toEqual(['db']);
    await expect(b).resolves.toBe('sid');
  });

  it('turns an error reply into RpcError', async () => {
    await open();
    const r = conn.request('get_schema', ['nope']);
    await tick();
    peer.write(JSON.stringify({ id: 1, result: null, error: { error: 'unknown database' } }));
    await expect(r).rejects.toBeInstanceOf(RpcError);
  });

  it('answers the server echo with its params and delivers notifications', async () => {
    await open();
    const notes: Array<[string, Json[]]> = [];
    conn.onNotification((m, p) => notes.push([m, p]));
    peer.write(JSON.stringify({ method: 'echo', params: ['x', 1], id: 'echo' }) + JSON.stringify({ method: 'locked', params: ['L'], id: null }));
    await until(() => srv.received.length > 0 && notes.length > 0);
    expect(srv.received).toEqual([{ result: ['x', 1], error: null, id: 'echo' }]);
    expect(notes).toEqual([['locked', ['L']]]);
  });

  it('cancel sends a cancel notification and rejects locally', async () => {
    await open();
    const { id, result } = conn.start('transact', ['db']);
    conn.cancel(id);
    await expect(result).rejects.toBeInstanceOf(RequestCancelledError);
    await until(() => srv.received.length >= 2);
    expect(srv.received[1]).toEqual({ method: 'cancel', params: [id], id: null });
    // A late reply is ignored rather than crashing.
    peer.write(JSON.stringify({ id, result: [], error: null }));
    await tick();
    expect(conn.closed).toBe(false);
  });

  it('closes with MessageTooLargeError on an oversized message and fails pending requests', async () => {
    await open(1000);
    const closed = new Promise<Error | undefined>((r) => conn.onClose(r));
    const pending = conn.request('transact', []);
    peer.write(JSON.stringify({ id: 1, result: 'x'.repeat(5000), error: null }));
    expect(await closed).toBeInstanceOf(MessageTooLargeError);
    await expect(pending).rejects.toBeInstanceOf(ConnectionClosedError);
    expect(conn.closed).toBe(true);
  });

  it('closes with ProtocolError on malformed input', async () => {
    await open();
    const closed = new Promise<Error | undefined>((r) => conn.onClose(r));
    peer.write('{"id": 1, "result": [1,,2]}');
    expect(await closed).toBeInstanceOf(ProtocolError);
  });

  it('fails requests with ConnectionClosedError when the peer hangs up', async () => {
    await open();
    const r = conn.request('echo', []);
    peer.destroy();
    await expect(r).rejects.toBeInstanceOf(ConnectionClosedError);
  });

  it('says a transaction that was sent and never answered may have committed; one made after the close was never sent', async () => {
    await open();
    const sent = conn.request('transact', ['Lab', { op: 'insert', table: 'Counter', row: {} }]);
    peer.destroy();
    const err = await sent.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionClosedError);
    expect(err).toMatchObject({ outcomeUnknown: true });
    expect((err as Error).message).toMatch(/ \(the transaction had been sent: it may have committed\)$/);
    const late = await conn.request('transact', []).then(() => undefined, (e: unknown) => e);
    expect(late).toBeInstanceOf(ConnectionClosedError);
    expect(late).toMatchObject({ outcomeUnknown: false });
  });
});

describe('endpoints', () => {
  it('parses and formats OVS endpoint strings', () => {
    expect(parseEndpoint('unix:/run/db.sock')).toEqual({ kind: 'unix', path: '/run/db.sock' });
    expect(parseEndpoint('tcp:127.0.0.1:6640')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 6640 });
    expect(parseEndpoint('ssl:[::1]:6640')).toEqual({ kind: 'ssl', host: '::1', port: 6640 });
    expect(formatEndpoint(parseEndpoint('ssl:[::1]:6640'))).toBe('ssl:[::1]:6640');
    expect(() => parseEndpoint('tcp:nohost')).toThrow();
    expect(() => parseEndpoint('/path')).toThrow();
  });
});
