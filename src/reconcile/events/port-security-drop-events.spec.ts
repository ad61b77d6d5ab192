import pino from 'pino';
import type { NodeRealization, VirtualPort } from '../../resources/kinds';
import { NODE_REALIZATIONS, PORTS } from '../../store/kinds';
import { ObjectStore } from '../../store/object-store';
import { SharedInformers } from '../shared-informers';
import { MemoryStore } from '../testing/memory-store';
import { AgentReportEvents, PORT_SECURITY_DROPS, newDropReports } from './port-security-drop-events';

const port = (name: string, node: string): VirtualPort =>
  ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name, namespace: 't' }, spec: { network: 'net' }, status: { node } }) as VirtualPort;
const report = (p: string, uid: string | undefined, i: number) => ({ port: p, uid, time: `2026-12-07T00:00:0${i}.000Z`, message: `on node hv1, port security dropped ${i} frame(s)` });

describe('newDropReports', () => {
  it('gives the reports the update added', () => {
    const rz = (drops: ReturnType<typeof report>[]): NodeRealization => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'NodeRealization', metadata: { name: 'hv1' }, spec: {}, status: { portSecurityDrops: drops } });
    expect(newDropReports(rz([report('t/a', 'u', 1)]), rz([report('t/a', 'u', 1), report('t/a', 'u', 2)]))).toEqual([report('t/a', 'u', 2)]);
    // The oldest fell off the capped list: nothing new for that.
    expect(newDropReports(rz([report('t/a', 'u', 1), report('t/a', 'u', 2)]), rz([report('t/a', 'u', 2)]))).toEqual([]);
  });
});

describe('AgentReportEvents: port security drops', () => {
  it('records a Warning on the port an agent reports, only where the port is bound to that agent\'s node, and not for reports there before it started', async () => {
    const objects = new ObjectStore(new MemoryStore());
    const vm1 = await objects.create<VirtualPort>(PORTS, port('vm1', 'hv1'));
    const other = await objects.create<VirtualPort>(PORTS, port('vm2', 'hv2'));
    await objects.create<NodeRealization>(NODE_REALIZATIONS, { apiVersion: 'vnet.dev/v1alpha1', kind: 'NodeRealization', metadata: { name: 'hv1' }, spec: {} });
    const write = (drops: ReturnType<typeof report>[]) => objects.modify<NodeRealization>(NODE_REALIZATIONS, undefined, 'hv1', (cur) => ({ ...cur, status: { ...cur.status, portSecurityDrops: drops } }), { subresource: 'status' });
    const old = report('t/vm1', vm1.metadata.uid, 1);
    await write([old]);
    const recorded: Array<{ name: string; type: string; reason: string; message: string }> = [];
    const informers = new SharedInformers(objects.kv);
    const events = new AgentReportEvents({ record: (o, type, reason, message) => void recorded.push({ name: o.metadata.name, type, reason, message }) }, informers, pino({ level: 'silent' }));
    await events.start();
    try {
      const fresh = report('t/vm1', vm1.metadata.uid, 2);
      // hv1's agent naming hv2's VM, and a VM of the name made again (another uid): no event.
      const foreign = report('t/vm2', other.metadata.uid, 3);
      const stale = report('t/vm1', 'an-earlier-uid', 4);
      await write([old, fresh, foreign, stale]);
      const deadline = Date.now() + 3000;
      while (recorded.length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 100));
      expect(recorded).toEqual([{ name: 'vm1', type: 'Warning', reason: PORT_SECURITY_DROPS, message: fresh.message }]);
    } finally {
      events.stop();
      informers.stop();
    }
  });
});
