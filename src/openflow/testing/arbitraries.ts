import fc from 'fast-check';
import { Action, MULTIPATH_ALGORITHMS, MULTIPATH_FIELDS, Subfield } from '../actions/types';
import { FIELDS, FieldName, KnownOxm } from '../oxm/fields';
import { Instruction } from '../instructions';
import { FlowModMessage } from '../messages/flow-mod';
import { ipv4FromBytes, ipv6FromBytes, macFromBytes } from '../wire/addr';

/** fast-check generators producing values in the canonical form decode returns. */

const bytes = (n: number): fc.Arbitrary<Buffer> =>
  fc.uint8Array({ minLength: n, maxLength: n }).map((a) => Buffer.from(a));

function valueArb(field: FieldName): fc.Arbitrary<number | bigint | string> {
  switch (FIELDS[field].kind) {
    case 'u8':
      return fc.integer({ min: 0, max: 0xff });
    case 'u16':
      return fc.integer({ min: 0, max: 0xffff });
    case 'u32':
      return fc.integer({ min: 0, max: 0xffffffff });
    case 'u64':
      return fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
    case 'u128':
      return fc.bigInt({ min: 0n, max: (1n << 128n) - 1n });
    case 'mac':
      return bytes(6).map(macFromBytes);
    case 'ipv4':
      return bytes(4).map(ipv4FromBytes);
    case 'ipv6':
      return bytes(16).map(ipv6FromBytes);
  }
}

export function oxmArb(field: FieldName): fc.Arbitrary<KnownOxm> {
  const v = valueArb(field);
  if (!FIELDS[field].maskable) return v.map((value) => ({ field, value }) as KnownOxm);
  return fc.tuple(v, fc.option(v, { nil: undefined })).map(([value, mask]) =>
    (mask === undefined ? { field, value } : { field, value, mask }) as KnownOxm,
  );
}

const ALL_FIELDS = Object.keys(FIELDS) as FieldName[];

/** Any set of distinct fields: fine for the codec, which does not check prerequisites on decode. */
export const anyMatchArb: fc.Arbitrary<KnownOxm[]> = fc
  .uniqueArray(fc.constantFrom(...ALL_FIELDS), { maxLength: 8 })
  .chain((names): fc.Arbitrary<KnownOxm[]> => (names.length ? fc.tuple(...names.map(oxmArb)) : fc.constant([])));

const PREREQ_FREE = ALL_FIELDS.filter((f) => FIELDS[f].prereq === 'none' && f !== 'eth_type' && f !== 'vlan_vid');

/** Matches that pass the prerequisite and mask checks. */
export const validMatchArb: fc.Arbitrary<KnownOxm[]> = fc
  .uniqueArray(fc.constantFrom(...PREREQ_FREE), { maxLength: 6 })
  .chain((names): fc.Arbitrary<KnownOxm[]> => (names.length ? fc.tuple(...names.map(oxmArb)) : fc.constant([])))
  .map((fields: KnownOxm[]) =>
    fields.map((f): KnownOxm => {
      // Clear value bits outside the mask, as a switch requires.
      if (typeof f.value === 'number' && typeof f.mask === 'number') return { ...f, value: (f.value & f.mask) >>> 0 } as KnownOxm;
      if (typeof f.value === 'bigint' && typeof f.mask === 'bigint') return { ...f, value: f.value & f.mask } as KnownOxm;
      if (f.mask !== undefined) return { field: f.field, value: f.value } as KnownOxm;
      return f;
    }),
  );

const REG_FIELDS: FieldName[] = ['reg0', 'reg1', 'reg5', 'reg15', 'tunnel_id', 'metadata', 'xreg2', 'ct_mark', 'pkt_mark'];

const subfieldArb: fc.Arbitrary<Subfield> = fc.constantFrom(...REG_FIELDS).chain((field) => {
  const bits = { u32: 32, u64: 64 }[FIELDS[field].kind as 'u32' | 'u64'];
  return fc
    .integer({ min: 1, max: bits })
    .chain((nbits) => fc.integer({ min: 0, max: bits - nbits }).map((ofs) => ({ field, ofs, nbits })));
});

const u8 = fc.integer({ min: 0, max: 0xff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

const simpleActionArb: fc.Arbitrary<Action> = fc.oneof(
  fc.record({ type: fc.constant('output' as const), port: u32, maxLen: u16 }),
  fc.record({ type: fc.constant('group' as const), groupId: u32 }),
  fc.constantFrom(...PREREQ_FREE).chain((f) => valueArb(f).map((value) => ({ type: 'set_field', field: f, value }) as Action)),
  fc.record({ type: fc.constant('push_vlan' as const), ethertype: u16 }),
  fc.constant({ type: 'pop_vlan' } as Action),
  fc.constant({ type: 'dec_nw_ttl' } as Action),
  fc.record({ type: fc.constant('resubmit' as const), port: u16, table: u8 }),
  subfieldArb.chain((dst) =>
    fc.bigInt({ min: 0n, max: (1n << BigInt(dst.nbits)) - 1n }).map((value) => ({ type: 'reg_load', dst, value }) as Action),
  ),
  fc
    .tuple(subfieldArb, subfieldArb)
    .filter(([a, b]) => a.nbits <= 32 && b.nbits <= 32)
    .map(([src, dst]) => {
      const nbits = Math.min(src.nbits, dst.nbits);
      return { type: 'reg_move', src: { ...src, nbits }, dst: { ...dst, nbits } } as Action;
    }),
  fc
    .integer({ min: 2, max: 64 })
    .chain((n) => fc.record({ type: fc.constant('conjunction' as const), id: u32, clause: fc.integer({ min: 1, max: n }), nClauses: fc.constant(n) })),
  fc.record({ type: fc.constant('controller' as const), maxLen: u16, controllerId: u16, reason: u8 }),
  fc.constant({ type: 'ct_clear' } as Action),
  fc
    .record({
      fields: fc.constantFrom(...MULTIPATH_FIELDS),
      basis: u16,
      algorithm: fc.constantFrom(...MULTIPATH_ALGORITHMS),
      nLinks: fc.integer({ min: 1, max: 256 }),
      arg: u32,
      dst: subfieldArb.filter((d) => d.nbits >= 8),
    })
    .map((r) => ({ type: 'multipath', ...r }) as Action),
  // Lengths of 6 + 8k keep the note unpadded, so decode returns exactly the input.
  fc.integer({ min: 0, max: 3 }).chain((k) => bytes(6 + 8 * k).map((data) => ({ type: 'note', data }) as Action)),
  fc.record({ type: fc.constant('unknown' as const), actionType: fc.integer({ min: 1, max: 16 }), data: bytes(4) }),
);

const natArb: fc.Arbitrary<Action> = fc
  .record(
    {
      direction: fc.constantFrom('src' as const, 'dst' as const),
      persistent: fc.constant(true),
      portHash: fc.constant(true),
      ip: fc.option(fc.oneof(bytes(4).map(ipv4FromBytes), bytes(16).map(ipv6FromBytes)), { nil: undefined }),
      portMin: u16,
      portMax: u16,
    },
    { requiredKeys: ['direction'] },
  )
  .map((r) => {
    const a: Action = { type: 'nat', direction: r.direction };
    if (r.persistent) a.persistent = true;
    if (r.portHash) a.portHash = true;
    if (r.ip !== undefined) {
      a.ipMin = r.ip;
      a.ipMax = r.ip;
      if (r.portMin !== undefined) a.portMin = r.portMin;
      if (r.portMax !== undefined) a.portMax = r.portMax;
    }
    return a;
  });

const ctArb: fc.Arbitrary<Action> = fc
  .record(
    {
      commit: fc.constant(true),
      force: fc.constant(true),
      zone: fc.oneof(fc.integer({ min: 1, max: 0xffff }), subfieldArb.filter((s) => s.nbits <= 16)),
      table: fc.integer({ min: 0, max: 254 }),
      alg: fc.integer({ min: 1, max: 0xffff }),
      actions: fc.array(fc.oneof(natArb, simpleActionArb), { maxLength: 3 }),
    },
    { requiredKeys: ['actions'] },
  )
  .map((r) => ({ type: 'ct', ...r }) as Action);

export const actionArb: fc.Arbitrary<Action> = fc.oneof({ weight: 5, arbitrary: simpleActionArb }, { weight: 1, arbitrary: ctArb }, { weight: 1, arbitrary: natArb });

export const instructionArb: fc.Arbitrary<Instruction> = fc.oneof(
  fc.record({ type: fc.constant('goto_table' as const), tableId: u8 }),
  fc.record({ type: fc.constant('write_metadata' as const), metadata: u64, mask: u64 }),
  fc.record({ type: fc.constantFrom('write_actions' as const, 'apply_actions' as const), actions: fc.array(actionArb, { maxLength: 5 }) }),
  fc.constant({ type: 'clear_actions' } as Instruction),
  fc.record({ type: fc.constant('meter' as const), meterId: u32 }),
);

export const flowModArb: fc.Arbitrary<FlowModMessage> = fc.record({
  type: fc.constant('flow_mod' as const),
  xid: u32,
  command: fc.constantFrom('add' as const, 'modify' as const, 'modify_strict' as const, 'delete' as const, 'delete_strict' as const),
  cookie: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  cookieMask: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  tableId: u8,
  idleTimeout: u16,
  hardTimeout: u16,
  priority: u16,
  bufferId: u32,
  outPort: u32,
  outGroup: u32,
  flags: fc.integer({ min: 0, max: 0x1f }),
  match: validMatchArb,
  instructions: fc.array(instructionArb, { maxLength: 4 }),
});
