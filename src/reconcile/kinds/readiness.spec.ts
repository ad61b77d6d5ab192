import type { HypervisorNode, VirtualPort } from '../../resources/kinds';
import { boundToDownNode, networkNotReady, readyNow, realizationOf, unbound } from './readiness';

const node = (ready?: { status: string; reason: string; lastTransitionTime?: string }): HypervisorNode => ({
  apiVersion: 'vnet.dev/v1alpha1',
  kind: 'Node',
  metadata: { name: 'hv1' },
  spec: { tunnelIP: '192.0.2.1' },
  ...(ready ? { status: { conditions: [{ type: 'Ready', message: '', ...ready }] } } : {}),
} as HypervisorNode);

describe('readiness', () => {
  it('Realized, Realizing with the lagging nodes, or FlowConflict first', () => {
    expect(realizationOf(['hv1', 'hv2'], [], [])).toEqual({ status: 'True', reason: 'Realized', message: 'flows installed on node(s) hv1, hv2' });
    expect(realizationOf([], [], [])).toMatchObject({ status: 'True', message: 'no node needs flows for it yet (no bound ports)' });
    expect(realizationOf(['hv1', 'hv2'], ['hv2'], [])).toEqual({ status: 'False', reason: 'Realizing', message: 'flows not yet installed on node(s) hv2 (of hv1, hv2)', lagging: ['hv2'] });
    expect(realizationOf(['hv1'], ['hv1'], [['hv1', 'table 12 is full']])).toEqual({ status: 'False', reason: 'FlowConflict', message: 'on node hv1: table 12 is full', lagging: ['hv1'] });
    // Lagging where the agent is silent: nothing is being realized there, and it is said.
    expect(realizationOf(['hv1', 'hv2'], ['hv2'], [], ['hv2'])).toEqual({ status: 'False', reason: 'AgentNotReporting', message: 'flows not yet installed on node(s) hv2 (of hv1, hv2); the agent of node(s) hv2 is not reporting', lagging: ['hv2'] });
    expect(realizationOf(['hv1', 'hv2'], ['hv1', 'hv2'], [], ['hv2'])).toMatchObject({ reason: 'Realizing', message: 'flows not yet installed on node(s) hv1, hv2 (of hv1, hv2); the agent of node(s) hv2 is not reporting' });
  });

  it('lagging on nodes whose switch does not answer: SwitchUnreachable, with silent agents too; a port bound to such a node, or to one whose agent is silent, is not Ready', () => {
    expect(realizationOf(['hv1', 'hv2'], ['hv2'], [], [], ['hv2'])).toEqual({ status: 'False', reason: 'SwitchUnreachable', message: 'flows not yet installed on node(s) hv2 (of hv1, hv2); the switch of node(s) hv2 does not answer', lagging: ['hv2'] });
    expect(realizationOf(['hv1', 'hv2', 'hv3'], ['hv2', 'hv3'], [], ['hv3'], ['hv2'])).toMatchObject({ reason: 'SwitchUnreachable', message: 'flows not yet installed on node(s) hv2, hv3 (of hv1, hv2, hv3); the agent of node(s) hv3 is not reporting; the switch of node(s) hv2 does not answer' });
    // A switch that answers but refuses vnetd's flows is said so, not "does not answer" (review of QA-155 F1's fix).
    expect(realizationOf(['hv1', 'hv2'], ['hv2'], [], [], [], ['hv2'])).toEqual({ status: 'False', reason: 'FlowsRefused', message: "flows not yet installed on node(s) hv2 (of hv1, hv2); the switch of node(s) hv2 refuses vnetd's flows", lagging: ['hv2'] });
    expect(realizationOf(['hv1', 'hv2', 'hv3'], ['hv2', 'hv3'], [], [], ['hv3'], ['hv2'])).toMatchObject({ reason: 'SwitchUnreachable' });
    expect(realizationOf(['hv1', 'hv2'], ['hv1', 'hv2'], [], [], ['hv2'])).toMatchObject({ reason: 'Realizing' });
    const down = node({ status: 'False', reason: 'SwitchUnreachable', lastTransitionTime: '2026-12-03T08:00:00Z' });
    expect(boundToDownNode('hv2', down)).toEqual({ status: 'False', reason: 'SwitchUnreachable', message: 'the switch of its node hv2 does not answer since 2026-12-03T08:00:00Z: its traffic stops until ovs-vswitchd is back (vnetctl get node hv2 says why)' });
    expect(boundToDownNode('hv2', node({ status: 'True', reason: 'Ready' }))).toBeUndefined();
    expect(boundToDownNode('hv2', node({ status: 'False', reason: 'Disconnected' }))).toBeUndefined();
    // Its Node deleted while the port was bound there (an agent down, nobody unbinding it): said, not Ready.
    expect(boundToDownNode('hv2', undefined)).toMatchObject({ status: 'False', reason: 'NodeNotFound', message: expect.stringMatching(/^bound to node hv2, which no longer exists/) });
    // A node whose agent is marked silent: what is in place there is no longer known (as a Pod on a NotReady node).
    const silent = node({ status: 'Unknown', reason: 'AgentNotReporting', lastTransitionTime: '2026-12-03T08:00:00Z' });
    expect(boundToDownNode('hv2', silent)).toEqual({ status: 'False', reason: 'AgentNotReporting', message: 'the agent of its node hv2 stopped reporting (marked silent at 2026-12-03T08:00:00Z): whether its flows are still in place is not known; its traffic likely goes on (vnetctl get node hv2 says why)' });
  });

  it('an unbound port pinned to a node names what the node lacks, in order: the Node, an agent, its reports; else NotBound', () => {
    expect(unbound({ name: 'hv9' }, undefined)).toMatchObject({ reason: 'NodeNotFound', message: expect.stringMatching(/^node hv9 \(spec\.node\) does not exist: /) });
    expect(unbound({ name: 'hv1', node: node() }, undefined)).toMatchObject({ reason: 'NoAgent', message: 'no vnetd agent has claimed node hv1: run vnetd agent --node hv1 on that hypervisor' });
    const silent = node({ status: 'Unknown', reason: 'AgentNotReporting', lastTransitionTime: '2026-12-03T08:00:00Z' });
    expect(unbound({ name: 'hv1', node: silent, claimedBy: 'host/7' }, undefined)).toMatchObject({ reason: 'AgentNotReporting', message: 'the vnetd agent of node hv1 (host/7) stopped reporting (marked silent at 2026-12-03T08:00:00Z; vnetctl get node hv1 names its last renewal): is it running?' });
    expect(unbound({ name: 'hv1', node: node({ status: 'True', reason: 'Ready' }), claimedBy: 'host/7' }, 'no interface with iface-id x')).toEqual({ status: 'False', reason: 'NotBound', message: 'not bound: no interface with iface-id x' });
    expect(unbound(undefined, undefined)).toMatchObject({ reason: 'NotBound', message: 'not bound to a hypervisor interface yet' });
    // A Bound reason someone must act on is Ready's reason too; waiting for the VM's NIC is NotBound.
    expect(unbound(undefined, 'interface tap1 on node hv1 ... is on br-phy', 'WrongBridge')).toEqual({ status: 'False', reason: 'WrongBridge', message: 'not bound: interface tap1 on node hv1 ... is on br-phy' });
    expect(unbound(undefined, 'node hv9 does not exist', 'NodeNotFound')).toMatchObject({ reason: 'NodeNotFound' });
    // The VM runs elsewhere than spec.node says (QA-130: NotBound, as a VM not started yet).
    expect(unbound(undefined, 'node hv9 does not exist, the port\'s spec.node; it is on node local (interface tap1): ...', 'InterfaceOnOtherNode')).toMatchObject({ reason: 'InterfaceOnOtherNode' });
    expect(unbound(undefined, 'no interface with iface-id x on hv1', 'InterfaceNotFound')).toMatchObject({ reason: 'NotBound' });
  });

  it('a network the model does not hold: being deleted, or not compiled yet', () => {
    expect(networkNotReady('blue', true)).toMatchObject({ reason: 'NetworkTerminating', message: 'network blue is being deleted' });
    expect(networkNotReady('blue', false)).toMatchObject({ reason: 'NetworkNotReady' });
  });

  it('Ready now only for the current generation', () => {
    const port = (og: number, generation: number) => ({ metadata: { name: 'p', generation }, status: { conditions: [{ type: 'Ready', status: 'True', reason: 'Realized', message: '', observedGeneration: og }] } }) as unknown as VirtualPort;
    expect(readyNow(port(2, 2))).toBe(true);
    expect(readyNow(port(1, 2))).toBe(false);
  });
});
