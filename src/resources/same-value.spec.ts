import { sameValue } from './same-value';

describe('sameValue', () => {
  it('compares as JSON would persist: key order and undefined properties do not matter', () => {
    expect(sameValue({ a: 1, b: { c: [1, 'x'] } }, { b: { c: [1, 'x'] }, a: 1 })).toBe(true);
    expect(sameValue({ a: 1, gone: undefined }, { a: 1 })).toBe(true);
    expect(sameValue({ a: 1 }, { a: 1, gone: undefined })).toBe(true);
    expect(sameValue(undefined, null)).toBe(true);
  });

  it('finds every kind of difference', () => {
    expect(sameValue({ a: 1 }, { a: 2 })).toBe(false);
    expect(sameValue({ a: 1 }, { a: 1, b: 0 })).toBe(false);
    expect(sameValue({ a: 1, b: 0 }, { a: 1 })).toBe(false);
    expect(sameValue([1, 2], [1, 2, 3])).toBe(false);
    expect(sameValue([1], { 0: 1 })).toBe(false);
    expect(sameValue({ 0: 1 }, [1])).toBe(false);
    expect(sameValue('1', 1)).toBe(false);
    expect(sameValue({ a: null }, { a: {} })).toBe(false);
    expect(sameValue({}, undefined)).toBe(false);
  });

  it('compares byte arrays by content and bigints by value', () => {
    expect(sameValue({ v: Buffer.from([1, 2]) }, { v: new Uint8Array([1, 2]) })).toBe(true);
    expect(sameValue({ v: Buffer.from([1, 2]) }, { v: Buffer.from([1, 3]) })).toBe(false);
    expect(sameValue({ v: Buffer.from([1, 2]) }, { v: [1, 2] })).toBe(false);
    expect(sameValue({ v: 10n }, { v: 10n })).toBe(true);
    expect(sameValue({ v: 10n }, { v: 11n })).toBe(false);
    expect(sameValue(new Date(5), new Date(5))).toBe(true);
    expect(sameValue(new Date(5), new Date(6))).toBe(false);
  });
});
