import type { KubeObject } from './object';
import { escapeFieldValue, matchesFields, parseFieldSelector, SelectorSyntaxError, unsupportedField } from './field-selector';

const port = (spec: Record<string, unknown>, status: Record<string, unknown> = {}) =>
  ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name: 'p', namespace: 'ns' }, spec, status }) as unknown as KubeObject;

describe('field selectors', () => {
  it('select on the fields an agent names: spec.node, spec.network, spec.interfaceId and status.node', () => {
    const bound = port({ network: 'n', interfaceId: 'nic-1' }, { node: 'hv1' });
    expect(matchesFields(parseFieldSelector('spec.interfaceId=nic-1,spec.node='), bound)).toBe(true);
    expect(matchesFields(parseFieldSelector('status.node=hv1'), bound)).toBe(true);
    expect(matchesFields(parseFieldSelector('status.node=hv2'), bound)).toBe(false);
    expect(matchesFields(parseFieldSelector('status.node='), port({ network: 'n' }))).toBe(true);
    expect(matchesFields(parseFieldSelector('spec.network==n,metadata.namespace!=other'), bound)).toBe(true);
  });

  it('carry any value escaped as Kubernetes escapes it, and select exactly that value', () => {
    const odd = 'a,b=c\\d';
    const escaped = escapeFieldValue(odd);
    expect(escaped).toBe('a\\,b\\=c\\\\d');
    const reqs = parseFieldSelector(`spec.interfaceId=${escaped},spec.node=`);
    expect(reqs).toEqual([
      { field: 'spec.interfaceId', equals: true, value: odd },
      { field: 'spec.node', equals: true, value: '' },
    ]);
    expect(matchesFields(reqs, port({ interfaceId: odd }))).toBe(true);
    expect(matchesFields(reqs, port({ interfaceId: 'a' }))).toBe(false);
    // A value is taken as it is, spaces and all (Kubernetes trims neither); a name may be spaced.
    expect(parseFieldSelector('spec.interfaceId = nic 1 ')).toEqual([{ field: 'spec.interfaceId', equals: true, value: ' nic 1 ' }]);
    expect(matchesFields(parseFieldSelector('spec.interfaceId= nic'), port({ interfaceId: 'nic' }))).toBe(false);
  });

  it.each([
    ['spec.interfaceId=a,b=c', /field label not supported: b/],
    ['metadata.name=a=b', /unescaped "="/],
    ['metadata.name=a\\x', /invalid escape sequence/],
    ['metadata.name', /invalid field selector: "metadata.name"/],
    ['spec.color=red', /field label not supported: spec.color/],
  ])('refuse %s with a clear message', (selector, message) => {
    expect(() => parseFieldSelector(selector)).toThrow(SelectorSyntaxError);
    expect(() => parseFieldSelector(selector)).toThrow(message);
  });
  it('tell the fields a kind does not offer: an Event\'s on other kinds, theirs on an Event', () => {
    expect(unsupportedField('Event', parseFieldSelector('involvedObject.name=web,type=Warning,reason=R,source=vnetd,metadata.name=x'))).toBeUndefined();
    expect(unsupportedField('Event', parseFieldSelector('involvedObject.kind=Node,spec.node=hv1'))).toBe('spec.node');
    expect(unsupportedField('VirtualPort', parseFieldSelector('spec.node=hv1,metadata.namespace=t'))).toBeUndefined();
    expect(unsupportedField('VirtualPort', parseFieldSelector('type=Warning'))).toBe('type');
    const event = { apiVersion: 'v1', kind: 'Event', metadata: { name: 'e' }, involvedObject: { kind: 'Node', name: 'hv1' }, type: 'Warning', source: { component: 'vnetd' } } as unknown as KubeObject;
    expect(matchesFields(parseFieldSelector('involvedObject.kind=Node,type=Warning,source=vnetd'), event)).toBe(true);
    expect(matchesFields(parseFieldSelector('involvedObject.name=hv2'), event)).toBe(false);
  });

  it('offer each kind its own fields only, with name and namespace for all (QA-134 F5: spec.network=blue on networks selected nothing)', () => {
    const sel = (kind: string, s: string) => unsupportedField(kind, parseFieldSelector(s));
    // What vnetd's agents and vnetctl select on.
    expect(sel('VirtualPort', 'spec.node=hv1,status.node=hv1,spec.network=n,spec.interfaceId=i')).toBeUndefined();
    expect(sel('LoadBalancer', 'spec.network=n')).toBeUndefined();
    expect(sel('VirtualNetwork', 'metadata.name=n,metadata.namespace=t')).toBeUndefined();
    expect(sel('Node', 'metadata.name=hv1')).toBeUndefined();
    expect(sel('AccessToken', 'spec.node=hv1')).toBeUndefined();
    // Fields the kind does not have.
    expect(sel('VirtualNetwork', 'spec.network=blue')).toBe('spec.network');
    expect(sel('VirtualNetwork', 'metadata.name=n,spec.interfaceId!=x')).toBe('spec.interfaceId');
    expect(sel('LoadBalancer', 'spec.node=hv1')).toBe('spec.node');
    expect(sel('Node', 'status.node=hv1')).toBe('status.node');
    expect(sel('Namespace', 'spec.network=n')).toBe('spec.network');
    expect(sel('ResourceQuota', 'spec.node=')).toBe('spec.node');
    expect(sel('Event', 'spec.network=n')).toBe('spec.network');
  });
});
