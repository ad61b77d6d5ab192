import type { HypervisorNode, LoadBalancer, UnhealthyBackend } from '../../resources/kinds';
import { backendKey } from './lb-health';
import { failingInStatus, failureCounts, failureText, reportedFailing, sameBackendKeys, uncheckedOnDownNodes } from './lb-health-reports';
import type { LogicalModel } from '../../pipeline';

const failing = (lb: string, ip: string): UnhealthyBackend => ({ loadBalancer: lb, ip, reason: 'RST', since: '2026-11-29T10:00:00.000Z' });
const node = (name: string, unhealthyBackends?: UnhealthyBackend[]): HypervisorNode => ({
  apiVersion: 'vnet.dev/v1alpha1',
  kind: 'Node',
  metadata: { name },
  spec: { tunnelIP: '192.0.2.1' },
  status: unhealthyBackends ? { unhealthyBackends } : {},
});

describe('health reports across agents', () => {
  const nodes = [node('hv1', [failing('lb1', '10.0.0.5')]), node('hv2', [failing('lb1', '10.0.0.6'), failing('lb2', '10.0.0.6')]), node('hv3')];

  it('gathers every node report by (load balancer, address), leaving out the node that probes its own', () => {
    expect([...reportedFailing(nodes).keys()].sort()).toEqual(['lb1/10.0.0.5', 'lb1/10.0.0.6', 'lb2/10.0.0.6']);
    expect([...reportedFailing(nodes, 'hv2').keys()]).toEqual(['lb1/10.0.0.5']);
    expect(reportedFailing(nodes, 'hv2').get(backendKey('lb1', '10.0.0.5'))).toEqual({ ...failing('lb1', '10.0.0.5'), reportedBy: ['hv1'] });
    expect(reportedFailing([nodes[1]!])).toEqual(new Map([[backendKey('lb1', '10.0.0.6'), { ...failing('lb1', '10.0.0.6'), reportedBy: ['hv2'] }], [backendKey('lb2', '10.0.0.6'), { ...failing('lb2', '10.0.0.6'), reportedBy: ['hv2'] }]]));
    expect(reportedFailing([]).size).toBe(0);
  });

  it("counts a report only from the node the backend is bound to (found in review: any agent's token could fail every node's backends)", () => {
    const forged = reportedFailing([node('hv1', [failing('lb1', '10.0.0.6')]), nodes[1]!]).get(backendKey('lb1', '10.0.0.6'));
    expect(forged?.reportedBy).toEqual(['hv1', 'hv2']);
    expect(failureCounts(forged, 'hv2')).toBe(true);
    const only = reportedFailing([node('hv1', [failing('lb1', '10.0.0.6')])]).get(backendKey('lb1', '10.0.0.6'));
    expect([failureCounts(only, 'hv2'), failureCounts(only, undefined), failureCounts(only, 'hv1')]).toEqual([false, false, true]);
    // A down node's backends, which nobody reports, count wherever they are.
    expect(failureCounts({ ...failing('lb1', '10.0.0.6') }, 'hv2')).toBe(true);
    expect(failureCounts(undefined, 'hv2')).toBe(false);
  });

  it('compares reports by their backends only (a new reason or time recompiles nothing)', () => {
    const a = reportedFailing(nodes);
    const b = reportedFailing([node('hv1', [{ ...failing('lb1', '10.0.0.5'), reason: 'no answer' }]), nodes[1]!]);
    expect(sameBackendKeys(a, b)).toBe(true);
    expect(sameBackendKeys(a, reportedFailing(nodes, 'hv1'))).toBe(false);
    expect(sameBackendKeys(reportedFailing([node('hv1', [failing('lb1', '10.0.0.7')])]), reportedFailing([nodes[0]!]))).toBe(false);
  });

  it('takes from LoadBalancer status the bound backends that were unhealthy, only where health checks are on', () => {
    const lb = (uid: string, healthCheck: boolean): LoadBalancer => ({
      apiVersion: 'vnet.dev/v1alpha1',
      kind: 'LoadBalancer',
      metadata: { name: uid, namespace: 't', uid },
      spec: { network: 'net', listeners: [{ protocol: 'TCP', port: 80 }], ...(healthCheck ? { healthCheck: { protocol: 'TCP' } } : {}) },
      status: {
        backends: [
          { name: 'up', ip: '10.0.0.5', node: 'hv1', healthy: true, connections: 3 },
          { name: 'down', ip: '10.0.0.6', node: 'hv2', healthy: false, connections: 0 },
          { name: 'unbound', ip: '10.0.0.7', node: '', healthy: false, connections: 0 },
        ],
      },
    });
    expect([...failingInStatus([lb('checked', true), lb('unchecked', false)]).keys()]).toEqual(['checked/10.0.0.6']);
  });
});

describe('backends on a node nobody can check them on', () => {
  const silent = (name: string): HypervisorNode => ({
    ...node(name),
    status: { conditions: [{ type: 'Ready', status: 'Unknown', reason: 'AgentNotReporting', message: 'no heartbeat', lastTransitionTime: '2026-12-02T21:00:00Z' }] },
  });
  const lb = (uid: string, healthCheck: boolean): LoadBalancer => ({
    apiVersion: 'vnet.dev/v1alpha1',
    kind: 'LoadBalancer',
    metadata: { name: uid, namespace: 't', uid },
    spec: { network: 'net', listeners: [{ protocol: 'TCP', port: 80 }], ...(healthCheck ? { healthCheck: { protocol: 'TCP' } } : {}) },
  });
  const backend = (ip: string, node?: string) => ({ name: ip, ip, mac: '02:00:00:00:00:01', weight: 1, healthy: true, ...(node ? { node } : {}) });
  const model = {
    loadBalancers: new Map([
      ['checked', { backends: [backend('10.0.0.5', 'hv1'), backend('10.0.0.6', 'hv2'), backend('10.0.0.7')] }],
      ['passive', { backends: [backend('10.0.0.6', 'hv2')] }],
    ]),
  } as unknown as LogicalModel;

  it('count as failing where health checks are on (nobody checks them), naming the node; not on a reporting node, nor the process\'s own, nor without checks', () => {
    const lbs = [lb('checked', true), lb('passive', false)];
    let reads = 0;
    const modelOf = () => (reads++, model);
    const out = uncheckedOnDownNodes([node('hv1'), silent('hv2')], lbs, modelOf);
    expect(out).toEqual(new Map([[backendKey('checked', '10.0.0.6'), { loadBalancer: 'checked', ip: '10.0.0.6', reason: 'not checked: the agent of node hv2 is not reporting', since: '2026-12-02T21:00:00Z' }]]));
    expect(reads).toBe(1);
    expect(uncheckedOnDownNodes([node('hv1'), silent('hv2')], lbs, modelOf, 'hv2').size).toBe(0);
    // No silent node (every Node event of a healthy cluster): the model is not read (a stale one is rebuilt whole when read).
    expect(uncheckedOnDownNodes([node('hv1'), node('hv2')], lbs, modelOf).size).toBe(0);
    expect(reads).toBe(1);
  });

  it('count as failing where the node\'s switch does not answer (a probe leaves from it), until it answers again', () => {
    const unreachable: HypervisorNode = {
      ...node('hv2'),
      status: { conditions: [{ type: 'Ready', status: 'False', reason: 'SwitchUnreachable', message: 'br-int does not answer', lastTransitionTime: '2026-12-03T14:00:00Z' }] },
    };
    const lbs = [lb('checked', true), lb('passive', false)];
    const out = uncheckedOnDownNodes([node('hv1'), unreachable], lbs, () => model);
    expect(out).toEqual(new Map([[backendKey('checked', '10.0.0.6'), { loadBalancer: 'checked', ip: '10.0.0.6', reason: 'not checked: the switch of node hv2 does not answer', since: '2026-12-03T14:00:00Z' }]]));
    // The process on that node (an agent) leaves its own to its own checks.
    expect(uncheckedOnDownNodes([node('hv1'), unreachable], lbs, () => model, 'hv2').size).toBe(0);
    expect(failureText(out.get(backendKey('checked', '10.0.0.6'))!)).toBe('not checked: the switch of node hv2 does not answer');
    expect(failureText(failing('lb1', '10.0.0.5'))).toBe('failing health checks: RST since 2026-11-29T10:00:00.000Z');
  });
});
