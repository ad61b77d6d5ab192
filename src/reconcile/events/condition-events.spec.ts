import type { Condition, KubeObject } from '../../resources/object';
import { conditionEvents } from './condition-events';

const at = '2026-12-05T00:00:00Z';
const cond = (type: string, status: Condition['status'], reason: string, message = `${reason} message`): Condition => ({ type, status, reason, message, lastTransitionTime: at });
const lb = (...conditions: Condition[]): KubeObject => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'LoadBalancer', metadata: { name: 'web', namespace: 't', uid: 'u1' }, status: { conditions } });

describe('conditionEvents', () => {
  it('records nothing on the way to Ready, nor while Ready stays', () => {
    const realizing = lb(cond('Ready', 'False', 'Realizing'), cond('ResolvedRefs', 'True', 'ResolvedRefs'));
    const ready = lb(cond('Ready', 'True', 'Realized'), cond('ResolvedRefs', 'True', 'ResolvedRefs'));
    expect(conditionEvents(lb(), realizing)).toEqual([]);
    expect(conditionEvents(realizing, ready)).toEqual([]);
    expect(conditionEvents(ready, ready)).toEqual([]);
    const port = (reason: string) => lb(cond('Bound', 'False', reason), cond('Ready', 'False', 'NotBound'));
    expect(conditionEvents(port('InterfaceNotFound'), port('InterfacePending'))).toEqual([]);
  });

  it('warns when a condition goes wrong, with its reason and message, and says the recovery once', () => {
    const ok = lb(cond('ResolvedRefs', 'True', 'ResolvedRefs'), cond('BackendsAvailable', 'True', 'AllBackendsAvailable', 'all 2 backends get connections'));
    const missing = lb(cond('ResolvedRefs', 'False', 'BackendNotFound', 'no address for VirtualPort "b"'), cond('BackendsAvailable', 'True', 'SomeBackendsUnavailable', '1 of 2 backends gets connections'));
    expect(conditionEvents(ok, missing)).toEqual([
      { type: 'Warning', reason: 'BackendNotFound', message: 'ResolvedRefs: no address for VirtualPort "b"' },
      { type: 'Warning', reason: 'SomeBackendsUnavailable', message: 'BackendsAvailable: 1 of 2 backends gets connections' },
    ]);
    const worse = lb(cond('ResolvedRefs', 'False', 'BackendNotFound', 'no address for VirtualPort "b", "c"'), cond('BackendsAvailable', 'True', 'SomeBackendsUnavailable', '1 of 3'));
    expect(conditionEvents(worse, ok)).toEqual([
      { type: 'Normal', reason: 'ResolvedRefs', message: 'ResolvedRefs: ResolvedRefs message' },
      { type: 'Normal', reason: 'AllBackendsAvailable', message: 'BackendsAvailable: all 2 backends get connections' },
    ]);
  });

  it('a condition whose True is the trouble (a Node\'s ConntrackPressure, as MemoryPressure): False records nothing, True warns, False again is the recovery', () => {
    const node = (...conditions: Condition[]): KubeObject => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'Node', metadata: { name: 'hv1', uid: 'n1' }, status: { conditions } });
    const room = node(cond('Ready', 'True', 'Ready'), cond('ConntrackPressure', 'False', 'ConntrackTableHasRoom'));
    // Read for the first time on a healthy node: no event (a healthy cluster records none).
    expect(conditionEvents(node(cond('Ready', 'True', 'Ready')), room)).toEqual([]);
    const full = node(cond('Ready', 'True', 'Ready'), cond('ConntrackPressure', 'True', 'ConntrackTableFull', 'all 8 connection-tracking entries are in use'));
    expect(conditionEvents(room, full)).toEqual([{ type: 'Warning', reason: 'ConntrackTableFull', message: 'ConntrackPressure: all 8 connection-tracking entries are in use' }]);
    expect(conditionEvents(full, room)).toEqual([{ type: 'Normal', reason: 'ConntrackTableHasRoom', message: 'ConntrackPressure: ConntrackTableHasRoom message' }]);
  });

  it("warns when a bound port's iface-id shows up on another node too, where it does not bind; the recovery once it is gone (QA-135 F3)", () => {
    const port = (bound: Condition) => lb(bound, cond('Ready', 'True', 'Realized'));
    const here = port(cond('Bound', 'True', 'InterfaceFound', 'bound to interface tap1 (ofport 7) on node hv2'));
    const also = port(cond('Bound', 'True', 'InterfaceAlsoOnOtherNode', 'bound to interface tap1 (ofport 7) on node hv2; its iface-id is also on node hv1 (interface tapx)'));
    expect(conditionEvents(here, also)).toEqual([{ type: 'Warning', reason: 'InterfaceAlsoOnOtherNode', message: 'Bound: bound to interface tap1 (ofport 7) on node hv2; its iface-id is also on node hv1 (interface tapx)' }]);
    expect(conditionEvents(also, here)).toEqual([{ type: 'Normal', reason: 'InterfaceFound', message: 'Bound: bound to interface tap1 (ofport 7) on node hv2' }]);
  });

  it('warns again when a warning condition keeps its status and reason but says something else (QA-128 F4)', () => {
    const degraded = (message: string) => lb(cond('BackendsAvailable', 'True', 'SomeBackendsUnavailable', message));
    const second = '1 of 3 backends gets connections; not: b3 (failing health checks: RST since 2026-12-05T00:01:00.000Z); b5 (drained: weight 0)';
    const two = degraded(second);
    expect(conditionEvents(degraded('2 of 3 backends get connections; not: b5 (drained: weight 0)'), two)).toEqual([{ type: 'Warning', reason: 'SomeBackendsUnavailable', message: `BackendsAvailable: ${second}` }]);
    // The same message again (an unrelated status write) is no news.
    expect(conditionEvents(two, degraded(second))).toEqual([]);
    // A backend drained on purpose, and nothing else out: no Warning (QA-132 F8).
    const available = lb(cond('BackendsAvailable', 'True', 'AllBackendsAvailable', 'all 3 backends get connections'));
    expect(conditionEvents(available, lb(cond('BackendsAvailable', 'True', 'SomeBackendsDrained', '2 of 3 backends get connections; not: b5 (drained: weight 0)')))).toEqual([]);
    const missing = (names: string) => lb(cond('ResolvedRefs', 'False', 'BackendNotFound', `no address for ${names}`));
    expect(conditionEvents(missing('VirtualPort "b"'), missing('VirtualPort "b", VirtualPort "c"'))).toEqual([{ type: 'Warning', reason: 'BackendNotFound', message: 'ResolvedRefs: no address for VirtualPort "b", VirtualPort "c"' }]);
    // Ports and Nodes alike: a port's link down on another interface (its VM started again), a Node's connection failing otherwise.
    const linkDown = (ofport: number) => lb(cond('Bound', 'True', 'LinkDown', `bound to interface tap1 (ofport ${ofport}) on node hv1, but its link is down`), cond('Ready', 'False', 'LinkDown', `bound to interface tap1 (ofport ${ofport}) on node hv1, but its link is down`));
    expect(conditionEvents(linkDown(7), linkDown(9))).toEqual([{ type: 'Warning', reason: 'LinkDown', message: 'Ready: bound to interface tap1 (ofport 9) on node hv1, but its link is down' }]);
    const disconnected = (err: string) => lb(cond('Connected', 'False', 'Disconnected', `lost the OVSDB connection to tcp:hv1:6640: ${err}; reconnecting`), cond('Ready', 'False', 'NotConnected', 'x'));
    expect(conditionEvents(disconnected('connection closed'), disconnected('connect ECONNREFUSED'))).toEqual([{ type: 'Warning', reason: 'Disconnected', message: 'Connected: lost the OVSDB connection to tcp:hv1:6640: connect ECONNREFUSED; reconnecting' }]);
  });

  it('records no message change of a condition that does not warn, nor of a Ready warning another condition already gives', () => {
    const realized = (nodes: string) => lb(cond('Ready', 'True', 'Realized', `flows installed on node(s) ${nodes}`));
    expect(conditionEvents(realized('hv1'), realized('hv1, hv2'))).toEqual([]);
    const realizing = (nodes: string) => lb(cond('Ready', 'False', 'Realizing', `flows not yet installed on node(s) ${nodes}`));
    expect(conditionEvents(realizing('hv1'), realizing('hv1, hv2'))).toEqual([]);
    const wrong = (bridge: string) => lb(cond('Bound', 'False', 'WrongBridge', `on ${bridge}`), cond('Ready', 'False', 'WrongBridge', `on ${bridge}`));
    expect(conditionEvents(wrong('br0'), wrong('br1'))).toEqual([{ type: 'Warning', reason: 'WrongBridge', message: 'Bound: on br1' }]);
  });

  it('leaves out a Ready warning that repeats the reason of the condition holding it back', () => {
    const bound = lb(cond('Bound', 'True', 'InterfaceFound'), cond('Ready', 'True', 'Realized'));
    const noNode = lb(cond('Bound', 'False', 'NodeNotFound', 'node hv9 does not exist'), cond('Ready', 'False', 'NodeNotFound', 'node hv9 (spec.node) does not exist'));
    expect(conditionEvents(bound, noNode)).toEqual([{ type: 'Warning', reason: 'NodeNotFound', message: 'Bound: node hv9 does not exist' }]);
    // Ready taking Bound's reason an update later is no second warning.
    const boundFirst = lb(cond('Bound', 'False', 'WrongBridge', 'on br0'), cond('Ready', 'True', 'Realized'));
    expect(conditionEvents(bound, boundFirst)).toEqual([{ type: 'Warning', reason: 'WrongBridge', message: 'Bound: on br0' }]);
    expect(conditionEvents(boundFirst, lb(cond('Bound', 'False', 'WrongBridge', 'on br0'), cond('Ready', 'False', 'WrongBridge', 'on br0')))).toEqual([]);
    // Its recovery: one Normal, Bound's; not Ready's as well.
    const wrongBoth = lb(cond('Bound', 'False', 'WrongBridge', 'on br0'), cond('Ready', 'False', 'WrongBridge', 'on br0'));
    expect(conditionEvents(wrongBoth, bound)).toEqual([{ type: 'Normal', reason: 'InterfaceFound', message: 'Bound: InterfaceFound message' }]);
    const silent = lb(cond('Ready', 'False', 'AgentNotReporting', 'the agent stopped reporting'));
    expect(conditionEvents(bound, silent)).toEqual([{ type: 'Warning', reason: 'AgentNotReporting', message: 'Ready: the agent stopped reporting' }]);
  });

  it('warns when a Node\'s agent stops reporting (Ready Unknown AgentNotReporting), and says its recovery (QA-135 F7: nothing on the Node)', () => {
    const node = (...conditions: Condition[]): KubeObject => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'Node', metadata: { name: 'hv2', uid: 'n2' }, status: { conditions } });
    const ready = node(cond('Ready', 'True', 'Ready', 'agent hv2 reporting'));
    const silent = node(cond('Ready', 'Unknown', 'AgentNotReporting', 'no heartbeat from the agent of node hv2 for 60 s'));
    expect(conditionEvents(ready, silent)).toEqual([{ type: 'Warning', reason: 'AgentNotReporting', message: 'Ready: no heartbeat from the agent of node hv2 for 60 s' }]);
    expect(conditionEvents(silent, ready)).toEqual([{ type: 'Normal', reason: 'Ready', message: 'Ready: agent hv2 reporting' }]);
  });

  it("records a Normal event once when a port's binding moves to the NIC its VM announced itself on (Bound Activated, a live migration); nothing while it stays, nor for the move back to InterfaceFound", () => {
    const port = (reason: string, message = `${reason} message`) => lb(cond('Bound', 'True', reason, message), cond('Ready', 'True', 'Realized'));
    const activated = port('Activated', "bound to interface tap2 (ofport 8) on node hv2: activated by the VM's RARP announcement at 2026-12-07T10:00:00.000Z there");
    expect(conditionEvents(port('InterfaceFound'), activated)).toEqual([{ type: 'Normal', reason: 'Activated', message: `Bound: ${(activated.status as { conditions: Array<{ message: string }> }).conditions[0]!.message}` }]);
    expect(conditionEvents(activated, port('Activated', 'another message (the source NIC gone)'))).toEqual([]);
    expect(conditionEvents(activated, port('InterfaceFound'))).toEqual([]);
  });

  it('records nothing for an object being deleted, or for Unknown', () => {
    const ok = lb(cond('Ready', 'True', 'Realized'));
    const deleting = { ...lb(cond('Ready', 'False', 'NoAgent')), metadata: { name: 'web', namespace: 't', uid: 'u1', deletionTimestamp: at } };
    expect(conditionEvents(ok, deleting)).toEqual([]);
    expect(conditionEvents(ok, lb(cond('Ready', 'Unknown', 'NodeDisconnected')))).toEqual([]);
  });
});
