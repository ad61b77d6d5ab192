import { canonicalIp, tryParseIp } from '../ipam';
import type { HypervisorNode } from '../resources/kinds';
import type { StatusCause } from '../resources/status';
import { NODES } from '../store/kinds';
import { AdmissionError, type AdmissionContext, type Admitted, type KindAdmission } from './admission';

const OVSDB_ENDPOINT = /^(unix:\/.+|(tcp|ssl):(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5})$/;

function validate(node: HypervisorNode): void {
  const causes: StatusCause[] = [];
  const spec = node.spec!;
  if (!tryParseIp(spec.tunnelIP)) {
    causes.push({ field: 'spec.tunnelIP', reason: 'FieldValueInvalid', message: `Invalid value: "${spec.tunnelIP}": must be a valid IP address` });
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

export class NodeAdmission implements KindAdmission<HypervisorNode> {
  readonly finalizers: string[] = [];

  async create(node: HypervisorNode, ctx: AdmissionContext): Promise<Admitted<HypervisorNode>> {
    validate(node);
    await checkTunnelIPFree(node, ctx);
    return { object: node, ops: [] };
  }

  async update(old: HypervisorNode, next: HypervisorNode, ctx: AdmissionContext): Promise<Admitted<HypervisorNode>> {
    validate(next);
    if (next.spec!.tunnelIP !== old.spec?.tunnelIP) await checkTunnelIPFree(next, ctx);
    return { object: next, ops: [] };
  }
}
