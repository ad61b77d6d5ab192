import { canonicalIp, formatIp, tryParseIp, type IpAddress } from '../ipam';
import type { HypervisorNode } from '../resources/kinds';
import type { StatusCause } from '../resources/status';
import { NODES } from '../store/kinds';
import { AdmissionError, type AdmissionContext, type Admitted, type KindAdmission } from './admission';

const OVSDB_ENDPOINT = /^(unix:\/.+|(tcp|ssl):(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5})$/;

/** Why an address cannot be a VTEP (tunnels are unicast between hosts), or undefined. */
function unusableTunnelIP(ip: IpAddress): string | undefined {
  const v = ip.value;
  if (v === 0n) return 'the unspecified address is no host\'s address';
  if (ip.family === 4) {
    if (v >> 28n === 0xen) return 'a multicast address cannot be a tunnel endpoint';
    if (v === 0xffffffffn) return 'the broadcast address cannot be a tunnel endpoint';
    return undefined;
  }
  if (v >> 120n === 0xffn) return 'a multicast address cannot be a tunnel endpoint';
  // Another spelling of an IPv4 address: two nodes could hold the same VTEP unnoticed.
  if (v >> 32n === 0xffffn) return `an IPv4-mapped address; give the IPv4 address itself (${formatIp(4, v & 0xffffffffn)})`;
  return undefined;
}

/**
 * Refused rather than taken: vnetd's flows (tun_ipv4_dst), tunnel probes and fast path
 * address VTEPs over IPv4 only, and a Node with an IPv6 one was accepted and got no flows at
 * all, its VMs cut off even from each other (QA-156 F1). On a create or a change of the
 * address: a Node stored before can still be cordoned, relabelled or moved to IPv4.
 */
const IPV6_UNDERLAY = "an IPv6 underlay is not supported yet (vnetd's tunnels, their probes and the fast path address VTEPs over IPv4): give the hypervisor's IPv4 underlay address";

const canonicalIfValid = (ip: string | undefined): string | undefined => (ip !== undefined && tryParseIp(ip) ? canonicalIp(ip) : ip);

function validate(node: HypervisorNode, old?: HypervisorNode): void {
  const causes: StatusCause[] = [];
  const spec = node.spec!;
  const tunnel = tryParseIp(spec.tunnelIP);
  const changed = !old || canonicalIfValid(old.spec?.tunnelIP) !== canonicalIfValid(spec.tunnelIP);
  const unusable = tunnel && (unusableTunnelIP(tunnel) ?? (tunnel.family === 6 && changed ? IPV6_UNDERLAY : undefined));
  if (!tunnel) {
    causes.push({ field: 'spec.tunnelIP', reason: 'FieldValueInvalid', message: `Invalid value: "${spec.tunnelIP}": must be a valid IP address` });
  } else if (unusable) {
    causes.push({ field: 'spec.tunnelIP', reason: 'FieldValueInvalid', message: `Invalid value: "${spec.tunnelIP}": ${unusable}` });
  } else spec.tunnelIP = canonicalIp(spec.tunnelIP);
  if (spec.ovsdb !== undefined && !OVSDB_ENDPOINT.test(spec.ovsdb)) {
    causes.push({ field: 'spec.ovsdb', reason: 'FieldValueInvalid', message: `Invalid value: "${spec.ovsdb}": must be unix:/PATH, tcp:HOST:PORT or ssl:HOST:PORT` });
  }
  if (causes.length > 0) throw new AdmissionError(causes);
}

/**
 * Two nodes with one tunnel address would each get the other's overlay traffic. Nodes are
 * few (one per hypervisor) and written rarely, so they are read, not claimed: two creates
 * racing with the same address are not caught here (the second node's tunnels fail).
 */
async function checkTunnelIPFree(node: HypervisorNode, ctx: AdmissionContext): Promise<void> {
  const ip = node.spec!.tunnelIP;
  const others = await ctx.objects.list<HypervisorNode>(NODES, undefined);
  // A node being deleted is on its way out (its hypervisor replaced by this one, say).
  const canonical = (v: string | undefined) => (v !== undefined && tryParseIp(v) ? canonicalIp(v) : v);
  const holder = others.items.find((n) => n.metadata.name !== node.metadata.name && !n.metadata.deletionTimestamp && canonical(n.spec?.tunnelIP) === ip);
  if (holder) throw new AdmissionError([{ field: 'spec.tunnelIP', reason: 'FieldValueInvalid', message: `Invalid value: "${ip}": already the tunnel address of Node "${holder.metadata.name}"` }]);
}

/**
 * Fast-path settings without `enabled` take effect only where the node's vnetd runs with
 * VNETD_FASTPATH=1, which the API cannot see: a netns or underlay given alone looked
 * accepted while the fast path stayed off (QA-124 F8). Valid, so said, not refused.
 */
export function fastPathWarnings(node: HypervisorNode): string[] {
  const fp = node.spec?.fastPath;
  if (!fp || fp.enabled !== undefined) return [];
  const given = Object.keys(fp).filter((k) => (fp as Record<string, unknown>)[k] !== undefined);
  if (given.length === 0) return [];
  return [`spec.fastPath.enabled is not set: ${given.map((k) => `spec.fastPath.${k}`).join(', ')} take effect only if Node "${node.metadata.name}"'s vnetd runs with VNETD_FASTPATH=1; set spec.fastPath.enabled: true to run the fast path there`];
}

export class NodeAdmission implements KindAdmission<HypervisorNode> {
  readonly finalizers: string[] = [];

  async create(node: HypervisorNode, ctx: AdmissionContext): Promise<Admitted<HypervisorNode>> {
    validate(node);
    await checkTunnelIPFree(node, ctx);
    return { object: node, ops: [], warnings: fastPathWarnings(node) };
  }

  async update(old: HypervisorNode, next: HypervisorNode, ctx: AdmissionContext): Promise<Admitted<HypervisorNode>> {
    validate(next, old);
    if (next.spec!.tunnelIP !== old.spec?.tunnelIP) await checkTunnelIPFree(next, ctx);
    // Said when the fast-path settings change, not on every write of the Node (a cordon said it too).
    const fastPathChanged = JSON.stringify(next.spec?.fastPath ?? null) !== JSON.stringify(old.spec?.fastPath ?? null);
    return { object: next, ops: [], warnings: fastPathChanged ? fastPathWarnings(next) : [] };
  }
}
