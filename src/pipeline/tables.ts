/**
 * The br-int pipeline's tables, declared by name in the order packets traverse them
 * (Antrea's habit): ids are assigned from the position here, so flow code only ever
 * says `TABLES.L2Lookup.id`, never a number.
 *
 *   Classifier   in_port of a bound VM port, or tunnel port + tun_id (VNI) -> network register
 *   SpoofGuard   port security: source MAC/IP (IPv4, ARP; IPv6 and ND in port-security-v6.ts) of the port and its allowed pairs
 *   ArpResponder ARP requests for addresses known in the network answered on this node
 *                (ports' IPs and load balancer VIPs)
 *   LbVip        IP traffic of a network with load balancers -> ct(zone, nat, table=LbNat):
 *                established flows get their recorded NAT (replies come from the VIP)
 *   LbNat        +new to VIP:port -> hash into a slot (multipath), LbSlot; with no healthy
 *                backend -> the controller, which refuses it (lb-reject.ts);
 *                packets to the LB's MAC now addressed to a backend IP -> backend MAC, or,
 *                from that very backend (hairpin), SNAT to the VIP and back out its port
 *   L2Lookup     destination MAC of a local port -> output; of a remote port -> tunnel
 *                (its own MAC; below those, a pair MAC only it declares, pair-macs.ts);
 *                unicast to no known MAC -> the network's ports without port security only
 *                (their flood chunks with UnknownChunk set, and their nodes' VTEPs), else drop
 *   Flood        broadcast and multicast -> the network's flood chunks (resubmit) and VTEPs
 *   LbSlot       VIP + slot -> the slot's backend (load-balancer.ts)
 *   LbDnat       VIP:port + backend -> ct(commit, nat(dst=backend:targetPort)), back to LbNat
 *   FloodChunk   network + chunk -> output to the chunk's local ports (one flow per chunk,
 *                so a port coming or going rewrites one bounded flow, not the network's list);
 *                with UnknownChunk set, to its ports without port security only
 *
 * LbSlot, LbDnat and FloodChunk come last although earlier tables lead to them: goto_table
 * only needs a higher id, resubmit none, and appending keeps every other table's id (and
 * existing dumps) unchanged.
 *
 * A table miss drops (br-int has fail_mode=secure and OpenFlow 1.3 drops on a miss);
 * the one exception, L2Lookup -> Flood, is an explicit pipeline flow.
 */
export interface Table {
  readonly name: TableName;
  readonly id: number;
  /** What the table does, for dumps and docs. */
  readonly description: string;
}

const DECLARED = [
  ['Classifier', 'in_port / tunnel+VNI to network and port registers'],
  ['SpoofGuard', 'source MAC/IP and ARP spoof guard (port security)'],
  ['ArpResponder', 'answers ARP requests and IPv6 neighbor solicitations for known addresses locally'],
  ['LbVip', 'IP of networks with load balancers through conntrack (un-NATs replies)'],
  ['LbNat', 'new connections to a VIP:port -> slot hash; NATed packets -> backend MAC'],
  ['L2Lookup', 'destination MAC to local port or remote VTEP'],
  ['Flood', 'broadcast and multicast to the network\u2019s ports and VTEPs'],
  ['LbSlot', 'a new connection\u2019s load balancer slot -> its backend'],
  ['LbDnat', 'VIP:port + backend -> conntrack commit with DNAT'],
  ['FloodChunk', 'one chunk of a network\u2019s local ports: output to each'],
] as const;

export type TableName = (typeof DECLARED)[number][0];

export const TABLES: Readonly<Record<TableName, Table>> = Object.freeze(
  Object.fromEntries(DECLARED.map(([name, description], id) => [name, Object.freeze({ name, id, description })])) as Record<TableName, Table>,
);

export const TABLE_ORDER: readonly Table[] = DECLARED.map(([name]) => TABLES[name]);

export function tableName(id: number): string {
  return TABLE_ORDER[id]?.name ?? String(id);
}
