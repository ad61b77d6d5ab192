import pino from 'pino';
import { IP_PROTO, OpenFlowRequestError, OpenFlowTimeoutError, type OfMessage, type OpenFlowConnection } from '../../openflow';
import { errorFromName } from '../../openflow/messages/error';
import { ctFlushMessage } from '../../openflow/messages/ct-flush';
import { ctZone, type LbBackendModel, type LoadBalancerModel, type LogicalModel } from '../../pipeline';
import { LbConntrackFlusher } from './lb-conntrack-flush';

const VNI = 7;
const VIP = '10.0.0.100';

function model(backends: Array<Partial<LbBackendModel> & { ip: string }>, listeners: LoadBalancerModel['listeners'] = [{ protocol: 'UDP', port: 53, targetPort: 5353 }]): LogicalModel {
  const lb: LoadBalancerModel = {
    uid: 'lb',
    key: 't/lb',
    version: '1',
    network: 'net',
    vip: VIP,
    mac: '0a:00:00:00:00:01',
    listeners,
    backends: backends.map((b) => ({ name: b.ip, mac: '0a:00:00:00:00:02', weight: 1, healthy: true, ...b })),
  };
  return {
    networks: new Map([['net', { vni: VNI } as never]]),
    ports: new Map(),
    nodes: new Map(),
    loadBalancers: new Map([['lb', lb]]),
  };
}

describe('LbConntrackFlusher', () => {
  let sent: Array<{ node: string; msgs: OfMessage[] }>;
  let flusher: LbConntrackFlusher;
  let kept: Set<string>;
  const conn = (node: string, connected = true) => ({ connected, transact: async (msgs: OfMessage[]) => void sent.push({ node, msgs }) }) as unknown as OpenFlowConnection;
  const udpFlush = (ip: string, port: number, listenerPort = 53) => ctFlushMessage({ zone: ctZone(VNI), ipProto: IP_PROTO.UDP, orig: { dst: VIP, dstPort: listenerPort }, reply: { src: ip, srcPort: port } });
  const flushedOn = (node: string) => sent.filter((s) => s.node === node).flatMap((s) => s.msgs);
  const fourTimes = (msgs: OfMessage[]) => [...msgs, ...msgs, ...msgs, ...msgs];

  beforeEach(() => {
    jest.useFakeTimers();
    sent = [];
    kept = new Set();
    flusher = new LbConntrackFlusher({
      log: pino({ level: 'silent' }),
      switches: () => [['hv1', conn('hv1')], ['hv2', conn('hv2')], ['down', conn('down', false)]],
      backendsOfVip: () => kept,
      stopped: () => false,
    });
  });
  afterEach(() => jest.useRealTimers());

  it("flushes a UDP backend's entries a second after it stops getting new flows, four passes on every connected node", async () => {
    flusher.noteDeactivated(model([{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }]));
    flusher.noteDeactivated(model([{ ip: '10.0.0.1' }, { ip: '10.0.0.2', healthy: false }]));
    await jest.advanceTimersByTimeAsync(999);
    expect(sent).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    const flush = udpFlush('10.0.0.2', 5353);
    expect(sent).toEqual([{ node: 'hv1', msgs: [flush, flush, flush, flush] }, { node: 'hv2', msgs: [flush, flush, flush, flush] }]);
  });

  it('keeps the entries of a backend that is back before the flush', async () => {
    flusher.noteDeactivated(model([{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }]));
    flusher.noteDeactivated(model([{ ip: '10.0.0.1' }, { ip: '10.0.0.2', weight: 0 }]));
    flusher.noteDeactivated(model([{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }]));
    await jest.advanceTimersByTimeAsync(1000);
    expect(sent).toEqual([]);
  });

  it('flushes the entries of a targetPort the load balancer no longer uses', async () => {
    flusher.noteDeactivated(model([{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }]));
    flusher.noteDeactivated(model([{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }], [{ protocol: 'UDP', port: 53, targetPort: 53 }]));
    await jest.advanceTimersByTimeAsync(1000);
    const hv1 = sent.filter((s) => s.node === 'hv1').flatMap((s) => s.msgs);
    const both = [udpFlush('10.0.0.1', 5353), udpFlush('10.0.0.2', 5353)];
    expect(hv1).toEqual([...both, ...both, ...both, ...both]);
  });

  describe('a UDP listener removed (QA-128 F1: its flows were answered through it for as long as they sent)', () => {
    const both = (port: number, listenerPort = 53) => [udpFlush('10.0.0.1', port, listenerPort), udpFlush('10.0.0.2', port, listenerPort)];
    const backends = [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }];

    it('its last one: its entries are flushed', async () => {
      flusher.noteDeactivated(model(backends));
      flusher.noteDeactivated(model(backends, [{ protocol: 'TCP', port: 80, targetPort: 8080 }]));
      await jest.advanceTimersByTimeAsync(1000);
      expect(flushedOn('hv1')).toEqual(fourTimes(both(5353)));
    });

    it('one of two sharing a target port: only its entries (by the VIP port) are flushed', async () => {
      flusher.noteDeactivated(model(backends, [{ protocol: 'UDP', port: 53, targetPort: 5354 }, { protocol: 'UDP', port: 54, targetPort: 5354 }]));
      flusher.noteDeactivated(model(backends, [{ protocol: 'UDP', port: 54, targetPort: 5354 }]));
      await jest.advanceTimersByTimeAsync(1000);
      expect(flushedOn('hv1')).toEqual(fourTimes(both(5354, 53)));
    });

    it('removed, then added again with another target port: the old target port\'s entries are flushed', async () => {
      flusher.noteDeactivated(model(backends, [{ protocol: 'UDP', port: 53, targetPort: 5354 }]));
      flusher.noteDeactivated(model(backends, []));
      flusher.noteDeactivated(model(backends, [{ protocol: 'UDP', port: 53, targetPort: 5353 }]));
      await jest.advanceTimersByTimeAsync(1000);
      expect(flushedOn('hv1')).toEqual(fourTimes(both(5354)));
      // Added again, nothing more left: no flush of its new entries.
      sent.splice(0);
      flusher.noteDeactivated(model(backends, [{ protocol: 'UDP', port: 53, targetPort: 5353 }]));
      await jest.advanceTimersByTimeAsync(1000);
      expect(sent).toEqual([]);
    });
  });

  it("flushes every protocol's entries of backends that left, unless the VIP has them again", async () => {
    kept = new Set(['10.0.0.3']);
    flusher.flushRetiredLater([{ vni: VNI, vip: VIP, backends: ['10.0.0.2', '10.0.0.3'] }]);
    await jest.advanceTimersByTimeAsync(1000);
    const flush = ctFlushMessage({ zone: ctZone(VNI), orig: { dst: VIP }, reply: { src: '10.0.0.2' } });
    expect(sent.find((s) => s.node === 'hv1')?.msgs).toEqual([flush, flush, flush, flush]);
  });

  it("flushes all of a node's VIP UDP entries at once, on that node only", () => {
    flusher.flushVipUdp('hv2', model([{ ip: '10.0.0.1' }]));
    const flush = ctFlushMessage({ zone: ctZone(VNI), ipProto: IP_PROTO.UDP, orig: { dst: VIP } });
    expect(sent).toEqual([{ node: 'hv2', msgs: [flush, flush, flush, flush] }]);
  });

  describe('a node that does not take its flushes at once (QA-124 F4)', () => {
    const lines: string[] = [];
    const log = pino({ level: 'debug' }, { write: (l: string) => void lines.push(l) });
    const flushes = (n: number) => Array.from({ length: n }, (_, i) => `10.1.${i >> 8}.${i & 255}`);
    const make = (transact: (msgs: OfMessage[]) => Promise<void>, connected = () => true) =>
      new LbConntrackFlusher({ log, switches: () => [['hv1', { get connected() { return connected(); }, transact } as unknown as OpenFlowConnection]], backendsOfVip: () => new Set(), stopped: () => false });
    beforeEach(() => lines.splice(0));

    it('sends a thousand load balancers\' flushes in chunks, and again from the chunk that failed', async () => {
      const got: number[] = [];
      let fail = 1;
      const f = make(async (msgs) => {
        // The second chunk times out once, as a switch busy deleting 447k flows did.
        if (got.length === 1 && fail-- > 0) throw new OpenFlowTimeoutError({ type: 'barrier_request', xid: 1 } as OfMessage, 30000);
        got.push(msgs.length);
      });
      f.flushRetiredLater([{ vni: VNI, vip: VIP, backends: flushes(1000) }]);
      await jest.advanceTimersByTimeAsync(1000);
      expect(got).toEqual([1024]);
      await jest.advanceTimersByTimeAsync(1000);
      // 1000 flushes, 256 a request, four passes each: every one sent, none twice.
      expect(got).toEqual([1024, 1024, 1024, 232 * 4]);
      expect(lines.join('')).toContain('"attempts":2');
    });

    it('tries a switch that is not connected again, and says so with the real cause when it never takes them', async () => {
      const f = make(async () => undefined, () => false);
      f.flushRetiredLater([{ vni: VNI, vip: VIP, backends: ['10.0.0.2'] }]);
      await jest.advanceTimersByTimeAsync(1000 + 1000 + 2000 + 4000);
      const warned = lines.map((l) => JSON.parse(l) as { msg: string; attempts?: number }).filter((l) => /could not flush/.test(l.msg));
      expect(warned).toHaveLength(1);
      expect(warned[0]!.msg).toContain('(the switch is not connected)');
      expect(warned[0]!.msg).not.toContain('3.1');
      expect(warned[0]!.attempts).toBe(4);
    });

    it('blames the OVS version only when the switch refuses NXT_CT_FLUSH, and does not retry then', async () => {
      let calls = 0;
      const f = make(async () => {
        calls++;
        throw new OpenFlowRequestError(errorFromName('OFPBRC_BAD_SUBTYPE', 1), undefined, undefined);
      });
      f.flushRetiredLater([{ vni: VNI, vip: VIP, backends: ['10.0.0.2'] }]);
      await jest.advanceTimersByTimeAsync(10000);
      expect(calls).toBe(1);
      expect(lines.join('')).toContain('no NXT_CT_FLUSH: OVS before 3.1');
    });
  });
});
