import { ApiError } from '../resources/status';
import { decodeObjectBody, decodePatchBody, MAX_BODY_DEPTH } from './request-body';

const status = (f: () => unknown): { code: number; message: string } => {
  try {
    f();
  } catch (err) {
    if (err instanceof ApiError) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('no error');
};

describe('request bodies', () => {
  afterEach(() => expect(({} as Record<string, unknown>).polluted).toBeUndefined());

  it('refuses a "__proto__" key at any depth, in JSON, YAML and apply patches, naming where (QA-102)', () => {
    const json = Buffer.from('{"apiVersion":"vnet.dev/v1alpha1","kind":"VirtualNetwork","metadata":{"name":"n","labels":{"__proto__":{"polluted":"yes"}}}}');
    expect(status(() => decodeObjectBody(json, 'application/json'))).toEqual({ code: 400, message: 'the body of the request has a "__proto__" key in .metadata.labels: no field may have that name' });
    expect(status(() => decodePatchBody(json, 'application/merge-patch+json')).code).toBe(400);
    const yaml = Buffer.from('metadata:\n  name: n\nspec:\n  listeners:\n  - __proto__: {polluted: yes}\n');
    expect(status(() => decodePatchBody(yaml, 'application/apply-patch+yaml')).message).toBe('the body of the request has a "__proto__" key in .spec.listeners[0]: no field may have that name');
    expect(status(() => decodeObjectBody(Buffer.from('{"__proto__":{}}'), 'application/json')).message).toBe('the body of the request has a "__proto__" key: no field may have that name');
  });

  it('keeps other unusual keys, which validation judges ("constructor" is a valid label key)', () => {
    const body = decodeObjectBody(Buffer.from('{"metadata":{"labels":{"constructor":"x","prototype":"y"}}}'), 'application/json').value;
    expect(body).toEqual({ metadata: { labels: { constructor: 'x', prototype: 'y' } } });
  });

  it('refuses a body nested deeper than the limit', () => {
    const deep = `${'{"a":'.repeat(MAX_BODY_DEPTH + 1)}1${'}'.repeat(MAX_BODY_DEPTH + 1)}`;
    expect(status(() => decodeObjectBody(Buffer.from(deep), 'application/json')).message).toBe(`the body of the request nests more than ${MAX_BODY_DEPTH} levels deep`);
  });

  it('names the fields a JSON body or patch names twice when field validation asks, from the text it parsed', () => {
    const json = Buffer.from('{"metadata":{"name":"a","name":"b"}}');
    expect(decodeObjectBody(json, 'application/json', 'Strict')).toEqual({ value: { metadata: { name: 'b' } }, duplicateFields: ['metadata.name'] });
    expect(decodeObjectBody(json, 'application/json', 'Ignore').duplicateFields).toEqual([]);
    expect(decodePatchBody(json, 'application/merge-patch+json', false, 'Warn').duplicateFields).toEqual(['metadata.name']);
    expect(decodeObjectBody(Buffer.from('metadata: {name: a}\n'), 'application/yaml', 'Strict').duplicateFields).toEqual([]);
  });
});
