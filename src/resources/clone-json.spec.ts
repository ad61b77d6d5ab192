import { cloneJson } from './clone-json';

describe('cloneJson', () => {
  it('copies nested objects and arrays deeply: changing the copy leaves the original alone', () => {
    const original = { metadata: { name: 'p', labels: { a: 'b' }, finalizers: ['x'] }, spec: { ips: ['10.0.0.1'], pairs: [{ ip: '10.0.0.2', mac: null }], n: 3, on: true } };
    const copy = cloneJson(original);
    expect(copy).toEqual(original);
    copy.metadata.labels.a = 'changed';
    copy.metadata.finalizers.push('y');
    copy.spec.pairs[0]!.ip = 'changed';
    expect(original).toEqual({ metadata: { name: 'p', labels: { a: 'b' }, finalizers: ['x'] }, spec: { ips: ['10.0.0.1'], pairs: [{ ip: '10.0.0.2', mac: null }], n: 3, on: true } });
    expect(copy.metadata).not.toBe(original.metadata);
    expect(copy.spec.ips).not.toBe(original.spec.ips);
  });

  it('keeps keys such as __proto__ as data, and copies non-plain values deeply too', () => {
    const parsed = JSON.parse('{"__proto__": {"admin": true}, "a": 1}') as Record<string, unknown>;
    const copy = cloneJson(parsed);
    expect(Object.keys(copy)).toEqual(Object.keys(parsed));
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
    const when = new Date(0);
    const withDate = cloneJson({ when });
    expect(withDate.when).toEqual(when);
    expect(withDate.when).not.toBe(when);
  });
});
