import { Oxm } from '../oxm/fields';
import { ETH_TYPE, IP_PROTO } from '../oxm/prereq';
import { Instruction } from '../instructions';
import { MATCH_NAMES } from './names';
import { formatInstructions } from './actions';
import { formatFieldValue, hex } from './values';

const SHORTHAND: Record<number, Record<number, string> & { base: string }> = {
  [ETH_TYPE.IPV4]: { base: 'ip', [IP_PROTO.TCP]: 'tcp', [IP_PROTO.UDP]: 'udp', [IP_PROTO.ICMP]: 'icmp', [IP_PROTO.SCTP]: 'sctp' },
  [ETH_TYPE.IPV6]: { base: 'ipv6', [IP_PROTO.TCP]: 'tcp6', [IP_PROTO.UDP]: 'udp6', [IP_PROTO.ICMPV6]: 'icmp6', [IP_PROTO.SCTP]: 'sctp6' },
  [ETH_TYPE.ARP]: { base: 'arp' },
};

/**
 * A match in ovs-ofctl's vocabulary (dl_dst, nw_src, tp_dst, ct_state=+trk...),
 * with eth_type/ip_proto folded into shorthands (ip, tcp, arp, udp6...) placed
 * where the eth_type was. Field order is ours, not OVS's canonical order.
 */
export function formatMatch(match: readonly Oxm[]): string {
  const eth = match.find((f) => f.field === 'eth_type');
  const proto = match.find((f) => f.field === 'ip_proto');
  const table = eth && eth.field === 'eth_type' ? SHORTHAND[eth.value] : undefined;
  const protoName = table && proto && proto.field === 'ip_proto' ? table[proto.value] : undefined;
  const parts: string[] = [];
  for (const f of match) {
    if (f.field === 'unknown') {
      parts.push(`unknown(class=${hex(f.oxmClass)},field=${f.oxmField})=${f.value.toString('hex')}`);
    } else if (f.field === 'eth_type' && table) {
      parts.push(protoName ?? table.base);
    } else if (f.field === 'ip_proto' && protoName) {
      continue;
    } else {
      parts.push(`${MATCH_NAMES[f.field] ?? f.field}=${formatFieldValue(f)}`);
    }
  }
  return parts.join(',');
}

export interface FlowText {
  tableId: number;
  priority: number;
  cookie?: bigint;
  match: readonly Oxm[];
  instructions: readonly Instruction[];
}

/** "table=3, priority=100, cookie=0x5, reg0=0x1,ip,nw_dst=10.0.0.1 actions=..." */
export function formatFlow(f: FlowText): string {
  const head = [`table=${f.tableId}`, `priority=${f.priority}`];
  if (f.cookie !== undefined && f.cookie !== 0n) head.push(`cookie=${hex(f.cookie)}`);
  const m = formatMatch(f.match);
  return `${head.join(', ')}${m ? `, ${m}` : ''} actions=${formatInstructions(f.instructions)}`;
}
