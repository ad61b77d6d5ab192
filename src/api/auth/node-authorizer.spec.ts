import { ACCESS_TOKENS, EVENTS, LOAD_BALANCERS, NAMESPACES, NETWORKS, NODES, NODE_LEASES, NODE_REALIZATIONS, PORTS } from '../../store/kinds';
import type { HypervisorNode, VirtualPort } from '../../resources/kinds';
import type { Condition } from '../../resources/object';
import { nodeRefusal, portBindingRefusal, visibleToNode } from './node-authorizer';
import { ACTIVATED, activatedMessage } from '../../chassis/binding';

const bound = (status: 'True' | 'False' | 'Unknown', reason = 'InterfaceFound'): Condition => ({ type: 'Bound', status, reason, message: reason, lastTransitionTime: '2026-12-05T00:00:00Z' });
const ready: Condition = { type: 'Ready', status: 'True', reason: 'Realized', message: 'ok', lastTransitionTime: '2026-12-05T00:00:00Z' };

function port(spec: VirtualPort['spec'], status: VirtualPort['status']): VirtualPort {
  return { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name: 'p', namespace: 't1', uid: 'u' }, spec, status };
}

function nodeObject(name: string, readyReason?: string, deleting = false): HypervisorNode {
  return {
    apiVersion: 'vnet.dev/v1alpha1',
    kind: 'Node',
    metadata: { name, uid: name, ...(deleting ? { deletionTimestamp: '2026-12-05T00:00:00Z' } : {}) },
    spec: { tunnelIP: '192.0.2.1' },
    status: readyReason ? { conditions: [{ type: 'Ready', status: 'Unknown', reason: readyReason, message: '', lastTransitionTime: '2026-12-05T00:00:00Z' }] } : {},
  } as HypervisorNode;
}

describe('nodeRefusal (kind-level rules of an agent token)', () => {
  it('reads the topology, in every namespace', () => {
    for (const kind of [NETWORKS, PORTS, LOAD_BALANCERS, NODES]) {
      for (const verb of ['get', 'list', 'watch'] as const) expect(nodeRefusal('hv1', kind, verb, undefined, 'main')).toBeUndefined();
    }
  });

  it('never writes what tenants and admins declare', () => {
    for (const kind of [NETWORKS, PORTS, LOAD_BALANCERS, NODES]) {
      for (const verb of ['create', 'update', 'patch', 'delete', 'deletecollection'] as const) {
        expect(nodeRefusal('hv1', kind, verb, 'hv1', 'main')).toMatch(/may read .* but not/);
      }
    }
    expect(nodeRefusal('hv1', LOAD_BALANCERS, 'update', 'lb', 'status')).toMatch(/but not update them' status/);
    expect(nodeRefusal('hv1', NETWORKS, 'patch', 'n', 'status')).toBeDefined();
  });

  it("writes its own Node's status only; a port's status is decided on the object", () => {
    expect(nodeRefusal('hv1', NODES, 'update', 'hv1', 'status')).toBeUndefined();
    expect(nodeRefusal('hv1', NODES, 'patch', 'hv1', 'status')).toBeUndefined();
    expect(nodeRefusal('hv1', NODES, 'update', 'hv2', 'status')).toBe("node hv1's agent token writes the status of its own Node only");
    expect(nodeRefusal('hv1', PORTS, 'update', 'p', 'status')).toBeUndefined();
  });

  it('uses its own NodeRealization and NodeLease, by name; lists are filtered', () => {
    expect(nodeRefusal('hv1', NODE_REALIZATIONS, 'get', 'hv1', 'main')).toBeUndefined();
    expect(nodeRefusal('hv1', NODE_REALIZATIONS, 'update', 'hv1', 'status')).toBeUndefined();
    expect(nodeRefusal('hv1', NODE_REALIZATIONS, 'get', 'hv2', 'main')).toMatch(/own node's noderealizations only/);
    expect(nodeRefusal('hv1', NODE_REALIZATIONS, 'get', undefined, 'main')).toBeDefined();
    expect(nodeRefusal('hv1', NODE_REALIZATIONS, 'update', 'hv1', 'main')).toBeDefined();
    expect(nodeRefusal('hv1', NODE_REALIZATIONS, 'create', 'hv1', 'main')).toBeDefined();
    expect(nodeRefusal('hv1', NODE_REALIZATIONS, 'delete', 'hv1', 'main')).toBeDefined();
    expect(nodeRefusal('hv1', NODE_REALIZATIONS, 'list', undefined, 'main')).toBeUndefined();
    for (const verb of ['create', 'update', 'patch', 'get'] as const) expect(nodeRefusal('hv1', NODE_LEASES, verb, 'hv1', 'main')).toBeUndefined();
    expect(nodeRefusal('hv1', NODE_LEASES, 'create', 'hv2', 'main')).toBeDefined();
    expect(nodeRefusal('hv1', NODE_LEASES, 'create', undefined, 'main')).toBeDefined();
    expect(nodeRefusal('hv1', NODE_LEASES, 'delete', 'hv1', 'main')).toBeDefined();
    expect(visibleToNode('hv1', NODE_LEASES, 'hv1')).toBe(true);
    expect(visibleToNode('hv1', NODE_LEASES, 'hv2')).toBe(false);
    expect(visibleToNode('hv1', PORTS, 'anything')).toBe(true);
  });

  it('has nothing else: tokens, namespaces, events', () => {
    for (const kind of [ACCESS_TOKENS, NAMESPACES, EVENTS]) {
      expect(nodeRefusal('hv1', kind, 'list', undefined, 'main')).toMatch(/are not an agent's/);
      expect(nodeRefusal('*', kind, 'get', 'x', 'main')).toMatch(/are not an agent's/);
      expect(visibleToNode('hv1', kind, 'hv1')).toBe(false);
    }
  });

  it('"*" acts for every node, with the same kinds and verbs', () => {
    expect(nodeRefusal('*', NODES, 'update', 'hv2', 'status')).toBeUndefined();
    expect(nodeRefusal('*', NODE_LEASES, 'create', 'hv7', 'main')).toBeUndefined();
    expect(nodeRefusal('*', NODES, 'update', 'hv2', 'main')).toBeDefined();
    expect(nodeRefusal('*', PORTS, 'delete', 'p', 'main')).toBeDefined();
  });
});

describe('portBindingRefusal (an agent writing a port status)', () => {
  const nodes = new Map<string, HypervisorNode>([
    ['hv2', nodeObject('hv2')],
    ['silent', nodeObject('silent', 'AgentNotReporting')],
    ['leaving', nodeObject('leaving', undefined, true)],
  ]);
  const nodeOf = async (name: string) => nodes.get(name);

  it("binds a port pinned to its node, not another node's", async () => {
    const cur = port({ network: 'n', node: 'hv1' }, { ips: ['10.0.0.5'], conditions: [ready] });
    const next = port(cur.spec, { ...cur.status, node: 'hv1', ofport: 7, conditions: [ready, bound('True')] });
    expect(await portBindingRefusal('hv1', cur, next, nodeOf)).toBeUndefined();
    expect(await portBindingRefusal('hv2', cur, next, nodeOf)).toBe('the port is pinned to node hv1, not hv2');
    const elsewhere = port(cur.spec, { ...next.status, node: 'hv2' });
    expect(await portBindingRefusal('hv1', cur, elsewhere, nodeOf)).toBe("node hv1's agent token may bind a port to node hv1 only, not to hv2");
    // Bound on hv2 before it was pinned here: hv1's agent, disconnected from its switch, keeps
    // that node while it cannot tell (review: 403 on every retry); it may not name hv2 anew.
    const stale = port({ network: 'n', node: 'hv1' }, { node: 'hv2', ofport: 4, conditions: [bound('True')] });
    expect(await portBindingRefusal('hv1', stale, port(stale.spec, { node: 'hv2', ofport: 4, conditions: [bound('Unknown', 'NodeDisconnected')] }), nodeOf)).toBeUndefined();
    // Unpinned and bound to a live hv2: keeping hv2 is still not hv1's to write (its ofport would move hv2's flows).
    const loose = port({ network: 'n' }, { node: 'hv2', ofport: 4, conditions: [bound('True')] });
    expect(await portBindingRefusal('hv1', loose, port(loose.spec, { node: 'hv2', ofport: 9, conditions: [bound('True')] }), nodeOf)).toMatch(/may bind a port to node hv1 only, not to hv2/);
  });

  it('changes nothing but the binding: addresses, Ready and the like are the controller\'s', async () => {
    const cur = port({ network: 'n', node: 'hv1' }, { ips: ['10.0.0.5'], mac: '0a:58:00:00:00:01', realized: true, conditions: [ready, bound('True')] });
    const ips = port(cur.spec, { ...cur.status, ips: ['10.0.0.99'] });
    const notReady = port(cur.spec, { ...cur.status, conditions: [{ ...ready, status: 'False' }, bound('True')] });
    const dropped = port(cur.spec, { ...cur.status, conditions: [bound('True')] });
    const unrealized = port(cur.spec, { ...cur.status, realized: false });
    for (const next of [ips, notReady, dropped, unrealized]) {
      expect(await portBindingRefusal('hv1', cur, next, nodeOf)).toMatch(/writes a port's binding only/);
      expect(await portBindingRefusal('*', cur, next, nodeOf)).toMatch(/writes a port's binding only/);
    }
    const unbound = port(cur.spec, { ...cur.status, conditions: [ready, bound('False', 'InterfaceNotFound')], node: undefined });
    expect(await portBindingRefusal('hv1', cur, unbound, nodeOf)).toBeUndefined();
  });

  it('binds an unpinned port to itself when it is free, or its node is gone or silent; unbinds only its own', async () => {
    const free = port({ network: 'n' }, { conditions: [bound('False', 'InterfaceNotFound')] });
    const toHv1 = (cur: VirtualPort) => port(cur.spec, { ...cur.status, node: 'hv1', ofport: 3, conditions: [bound('True')] });
    expect(await portBindingRefusal('hv1', free, toHv1(free), nodeOf)).toBeUndefined();
    const onHv2 = port({ network: 'n' }, { node: 'hv2', ofport: 9, conditions: [bound('True')] });
    expect(await portBindingRefusal('hv1', onHv2, toHv1(onHv2), nodeOf)).toBe('the port is bound to node hv2, whose agent is alive: it moves once that agent unbinds it');
    const unbind = (cur: VirtualPort) => port(cur.spec, { conditions: [bound('False', 'InterfaceNotFound')] });
    expect(await portBindingRefusal('hv1', onHv2, unbind(onHv2), nodeOf)).toBe('the port is bound to node hv2, whose agent is alive: only that agent unbinds it');
    expect(await portBindingRefusal('hv2', onHv2, unbind(onHv2), nodeOf)).toBeUndefined();
    for (const gone of ['silent', 'leaving', 'deleted']) {
      const there = port({ network: 'n' }, { node: gone, ofport: 9, conditions: [bound('True')] });
      expect(await portBindingRefusal('hv1', there, toHv1(there), nodeOf)).toBeUndefined();
    }
    // "*" may, as the agents' own rule (ChassisManager.boundElsewhere) decides it.
    expect(await portBindingRefusal('*', onHv2, toHv1(onHv2), nodeOf)).toBeUndefined();
  });

  it('takes an unpinned port from a live node only where its NIC\'s link is down there and it binds one of its own (a live migration\'s switchover, QA-135 F2)', async () => {
    const downOnHv2 = port({ network: 'n' }, { node: 'hv2', ofport: 9, conditions: [bound('True', 'LinkDown')] });
    const toHv1 = (ofport: number | undefined, reason = 'InterfaceFound') => port(downOnHv2.spec, { node: 'hv1', ...(ofport !== undefined ? { ofport } : {}), conditions: [bound('True', reason)] });
    expect(await portBindingRefusal('hv1', downOnHv2, toHv1(3), nodeOf)).toBeUndefined();
    // No OpenFlow port: no NIC bound, whatever the condition says (review).
    expect(await portBindingRefusal('hv1', downOnHv2, toHv1(undefined), nodeOf)).toMatch(/whose agent is alive/);
    expect(await portBindingRefusal('hv1', downOnHv2, toHv1(0), nodeOf)).toMatch(/whose agent is alive/);
    // Its own NIC down too: it would only move a LinkDown.
    expect(await portBindingRefusal('hv1', downOnHv2, toHv1(3, 'LinkDown'), nodeOf)).toMatch(/whose agent is alive/);
    // Bound there to a live NIC: never.
    const upOnHv2 = port({ network: 'n' }, { node: 'hv2', ofport: 9, conditions: [bound('True')] });
    expect(await portBindingRefusal('hv1', upOnHv2, port(upOnHv2.spec, { node: 'hv1', ofport: 3, conditions: [bound('True')] }), nodeOf)).toMatch(/whose agent is alive/);
  });

  it("takes an unpinned port from a live node where the VM announced itself (RARP) on its own NIC: Bound Activated on its node, to an OpenFlow port, later than the activation it is bound by (a live migration with both taps up)", async () => {
    const activated = (node: string, ofport: number | undefined, at: string): VirtualPort['status'] => ({
      node,
      ...(ofport !== undefined ? { ofport } : {}),
      conditions: [{ ...bound('True', ACTIVATED), message: activatedMessage(node, 'tap', ofport ?? 0, Date.parse(at)) }],
    });
    const upOnHv2 = port({ network: 'n' }, { node: 'hv2', ofport: 9, conditions: [bound('True')] });
    // Activations of now: an agent says so as it sees the RARP (within the clocks' skew).
    const ago = (ms: number) => new Date(Date.now() - ms).toISOString();
    const toHv1 = (ofport: number | undefined, at = ago(10_000)) => port(upOnHv2.spec, activated('hv1', ofport, at));
    expect(await portBindingRefusal('hv1', upOnHv2, toHv1(3), nodeOf)).toBeUndefined();
    // No NIC of its own: no OpenFlow port, no taking.
    expect(await portBindingRefusal('hv1', upOnHv2, toHv1(undefined), nodeOf)).toMatch(/whose agent is alive/);
    expect(await portBindingRefusal('hv1', upOnHv2, toHv1(0), nodeOf)).toMatch(/whose agent is alive/);
    // Bound to another node than its own: never.
    expect(await portBindingRefusal('hv1', upOnHv2, port(upOnHv2.spec, activated('hv3', 3, ago(10_000))), nodeOf)).toMatch(/may bind a port to node hv1 only/);
    // Not Activated (InterfaceFound): as before, refused.
    expect(await portBindingRefusal('hv1', upOnHv2, port(upOnHv2.spec, { node: 'hv1', ofport: 3, conditions: [bound('True')] }), nodeOf)).toMatch(/whose agent is alive/);
    // Activated there later than here: the older announcement never takes it back.
    const laterOnHv2 = port({ network: 'n' }, activated('hv2', 9, ago(5_000)));
    expect(await portBindingRefusal('hv1', laterOnHv2, toHv1(3), nodeOf)).toMatch(/whose agent is alive/);
    expect(await portBindingRefusal('hv1', laterOnHv2, toHv1(3, ago(1_000)), nodeOf)).toBeUndefined();
    // A pinned port stays its node's.
    const pinned = port({ network: 'n', node: 'hv2' }, { node: 'hv2', ofport: 9, conditions: [bound('True')] });
    expect(await portBindingRefusal('hv1', pinned, port(pinned.spec, activated('hv1', 3, ago(10_000))), nodeOf)).toMatch(/pinned to node hv2/);
    // A forged far-future activation, or one long past, takes nothing (review: a compromised
    // agent's year-9999 activation outranked every real one for good).
    expect(await portBindingRefusal('hv1', upOnHv2, toHv1(3, '9999-01-01T00:00:00.000Z'), nodeOf)).toMatch(/whose agent is alive/);
    expect(await portBindingRefusal('hv1', upOnHv2, toHv1(3, ago(3_600_000)), nodeOf)).toMatch(/whose agent is alive/);
    // And a forged one already there outranks no real one.
    const forged = port({ network: 'n' }, activated('hv2', 9, '9999-01-01T00:00:00.000Z'));
    expect(await portBindingRefusal('hv1', forged, toHv1(3), nodeOf)).toBeUndefined();
  });
});
