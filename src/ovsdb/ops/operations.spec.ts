import {
  ConstraintViolation,
  DuplicateUuidName,
  OperationError,
  ReferentialIntegrityViolation,
  SchemaError,
  TransactionError,
} from '../errors';
import { namedUuid } from '../schema/atoms';
import { parseSchema } from '../schema/schema';
import { rowFromWire } from '../schema/row';
import { LAB_SCHEMA, type LabModel } from '../testing/lab-schema';
import { cond, evaluateCondition } from './condition';
import { mutation } from './mutation';
import { OperationBuilder } from './operations';
import { assertOperationResults, checkOperationResults, parseResults } from './results';

const schema = parseSchema(LAB_SCHEMA);
const ops = new OperationBuilder<LabModel>(schema);
const U1 = '11111111-1111-4111-8111-111111111111';

describe('OperationBuilder', () => {
  it('builds every RFC 7047 operation as a plain object', () => {
    expect(ops.insert('Switch', { name: 'br0', ports: [namedUuid('p')], other: { k: 'v' } }, { uuidName: 'sw' })).toEqual({
      op: 'insert',
      table: 'Switch',
      row: { name: 'br0', ports: ['set', [['named-uuid', 'p']]], other: ['map', [['k', 'v']]] },
      'uuid-name': 'sw',
    });
    expect(ops.select('Switch', [cond('name', '==', 'br0')], ['name', '_uuid'])).toEqual({
      op: 'select',
      table: 'Switch',
      where: [['name', '==', 'br0']],
      columns: ['name', '_uuid'],
    });
    expect(ops.update('Switch', [cond('_uuid', '==', U1)], { weight: 3, mode: null })).toEqual({
      op: 'update',
      table: 'Switch',
      where: [['_uuid', '==', ['uuid', U1]]],
      row: { weight: 3, mode: ['set', []] },
    });
    expect(
      ops.mutate('Switch', [], [
        mutation('weight', '+=', 1),
        mutation('tags', 'insert', [4, 5]),
        mutation('tags', 'delete', 4),
        mutation('other', 'insert', { a: 'b' }),
        mutation('other', 'delete', ['a']),
      ]).mutations,
    ).toEqual([
      ['weight', '+=', 1],
      ['tags', 'insert', ['set', [4, 5]]],
      ['tags', 'delete', ['set', [4]]],
      ['other', 'insert', ['map', [['a', 'b']]]],
      ['other', 'delete', ['set', ['a']]],
    ]);
    expect(ops.delete('Port', [cond('tag', 'includes', 5)])).toEqual({ op: 'delete', table: 'Port', where: [['tag', 'includes', 5]] });
    expect(ops.wait('Switch', [cond('name', '==', 'a')], { columns: ['weight'], until: '==', rows: [{ weight: 1 }], timeout: 0 })).toEqual({
      op: 'wait',
      table: 'Switch',
      where: [['name', '==', 'a']],
      columns: ['weight'],
      until: '==',
      rows: [{ weight: 1 }],
      timeout: 0,
    });
    expect(ops.commit(true)).toEqual({ op: 'commit', durable: true });
    expect(ops.abort()).toEqual({ op: 'abort' });
    expect(ops.comment('hi')).toEqual({ op: 'comment', comment: 'hi' });
    expect(ops.assert('L')).toEqual({ op: 'assert', lock: 'L' });
  });

  it('validates tables, columns and value types before anything is sent', () => {
    expect(() => ops.insert('Nope' as 'Switch', {})).toThrow(SchemaError);
    expect(() => ops.select('Switch', [cond('nope' as 'name', '==', 1)])).toThrow(SchemaError);
    expect(() => ops.insert('Switch', { weight: 'heavy' as unknown as number })).toThrow(SchemaError);
  });
});

describe('conditions evaluated locally', () => {
  const t = schema.tables.Switch!;
  const row = rowFromWire(t, U1, { name: 'a', weight: 5, tags: ['set', [1, 2]], other: ['map', [['k', 'v']]] });
  it.each([
    [cond('name', '==', 'a'), true],
    [cond('name', '!=', 'a'), false],
    [cond('weight', '<', 6), true],
    [cond('weight', '>=', 6), false],
    [cond('tags', 'includes', [1]), true],
    [cond('tags', 'includes', [1, 3]), false],
    [cond('tags', 'excludes', [3]), true],
    [cond('other', 'includes', { k: 'v' }), true],
    [cond('other', 'excludes', { k: 'v' }), false],
    [cond('_uuid', '==', U1), true],
    [true, true],
  ])('%p -> %p', (c, want) => {
    expect(evaluateCondition(t, row, c)).toBe(want);
  });
});

describe('checkOperationResults', () => {
  const o = [ops.insert('Switch', { name: 'a' }, { uuidName: 'x' }), ops.insert('Switch', { name: 'b' }, { uuidName: 'x' }), ops.comment('c')];

  it('pairs each error with its operation and index, one class per error string', () => {
    const results = parseResults([{ uuid: ['uuid', U1] }, { error: 'duplicate uuid-name', details: 'x' }, null], o.length);
    const errs = checkOperationResults(results, o);
    expect(errs).toHaveLength(1);
    expect(errs[0]).toBeInstanceOf(DuplicateUuidName);
    expect(errs[0]).toMatchObject({ index: 1, operation: o[1], details: 'x' });
  });

  it('reports a commit-time error (the extra trailing result) with no operation', () => {
    const results = parseResults([{}, {}, {}, { error: 'referential integrity violation', details: 'd' }], o.length);
    expect(() => assertOperationResults(results, o)).toThrow(TransactionError);
    const [e] = checkOperationResults(results, o);
    expect(e).toBeInstanceOf(ReferentialIntegrityViolation);
    expect(e).toMatchObject({ index: 3, operation: undefined });
  });

  it('falls back to OperationError for unknown strings', () => {
    const [e] = checkOperationResults([{ error: 'something new' }], o);
    expect(e).toBeInstanceOf(OperationError);
    expect(e).not.toBeInstanceOf(ConstraintViolation);
  });

  it('rejects short replies', () => {
    expect(() => parseResults([{}], 2)).toThrow();
  });
});
