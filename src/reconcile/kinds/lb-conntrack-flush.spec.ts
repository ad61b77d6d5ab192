import pino from 'pino';
import { IP_PROTO, type OfMessage, type OpenFlowConnection } from '../../openflow';
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
  const udpFlush = (ip: string, port: number) => ctFlushMessage({ zone: ctZone(VNI), ipProto: IP_PROTO.UDP, orig: { dst: VIP }, reply: { src: ip, srcPort: port } });

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
});
