import { describeError } from './describe-error';
import { ApiStatusError } from './errors';

const invalid = (message: string, field = 'spec.vip') =>
  new ApiStatusError(422, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'Invalid', code: 422, message, details: { kind: 'loadbalancers', name: 'web', causes: [{ field, reason: 'FieldValueInvalid', message }] } });

describe('describeError: an Invalid answer', () => {
  it('says a full network is to be given addresses, not a value to fix', () => {
    const text = describeError(invalid('no free address left in VirtualNetwork "q29" for a VIP: every subnet is full; add a subnet to the network, or delete ports or load balancers that hold its addresses'));
    // Said once (QA: the message and the hint both said to add a subnet or free some).
    expect(text).toMatch(/delete ports or load balancers that hold its addresses; then run the command again$/);
    expect(text.match(/add a subnet/g)).toHaveLength(1);
    expect(text).not.toContain('fix the values');
  });

  it('says to fix the values for a wrong value', () => {
    expect(describeError(invalid('Invalid value: "10.9.9.9": not in any subnet of VirtualNetwork "net"'))).toContain('fix the values and run the command again');
  });
});

describe('describeError: a name still being deleted, and a retryable refusal', () => {
  const beingDeleted = (kind: string) =>
    new ApiStatusError(409, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'AlreadyExists', code: 409, message: `object is being deleted: ${kind}.vnet.dev "held" already exists`, details: { kind, name: 'held' } });

  it('says what a load balancer being deleted waits for: its finalizers, not ports (QA-96: it gave the network\'s case)', () => {
    expect(describeError(beingDeleted('loadbalancers'))).toMatch(/waits for its finalizers, as its Ready condition says \(-o yaml\): wait for it to go, or pick another name$/);
    expect(describeError(beingDeleted('virtualnetworks'))).toContain('waits for its ports and load balancers, or another finalizer');
  });

  it('a claim refused while the network\'s subnets change (409) is to be run again, with no values to fix', () => {
    const text = describeError(new ApiStatusError(409, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'Conflict', code: 409, message: 'Operation cannot be fulfilled on virtualports.vnet.dev "p": spec.ips[0]: Invalid value: "10.90.1.17": subnet 10.90.1.0/24 of VirtualNetwork "ann" is being changed or removed; try again in a moment', details: { kind: 'virtualports', name: 'p', causes: [{ field: 'spec.ips[0]', reason: 'SubnetChanging', message: 'Invalid value: ...' }] } }));
    expect(text).toMatch(/run the command again in a moment$/);
    expect(text).not.toContain('it changed meanwhile');
    expect(text).not.toContain('fix the values');
  });
});

describe('describeError: a refusal (403)', () => {
  const forbidden = new ApiStatusError(403, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'Forbidden', code: 403, message: 'accesstokens.vnet.dev is forbidden: User "token:agent-hv1" cannot list resource "accesstokens"', details: { kind: 'accesstokens' } });

  it('offers another namespace only where there is one (QA-106: a cluster-scoped kind was told to try -n)', () => {
    expect(describeError(forbidden, { namespace: 't1' })).toMatch(/use a token that is allowed there \(or another namespace with -n\)$/);
    expect(describeError(forbidden, {})).toMatch(/use a token that is allowed there$/);
  });

  it('a quota\'s refusal is its own message, with no token hint (QA-134 F8: sent people chasing permissions)', () => {
    const message = 'virtualports.vnet.dev "qq" is forbidden: exceeded quota: cap, requested: count/virtualports.vnet.dev=1, used: count/virtualports.vnet.dev=5, limited: count/virtualports.vnet.dev=1 (delete what the namespace no longer needs, or ask an admin to raise it: kubectl describe resourcequota cap -n t4)';
    const quota = new ApiStatusError(403, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'Forbidden', code: 403, message, details: { kind: 'virtualports', name: 'qq' } });
    expect(describeError(quota, { action: 'create virtualport "qq" in namespace "t4"', namespace: 't4' })).toBe(`cannot create virtualport "qq" in namespace "t4": ${message}`);
  });
});

describe('describeError: the store unavailable (503), and vnetd failing (500)', () => {
  const status = (code: number, reason: 'ServiceUnavailable' | 'InternalError', message: string) => new ApiStatusError(code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason, code, message });
  it('says nothing was done and to run it again, not that vnetd is at fault (QA-146 F4: an etcd outage read as vnetd\'s fault)', () => {
    const text = describeError(status(503, 'ServiceUnavailable', 'the store is unavailable, retry shortly: etcd: 14 UNAVAILABLE: No connection established'));
    expect(text).toMatch(/nothing was done: run the command again in a moment \(vnetd says why at \/readyz\?verbose\)$/);
    expect(text).not.toContain("vnetd's fault");
    expect(describeError(status(500, 'InternalError', 'boom'))).toContain("this is vnetd's fault: check its log");
  });
});

describe('describeError: a namespace not found (404)', () => {
  const missing = new ApiStatusError(404, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'NotFound', code: 404, message: 'namespaces "app" not found', details: { kind: 'namespaces', name: 'app' } });

  it('names the vnetctl command that creates it (QA: it sent people to kubectl create namespace)', () => {
    const text = describeError(missing, { action: 'create virtualnetwork "web" in namespace "app"', namespace: 'app', listCommand: 'vnetctl network list' });
    expect(text).toBe('cannot create virtualnetwork "web" in namespace "app": namespaces "app" not found; see the namespaces there are with: vnetctl namespace list, or create it: vnetctl namespace create app');
    expect(text).not.toContain('kubectl');
  });

  it('does not offer to create the namespace a delete wanted gone', () => {
    expect(describeError(missing, { action: 'delete namespace "app"' })).toBe('cannot delete namespace "app": namespaces "app" not found; see the namespaces there are with: vnetctl namespace list');
  });
});
