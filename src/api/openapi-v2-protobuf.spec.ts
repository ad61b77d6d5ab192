import { encodeOpenApiV2, encodeSchema } from './openapi-v2-protobuf';
import { fields, type Field } from './protobuf-wire';

/** A message's fields by number (fixed64 fields, doubles, are skipped by the reader). */
const byNo = (buf: Buffer): Map<number, Field[]> => {
  const out = new Map<number, Field[]>();
  for (const f of fields(buf)) out.set(f.no, [...(out.get(f.no) ?? []), f]);
  return out;
};
const text = (f: Field | undefined) => f?.bytes?.toString('utf8');

describe("OpenAPI v2 as gnostic's protobuf (QA-134 F9)", () => {
  it("writes a schema's keywords under gnostic's field numbers", () => {
    const s = byNo(
      encodeSchema({
        type: 'object',
        description: 'a namespace',
        properties: {},
        required: ['spec'],
        maxLength: 3,
        minimum: 1.5,
        enum: ['TCP'],
        additionalProperties: false,
        'x-kubernetes-group-version-kind': [{ group: '', version: 'v1', kind: 'Namespace' }],
      }),
    );
    expect(text(s.get(4)?.[0])).toBe('a namespace');
    expect(text(byNo(s.get(22)![0]!.bytes!).get(1)?.[0])).toBe('object');
    // Empty properties are there (an object, which kube-openapi tells from a map by them).
    expect(s.get(25)?.[0]?.bytes?.length).toBe(0);
    expect(text(s.get(19)?.[0])).toBe('spec');
    expect(s.get(11)?.[0]?.varint).toBe(3n);
    expect(text(byNo(s.get(20)![0]!.bytes!).get(2)?.[0])).toBe('TCP\n');
    // A oneof's false is written.
    expect(byNo(s.get(21)![0]!.bytes!).get(2)?.[0]?.varint).toBe(0n);
    const ext = byNo(s.get(31)![0]!.bytes!);
    expect(text(ext.get(1)?.[0])).toBe('x-kubernetes-group-version-kind');
    expect(text(byNo(ext.get(2)![0]!.bytes!).get(2)?.[0])).toBe('- group: ""\n  version: v1\n  kind: Namespace\n');
    const minimum = Buffer.alloc(8);
    minimum.writeDoubleLE(1.5);
    expect(encodeSchema({ minimum: 1.5 })).toEqual(Buffer.concat([Buffer.from([(9 << 3) | 1]), minimum]));
  });

  it('writes nested schemas: properties by name, items, a $ref', () => {
    const s = byNo(encodeSchema({ type: 'object', properties: { ips: { type: 'array', items: { type: 'string' } }, metadata: { $ref: '#/definitions/M' } } }));
    const props = fields(s.get(25)![0]!.bytes!).map((f) => byNo(f.bytes!));
    expect(props.map((p) => text(p.get(1)?.[0]))).toEqual(['ips', 'metadata']);
    const ips = byNo(props[0]!.get(2)![0]!.bytes!);
    const item = byNo(byNo(ips.get(23)![0]!.bytes!).get(1)![0]!.bytes!);
    expect(text(byNo(item.get(22)![0]!.bytes!).get(1)?.[0])).toBe('string');
    expect(text(byNo(props[1]!.get(2)![0]!.bytes!).get(1)?.[0])).toBe('#/definitions/M');
  });

  it('writes the document: swagger, info, empty paths, and each definition by name', () => {
    const doc = byNo(encodeOpenApiV2({ swagger: '2.0', info: { title: 'vnetd', version: 'v1alpha1' }, paths: {}, definitions: { A: { type: 'string' }, B: { type: 'integer' } } }));
    expect(text(doc.get(1)?.[0])).toBe('2.0');
    expect(text(byNo(doc.get(2)![0]!.bytes!).get(1)?.[0])).toBe('vnetd');
    expect(doc.get(8)?.[0]?.bytes?.length).toBe(0);
    expect(fields(doc.get(9)![0]!.bytes!).map((f) => text(byNo(f.bytes!).get(1)?.[0]))).toEqual(['A', 'B']);
  });
});
