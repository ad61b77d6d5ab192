/**
 * A load balancer's backends as the pipeline sees them: addresses in its network, each
 * healthy or not. Passive health: a backend whose VirtualPort is not bound to a
 * hypervisor interface (or is gone) gets no new connections until it is bound again.
 */
import type { LbBackendModel, NetworkModel, PortModel } from '../../pipeline';
import type { LoadBalancer } from '../../resources/kinds';
import { isIPv6 } from 'node:net';

/**
 * A VirtualPort name gives the port's address of the VIP's family (IPv4 or IPv6) and its
 * MAC; an IP gives the port that owns it (own IP or allowed pair). Backends that resolve to
 * nothing (port not there yet, no address of that family) are left out until they do;
 * status lists them as unhealthy.
 */
export function resolveBackends(lb: LoadBalancer, net: NetworkModel, ports: ReadonlyMap<string, PortModel>): LbBackendModel[] {
  const ns = lb.metadata.namespace;
  const inNet = [...ports.values()].filter((p) => p.network === net.uid);
  const byName = new Map(inNet.map((p) => [p.key, p]));
  const v6 = lb.spec?.vip !== undefined && isIPv6(lb.spec.vip);
  const ofFamily = (ip: string) => isIPv6(ip) === v6;
  const out: LbBackendModel[] = [];
  for (const b of lb.spec?.backends ?? []) {
    const weight = b.weight ?? 1;
    if (b.port !== undefined) {
      const p = byName.get(`${ns}/${b.port}`);
      const ip = p?.ips.find(ofFamily);
      if (p && ip) out.push(backend(b.port, ip, p.mac, weight, p));
    } else if (b.ip !== undefined && ofFamily(b.ip)) {
      const own = inNet.find((p) => p.ips.includes(b.ip!));
      const owner = own ?? inNet.find((p) => p.allowedAddressPairs.some((a) => a.ip === b.ip));
      const mac = own?.mac ?? owner?.allowedAddressPairs.find((a) => a.ip === b.ip)?.mac;
      if (owner && mac) out.push(backend(b.ip, b.ip, mac, weight, owner));
    }
  }
  return out;
}

function backend(name: string, ip: string, mac: string, weight: number, port: PortModel): LbBackendModel {
  const m: LbBackendModel = { name, ip, mac, weight, healthy: !!port.binding };
  if (port.binding) {
    m.node = port.binding.node;
    m.ofport = port.binding.ofport;
  }
  return m;
}
