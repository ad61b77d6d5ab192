import type { KubeObject } from './object';
import { escapeFieldValue, matchesFields, parseFieldSelector, SelectorSyntaxError } from './field-selector';

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
});
