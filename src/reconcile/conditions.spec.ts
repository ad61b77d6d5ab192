import type { Condition } from '../resources/object';
import { conditionStatus, getCondition, isFalse, isTrue, removeCondition, setCondition } from './conditions';

const t0 = new Date('2026-01-01T00:00:00.123Z');
const t1 = new Date('2026-01-01T00:05:00Z');

describe('conditions', () => {
  it('adds a condition with an RFC 3339 transition time and observedGeneration', () => {
    const c = setCondition(undefined, { type: 'Ready', status: 'False', reason: 'Pending', message: 'waiting', observedGeneration: 1 }, t0);
    expect(c).toEqual([
      { type: 'Ready', status: 'False', reason: 'Pending', message: 'waiting', observedGeneration: 1, lastTransitionTime: '2026-01-01T00:00:00Z' },
    ]);
    expect(isFalse(c, 'Ready')).toBe(true);
    expect(isTrue(c, 'Ready')).toBe(false);
  });

  it.each([
    ['same status, new message: time kept', 'False', 'Pending', 'still waiting', '2026-01-01T00:00:00Z'],
    ['same status, new reason: time kept', 'False', 'NoNode', 'waiting', '2026-01-01T00:00:00Z'],
    ['status flips: time moves', 'True', 'Bound', 'ok', '2026-01-01T00:05:00Z'],
  ] as const)('%s', (_name, status, reason, message, time) => {
    const before = setCondition(undefined, { type: 'Ready', status: 'False', reason: 'Pending', message: 'waiting', observedGeneration: 1 }, t0);
    const after = setCondition(before, { type: 'Ready', status, reason, message, observedGeneration: 2 }, t1);
    expect(after).not.toBe(before);
    expect(after[0].lastTransitionTime).toBe(time);
    expect(after[0].observedGeneration).toBe(2);
    expect(before[0].message).toBe('waiting'); // never mutated
  });

  it('returns the same array when nothing changed', () => {
    const before = setCondition(undefined, { type: 'Ready', status: 'True', reason: 'Ok', message: '', observedGeneration: 3 }, t0);
    expect(setCondition(before, { type: 'Ready', status: 'True', reason: 'Ok', message: '', observedGeneration: 3 }, t1)).toBe(before);
  });

  it('keeps other conditions and their order', () => {
    let c: Condition[] = [];
    c = setCondition(c, { type: 'A', status: 'True', reason: 'r', message: '' }, t0);
    c = setCondition(c, { type: 'B', status: 'False', reason: 'r', message: '' }, t0);
    c = setCondition(c, { type: 'A', status: 'False', reason: 'r', message: '' }, t1);
    expect(c.map((x) => `${x.type}=${x.status}`)).toEqual(['A=False', 'B=False']);
    expect(c[0]).not.toHaveProperty('observedGeneration');
    expect(conditionStatus(c, 'C')).toBe('Unknown');
    expect(getCondition(c, 'B')?.status).toBe('False');
  });

  it('honours an explicit lastTransitionTime on a transition', () => {
    const c = setCondition([], { type: 'X', status: 'True', reason: 'r', message: '', lastTransitionTime: '2020-01-01T00:00:00Z' }, t1);
    expect(c[0].lastTransitionTime).toBe('2020-01-01T00:00:00Z');
  });

  it('removes conditions, returning the input when absent', () => {
    const c = setCondition(undefined, { type: 'A', status: 'True', reason: 'r', message: '' }, t0);
    expect(removeCondition(c, 'A')).toEqual([]);
    expect(removeCondition(c, 'B')).toBe(c);
    expect(removeCondition(undefined, 'B')).toBeUndefined();
  });
});
