import type { KubeObject } from '../resources/object';
import { appliedConfiguration, canonicalJson, LAST_APPLIED, lastAppliedOf, threeWayMergePatch, type JsonObject } from './apply-patch';

const lb = (backends: unknown[], extra: Record<string, unknown> = {}) =>
  ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'LoadBalancer', metadata: { name: 'web' }, spec: { network: 'blue', listeners: [{ port: 80 }], backends, ...extra } }) as unknown as KubeObject;

describe('apply: last-applied-configuration', () => {
  it('is written as kubectl writes it: sorted compact JSON, namespace set, annotations {} kept, trailing newline', () => {
    const m = { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualNetwork', metadata: { name: 'kk', labels: { a: 'b' } }, spec: { subnets: [{ cidr: '10.55.0.0/24' }], mtu: 1400 } } as unknown as KubeObject;
    const { lastApplied, modified } = appliedConfiguration(m, 'demo');
    // Byte for byte what kubectl 1.32 stored for the same manifest (kubectl apply -f net.yaml -n demo).
    expect(lastApplied).toBe('{"apiVersion":"vnet.dev/v1alpha1","kind":"VirtualNetwork","metadata":{"annotations":{},"labels":{"a":"b"},"name":"kk","namespace":"demo"},"spec":{"mtu":1400,"subnets":[{"cidr":"10.55.0.0/24"}]}}\n');
    expect((modified.metadata as JsonObject).annotations).toEqual({ [LAST_APPLIED]: lastApplied });
  });

  it('drops server-owned metadata, status and a stale annotation from the manifest', () => {
    const m = { apiVersion: 'v1', kind: 'X', metadata: { name: 'n', resourceVersion: '9', uid: 'u', annotations: { [LAST_APPLIED]: 'old', keep: 'me' } }, status: { vip: '1.2.3.4' } } as unknown as KubeObject;
    const { lastApplied } = appliedConfiguration(m, undefined);
    expect(JSON.parse(lastApplied)).toEqual({ apiVersion: 'v1', kind: 'X', metadata: { name: 'n', annotations: { keep: 'me' } } });
  });

  it('reads the annotation back and rejects one that is not a JSON object', () => {
    const live = (text?: string) => ({ metadata: { name: 'n', annotations: text === undefined ? {} : { [LAST_APPLIED]: text } } }) as unknown as KubeObject;
    expect(lastAppliedOf(live())).toBeUndefined();
    expect(lastAppliedOf(live('{"a":1}\n'))).toEqual({ a: 1 });
    expect(() => lastAppliedOf(live('{oops'))).toThrow(/annotation is not JSON/);
    expect(() => lastAppliedOf(live('[1]'))).toThrow(/not a JSON object/);
  });
});

describe('apply: three-way merge patch', () => {
  const applied = (m: KubeObject) => appliedConfiguration(m, 't1');
  /** The live object after a previous apply of `before`, plus what others changed. */
  const liveAfter = (before: KubeObject, others: (o: JsonObject) => void): JsonObject => {
    const o = JSON.parse(JSON.stringify(applied(before).modified)) as JsonObject;
    (o.metadata as JsonObject).resourceVersion = '5';
    (o.spec as JsonObject).vip = '10.0.0.9'; // allocated by the server
    others(o);
    return o;
  };

  it('removes a field the manifest dropped and keeps fields set by others', () => {
    const v1 = lb([{ port: 'b1' }, { port: 'b2' }], { sessionAffinity: 'ClientIP' });
    const v2 = lb([{ port: 'b1' }]);
    const current = liveAfter(v1, (o) => ((o.metadata as JsonObject).labels = { team: 'x' }));
    const { modified, lastApplied } = applied(v2);
    const patch = threeWayMergePatch(JSON.parse(applied(v1).lastApplied) as JsonObject, modified, current);
    expect(patch).toEqual({ metadata: { annotations: { [LAST_APPLIED]: lastApplied } }, spec: { backends: [{ port: 'b1' }], sessionAffinity: null } });
  });

  it('is empty when the manifest did not change, whatever others added', () => {
    const v1 = lb([{ port: 'b1' }]);
    const current = liveAfter(v1, (o) => ((o.metadata as JsonObject).labels = { team: 'x' }));
    expect(threeWayMergePatch(JSON.parse(applied(v1).lastApplied) as JsonObject, applied(v1).modified, current)).toEqual({});
  });

  it('without a previous apply only adds and changes (a plain merge)', () => {
    const current = liveAfter(lb([{ port: 'b1' }], { sessionAffinity: 'ClientIP' }), () => undefined);
    delete ((current.metadata as JsonObject).annotations as JsonObject)[LAST_APPLIED];
    const patch = threeWayMergePatch(undefined, applied(lb([{ port: 'b2' }])).modified, current);
    expect(patch.spec).toEqual({ backends: [{ port: 'b2' }] });
  });

  it('removes nested fields and whole objects, replaces a scalar by an object', () => {
    const original = { spec: { a: { x: 1, y: 2 }, b: { z: 1 }, c: 1 } } as JsonObject;
    const modified = { spec: { a: { x: 1 }, c: { deep: true } } } as JsonObject;
    const current = { spec: { a: { x: 1, y: 2, other: 3 }, b: { z: 1 }, c: 1 } } as JsonObject;
    expect(threeWayMergePatch(original, modified, current)).toEqual({ spec: { a: { y: null }, b: null, c: { deep: true } } });
  });

  it('serializes canonically', () => {
    expect(canonicalJson({ b: [{ d: 1, c: 2 }], a: null })).toBe('{"a":null,"b":[{"c":2,"d":1}]}');
  });
});
