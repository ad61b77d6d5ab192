import type { HypervisorNode } from '../resources/kinds';
import { FLOWS_REFUSED, nodeDownReason, nodeStatus, switchUnreachable, tunnelsDown } from './node-status';

const node: HypervisorNode = { apiVersion: 'vnet.dev/v1alpha1', kind: 'Node', metadata: { name: 'hv1', generation: 2 }, spec: { tunnelIP: '192.0.2.1' } };
const cond = (s: ReturnType<typeof nodeStatus>, t: string) => s.conditions?.find((c) => c.type === t);

describe('nodeStatus', () => {
  it('is Connected and Ready with version and datapath types when the layout is in place', () => {
    const s = nodeStatus(node, { connected: true, reason: 'Connected', message: 'ok', ovsVersion: '3.1.0', datapathTypes: ['netdev', 'system'] }, { ready: true, reason: 'LayoutReady', message: 'm' }, 4);
    expect(s).toMatchObject({ connected: true, ovsVersion: '3.1.0', datapathTypes: ['netdev', 'system'], boundPorts: 4, observedGeneration: 2 });
    expect(cond(s, 'Connected')).toMatchObject({ status: 'True', observedGeneration: 2 });
    expect(cond(s, 'Ready')).toMatchObject({ status: 'True', reason: 'LayoutReady' });
  });

  it('an agent back after it was marked silent: TunnelsUp no longer says it stopped reporting while its probes are not judged yet', () => {
    const silent = { conditions: [{ type: 'TunnelsUp', status: 'Unknown', reason: 'AgentNotReporting', message: 'the agent stopped reporting', lastTransitionTime: '2026-12-03T10:00:00Z' }] } as HypervisorNode['status'];
    const back = nodeStatus({ ...node, status: silent }, { connected: true, reason: 'Connected', message: 'ok' }, { ready: true, reason: 'LayoutReady', message: 'm' }, 0);
    expect(cond(back, 'TunnelsUp')).toMatchObject({ status: 'Unknown', reason: 'Probing' });
    const judged = nodeStatus({ ...node, status: back }, { connected: true, reason: 'Connected', message: 'ok' }, { ready: true, reason: 'LayoutReady', message: 'm' }, 0, undefined, undefined, { status: 'True', reason: 'ProbesAnswered', message: 'm' });
    expect(cond(judged, 'TunnelsUp')).toMatchObject({ status: 'True', reason: 'ProbesAnswered' });
    // Any other verdict stands until the probes give a new one.
    const up = nodeStatus({ ...node, status: judged }, { connected: true, reason: 'Connected', message: 'ok' }, { ready: true, reason: 'LayoutReady', message: 'm' }, 0);
    expect(cond(up, 'TunnelsUp')).toMatchObject({ status: 'True', reason: 'ProbesAnswered' });
  });

  it('a switch that does not answer: TunnelsUp is Unknown (no probe is sent or answered there), whatever the last round said', () => {
    const ok = { connected: true, reason: 'Connected', message: 'ok' };
    const answered = { status: 'True' as const, reason: 'ProbesAnswered', message: 'm' };
    const up = nodeStatus(node, ok, { ready: true, reason: 'LayoutReady', message: 'm' }, 0, undefined, undefined, answered);
    const down = nodeStatus({ ...node, status: up }, ok, { ready: false, reason: 'SwitchUnreachable', message: 'br-int does not answer' }, 0, undefined, undefined, answered);
    expect(cond(down, 'TunnelsUp')).toMatchObject({ status: 'Unknown', reason: 'SwitchUnreachable' });
    const back = nodeStatus({ ...node, status: down }, ok, { ready: true, reason: 'LayoutReady', message: 'm' }, 0, undefined, undefined, answered);
    expect(cond(back, 'TunnelsUp')).toMatchObject({ status: 'True', reason: 'ProbesAnswered' });
  });

  it('a switch that refuses vnetd\'s flows: Ready=False FlowsRefused, TunnelsUp Unknown naming the switch (not the underlay), and its backends down as an unreachable switch\'s (QA-155 F1)', () => {
    const ok = { connected: true, reason: 'Connected', message: 'ok' };
    const lost = { status: 'False' as const, reason: 'NoProbeAnswered', message: 'no peer answers: check the underlay' };
    const refused = nodeStatus(node, ok, { ready: false, reason: FLOWS_REFUSED, message: "br-int answers but refuses vnetd's flows" }, 0, undefined, undefined, lost);
    expect(cond(refused, 'Ready')).toMatchObject({ status: 'False', reason: FLOWS_REFUSED });
    expect(cond(refused, 'TunnelsUp')).toMatchObject({ status: 'Unknown', reason: FLOWS_REFUSED });
    expect(cond(refused, 'TunnelsUp')?.message).toMatch(/refuses vnetd's flows/);
    const n = { ...node, status: refused };
    expect(switchUnreachable(n)).toBe(true);
    expect(nodeDownReason(n)).toBe(FLOWS_REFUSED);
  });

  it('unansweredPeers goes with the TunnelsUp that named them: written with it, kept while it is left as it is, gone with a new verdict or a dead switch (and never in the condition)', () => {
    const ok = { connected: true, reason: 'Connected', message: 'ok' };
    const layout = { ready: true, reason: 'LayoutReady', message: 'm' };
    const lost = { status: 'False' as const, reason: 'ProbesUnanswered', message: 'no tunnel probe came back in 11 s from hv2 (geneve)', unansweredPeers: ['hv2'] };
    const named = nodeStatus(node, ok, layout, 0, undefined, undefined, lost);
    expect(named.unansweredPeers).toEqual(['hv2']);
    expect(Object.keys(cond(named, 'TunnelsUp')!).sort()).toEqual(['lastTransitionTime', 'message', 'observedGeneration', 'reason', 'status', 'type']);
    expect(nodeStatus({ ...node, status: named }, ok, layout, 0).unansweredPeers).toEqual(['hv2']);
    expect(nodeStatus({ ...node, status: named }, ok, layout, 0, undefined, undefined, { status: 'True', reason: 'ProbesAnswered', message: 'm' }).unansweredPeers).toBeUndefined();
    expect(nodeStatus({ ...node, status: named }, ok, { ready: false, reason: 'SwitchUnreachable', message: 'br-int does not answer' }, 0, undefined, undefined, lost).unansweredPeers).toBeUndefined();
    const many = nodeStatus(node, ok, layout, 0, undefined, undefined, { ...lost, unansweredPeers: Array.from({ length: 100 }, (_, i) => `hv${1000 + i}`) });
    expect(many.unansweredPeers).toHaveLength(64);
  });

  it("a restarted process's Probing leaves the Node's last verdict as it is, and replaces none or the leader's AgentNotReporting (a controller restart flipped every TunnelsUp and its lastTransitionTime)", () => {
    const ok = { connected: true, reason: 'Connected', message: 'ok' };
    const layout = { ready: true, reason: 'LayoutReady', message: 'm' };
    const probing = { status: 'Unknown' as const, reason: 'Probing', message: 'tunnel probes to 1 peer(s) are out: judged within two rounds' };
    const answered = nodeStatus(node, ok, layout, 0, undefined, new Date('2026-12-07T10:00:00Z'), { status: 'True', reason: 'ProbesAnswered', message: 'm' });
    expect(cond(nodeStatus({ ...node, status: answered }, ok, layout, 0, undefined, new Date('2026-12-07T11:00:00Z'), probing), 'TunnelsUp')).toEqual(cond(answered, 'TunnelsUp'));
    expect(cond(nodeStatus(node, ok, layout, 0, undefined, undefined, probing), 'TunnelsUp')).toMatchObject({ status: 'Unknown', reason: 'Probing' });
    const silent = { conditions: [{ type: 'TunnelsUp', status: 'Unknown', reason: 'AgentNotReporting', message: 'the agent stopped reporting', lastTransitionTime: '2026-12-03T10:00:00Z' }] } as HypervisorNode['status'];
    expect(cond(nodeStatus({ ...node, status: silent }, ok, layout, 0, undefined, undefined, probing), 'TunnelsUp')).toMatchObject({ reason: 'Probing', message: probing.message });
  });

  it('a switch that does not answer with its OVSDB lost too (ovsdb-server dead) says SwitchUnreachable, not NotConnected: its objects are not Ready then (QA-131)', () => {
    const answered = { status: 'True' as const, reason: 'ProbesAnswered', message: 'm' };
    const up = nodeStatus(node, { connected: true, reason: 'Connected', message: 'ok' }, { ready: true, reason: 'LayoutReady', message: 'm' }, 0, undefined, undefined, answered);
    const lost = { connected: false, reason: 'Disconnected', message: 'lost the OVSDB connection' };
    const both = nodeStatus({ ...node, status: up }, lost, { ready: false, reason: 'SwitchUnreachable', message: 'br-int does not answer; and its OVSDB connection is lost: lost the OVSDB connection' }, 0, undefined, undefined, answered);
    expect(cond(both, 'Ready')).toMatchObject({ status: 'False', reason: 'SwitchUnreachable' });
    expect(cond(both, 'Connected')).toMatchObject({ status: 'False', reason: 'Disconnected' });
    expect(cond(both, 'TunnelsUp')).toMatchObject({ status: 'Unknown', reason: 'SwitchUnreachable' });
    // The OVSDB lost, the switch answering: NotConnected.
    expect(cond(nodeStatus({ ...node, status: up }, lost, undefined, 0), 'Ready')).toMatchObject({ status: 'False', reason: 'NotConnected' });
  });

  it('is not Ready while disconnected and keeps the last known host facts', () => {
    const prev = nodeStatus(node, { connected: true, reason: 'Connected', message: 'ok', ovsVersion: '3.1.0', datapathTypes: ['netdev'] }, undefined, 0);
    const s = nodeStatus({ ...node, status: prev }, { connected: false, reason: 'ConnectFailed', message: 'cannot connect to OVSDB at unix:/x: ENOENT' }, undefined, 0);
    expect(s).toMatchObject({ connected: false, ovsVersion: '3.1.0' });
    expect(cond(s, 'Connected')).toMatchObject({ status: 'False', reason: 'ConnectFailed' });
    expect(cond(s, 'Ready')).toMatchObject({ status: 'False', reason: 'NotConnected', message: expect.stringContaining('ENOENT') });
  });

  it('says the pipeline\'s flow count (the FLOWS column), keeping the last one while it has none to say', () => {
    expect(nodeStatus(node, { connected: true, reason: 'Connected', message: 'ok' }, undefined, 0, 40).flows).toBe(40);
    const s = nodeStatus({ ...node, status: { flows: 12 } }, { connected: true, reason: 'Connected', message: 'ok' }, undefined, 0);
    expect(s.flows).toBe(12);
  });
});

describe('tunnelsDown', () => {
  const node = (status: string, reason: string) => ({ status: { conditions: [{ type: 'TunnelsUp', status, reason, message: `probes: ${reason}`, lastTransitionTime: '2026-12-04T00:00:00Z' }] } }) as unknown as HypervisorNode;
  it('is a node cut off the overlay only when no peer answers at all; some peers or one tunnel type unanswered is not (review of QA-93\'s fix: every healthy node named a filtered peer)', () => {
    expect(tunnelsDown(node('False', 'NoProbeAnswered'))).toBe('probes: NoProbeAnswered');
    expect(tunnelsDown(node('False', 'ProbesUnanswered'))).toBeUndefined();
    expect(tunnelsDown(node('True', 'ProbesAnswered'))).toBeUndefined();
    expect(tunnelsDown(undefined)).toBeUndefined();
  });
});
