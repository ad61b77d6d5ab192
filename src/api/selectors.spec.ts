import { parseLabelSelector, SelectorSyntaxError } from './selectors';

const error = (s: string): string => {
  try {
    parseLabelSelector(s);
  } catch (err) {
    if (err instanceof SelectorSyntaxError) return err.message;
    throw err;
  }
  return 'parsed';
};

describe('label selectors', () => {
  it('parses Kubernetes syntax', () => {
    expect(parseLabelSelector('app=web, tier in (a,b), !legacy, team!=x, ready')).toEqual([
      { key: 'app', op: 'in', values: ['web'] },
      { key: 'tier', op: 'in', values: ['a', 'b'] },
      { key: 'legacy', op: '!exists' },
      { key: 'team', op: 'notin', values: ['x'] },
      { key: 'ready', op: 'exists' },
    ]);
    expect(parseLabelSelector('example.com/app=')).toEqual([{ key: 'example.com/app', op: 'in', values: [''] }]);
  });

  it('refuses keys and values no label can have, in kube-apiserver\'s words (QA-102: 64-character values were taken)', () => {
    expect(error(`team=${'x'.repeat(64)}`)).toBe(`unable to parse requirement: values[0][team]: Invalid value: "${'x'.repeat(64)}": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character, at most 63 characters`);
    expect(error('tier in (a,-b)')).toMatch(/^unable to parse requirement: values\[1\]\[tier\]: Invalid value: "-b": /);
    expect(error(`${'k'.repeat(64)}=v`)).toMatch(/^unable to parse requirement: key: Invalid value: "k{64}": name part must/);
    expect(error('a/b/c')).toMatch(/^unable to parse requirement: key: Invalid value: "a\/b\/c": a qualified name/);
    expect(error(`team=${'x'.repeat(63)}`)).toBe('parsed');
    expect(error('tier in ()')).toBe(`unable to parse requirement: "tier in ()": for 'in', 'notin' operators, values set can't be empty`);
  });
});
