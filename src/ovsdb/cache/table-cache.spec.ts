import { parseSchema } from '../schema/schema';
import { LAB_SCHEMA, type LabModel } from '../testing/lab-schema';
import { cond } from '../ops/condition';
import { TableCache, type RowChange } from './table-cache';

const schema = parseSchema(LAB_SCHEMA);
const A = 'aaaaaaaa-0000-4000-8000-000000000001';
const B = 'bbbbbbbb-0000-4000-8000-000000000002';
const C = 'cccccccc-0000-4000-8000-000000000003';

function setup(): { cache: TableCache<LabModel>; events: RowChange[] } {
  const cache = new TableCache<LabModel>(schema);
  const events: RowChange[] = [];
  cache.on((e) => events.push(e));
  return { cache, events };
}

describe('TableCache', () => {
  it('applies initial/insert/modify/delete with old and new rows', () => {
    const { cache, events } = setup();
    cache.applyUpdates({ Switch: { [A]: { initial: { name: 'a', weight: 1 } }, [B]: { insert: { name: 'b' } } } });
    expect(cache.table('Switch').size).toBe(2);
    cache.applyUpdates({ Switch: { [A]: { modify: { weight: 2, tags: ['set', [7]] } } } });
    cache.applyUpdates({ Switch: { [B]: { delete: null } } });
    expect(events.map((e) => [e.kind, e.uuid])).toEqual([
      ['insert', A],
      ['insert', B],
      ['update', A],
      ['delete', B],
    ]);
    expect(events[2]!.old).toMatchObject({ weight: 1, tags: [] });
    expect(events[2]!.new).toMatchObject({ weight: 2, tags: [7] });
    expect(events[3]!.old).toMatchObject({ name: 'b' });
    expect(cache.table('Switch').row(A)).toMatchObject({ name: 'a', weight: 2 });
    expect(cache.table('Switch').row(B)).toBeUndefined();
  });

  it('emits after the whole batch, so listeners see referenced rows of the same batch', () => {
    const cache = new TableCache<LabModel>(schema);
    let seenPort: unknown;
    cache.on((e) => {
      if (e.table === 'Switch') seenPort = cache.table('Port').row((e.new!.ports as string[])[0]!);
    });
    cache.applyUpdates({
      Switch: { [A]: { insert: { name: 'a', ports: ['uuid', B] } } },
      Port: { [B]: { insert: { name: 'p' } } },
    });
    expect(seenPort).toMatchObject({ name: 'p' });
  });

  it('suppresses no-op modifications and repeated inserts', () => {
    const { cache, events } = setup();
    cache.applyUpdates({ Switch: { [A]: { insert: { name: 'a' } } } });
    cache.applyUpdates({ Switch: { [A]: { insert: { name: 'a' } } } });
    cache.applyUpdates({ Switch: { [A]: { modify: {} } } });
    cache.applyUpdates({ Switch: { [C]: { delete: null } } });
    expect(events).toHaveLength(1);
  });

  it('maintains secondary indexes through updates and deletes', () => {
    const { cache } = setup();
    const ports = cache.table('Port');
    ports.addIndex('name', 'name');
    ports.addIndex('iface-id', (r) => r.ext['iface-id']);
    cache.applyUpdates({ Port: { [A]: { insert: { name: 'p1', ext: ['map', [['iface-id', 'vm1']]] } }, [B]: { insert: { name: 'p2' } } } });
    expect(ports.lookupOne('iface-id', 'vm1')?._uuid).toBe(A);
    expect(ports.lookup('iface-id', 'vm2')).toEqual([]);
    cache.applyUpdates({ Port: { [A]: { modify: { ext: ['map', [['iface-id', 'vm2']]] } } } });
    expect(ports.lookup('iface-id', 'vm1')).toEqual([]);
    expect(ports.lookupOne('iface-id', 'vm2')?._uuid).toBe(A);
    cache.applyUpdates({ Port: { [A]: { delete: null } } });
    expect(ports.lookup('iface-id', 'vm2')).toEqual([]);
    expect(ports.lookupOne('name', 'p2')?._uuid).toBe(B);
    // An index added later covers existing rows.
    ports.addIndex('late', (r) => r.name.toUpperCase());
    expect(ports.lookupOne('late', 'P2')?._uuid).toBe(B);
  });

  it('answers rowsByCondition with server semantics', () => {
    const { cache } = setup();
    cache.applyUpdates({ Switch: { [A]: { insert: { name: 'a', weight: 10 } }, [B]: { insert: { name: 'b', weight: 50 } } } });
    expect(cache.table('Switch').rowsByCondition([cond('weight', '>', 20)]).map((r) => r.name)).toEqual(['b']);
    // An optional integer (Interface.ofport, Port.tag): an empty one is neither < nor >= anything,
    // as ovsdb-server's select answers; before, the cache threw for the whole table.
    cache.applyUpdates({ Port: { [A]: { insert: { name: 'p1', tag: 3 } }, [B]: { insert: { name: 'p2' } }, [C]: { insert: { name: 'p3', tag: 9 } } } });
    const names = (fn: '<' | '>=', v: number) => cache.table('Port').rowsByCondition([cond('tag', fn, v)]).map((r) => r.name).sort();
    expect(names('<', 5)).toEqual(['p1']);
    expect(names('>=', 3)).toEqual(['p1', 'p3']);
    // Inequalities stay refused for columns that are not one number.
    expect(() => cache.table('Switch').rowsByCondition([cond('tags', '<', 5)])).toThrow(/integer or real scalar/);
    expect(() => cache.table('Port').rowsByCondition([cond('name', '<', 5)])).toThrow(/integer or real scalar/);
  });

  it('resync emits only the differences against the snapshot', () => {
    const { cache, events } = setup();
    cache.applyUpdates({ Switch: { [A]: { insert: { name: 'a', weight: 1 } }, [B]: { insert: { name: 'b', tags: ['set', [1, 2]] } } } });
    events.length = 0;
    // Snapshot: A unchanged, B same set in another order (no change), C new; a Counter table with nothing.
    cache.resync(['Switch', 'Counter'], {
      Switch: { [A]: { initial: { name: 'a', weight: 1 } }, [B]: { initial: { name: 'b', tags: ['set', [2, 1]] } }, [C]: { initial: { name: 'c' } } },
    });
    expect(events.map((e) => [e.kind, e.uuid])).toEqual([['insert', C]]);
    events.length = 0;
    cache.resync(['Switch'], { Switch: { [A]: { initial: { name: 'a', weight: 5 } } } });
    expect(events.map((e) => [e.kind, e.uuid]).sort()).toEqual([
      ['delete', B],
      ['delete', C],
      ['update', A],
    ]);
  });

  it('keeps delivering to other listeners when one throws', () => {
    const { cache, events } = setup();
    cache.on(() => {
      throw new Error('boom');
    });
    cache.applyUpdates({ Switch: { [A]: { insert: { name: 'a' } } } });
    expect(events).toHaveLength(1);
  });

  it('applies a modify carrying the implicit _version column (clustered ovsdb-server sends it)', () => {
    const { cache, events } = setup();
    cache.applyUpdates({ Switch: { [A]: { insert: { name: 'a' } } } });
    cache.applyUpdates({ Switch: { [A]: { modify: { weight: 3, _version: ['uuid', C] } } } });
    expect(cache.table('Switch').row(A)).toMatchObject({ weight: 3, _version: C });
    expect(events.map((e) => e.kind)).toEqual(['insert', 'update']);
  });

  it('fills defaults only for the monitored columns', () => {
    const { cache } = setup();
    cache.table('Switch').columns = ['name'];
    cache.applyUpdates({ Switch: { [A]: { insert: { name: 'a' } } } });
    expect(cache.table('Switch').row(A)).toEqual({ _uuid: A, name: 'a' });
  });
});
