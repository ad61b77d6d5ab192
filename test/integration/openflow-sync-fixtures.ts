/**
 * Flows shared by the flow-sync integration tests and the OpenFlow benchmark:
 * the same flows as library objects and as `ovs-ofctl add-flows` text, plus
 * normalisers so dumps taken different ways compare as equal strings.
 */
import { formatFlow, type FlowModMessage, type FlowStats } from '../../src/openflow';
import { DEFAULT_COOKIE_APP, encodeCookie, type DesiredFlow, type FlowOwner, type OwnerChange } from '../../src/openflow/sync';

export const FLOWS_PER_OWNER = 100;
export const CATEGORY = 1;

export interface GeneratedFlow {
  owner: FlowOwner;
  flow: DesiredFlow;
}

function ipv4(i: number): string {
  return `10.${(i >> 16) & 0xff}.${(i >> 8) & 0xff}.${i & 0xff}`;
}

function mac(i: number): string {
  const h = (i >>> 0).toString(16).padStart(8, '0');
  return `02:00:${h.slice(0, 2)}:${h.slice(2, 4)}:${h.slice(4, 6)}:${h.slice(6, 8)}`;
}

/**
 * Flow i: table i%8, a reg0 + IPv4 (every third one TCP) match, and actions
 * mixing set_field, a Nicira reg_load, output and goto_table, so encoding is
 * not trivially small. Owners hold FLOWS_PER_OWNER flows each.
 */
export function generateFlow(i: number, variant = 0): GeneratedFlow {
  const tableId = i % 8;
  const tcp = i % 3 === 0;
  const match: DesiredFlow['match'] = [
    { field: 'reg0', value: i },
    { field: 'eth_type', value: 0x0800 },
    { field: 'ipv4_dst', value: ipv4(i) },
  ];
  if (tcp) match.push({ field: 'ip_proto', value: 6 }, { field: 'tcp_dst', value: 1 + (i % 60000) });
  return {
    owner: { category: CATEGORY, objectId: Math.floor(i / FLOWS_PER_OWNER) },
    flow: {
      tableId,
      priority: 100 + (i % 7),
      match,
      instructions: [
        {
          type: 'apply_actions',
          actions: [
            { type: 'set_field', field: 'eth_dst', value: mac(i + variant) },
            { type: 'reg_load', dst: { field: 'reg1', ofs: 0, nbits: 8 }, value: BigInt(i % 256) },
            { type: 'output', port: 1 + (i % 2), maxLen: 0 },
          ],
        },
        { type: 'goto_table', tableId: tableId + 1 },
      ],
    },
  };
}

export function generateFlows(n: number, variant = 0): GeneratedFlow[] {
  return Array.from({ length: n }, (_, i) => generateFlow(i, variant));
}

/** The flows as plain OFPFC_ADD flow_mods of the given round (a raw bundle's content). */
export function addFlowMods(flows: readonly GeneratedFlow[], round: number): FlowModMessage[] {
  return flows.map((g) => ({
    type: 'flow_mod',
    xid: 0,
    command: 'add',
    cookie: encodeCookie({ round, app: DEFAULT_COOKIE_APP, ...g.owner }),
    cookieMask: 0n,
    tableId: g.flow.tableId,
    idleTimeout: 0,
    hardTimeout: 0,
    priority: g.flow.priority,
    bufferId: 0xffffffff,
    outPort: 0xffffffff,
    outGroup: 0xffffffff,
    flags: 0,
    match: g.flow.match,
    instructions: g.flow.instructions,
  }));
}

/** The flows grouped into one change per owner. */
export function ownerChanges(flows: readonly GeneratedFlow[]): OwnerChange[] {
  const by = new Map<number, OwnerChange>();
  for (const g of flows) {
    let c = by.get(g.owner.objectId);
    if (!c) by.set(g.owner.objectId, (c = { owner: g.owner, flows: [] }));
    (c.flows as DesiredFlow[]).push(g.flow);
  }
  return [...by.values()];
}

/** The same flow as an `ovs-ofctl add-flows` line, with the cookie our manager would give it. */
export function ofctlLine(g: GeneratedFlow, round: number): string {
  const cookie = encodeCookie({ round, app: DEFAULT_COOKIE_APP, ...g.owner });
  const f = g.flow;
  const fields: string[] = [];
  let proto = 'ip';
  for (const m of f.match) {
    if (m.field === 'reg0') fields.push(`reg0=${m.value}`);
    else if (m.field === 'ipv4_dst') fields.push(`nw_dst=${m.value}`);
    else if (m.field === 'tcp_dst') fields.push(`tp_dst=${m.value}`);
    else if (m.field === 'ip_proto') proto = 'tcp';
  }
  const apply = f.instructions[0];
  const goto = f.instructions[1];
  if (apply?.type !== 'apply_actions' || goto?.type !== 'goto_table') throw new Error('unexpected generated flow');
  const actions = apply.actions.map((a) => {
    if (a.type === 'set_field' && a.field === 'eth_dst') return `set_field:${a.value}->eth_dst`;
    if (a.type === 'reg_load') return `load:0x${a.value.toString(16)}->NXM_NX_REG1[0..7]`;
    if (a.type === 'output') return `output:${a.port}`;
    throw new Error(`unexpected action ${a.type}`);
  });
  return `table=${f.tableId},priority=${f.priority},cookie=0x${cookie.toString(16)},${proto},${fields.join(',')},actions=${actions.join(',')},goto_table:${goto.tableId}`;
}

/** `ovs-ofctl dump-flows` lines without counters and durations, sorted. */
export function normalizeOfctlDump(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith(' cookie='))
    .map((l) => l.replace(/ duration=[^,]+,| n_packets=\d+,| n_bytes=\d+,| idle_age=\d+,| hard_age=\d+,/g, '').trim())
    .sort();
}

/** A flow (desired or dumped) as one line with match fields in a fixed order. */
export function flowText(f: Pick<FlowStats, 'tableId' | 'priority' | 'cookie' | 'match' | 'instructions'>): string {
  return formatFlow({ ...f, match: [...f.match].sort((a, b) => a.field.localeCompare(b.field)) });
}
