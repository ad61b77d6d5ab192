import type { HypervisorNode, LoadBalancer } from '../../resources/kinds';
import type { Condition } from '../../resources/object';
import type { KubeEvent } from '../../resources/event';
import { realizedNodes, renderLbStatus } from './lb-status';

const now = new Date('2026-11-28T08:00:00Z');
const cond = (message: string, reason = 'Realized'): Condition => ({ type: 'Ready', status: 'True', reason, message, lastTransitionTime: '2026-11-28T07:59:00Z' });
const lb = (status: Record<string, unknown>): LoadBalancer =>
  ({
    apiVersion: 'vnet.dev/v1alpha1',
    kind: 'LoadBalancer',
    metadata: { name: 'web', namespace: 't1' },
    spec: { network: 'blue', vip: '10.0.0.100', listeners: [{ protocol: 'TCP', port: 80, targetPort: 8080 }], backends: [{ port: 'b1' }, { port: 'b2', weight: 3 }, { ip: '10.0.0.50' }] },
    status,
  }) as unknown as LoadBalancer;
const plain = { isTTY: false, stderrIsTTY: false, color: false };

describe('lb status rendering', () => {
  it('shows node, health and connections of each backend when the status has them, and the total', () => {
    const text = renderLbStatus(
      lb({
        vip: '10.0.0.100',
        backends: [
          { name: 'b1', ip: '10.0.0.4', node: 'hv1', healthy: true, connections: 12 },
          { name: 'b2', ip: '10.0.0.5', node: 'hv2', healthy: false, connections: 0 },
          { name: '10.0.0.50', ip: '10.0.0.50', node: 'hv1', healthy: true, connections: 3 },
        ],
        conditions: [cond('flows installed on node(s) hv1, hv2')],
      }),
      plain,
      new Map(),
      now,
    );
    expect(text).toMatch(/\nNodes realized: +hv1, hv2\n/);
    expect(text).toMatch(/Backends:\n +BACKEND +ADDRESS +NODE +WEIGHT +HEALTH +DISPATCHED\n/);
    expect(text).toMatch(/\n +port\/b1 +10\.0\.0\.4 +hv1 +1 +healthy +12\n/);
    expect(text).toMatch(/\n +port\/b2 +10\.0\.0\.5 +hv2 +3 +unhealthy +0\n/);
    expect(text).toMatch(/\n +ip\/10\.0\.0\.50 +10\.0\.0\.50 +hv1 +1 +healthy +3\n/);
    expect(text).toContain('  2/3 healthy; 15 connection(s) dispatched\n');
    expect(text).toMatch(/Conditions:\n +TYPE +STATUS +REASON +AGE +MESSAGE\n +Ready +True +Realized +60s +flows installed/);
  });

  it("names what the backends' nodes report against reaching them: a cut tunnel, a switch not answering (QA-126 H3)", () => {
    const status = { vip: '10.0.0.100', backends: [{ name: 'b1', ip: '10.0.0.4', node: 'hv1', healthy: true }, { name: 'b2', ip: '10.0.0.5', node: 'hv2', healthy: true }, { name: '10.0.0.50', ip: '10.0.0.50', node: 'hv2', healthy: true }] };
    const node = (name: string, conditions: Condition[]) => ({ metadata: { name }, spec: { tunnelIP: '192.0.2.1' }, status: { conditions } }) as unknown as HypervisorNode;
    const nodes = [
      node('hv1', [{ type: 'Ready', status: 'True', reason: 'Connected', message: '', lastTransitionTime: '' }]),
      node('hv2', [{ type: 'TunnelsUp', status: 'False', reason: 'NoProbeAnswered', message: 'no tunnel probe answered by hv1 for 15 s', lastTransitionTime: '' }]),
    ];
    const text = renderLbStatus(lb(status), plain, new Map(), now, undefined, nodes);
    // Before: "3/3 healthy" and nothing else, while clients on hv1 could reach none of hv2's backends.
    expect(text).toContain("Trouble on the backends' nodes:\n  node hv2 (port/b2, ip/10.0.0.50): TunnelsUp=False NoProbeAnswered: no tunnel probe answered by hv1 for 15 s: connections from clients on other nodes do not reach them\n");
    expect(renderLbStatus(lb(status), plain, new Map(), now, undefined, [nodes[0]!])).not.toContain('Trouble');
    // Nodes unreadable (a tenant's token): nothing said.
    expect(renderLbStatus(lb(status), plain, new Map(), now)).not.toContain('Trouble');
  });

  it('shows "-" for what an older status lacks, filling address and node from the ports', () => {
    const text = renderLbStatus(lb({ vip: '10.0.0.100', backends: [{ name: 'b1', healthy: true }] }), plain, new Map([['b2', { ips: ['10.0.0.5'], node: 'hv2' }]]), now);
    expect(text).toMatch(/\n +port\/b1 +- +- +1 +healthy +-\n/);
    expect(text).toMatch(/\n +port\/b2 +10\.0\.0\.5 +hv2 +3 +- +-\n/);
    expect(text).toMatch(/\n +ip\/10\.0\.0\.50 +10\.0\.0\.50 +- +1 +- +-\n/);
    expect(text).toContain('  1/3 healthy\n');
    expect(text).toMatch(/\nNodes realized: +not reported yet\n/);
  });

  it('shows "-" (or what the port says) where the controller reports an empty address or node', () => {
    const text = renderLbStatus(
      lb({ vip: '10.0.0.100', backends: [{ name: 'b1', ip: '', node: '', healthy: false, connections: 0 }, { name: 'b2', ip: '10.0.0.5', node: '', healthy: false, connections: 0 }] }),
      plain,
      new Map([['b2', { ips: ['10.0.0.5'], node: 'hv2' }]]),
      now,
    );
    expect(text).toMatch(/\n +port\/b1 +- +- +1 +unresolved +0\n/);
    expect(text).toMatch(/\n +port\/b2 +10\.0\.0\.5 +- +3 +unbound +0\n/);
  });

  it('an address backend no port holds is unresolved, and the total says how many get new connections as lb list does', () => {
    const text = renderLbStatus(
      lb({
        vip: '10.0.0.100',
        healthyBackends: '1/3',
        backends: [
          { name: 'b1', ip: '10.0.0.4', node: 'hv1', healthy: true, connections: 5 },
          { name: 'b2', ip: '10.0.0.5', node: 'hv2', healthy: true, connections: 2 },
          { name: '10.0.0.50', ip: '', node: '', healthy: false, connections: 0 },
        ],
      }),
      plain,
      new Map(),
      now,
    );
    expect(text).toMatch(/\n +ip\/10\.0\.0\.50 +10\.0\.0\.50 +- +1 +unresolved +0\n/);
    expect(text).toContain('  1/3 get new connections, 2/3 healthy; 7 connection(s) dispatched\n');
  });

  it('a port backend with no address of the VIP\'s family shows none of its others, and says unresolved', () => {
    const text = renderLbStatus(
      lb({ vip: '10.0.0.100', backends: [{ name: 'b1', ip: '', node: '', healthy: false, connections: 0 }, { name: 'b2', ip: '10.0.0.5', node: 'hv2', healthy: false, connections: 0 }] }),
      plain,
      new Map([['b1', { ips: ['fd00::4'], node: 'hv1' }], ['b2', { ips: ['10.0.0.5', 'fd00::5'], node: 'hv2' }]]),
      now,
    );
    expect(text).toMatch(/\n +port\/b1 +- +- +1 +unresolved +0\n/);
    expect(text).toMatch(/\n +port\/b2 +10\.0\.0\.5 +hv2 +3 +unhealthy +0\n/);
    // Before the status: the port's address of the VIP's family only.
    const early = renderLbStatus(lb({ vip: '10.0.0.100' }), plain, new Map([['b1', { ips: ['fd00::4'], node: 'hv1' }], ['b2', { ips: ['fd00::5', '10.0.0.5'], node: 'hv2' }]]), now);
    expect(early).toMatch(/\n +port\/b1 +- +hv1 +1 +- +-\n/);
    expect(early).toMatch(/\n +port\/b2 +10\.0\.0\.5 +hv2 +3 +- +-\n/);
  });

  it('fits the terminal and colours only when asked', () => {
    const status = { backends: [{ name: 'b1', ip: '10.0.0.4', node: 'a-very-long-hypervisor-name.example.internal', healthy: true, connections: 1 }], conditions: [cond('flows installed on node(s) a-very-long-hypervisor-name.example.internal')] };
    const narrow = renderLbStatus(lb(status), { ...plain, columns: 60 }, new Map(), now);
    for (const line of narrow.trimEnd().split('\n').filter((l) => l.startsWith('  '))) expect(line.length).toBeLessThanOrEqual(60);
    expect(narrow).not.toContain('\x1b[');
    expect(renderLbStatus(lb(status), { ...plain, isTTY: true, color: true }, new Map(), now)).toContain('\x1b[32mhealthy\x1b[39m');
  });

  it('shows the health check with the server defaults filled in, or that there is none', () => {
    const withCheck = (healthCheck: Record<string, unknown>) => {
      const o = lb({});
      o.spec!.healthCheck = healthCheck;
      return renderLbStatus(o, plain, new Map(), now);
    };
    expect(renderLbStatus(lb({}), plain, new Map(), now)).toMatch(/\nSession affinity: +None\nHealth check: +none \(a backend is healthy while its port is bound\)\nNodes realized:/);
    expect(withCheck({ protocol: 'TCP' })).toMatch(/\nHealth check: +TCP every 5s, timeout 2s, down after 3 failures, up after 2 successes\n/);
    expect(withCheck({ protocol: 'TCP', intervalSeconds: 10, unhealthyThreshold: 1 })).toMatch(/\nHealth check: +TCP every 10s, timeout 2s, down after 1 failure, up after 2 successes\n/);
  });

  it('reads realized and pending nodes from the Ready condition', () => {
    expect(realizedNodes([cond('flows installed on node(s) hv1, hv2')])).toEqual({ done: ['hv1', 'hv2'], pending: [] });
    expect(realizedNodes([cond('flows not yet installed on node(s) hv2 (of hv1, hv2)', 'Realizing')])).toEqual({ done: ['hv1'], pending: ['hv2'] });
    expect(realizedNodes([cond('flows not yet installed on node(s) hv2 (of hv1, hv2); the switch of node(s) hv2 does not answer', 'SwitchUnreachable')])).toEqual({ done: ['hv1'], pending: ['hv2'] });
    expect(realizedNodes([cond('no node needs flows for it yet (no bound ports)')])).toEqual({ done: [], pending: [] });
    expect(realizedNodes([])).toBeUndefined();
  });
  it('lists its events oldest first, as kubectl describe does, the latest 10; none from a server without events', () => {
    const ev = (i: number, count = 1) => ({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `web.${i}`, namespace: 't1' },
      involvedObject: { apiVersion: 'vnet.dev/v1alpha1', kind: 'LoadBalancer', name: 'web', namespace: 't1' },
      type: i % 2 ? 'Warning' : 'Normal',
      reason: i % 2 ? 'NoHealthyBackends' : 'AllBackendsAvailable',
      message: `BackendsAvailable: message ${i}`,
      source: { component: 'vnetd' },
      firstTimestamp: '2026-11-28T07:50:00Z',
      lastTimestamp: `2026-11-28T07:${String(40 + i).padStart(2, '0')}:00Z`,
      count,
      reportingComponent: 'vnetd',
      reportingInstance: 'vnetd-h',
    });
    const status = lb({ conditions: [cond('flows installed on node(s) hv1')] });
    const text = renderLbStatus(status, plain, new Map(), now, [ev(12, 3), ev(1), ...Array.from({ length: 10 }, (_, i) => ev(i + 2))] as KubeEvent[]);
    expect(text).toMatch(/\nEvents:\n +TYPE +REASON +AGE +MESSAGE\n +Warning +NoHealthyBackends +17m +BackendsAvailable: message 3\n/);
    expect(text).toMatch(/\n +Normal +AllBackendsAvailable +8m \(x3 over 10m\) +BackendsAvailable: message 12\n  \(and 2 older: vnetctl get events -n t1 --for vlb\/web\)\n$/);
    expect(text).not.toMatch(/message [12]\n/);
    expect(renderLbStatus(status, plain, new Map(), now, [])).toMatch(/\nEvents:\n  <none>\n$/);
    expect(renderLbStatus(status, plain, new Map(), now)).not.toContain('Events:');
  });
});
