import pino from 'pino';
import type { HypervisorNode, NodeEventReport, NodeRealization } from '../../resources/kinds';
import { NODE_REALIZATIONS, NODES } from '../../store/kinds';
import { ObjectStore } from '../../store/object-store';
import { SharedInformers } from '../shared-informers';
import { MemoryStore } from '../testing/memory-store';
import { newNodeEventReports } from './node-report-events';
import { AgentReportEvents } from './port-security-drop-events';

const report = (reason: string, i: number, type: NodeEventReport['type'] = 'Warning'): NodeEventReport => ({ time: `2026-12-08T00:00:0${i}.000Z`, type, reason, message: `repair ${i}` });

describe('newNodeEventReports', () => {
  it('gives the reports the update added, of the reasons vnetd\'s repairs use only', () => {
    const rz = (events: NodeEventReport[]): NodeRealization => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'NodeRealization', metadata: { name: 'hv1' }, spec: {}, status: { nodeEvents: events } });
    expect(newNodeEventReports(rz([report('FlowsRepaired', 1)]), rz([report('FlowsRepaired', 1), report('LayoutRepaired', 2), report('NodeReady', 3)]))).toEqual([report('LayoutRepaired', 2)]);
  });
});

describe('AgentReportEvents: repairs on the node', () => {
  it('records an agent\'s repair reports on its own Node (QA-155 F5: with agents, only the agent\'s log), not those there before it started', async () => {
    const objects = new ObjectStore(new MemoryStore());
    await objects.create<HypervisorNode>(NODES, { apiVersion: 'vnet.dev/v1alpha1', kind: 'Node', metadata: { name: 'hv1' }, spec: { tunnelIP: '192.0.2.1' } } as HypervisorNode);
    await objects.create<NodeRealization>(NODE_REALIZATIONS, { apiVersion: 'vnet.dev/v1alpha1', kind: 'NodeRealization', metadata: { name: 'hv1' }, spec: {} });
    const write = (events: NodeEventReport[]) => objects.modify<NodeRealization>(NODE_REALIZATIONS, undefined, 'hv1', (cur) => ({ ...cur, status: { ...cur.status, nodeEvents: events } }), { subresource: 'status' });
    const old = report('FlowsRepaired', 1);
    await write([old]);
    const recorded: Array<{ name: string; kind: string; type: string; reason: string; message: string }> = [];
    const informers = new SharedInformers(objects.kv);
    const events = new AgentReportEvents({ record: (o, type, reason, message) => void recorded.push({ name: o.metadata.name, kind: o.kind, type, reason, message }) }, informers, pino({ level: 'silent' }));
    await events.start();
    try {
      await write([old, report('PortConfigRepaired', 2), report('FlowsInstalled', 3, 'Normal')]);
      const deadline = Date.now() + 3000;
      while (recorded.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(recorded).toEqual([
        { name: 'hv1', kind: 'Node', type: 'Warning', reason: 'PortConfigRepaired', message: 'repair 2' },
        { name: 'hv1', kind: 'Node', type: 'Normal', reason: 'FlowsInstalled', message: 'repair 3' },
      ]);
    } finally {
      events.stop();
      informers.stop();
    }
  });
});
