import type { Oxm } from '../oxm/fields';
import { flowKey, matchKey } from './flow-key';

describe('matchKey', () => {
  const fields: Oxm[] = [
    { field: 'in_port', value: 7 },
    { field: 'eth_type', value: 0x0806 },
    { field: 'arp_op', value: 1 },
    { field: 'arp_tpa', value: '10.0.0.9' },
    { field: 'reg0', value: 100, mask: 0xffffff },
  ];
  const permutations = (xs: Oxm[]): Oxm[][] => (xs.length <= 1 ? [xs] : xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p])));

  it('does not depend on the order of the fields, frozen (shared) or not', () => {
    const keys = new Set(permutations(fields).map(matchKey));
    expect(keys.size).toBe(1);
    const frozen = fields.map((f, i) => (i % 2 ? Object.freeze({ ...f }) : { ...f })) as Oxm[];
    for (const p of permutations(frozen)) expect(matchKey(p)).toBe([...keys][0]);
    // Twice through the frozen fields' cached tokens: the same key again.
    expect(matchKey(frozen)).toBe([...keys][0]);
  });

  it('tells apart matches that differ in one value, also through a cached frozen field', () => {
    const shared = Object.freeze({ field: 'eth_type', value: 0x0806 }) as Oxm;
    const a = matchKey([shared, { field: 'arp_tpa', value: '10.0.0.9' }]);
    const b = matchKey([shared, { field: 'arp_tpa', value: '10.0.0.10' }]);
    expect(a).not.toBe(b);
    expect(matchKey([{ field: 'arp_tpa', value: '10.0.0.9' }, shared])).toBe(a);
  });

  it('normalises masks as OVS does: all-ones is exact, all-zero is no match at all', () => {
    expect(matchKey([{ field: 'reg0', value: 5, mask: 0xffffffff }])).toBe(matchKey([{ field: 'reg0', value: 5 }]));
    expect(matchKey([{ field: 'reg0', value: 5, mask: 0 }, { field: 'in_port', value: 1 }])).toBe(matchKey([{ field: 'in_port', value: 1 }]));
    expect(flowKey(2, 100, [])).toBe('2/100/');
  });

  it('nw_frag of both bits is exact, as OVS dumps it (a restart deleted masked fragment flows as strangers); of one bit it stays masked', () => {
    expect(matchKey([{ field: 'ip_frag', value: 3, mask: 3 }])).toBe(matchKey([{ field: 'ip_frag', value: 3 }]));
    expect(matchKey([{ field: 'ip_frag', value: 1, mask: 3 }])).toBe(matchKey([{ field: 'ip_frag', value: 1 }]));
    expect(matchKey([{ field: 'ip_frag', value: 1, mask: 1 }])).not.toBe(matchKey([{ field: 'ip_frag', value: 1 }]));
  });
});
