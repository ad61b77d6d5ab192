import { canonicalIp, parseMac, tryParseIp } from '../ipam';
import { AllocationRegistry, ipKey, macKey } from '../ipam/allocation-registry';
import { HEALTH_CHECK_DEFAULTS, HEALTH_PROBES_PER_SECOND, UDP_HEALTH_PAYLOAD_MAX, type AllowedAddressPair, type HealthCheck, type LoadBalancer, type VirtualNetwork, type VirtualPort } from '../resources/kinds';
import type { StatusCause } from '../resources/status';
import { AdmissionError, DATAPLANE_FINALIZER, IPAM_FINALIZER, SUBNET_CHANGING, immutable, type AdmissionContext, type Admitted, type KindAdmission } from './admission';
import { allocatorsOf, checkRequestedIp, excludedRangesNote, pickIp } from './address-claims';
import { networkForClaims } from './subnet-changes';
import { networkPairs, pairCovers, portsCovering, vipInPairsWarning } from './pair-overlap';
import { LOAD_BALANCERS, PORTS, referencedNetwork } from './network-lookup';
import { claimantAllocatedStatus } from '../reconcile/kinds/ipam-status';
import { lbVipMac } from '../pipeline/owners';
import { dns1123LabelError } from './names';

const familyOf = (ip: string): 4 | 6 | undefined => tryParseIp(ip)?.family;

/**
 * The family a load balancer balances: its VIP's; without one yet, IPv4 where the network
 * has an IPv4 subnet (the VIP is then picked there), else IPv6.
 */
function vipFamily(lb: LoadBalancer, net: VirtualNetwork): 4 | 6 {
  const given = lb.spec?.vip !== undefined ? familyOf(lb.spec.vip) : undefined;
  if (given) return given;
  return allocatorsOf(net).some((a) => a.subnet.cidr.family === 4) ? 4 : 6;
}

/**
 * An address backend no port has as its own: resolved through allowed address pairs
 * (lb-backends.ts) when exactly one port's pairs cover it; otherwise it takes no connections.
 */
function unheldAddressWarning(field: string, ip: string, network: string, pairs: ReadonlyArray<{ port: string; pair: AllowedAddressPair }>): string | undefined {
  const ports = portsCovering(pairs, ip).map((p) => `"${p}"`);
  if (ports.length === 1) return undefined;
  if (ports.length === 0) return `${field}.ip: no VirtualPort of network "${network}" has ${ip} as its address or in an allowed address pair (yet); this backend takes no connections until one does`;
  return `${field}.ip: ${ip} is in allowed address pairs of VirtualPorts ${ports.join(', ')} (a VRRP pair): which one holds it is the VMs' business, so this backend takes no connections (ResolvedRefs AmbiguousBackend); name the port instead`;
}

/** Canonical base64 (RFC 4648 4, padded): what Kubernetes' []byte fields take, so a typo is refused rather than half decoded. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * spec.healthCheck.udp: only with protocol UDP (a TCP check would silently ignore it), and its
 * payload base64 of at most UDP_HEALTH_PAYLOAD_MAX bytes (one unfragmented probe frame).
 * Node's Buffer.from(.., 'base64') skips what it cannot read, so the text is checked first.
 */
export function udpHealthCheckCauses(hc: HealthCheck): StatusCause[] {
  const udp = hc.udp;
  if (udp === undefined) return [];
  const causes: StatusCause[] = [];
  if ((hc.protocol ?? 'TCP') !== 'UDP') {
    causes.push({ field: 'spec.healthCheck.udp', reason: 'FieldValueForbidden', message: `Forbidden: only with protocol UDP (this check is ${hc.protocol ?? 'TCP'}); remove it or set spec.healthCheck.protocol to UDP` });
  }
  const payload = udp.payload;
  if (payload !== undefined) {
    if (typeof payload !== 'string' || !BASE64.test(payload)) {
      causes.push({ field: 'spec.healthCheck.udp.payload', reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(payload).slice(0, 80)}: must be base64 (RFC 4648, padded with =), e.g. "aGVsbG8=" for "hello"` });
    } else {
      const bytes = Buffer.from(payload, 'base64').length;
      if (bytes > UDP_HEALTH_PAYLOAD_MAX) causes.push({ field: 'spec.healthCheck.udp.payload', reason: 'FieldValueTooLong', message: `Too long: ${bytes} bytes decoded: may not be more than ${UDP_HEALTH_PAYLOAD_MAX} bytes` });
    }
  }
  return causes;
}

/** How many probes a second a load balancer's health checks ask for (checked ports x backends / interval); 0 without checks. */
export function probeRate(spec: LoadBalancer['spec']): number {
  return probeDemand(spec)?.rate ?? 0;
}

/** What a load balancer's checks probe: its checked ports, backends and interval, and the rate they make; undefined without checks or backends. */
function probeDemand(spec: LoadBalancer['spec']): { ports: number; backends: number; interval: number; rate: number } | undefined {
  const hc = spec?.healthCheck;
  const backends = spec?.backends?.length ?? 0;
  if (!hc || backends === 0) return undefined;
  const protocol = hc.protocol ?? 'TCP';
  const ports = hc.port !== undefined ? 1 : new Set(spec!.listeners.filter((l) => (l.protocol ?? 'TCP') === protocol).map((l) => l.targetPort ?? l.port)).size;
  const interval = hc.intervalSeconds ?? HEALTH_CHECK_DEFAULTS.intervalSeconds;
  return { ports, backends, interval, rate: (ports * backends) / interval };
}

/**
 * A load balancer whose checks alone would ask one prober for more probes a second than it
 * sends (HEALTH_PROBES_PER_SECOND): refused, with what brings it under (QA-151 F1: one
 * tenant's 6,400 a second starved vnetd and other tenants' backends were judged down). An
 * update that asks no more than the stored object did is only warned of: one stored before
 * the cap must still take its labels, and its finalizers' removal (QA-134 F7).
 */
export function probeRateCauses(spec: NonNullable<LoadBalancer['spec']>, oldRate?: number): { causes: StatusCause[]; warnings: string[] } {
  const demand = probeDemand(spec);
  if (!demand || demand.rate <= HEALTH_PROBES_PER_SECOND) return { causes: [], warnings: [] };
  const { ports, backends, interval, rate } = demand;
  const hc = spec.healthCheck!;
  const minInterval = Math.ceil((ports * backends) / HEALTH_PROBES_PER_SECOND);
  const ways = `raise intervalSeconds to ${minInterval} or more${hc.port === undefined && ports > 1 ? ', or check one port (spec.healthCheck.port)' : ''}`;
  const what = `these health checks would send ${Math.round(rate)} probes a second (${ports} checked port${ports === 1 ? '' : 's'} x ${backends} backends every ${interval}s), more than a node's prober sends (${HEALTH_PROBES_PER_SECOND} a second)`;
  if (oldRate !== undefined && rate <= oldRate) return { causes: [], warnings: [`spec.healthCheck: ${what}: its checks come less often than asked; ${ways}`] };
  return { causes: [{ field: 'spec.healthCheck', reason: 'FieldValueInvalid', message: `Invalid value: ${what}; ${ways}` }], warnings: [] };
}

/**
 * A VIP whose UDP listeners translate to several target ports drops every fragmented datagram
 * to it (its later fragments carry no port: README). Said, not refused, as the VIP serves all
 * else: an operator adding syslog 514->5514 beside DNS 53->5353 cut off every EDNS answer with
 * nothing said (QA-156 F5).
 */
export function udpTargetPortsWarning(listeners: ReadonlyArray<{ protocol?: string; port: number; targetPort?: number }>): string | undefined {
  const targets = [...new Set(listeners.filter((l) => (l.protocol ?? 'TCP') === 'UDP').map((l) => l.targetPort ?? l.port))];
  if (targets.length < 2) return undefined;
  return `spec.listeners: the VIP's UDP listeners translate to ${targets.length} target ports (${targets.join(', ')}): a UDP datagram too big for one frame (DNS over EDNS, syslog) to any of them is dropped, as its later fragments cannot be told apart; give the UDP listeners one targetPort, or put them on separate VIPs`;
}

/**
 * `kept`: the backends an update leaves as they were (addresses, and ports as "port:NAME"). What
 * changed around one since it was admitted (its address now outside a shrunk subnet or another
 * load balancer's VIP, its port's name reused in another network) is not asked again, as
 * Kubernetes ratchets validation: a label change, a drain or a finalizer's removal must not fail
 * on what the client did not touch (QA: every update was refused, and a load balancer stayed
 * Terminating). Status (ResolvedRefs) says what such a backend resolves to now.
 */
async function validateListenersAndBackends(lb: LoadBalancer, net: VirtualNetwork, ctx: AdmissionContext, causes: StatusCause[], warnings: string[], kept: ReadonlySet<string> = new Set(), oldProbeRate?: number): Promise<void> {
  const spec = lb.spec!;
  const listeners = new Map<string, number>();
  spec.listeners.forEach((l, i) => {
    l.protocol ??= 'TCP';
    l.targetPort ??= l.port;
    const k = `${l.protocol}/${l.port}`;
    if (listeners.has(k)) {
      causes.push({ field: `spec.listeners[${i}]`, reason: 'FieldValueDuplicate', message: `Duplicate value: ${l.port}/${l.protocol} is also spec.listeners[${listeners.get(k)}]` });
    }
    listeners.set(k, i);
  });
  const split = udpTargetPortsWarning(spec.listeners);
  if (split) warnings.push(split);
  const hc = spec.healthCheck;
  if (hc) {
    const interval = hc.intervalSeconds ?? HEALTH_CHECK_DEFAULTS.intervalSeconds;
    if (hc.timeoutSeconds !== undefined && hc.timeoutSeconds > interval) {
      causes.push({ field: 'spec.healthCheck.timeoutSeconds', reason: 'FieldValueInvalid', message: `Invalid value: ${hc.timeoutSeconds}: must not exceed intervalSeconds (${interval})` });
    }
    // Without a port of its own, a check probes the target ports of the listeners of its
    // protocol: with none, it would check nothing and call every backend healthy.
    const protocol = hc.protocol ?? 'TCP';
    if (hc.port === undefined && !spec.listeners.some((l) => (l.protocol ?? 'TCP') === protocol)) {
      const other = protocol === 'TCP' ? 'UDP' : 'TCP';
      const hasOther = spec.listeners.some((l) => (l.protocol ?? 'TCP') === other);
      const ways = [...(hasOther ? [`protocol ${other} to check the ${other} listeners' target ports`] : []), `a ${protocol} port to check (spec.healthCheck.port)`];
      causes.push({ field: 'spec.healthCheck', reason: 'FieldValueInvalid', message: `Invalid value: ${protocol} health checks need at least one ${protocol} listener or a port: set ${ways.join(', or ')}` });
    }
    // A UDP check fails only on an ICMP error, and Linux sends a VIP about one a second (after
    // a burst of 6): more failing probes than that are silent, pass, and reset the count.
    const udpPorts = protocol === 'UDP' ? (hc.port !== undefined ? 1 : new Set(spec.listeners.filter((l) => l.protocol === 'UDP').map((l) => l.targetPort ?? l.port)).size) : 0;
    causes.push(...udpHealthCheckCauses(hc));
    const rated = probeRateCauses(spec, oldProbeRate);
    causes.push(...rated.causes);
    warnings.push(...rated.warnings);
    if (udpPorts > interval) warnings.push(`spec.healthCheck: ${udpPorts} UDP ports checked every ${interval}s: a Linux backend sends one ICMP port unreachable a second to the VIP (net.ipv4.icmp_ratelimit), so failures beyond that go unseen and count as passes; check fewer ports (spec.healthCheck.port) or raise intervalSeconds to ${udpPorts}`);
  }
  const allocators = allocatorsOf(net);
  const family = vipFamily(lb, net);
  const seen = new Map<string, number>();
  const portIps = new Map<string, { index: number; port: string }>();
  let pairs: Awaited<ReturnType<typeof networkPairs>> | undefined;
  for (const [i, b] of (spec.backends ?? []).entries()) {
    const field = `spec.backends[${i}]`;
    if ((b.port === undefined) === (b.ip === undefined)) {
      causes.push({ field, reason: 'FieldValueInvalid', message: 'Invalid value: exactly one of port or ip must be set' });
      continue;
    }
    b.weight ??= 1;
    let id: string;
    if (b.ip !== undefined) {
      if (!tryParseIp(b.ip)) {
        causes.push({ field: `${field}.ip`, reason: 'FieldValueInvalid', message: `Invalid value: "${b.ip}": must be a valid IP address` });
        continue;
      }
      b.ip = canonicalIp(b.ip);
      // One family per load balancer: the flows NAT the VIP's packets to the backend's address.
      if (familyOf(b.ip) !== family) {
        causes.push({ field: `${field}.ip`, reason: 'FieldValueInvalid', message: `Invalid value: "${b.ip}": an IPv${familyOf(b.ip)} backend for an IPv${family} VIP; a load balancer's backends are of its VIP's family (make one load balancer per family)` });
        continue;
      }
      // Only an added address is checked against the network (see `kept`).
      if (kept.has(b.ip)) {
        // as admitted
      } else if (!allocators.some((a) => a.holds(b.ip!))) {
        causes.push({ field: `${field}.ip`, reason: 'FieldValueInvalid', message: `Invalid value: "${b.ip}": not a host address in VirtualNetwork "${net.metadata.name}" (${allocators.map((a) => a.cidr).join(', ')})` });
      } else {
        // A VIP as a backend would send the load balancer's traffic back into a load balancer.
        const holder = await ctx.allocations.get(ipKey(lb.metadata.namespace!, net.metadata.name, b.ip));
        const ownVip = spec.vip !== undefined && tryParseIp(spec.vip) && canonicalIp(spec.vip) === b.ip;
        if (ownVip || holder?.owner.kind === 'LoadBalancer') {
          const whose = ownVip || holder?.owner.uid === lb.metadata.uid ? "this load balancer's own VIP" : `the VIP of LoadBalancer "${holder!.owner.name}"`;
          causes.push({ field: `${field}.ip`, reason: 'FieldValueInvalid', message: `Invalid value: "${b.ip}": ${whose}; a backend must be a VM's address` });
        } else if (!holder) {
          // Valid (its port may come later), but it takes nothing as it is; a port backend
          // that does not exist is warned of, an address no port holds was accepted silently (QA-107).
          pairs ??= await networkPairs(ctx, lb.metadata.namespace!, net.metadata.name);
          const warning = unheldAddressWarning(field, b.ip, net.metadata.name, pairs);
          if (warning) warnings.push(warning);
        }
      }
      id = `ip:${b.ip}`;
    } else {
      // A name no VirtualPort can have would never resolve: refused, where a missing port only warns.
      const badName = dns1123LabelError(b.port!);
      if (badName) {
        causes.push({ field: `${field}.port`, reason: 'FieldValueInvalid', message: `Invalid value: "${b.port}": ${badName}` });
        continue;
      }
      const port = await ctx.objects.get<VirtualPort>(PORTS, lb.metadata.namespace, b.port!);
      // Valid (a backend may be declared before its port), but most often a typo.
      // Warned when added, not again on every later edit (status ResolvedRefs keeps saying it).
      if (!port && !kept.has(`port:${b.port}`)) warnings.push(`${field}.port: VirtualPort "${b.port}" does not exist (yet); this backend takes no connections until it does`);
      if (port && port.spec?.network !== net.metadata.name && kept.has(`port:${b.port}`)) {
        warnings.push(`${field}.port: VirtualPort "${b.port}" is now on network "${port.spec?.network}", not "${net.metadata.name}"; this backend takes no connections`);
      } else if (port && port.spec?.network !== net.metadata.name) {
        causes.push({ field: `${field}.port`, reason: 'FieldValueInvalid', message: `Invalid value: "${b.port}": VirtualPort is on network "${port.spec?.network}", not "${net.metadata.name}"` });
      }
      // The address it balances to (lb-backends.ts: the port's address of the VIP's family).
      const ip = port?.spec?.network === net.metadata.name ? port.spec.ips?.find((x) => familyOf(x) === family) : undefined;
      if (ip !== undefined) portIps.set(canonicalIp(ip), { index: i, port: b.port! });
      // Valid too (its addresses may change), but it takes nothing as it is (QA: accepted silently).
      else if (port?.spec?.network === net.metadata.name && !kept.has(`port:${b.port}`)) warnings.push(`${field}.port: VirtualPort "${b.port}" has no IPv${family} address, the VIP's family; this backend takes no connections until it has one (vnetctl port set ${b.port} --ip ADDR for each of its addresses), or name a port that has one`);
      id = `port:${b.port}`;
    }
    if (seen.has(id)) {
      causes.push({ field, reason: 'FieldValueDuplicate', message: `Duplicate value: ${id.replace(':', ' ')} is also spec.backends[${seen.get(id)}]` });
    }
    seen.set(id, i);
  }
  // An address listed as itself and as its port is one backend listed twice. Refused when the
  // update adds either; where both were there before (the port took the address since), only
  // warned: a rule the unchanged spec breaks because another object changed must not block
  // updates that leave it alone, a label or a finalizer's removal above all (QA-134 F7: the load
  // balancer could not even be deleted past a foreign finalizer). Status says it (ResolvedRefs).
  for (const [i, b] of (spec.backends ?? []).entries()) {
    const same = b.ip !== undefined && b.port === undefined ? portIps.get(b.ip) : undefined;
    if (!same) continue;
    const message = `"${b.ip}" is the address of VirtualPort "${same.port}", spec.backends[${same.index}]`;
    if (kept.has(b.ip!) && kept.has(`port:${same.port}`)) warnings.push(`spec.backends[${i}].ip: ${message}: one backend listed twice, which takes connections once; remove one of them`);
    else causes.push({ field: `spec.backends[${i}].ip`, reason: 'FieldValueDuplicate', message: `Duplicate value: ${message}` });
  }
}

/** The IP backends of the network's load balancers: address -> the load balancer naming it. */
async function backendAddresses(ctx: AdmissionContext, ns: string, network: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const o of (await ctx.objects.list<LoadBalancer>(LOAD_BALANCERS, ns)).items) {
    if (o.spec?.network !== network) continue;
    for (const b of o.spec.backends ?? []) if (b.ip !== undefined && tryParseIp(b.ip)) out.set(canonicalIp(b.ip), o.metadata.name);
  }
  return out;
}

/**
 * The VIP's MAC: derived from namespace, network and VIP (lbVipMac), so the same VIP gets
 * the same MAC again; the next candidate when another object of the network has it, or a
 * port's allowed pair names it (24
 * hashed bits: rare, but two objects answering with one MAC would want the same flows).
 */
async function derivedMac(ns: string, network: string, vip: string, ctx: AdmissionContext, pairMacs: ReadonlySet<string>): Promise<string> {
  let mac = lbVipMac(ns, network, vip);
  for (let attempt = 1; attempt < 16 && (pairMacs.has(mac) || (await ctx.allocations.macHolder(ns, network, mac))); attempt++) mac = lbVipMac(ns, network, vip, attempt);
  return mac;
}

export class LoadBalancerAdmission implements KindAdmission<LoadBalancer> {
  readonly finalizers = [DATAPLANE_FINALIZER, IPAM_FINALIZER];

  async create(lb: LoadBalancer, ctx: AdmissionContext): Promise<Admitted<LoadBalancer>> {
    const ns = lb.metadata.namespace!;
    const spec = lb.spec!;
    const { guard, net } = await networkForClaims(ctx, ns, spec.network);
    const causes: StatusCause[] = [];
    const warnings: string[] = [];
    await validateListenersAndBackends(lb, net, ctx, causes, warnings);
    const allNets = allocatorsOf(net);
    const allocators = guard.usable(allNets);
    let picked = false;
    const family = vipFamily(lb, net);
    const pairs = await networkPairs(ctx, ns, spec.network);
    if (allNets.length === 0) {
      causes.push({ field: 'spec.network', reason: 'FieldValueInvalid', message: `Invalid value: "${spec.network}": VirtualNetwork has no subnet to take a VIP from` });
    } else if (spec.vip !== undefined) {
      const res = await checkRequestedIp(spec.vip, net, allNets, ctx.allocations, true);
      const backendOf = 'ip' in res ? (await backendAddresses(ctx, ns, spec.network)).get(res.ip) : undefined;
      const changing = 'ip' in res ? guard.changingOf(allNets, res.ip) : undefined;
      if ('error' in res) causes.push({ field: 'spec.vip', reason: 'FieldValueInvalid', message: `Invalid value: "${spec.vip}": ${res.error}` });
      else if (changing) causes.push({ field: 'spec.vip', reason: SUBNET_CHANGING, message: `Invalid value: "${spec.vip}": subnet ${changing} of VirtualNetwork "${spec.network}" is being changed or removed; try again in a moment` });
      else if (backendOf) causes.push({ field: 'spec.vip', reason: 'FieldValueInvalid', message: `Invalid value: "${spec.vip}": a backend address of LoadBalancer "${backendOf}"; a VIP may not be a backend` });
      else {
        spec.vip = res.ip;
        const inPairs = vipInPairsWarning(res.ip, pairs);
        if (inPairs) warnings.push(inPairs);
      }
    } else {
      picked = true;
      // Never a backend address of this or another load balancer of the network (free as long
      // as no port has it yet; taken, it would make that load balancer invalid): the
      // passed-over picks are handed back once a VIP is chosen.
      const backendIps = new Set([...(spec.backends ?? []).flatMap((b) => (b.ip !== undefined ? [b.ip] : [])), ...(await backendAddresses(ctx, ns, spec.network)).keys()]);
      const passedOver: string[] = [];
      const pick = () => pickIp(net, allocators, family, ctx.allocations);
      let vip = await pick();
      // Nor an address inside a port's allowed address pair (see pair-overlap.ts).
      while (vip && (backendIps.has(vip) || pairs.some((p) => pairCovers(p.pair, vip!)))) {
        passedOver.push(vip);
        vip = await pick();
      }
      for (const ip of passedOver) ctx.allocations.unreserveIp(ns, spec.network, allocators, ip, net.metadata.uid);
      if (!vip && !allocators.some((a) => a.subnet.cidr.family === family)) causes.push({ field: 'spec.vip', reason: SUBNET_CHANGING, message: `every IPv${family} subnet of VirtualNetwork "${spec.network}" is being changed or removed; try again in a moment` });
      else if (!vip) {
        // What the pick passed over, and the other family, said: "every subnet is full" was
        // wrong for a dual-stack network, or free addresses that are backends or pairs (QA-90).
        const other = allNets.some((n) => n.subnet.cidr.family !== family) ? ` (a VIP is picked from the IPv${family} subnets; give spec.vip an IPv${family === 4 ? 6 : 4} address for a VIP of that family)` : '';
        const skipped = passedOver.length ? `; its free addresses ${passedOver.join(', ')} are load balancers' backends or inside allowed address pairs, which a VIP may not be` : '';
        causes.push({ field: 'spec.vip', reason: 'FieldValueInvalid', message: `no free IPv${family} address left in VirtualNetwork "${spec.network}" for a VIP${other}${skipped}${excludedRangesNote(allNets, family)}; add a subnet to the network, delete ports or load balancers that hold its addresses, or name a VIP (spec.vip)` });
      }
      else spec.vip = vip;
    }
    if (spec.mac !== undefined) {
      // The check and canonical form a port's MAC has (QA-102: 00:00:00:00:00:00 was taken here, and refused on a port).
      let mac: string | undefined;
      try {
        mac = parseMac(spec.mac);
      } catch (err) {
        causes.push({ field: 'spec.mac', reason: 'FieldValueInvalid', message: `Invalid value: "${spec.mac}": ${(err as Error).message}` });
      }
      if (mac !== undefined) {
        // A MAC another port or load balancer of the network answers with: two objects would
        // want the same flows. Claimed below, as ports' MACs are.
        spec.mac = mac;
        const holder = await ctx.allocations.macHolder(ns, spec.network, spec.mac);
        const pairHolder = pairs.find((p) => p.pair.mac?.toLowerCase() === mac);
        if (holder) causes.push({ field: 'spec.mac', reason: 'FieldValueInvalid', message: `Invalid value: "${spec.mac}": already used by ${holder.owner.kind} "${holder.owner.name}" in network "${spec.network}"` });
        // The pipeline drops what is sent to a load balancer's MAC and is not for its VIP (QA-113).
        else if (pairHolder) causes.push({ field: 'spec.mac', reason: 'FieldValueInvalid', message: `Invalid value: "${spec.mac}": the MAC of an allowed address pair of VirtualPort "${pairHolder.port}" in network "${spec.network}"` });
      }
    } else if (spec.vip !== undefined && causes.length === 0) {
      spec.mac = await derivedMac(ns, spec.network, spec.vip, ctx, new Set(pairs.flatMap((p) => (p.pair.mac ? [p.pair.mac.toLowerCase()] : []))));
    }
    if (causes.length > 0) {
      // A rejected request claims nothing: its pick goes back for the next request.
      if (picked && spec.vip) ctx.allocations.unreserveIp(ns, spec.network, allocators, spec.vip, net.metadata.uid);
      throw new AdmissionError(causes);
    }
    spec.sessionAffinity ??= 'None';
    // The VIP's claim commits with the load balancer: its status says so from the first revision.
    lb.status = claimantAllocatedStatus('LoadBalancer', lb, [], 1) as LoadBalancer['status'];
    const owner = { kind: 'LoadBalancer', namespace: ns, name: lb.metadata.name, uid: lb.metadata.uid! };
    const vip = spec.vip!;
    const giveBack = () => {
      if (picked) ctx.allocations.unreserveIp(ns, spec.network, allocators, vip, net.metadata.uid);
    };
    return {
      object: lb,
      ops: [AllocationRegistry.claim(ipKey(ns, spec.network, vip), owner), AllocationRegistry.claim(macKey(ns, spec.network, spec.mac!), owner), guard.op],
      warnings,
      // Its pick goes back either way: not stored, or held by the store's claim now.
      abandon: giveBack,
      committed: giveBack,
    };
  }

  async update(old: LoadBalancer, next: LoadBalancer, ctx: AdmissionContext): Promise<Admitted<LoadBalancer>> {
    const causes: StatusCause[] = [];
    const spec = next.spec!;
    immutable(causes, 'spec.network', old.spec!.network, spec.network);
    immutable(causes, 'spec.vip', old.spec!.vip, spec.vip && tryParseIp(spec.vip) ? canonicalIp(spec.vip) : spec.vip);
    // Absent in an update (a client that never saw it, an earlier release's object): kept.
    if (spec.mac !== undefined) immutable(causes, 'spec.mac', old.spec!.mac, spec.mac.toLowerCase());
    if (causes.length > 0) throw new AdmissionError(causes);
    spec.vip = old.spec!.vip;
    if (old.spec!.mac !== undefined) spec.mac = old.spec!.mac;
    else delete spec.mac;
    const net = await referencedNetwork(ctx, next.metadata.namespace!, spec.network).catch(() => undefined);
    const warnings: string[] = [];
    // Backends the update keeps: their addresses, and their ports as "port:NAME".
    const kept = new Set((old.spec?.backends ?? []).flatMap((b) => (b.ip !== undefined && tryParseIp(b.ip) ? [canonicalIp(b.ip)] : b.port !== undefined ? [`port:${b.port}`] : [])));
    if (net) await validateListenersAndBackends(next, net, ctx, causes, warnings, kept, probeRate(old.spec));
    if (causes.length > 0) throw new AdmissionError(causes);
    spec.sessionAffinity ??= 'None';
    return { object: next, ops: [], warnings };
  }
}
