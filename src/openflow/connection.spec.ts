import { AddressInfo, createServer, Server, Socket } from 'node:net';
import { createConnection } from './connection';
import { OpenFlowBundleError, OpenFlowConnectionError } from './connection-errors';
import { flowMod } from './messages/flow-mod';
import { errorFromName } from './messages/error';
import { MessageFramer } from './framing';
import { OfMessage, decodeMessage, encodeMessage } from './message';

/**
 * In-process fake switch: answers HELLO/FEATURES and lets each test script
 * the rest, to exercise what a real OVS will not do on demand (wrong version,
 * going silent, splitting multipart replies).
 */
async function fakeSwitch(onMessage: (m: OfMessage, send: (m: OfMessage) => void, s: Socket) => void, helloVersions = [4], helloHeaderVersion?: number): Promise<Server> {
  const server = createServer((s) => {
    const framer = new MessageFramer();
    const send = (m: OfMessage): void => void s.write(encodeMessage(m));
    send({ type: 'hello', xid: 1, versions: helloVersions, ...(helloHeaderVersion ? { headerVersion: helloHeaderVersion } : {}) });
    s.on('data', (d) => {
      for (const f of framer.push(d)) {
        const m = decodeMessage(f);
        if (m.type === 'features_request') {
          send({ type: 'features_reply', xid: m.xid, datapathId: 42n, nBuffers: 0, nTables: 254, auxiliaryId: 0, capabilities: 0 });
        } else if (m.type !== 'hello') {
          onMessage(m, send, s);
        }
      }
    });
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return server;
}

const target = (s: Server): string => `tcp:127.0.0.1:${(s.address() as AddressInfo).port}`;

describe('OpenFlow connection (fake switch)', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  });

  it('assembles multipart replies flagged MORE and answers echo', async () => {
    const sw = await fakeSwitch((m, send) => {
      if (m.type === 'multipart_request') {
        for (let i = 0; i < 3; i++) {
          send({ type: 'multipart_reply', xid: m.xid, flags: i < 2 ? 1 : 0, body: { kind: 'table', tables: [{ tableId: i, activeCount: i, lookupCount: 0n, matchedCount: 0n }] } });
        }
      }
    });
    servers.push(sw);
    const c = createConnection(target(sw), { reconnect: false });
    expect((await c.ready()).datapathId).toBe(42n);
    const body = await c.multipart({ kind: 'table' });
    expect(body.kind === 'table' && body.tables.map((t) => t.tableId)).toEqual([0, 1, 2]);
    await c.close();
  });

  const oneFlow = flowMod({ command: 'add', tableId: 0, priority: 1, match: [], instructions: [] });

  it('sends a bundle\'s open, adds and barrier together: two round trips, not three', async () => {
    const seen: string[] = [];
    let open: OfMessage | undefined;
    const sw = await fakeSwitch((m, send) => {
      seen.push(m.type === 'bundle_control' ? m.controlType : m.type);
      // Answers nothing until the barrier: a client that waited for the open's reply
      // before sending the adds would wait forever.
      if (m.type === 'bundle_control' && m.controlType === 'open_request') open = m;
      if (m.type === 'barrier_request') {
        if (open?.type === 'bundle_control') send({ ...open, controlType: 'open_reply' });
        send({ type: 'barrier_reply', xid: m.xid });
      }
      if (m.type === 'bundle_control' && m.controlType === 'commit_request') send({ ...m, controlType: 'commit_reply' });
    });
    servers.push(sw);
    const c = createConnection(target(sw), { reconnect: false, requestTimeoutMs: 2000 });
    await c.ready();
    await c.bundle([oneFlow, oneFlow]);
    expect(seen).toEqual(['open_request', 'bundle_add', 'bundle_add', 'barrier_request', 'commit_request']);
    await c.close();
  });

  it('never commits a bundle whose open was refused', async () => {
    const seen: string[] = [];
    const sw = await fakeSwitch((m, send) => {
      seen.push(m.type === 'bundle_control' ? m.controlType : m.type);
      if (m.type === 'bundle_control' && m.controlType === 'open_request') send(errorFromName('OFPBFC_BAD_ID', m.xid));
      if (m.type === 'bundle_add') send(errorFromName('OFPBFC_BAD_ID', m.xid));
      if (m.type === 'barrier_request') send({ type: 'barrier_reply', xid: m.xid });
      if (m.type === 'bundle_control' && m.controlType === 'discard_request') send({ ...m, controlType: 'discard_reply' });
    });
    servers.push(sw);
    const c = createConnection(target(sw), { reconnect: false, requestTimeoutMs: 2000 });
    await c.ready();
    await expect(c.bundle([oneFlow])).rejects.toBeInstanceOf(OpenFlowBundleError);
    expect(seen).not.toContain('commit_request');
    await c.close();
  });

  it('refuses a peer without OpenFlow 1.3', async () => {
    const sw = await fakeSwitch(() => undefined, [1, 2]);
    servers.push(sw);
    const c = createConnection(target(sw), { reconnect: false });
    await expect(c.ready()).rejects.toThrow('peer does not speak OpenFlow 1.3 (offers OpenFlow 1.0, OpenFlow 1.1)');
    await c.close();
  });

  it('refuses a peer whose bare HELLO says OpenFlow 1.0 (OVS with protocols=OpenFlow10), and takes one that says 1.5', async () => {
    // OVS sends no version bitmap then: the header's version is the highest it speaks.
    const old = await fakeSwitch(() => undefined, [], 0x01);
    servers.push(old);
    const c = createConnection(target(old), { reconnect: false });
    await expect(c.ready()).rejects.toThrow("peer does not speak OpenFlow 1.3 (its HELLO says OpenFlow 1.0, with no version bitmap); set the bridge's protocols to include OpenFlow13");
    await c.close();
    const newer = await fakeSwitch(() => undefined, [], 0x06);
    servers.push(newer);
    const d = createConnection(target(newer), { reconnect: false });
    expect((await d.ready()).datapathId).toBe(42n);
    await d.close();
  });

  it("fails with the switch's reason when it refuses our HELLO", async () => {
    const server = createServer((s) => {
      s.write(encodeMessage({ type: 'hello', xid: 1, versions: [4] }));
      s.on('error', () => undefined);
      s.resume(); // reads to the client's FIN, so the socket closes
      // ... and hangs up, as OVS does.
      s.end(encodeMessage(errorFromName('OFPHFC_INCOMPATIBLE', 0, Buffer.from('version negotiation failed (we support version 0x01, peer supports version 0x04)'))));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    servers.push(server);
    const c = createConnection(target(server), { reconnect: false });
    await expect(c.ready()).rejects.toThrow('the switch refused the connection: OFPHFC_INCOMPATIBLE: version negotiation failed (we support version 0x01, peer supports version 0x04)');
    await c.close();
  });

  it('detects a dead peer through echo and reconnects', async () => {
    let connections = 0;
    const sw = await fakeSwitch(() => undefined /* never answers echo */);
    sw.on('connection', () => connections++);
    servers.push(sw);
    const c = createConnection(target(sw), { echoIntervalMs: 100, deadAfterMs: 300, reconnect: { initialDelayMs: 10 } });
    await c.ready();
    const down = await new Promise<Error | undefined>((r) => c.once('disconnected', r));
    expect(down).toBeInstanceOf(OpenFlowConnectionError);
    expect(down?.message).toMatch(/silent/);
    await new Promise((r) => c.once('connected', r));
    expect(connections).toBe(2);
    await c.close();
  });

  it("takes its own stall for its own: a blocked event loop does not drop a live peer (QA-124 F1), a dead one is still dropped", async () => {
    const answering = await fakeSwitch((m, send) => {
      if (m.type === 'echo_request') send({ type: 'echo_reply', xid: m.xid, data: m.data });
    });
    servers.push(answering);
    const c = createConnection(target(answering), { echoIntervalMs: 100, deadAfterMs: 300, reconnect: { initialDelayMs: 10 } });
    await c.ready();
    let drops = 0;
    c.on('disconnected', () => drops++);
    try {
      // The loop blocked three times deadAfterMs, as a verify of 447k flows did for 6-10 s.
      const until = Date.now() + 900;
      while (Date.now() < until);
      await new Promise((r) => setTimeout(r, 600));
      expect(drops).toBe(0); // before: "peer silent for 9xx ms" at the first tick after the stall
    } finally {
      await c.close();
    }

    // A peer that answers nothing is still found dead after a stall.
    const silent = await fakeSwitch(() => undefined);
    servers.push(silent);
    const d = createConnection(target(silent), { echoIntervalMs: 100, deadAfterMs: 300, reconnect: false });
    await d.ready();
    try {
      const down = new Promise<Error | undefined>((r) => d.once('disconnected', r));
      const until2 = Date.now() + 900;
      while (Date.now() < until2);
      expect((await down)?.message).toMatch(/silent/);
    } finally {
      await d.close();
    }
  });

  it('rejects pending requests when the connection drops', async () => {
    const sw = await fakeSwitch((_m, _send, s) => s.destroy());
    servers.push(sw);
    const c = createConnection(target(sw), { reconnect: false });
    await c.ready();
    await expect(c.barrier()).rejects.toBeInstanceOf(OpenFlowConnectionError);
    await c.close();
  });

  it('says it is establishing while the connect or the handshake is under way, and not once up, waiting to retry, or closed', async () => {
    // A switch that accepts and stays silent: no HELLO, so the handshake never ends.
    const accepted: Socket[] = [];
    const silent = createServer((s) => void accepted.push(s.on('error', () => undefined)));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const mute = createConnection(target(silent), { reconnect: false });
    expect(mute.establishing).toBe(true); // dialing
    await new Promise((r) => silent.once('connection', r));
    await new Promise((r) => setTimeout(r, 20));
    expect([mute.establishing, mute.connected]).toEqual([true, false]); // accepted, no HELLO yet
    accepted.forEach((s) => s.destroy());
    await mute.close();
    expect(mute.establishing).toBe(false);
    await new Promise((r) => silent.close(r));

    const sw = await fakeSwitch(() => undefined);
    servers.push(sw);
    const c = createConnection(target(sw), { reconnect: false });
    await c.ready();
    expect([c.establishing, c.connected]).toEqual([false, true]);
    await c.close();

    // Nothing listening: refused, then waiting for the retry timer.
    const port = (sw.address() as AddressInfo).port;
    await new Promise((r) => sw.close(r));
    servers.splice(servers.indexOf(sw), 1);
    const down = createConnection(`tcp:127.0.0.1:${port}`, { reconnect: { initialDelayMs: 10_000 } });
    await new Promise((r) => setTimeout(r, 50));
    expect(down.establishing).toBe(false);
    await down.close();
  });
});
