import {
  COOKIE_APP_MASK,
  COOKIE_ROUND_MASK,
  appSelector,
  decodeCookie,
  encodeCookie,
  isOwnCookie,
  ownerFromKey,
  ownerKey,
  roundOf,
  roundSelector,
} from './cookie';
import { flowKey, flowSignature, groupSignature } from './flow-key';

describe('cookie layout |round 16|category 8|app 8|objectId 32|', () => {
  it.each([
    [{ round: 1, category: 2, app: 0x56, objectId: 7 }, 0x0001_02_56_00000007n],
    [{ round: 0xffff, category: 0xff, app: 0xff, objectId: 0xffffffff }, 0xffffffffffffffffn],
    [{ round: 0x1234, category: 0, app: 0x56, objectId: 0 }, 0x1234_00_56_00000000n],
  ])('encodes %o as %s and back', (parts, cookie) => {
    expect(encodeCookie(parts)).toBe(cookie);
    expect(decodeCookie(cookie)).toEqual(parts);
    expect(roundOf(cookie)).toBe(parts.round);
  });

  it('rejects out-of-range parts', () => {
    expect(() => encodeCookie({ round: 0x10000, category: 0, app: 0, objectId: 0 })).toThrow(RangeError);
    expect(() => encodeCookie({ round: 1, category: 256, app: 0, objectId: 0 })).toThrow(/category/);
    expect(() => encodeCookie({ round: 1, category: 1, app: 0, objectId: 2 ** 32 })).toThrow(/objectId/);
    expect(() => encodeCookie({ round: 1.5, category: 1, app: 0, objectId: 0 })).toThrow(/round/);
  });

  it('knows its own cookies: app byte ours and round not 0', () => {
    expect(isOwnCookie(encodeCookie({ round: 3, category: 1, app: 0x56, objectId: 1 }), 0x56)).toBe(true);
    expect(isOwnCookie(0n, 0x56)).toBe(false);
    expect(isOwnCookie(encodeCookie({ round: 0, category: 1, app: 0x56, objectId: 1 }), 0x56)).toBe(false);
    expect(isOwnCookie(encodeCookie({ round: 3, category: 1, app: 0x57, objectId: 1 }), 0x56)).toBe(false);
  });

  it('selects one round of one app, or a whole app', () => {
    expect(roundSelector(5, 0x56)).toEqual({ cookie: 0x0005_00_56_00000000n, cookieMask: COOKIE_ROUND_MASK | COOKIE_APP_MASK });
    expect(appSelector(0x56)).toEqual({ cookie: 0x56_00000000n, cookieMask: 0xff_00000000n });
  });

  it('maps owners to keys and back', () => {
    for (const o of [{ category: 0, objectId: 0 }, { category: 255, objectId: 0xffffffff }, { category: 3, objectId: 12 }]) {
      expect(ownerFromKey(ownerKey(o))).toEqual(o);
    }
  });
});

describe('flow identity and signatures', () => {
  it('ignores match field order, all-ones masks and all-zero masks', () => {
    const a = flowKey(1, 100, [
      { field: 'eth_type', value: 0x800 },
      { field: 'ipv4_dst', value: '10.0.0.1' },
      { field: 'reg0', value: 5, mask: 0xffffffff },
    ]);
    const b = flowKey(1, 100, [
      { field: 'reg1', value: 0, mask: 0 },
      { field: 'reg0', value: 5 },
      { field: 'ipv4_dst', value: '10.0.0.1' },
      { field: 'eth_type', value: 0x800 },
    ]);
    expect(a).toBe(b);
    expect(flowKey(1, 101, [])).not.toBe(flowKey(1, 100, []));
    expect(flowKey(1, 100, [{ field: 'reg0', value: 4, mask: 0xc }])).toBe(flowKey(1, 100, [{ field: 'reg0', value: 5, mask: 0xc }]));
  });

  it('normalises masked integers up to bit 31 as it does other masked fields', () => {
    const key = (value: number, mask: number) => flowKey(1, 100, [{ field: 'reg0', value, mask }]);
    expect(key(0x80000005, 0x80000000)).toBe(key(0x80000000, 0x80000000));
    expect(key(0x80000005, 0x80000000)).not.toBe(key(0x00000005, 0x80000000));
    expect(key(0x80000005, 0x80000000)).not.toBe(key(0x80000000, 0xc0000000));
    // The same key as the byte-wise path gives a masked MAC (bits outside the mask dropped).
    const mac = (value: string) => flowKey(1, 100, [{ field: 'eth_dst', value, mask: 'ff:ff:ff:00:00:00' }]);
    expect(mac('02:00:00:12:34:56')).toBe(mac('02:00:00:00:00:00'));
    expect(() => key(2 ** 32, 0xffffffff)).toThrow(/32-bit integer/);
  });

  it('compares instructions in spec order, as OVS dumps them', () => {
    const base = { idleTimeout: 0, hardTimeout: 0, flags: 0 };
    const s1 = flowSignature({ ...base, instructions: [{ type: 'goto_table', tableId: 2 }, { type: 'apply_actions', actions: [{ type: 'pop_vlan' }] }] });
    const s2 = flowSignature({ ...base, instructions: [{ type: 'apply_actions', actions: [{ type: 'pop_vlan' }] }, { type: 'goto_table', tableId: 2 }] });
    expect(s1).toBe(s2);
    expect(flowSignature({ ...base, instructions: [{ type: 'goto_table', tableId: 3 }] })).not.toBe(flowSignature({ ...base, instructions: [{ type: 'goto_table', tableId: 2 }] }));
    // CHECK_OVERLAP is not stored by OVS, so it must not make flows differ.
    expect(flowSignature({ ...base, flags: 2, instructions: [] })).toBe(flowSignature({ ...base, instructions: [] }));
  });

  it('ignores bucket weights of non-select groups (OVS reports 1)', () => {
    const b = (weight: number) => [{ weight, watchPort: 0xffffffff, watchGroup: 0xffffffff, actions: [{ type: 'output' as const, port: 1, maxLen: 0 }] }];
    expect(groupSignature({ groupType: 'all', buckets: b(0) })).toBe(groupSignature({ groupType: 'all', buckets: b(1) }));
    expect(groupSignature({ groupType: 'select', buckets: b(1) })).not.toBe(groupSignature({ groupType: 'select', buckets: b(2) }));
  });
});
