import { duplicateFields } from './duplicate-fields';

describe('duplicateFields', () => {
  it('names each field an object has twice, with its path', () => {
    const text = '{"apiVersion":"vnet.dev/v1alpha1","metadata":{"name":"a","labels":{"x":"1","x":"2"}},"spec":{"mtu":1400,"subnets":[{"cidr":"10.0.0.0/24","cidr":"10.1.0.0/24"}],"mtu":9000}}';
    expect(duplicateFields(text)).toEqual(['metadata.labels.x', 'spec.subnets[0].cidr', 'spec.mtu']);
  });

  it('tells keys from values and from strings holding quotes, colons, brackets and escapes', () => {
    const text = '{ "a" : "\\"a\\": 1, {\\"b\\"", "b": [ "a", {"a": ":"} , ["x", {"k": 1, "k\\u0031": 2}] ], "c" : { "a" : "}" } }';
    expect(duplicateFields(text)).toEqual([]);
    expect(duplicateFields('{"k\\u0031":1,"k1":2}')).toEqual(['k1']);
    expect(duplicateFields('{"a":{"b":1},"a":{"b":2}}')).toEqual(['a']);
  });

  it('counts array elements, nested arrays included, for the path', () => {
    expect(duplicateFields('{"s":[{"a":1},{"a":1,"a":2}],"t":[[1,2],[{"z":0,"z":1}]]}')).toEqual(['s[1].a', 't[1][0].z']);
    expect(duplicateFields('[{"op":"add","op":"remove"}]')).toEqual(['[0].op']);
  });

  it('stops at the limit, and is fast on a large body', () => {
    const many = `{${Array.from({ length: 40 }, (_, i) => `"k${i}":1,"k${i}":2`).join(',')}}`;
    expect(duplicateFields(many)).toHaveLength(16);
    const big = JSON.stringify({ status: { realized: Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`uid-${i}`, String(i)])) } });
    const t0 = performance.now();
    expect(duplicateFields(big)).toEqual([]);
    // About 0.6 MB: a few ms, in the order of JSON.parse's own time (a generous bound for a loaded CI machine).
    expect(performance.now() - t0).toBeLessThan(500);
  });
});
