import { IpAllocator, VniAllocator, cryptoRng, randomBelow, findOverlap, parseCidr, reservedOverlap, tryParseCidr, validateSubnet, type Cidr } from '../ipam';
import { AllocationRegistry, ctZoneKey, vniKey } from '../ipam/allocation-registry';
import { ctZone } from '../pipeline/owners';
import type { LoadBalancer, VirtualNetwork, VirtualPort } from '../resources/kinds';
import { ORPHAN } from '../resources/finalizers';
import { LOAD_BALANCERS, NETWORKS, PORTS } from '../store/kinds';
import type { StatusCause } from '../resources/status';
import type { TxnOp } from '../store/store';
import { announceSubnetChange, endSubnetChange, networkDeletionGuard, subnetIdentity, withdrawSubnetChange } from './subnet-changes';
import { DEFAULT_UNDERLAY_MTU, ipv6MtuCause, mtuCause, mtuLimit } from './network-mtu';
import { AdmissionError, DATAPLANE_FINALIZER, IPAM_FINALIZER, immutable, withoutValue, type AdmissionContext, type Admitted, type KindAdmission } from './admission';

const vnis = new VniAllocator();

/** `before`: the subnets the network already had (an update), which are not checked against reserved space again. */
function validateSubnets(net: VirtualNetwork, causes: StatusCause[], before: VirtualNetwork['spec'] | undefined = undefined): void {
  const subnets = net.spec!.subnets;
  const parsed: (Cidr | undefined)[] = [];
  const had = new Set((before?.subnets ?? []).flatMap((s) => tryParseCidr(s.cidr)?.text ?? []));
  subnets.forEach((s, i) => {
    const issues = validateSubnet(s);
    for (const issue of issues) {
      causes.push({ field: `spec.subnets[${i}].${issue.field ?? 'cidr'}`, reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(fieldValue(s, issue.field))}: ${withoutValue(issue.message, fieldValue(s, issue.field))}` });
    }
    const cidr = issues.length === 0 ? parseCidr(s.cidr) : undefined;
    const reserved = cidr && !had.has(cidr.text) ? reservedOverlap(cidr) : undefined;
    if (reserved) causes.push({ field: `spec.subnets[${i}].cidr`, reason: 'FieldValueInvalid', message: `Invalid value: "${s.cidr}": overlaps ${reserved}: a tenant subnet must be unicast address space` });
    parsed.push(reserved ? undefined : cidr);
  });
  const valid = parsed.filter((c): c is Cidr => c !== undefined);
  const overlap = findOverlap(valid);
  if (overlap) {
    const [a, b] = overlap.map((k) => parsed.indexOf(valid[k]!));
    causes.push({
      field: `spec.subnets[${b}].cidr`,
      reason: 'FieldValueInvalid',
      message: `Invalid value: "${subnets[b!]!.cidr}": overlaps spec.subnets[${a}].cidr ${subnets[a!]!.cidr}`,
    });
  }
}

function fieldValue(obj: object, path: string | undefined): unknown {
  if (!path) return undefined;
  let cur: unknown = obj;
  for (const part of path.replace(/\[(\d+)\]/g, '.$1').split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** Canonical CIDR text and explicit gateways, so what is stored is what the dataplane uses; `defaultMtu` where none is set (network-mtu.ts). */
function normalise(net: VirtualNetwork, defaultMtu: number | undefined): void {
  const spec = net.spec!;
  spec.encapsulation ??= 'vxlan';
  if (defaultMtu !== undefined) spec.mtu ??= defaultMtu;
  for (const s of spec.subnets) {
    const alloc = new IpAllocator(s);
    s.cidr = alloc.cidr;
    s.gateway = alloc.gateway;
  }
}

const ZONES = 0xffff;

/**
 * A VNI whose conntrack zone no network holds (so no network holds the VNI either): a free
 * zone from a random point, then a random VNI of its class (the VNIs equal to zone - 1
 * modulo 65535), about 256 of them.
 */
function pickVniOfFreeZone(zonesTaken: ReadonlySet<number>): number | undefined {
  const start = Number(randomBelow(BigInt(ZONES), cryptoRng));
  for (let i = 0; i < ZONES; i++) {
    const zone = ((start + i) % ZONES) + 1;
    if (zonesTaken.has(zone)) continue;
    const vni = randomVniOfZone(zone);
    if (vni !== undefined) return vni;
  }
  return undefined;
}

/** A random VNI whose conntrack zone is `zone` (the VNIs equal to zone - 1 modulo 65535). */
function randomVniOfZone(zone: number): number | undefined {
  const base = zone - 1;
  const kMin = Math.max(0, Math.ceil((vnis.min - base) / ZONES));
  const kMax = Math.floor((vnis.max - base) / ZONES);
  if (kMax < kMin) return undefined;
  return base + (kMin + Number(randomBelow(BigInt(kMax - kMin + 1), cryptoRng))) * ZONES;
}

/** Random zones tried by point reads before a VNI is picked from a read of every claim. */
const POINT_PICKS = 32;

/**
 * Zones held by networks stored before zones were claimed (their VNI claimed, its zone not),
 * zone -> VNI: read once per process. Every network created since claims its zone, so
 * there are never more of them (one deleted meanwhile only keeps its zone avoided).
 */
async function readLegacyZones(ctx: AdmissionContext): Promise<Map<number, number>> {
  const [byVni, byZone] = await Promise.all([ctx.allocations.vnis(), ctx.allocations.ctZones()]);
  const legacy = new Map<number, number>();
  for (const [vni, a] of byVni) if (byZone.get(ctZone(vni))?.owner.uid !== a.owner.uid) legacy.set(ctZone(vni), vni);
  return legacy;
}

/** Names for a message: the first few, then how many more. */
function someNames(names: string[], max = 5): string {
  return names.length <= max ? names.join(', ') : `${names.slice(0, max).join(', ')} and ${names.length - max} more`;
}

export class VirtualNetworkAdmission implements KindAdmission<VirtualNetwork> {
  /** `underlayMtu`: the hypervisors' underlay MTU (VNETD_UNDERLAY_MTU, Neutron's global_physnet_mtu). */
  constructor(private readonly underlayMtu = DEFAULT_UNDERLAY_MTU) {}

  readonly finalizers = [DATAPLANE_FINALIZER, IPAM_FINALIZER];
  private legacyZones?: Promise<Map<number, number>>;

  /**
   * A network is deleted only once no port or load balancer is on it (its IPAM finalizer
   * waits, as a PVC in use waits for its pods). `kubectl delete` waits with it, and said
   * nothing of why. Objects the network owns go with it (ownerReferences), unless orphaned.
   */
  /** Claims admitted against the network as it was fail their guard (networkDeletionGuard). */
  async deletionOps(namespace: string | undefined, name: string, ctx: AdmissionContext): Promise<TxnOp[]> {
    return [await networkDeletionGuard(ctx, namespace!, name)];
  }

  async deleteWarnings(net: VirtualNetwork, ctx: AdmissionContext): Promise<string[]> {
    const ns = net.metadata.namespace;
    const orphaning = (net.metadata.finalizers ?? []).includes(ORPHAN);
    const blocking = (o: VirtualPort | LoadBalancer) =>
      o.spec?.network === net.metadata.name && !o.metadata.deletionTimestamp && (orphaning || !(o.metadata.ownerReferences ?? []).some((r) => r.uid === net.metadata.uid));
    const [ports, lbs] = await Promise.all([ctx.objects.list<VirtualPort>(PORTS, ns), ctx.objects.list<LoadBalancer>(LOAD_BALANCERS, ns)]);
    const on = [...ports.items.filter(blocking).map((o) => `VirtualPort ${o.metadata.name}`), ...lbs.items.filter(blocking).map((o) => `LoadBalancer ${o.metadata.name}`)];
    if (!on.length) return [];
    return [`VirtualNetwork "${net.metadata.name}" still has ${on.length} object${on.length > 1 ? 's' : ''} on it (${someNames(on)}): it stays Terminating, and keeps its VNI and flows, until they are deleted`];
  }

  async create(net: VirtualNetwork, ctx: AdmissionContext): Promise<Admitted<VirtualNetwork>> {
    const causes: StatusCause[] = [];
    validateSubnets(net, causes);
    const limit = await mtuLimit(ctx, this.underlayMtu);
    const tooBig = mtuCause(net.spec?.mtu, net.spec?.encapsulation, limit);
    if (tooBig) causes.push(tooBig);
    const tooSmall = ipv6MtuCause(net.spec);
    if (tooSmall) causes.push(tooSmall);
    if (causes.length > 0) throw new AdmissionError(causes);
    normalise(net, limit.max);
    const spec = net.spec!;
    // Point reads of the claims a VNI needs, not a read of every network's claim (which made
    // creating N networks O(N^2)): the create-only claims in the object's transaction are
    // what keeps two networks off one VNI or zone; these reads only choose and explain.
    const legacy = await (this.legacyZones ??= readLegacyZones(ctx).catch((err: unknown) => {
      this.legacyZones = undefined;
      throw err;
    }));
    /** The network holding a zone, as the message names it ("VNI 4242"), or undefined when it is free. */
    // Another tenant's VNI is not named (QA-151 F5: the message handed it out for one guess a
    // zone, and VNIs are what a tunnel injector needs); the tenant's own network's is.
    const own = (namespace: string | undefined) => namespace === net.metadata.namespace;
    const zoneHolder = async (zone: number): Promise<string | undefined> => {
      const legacyVni = legacy.get(zone);
      const legacyHolder = legacyVni === undefined ? undefined : await ctx.allocations.get(vniKey(legacyVni));
      if (legacyHolder) return own(legacyHolder.owner.namespace) ? `VNI ${legacyVni}` : 'a network in another namespace';
      const holder = await ctx.allocations.get(ctZoneKey(zone));
      if (!holder) return undefined;
      if (!own(holder.owner.namespace)) return 'a network in another namespace';
      const other = await ctx.objects.get<VirtualNetwork>(NETWORKS, holder.owner.namespace, holder.owner.name);
      return other?.spec?.vni !== undefined ? `VNI ${other.spec.vni}` : 'a network being created or deleted';
    };
    if (spec.vni !== undefined) {
      const why = vnis.check(spec.vni);
      if (why) throw new AdmissionError([{ field: 'spec.vni', reason: 'FieldValueInvalid', message: `Invalid value: ${spec.vni}: ${why}` }]);
      const vni = spec.vni;
      const refuseIfVniHeld = async (): Promise<void> => {
        const holder = await ctx.allocations.get(vniKey(vni));
        if (!holder) return;
        throw new AdmissionError([
          // Named within the tenant's own namespace; another tenant's network is not (VNIs are cluster-wide).
          { field: 'spec.vni', reason: 'FieldValueInvalid', message: `Invalid value: ${vni}: VNI is already allocated to ${holder.owner.namespace === net.metadata.namespace ? `VirtualNetwork "${holder.owner.name}"` : 'a VirtualNetwork in another namespace'}; leave spec.vni out to get a free one` },
        ]);
      };
      await refuseIfVniHeld();
      const sharing = await zoneHolder(ctZone(spec.vni));
      if (sharing !== undefined) {
        // A network created with this very VNI between the two reads (two creates racing for
        // one VNI) holds its zone too: say the VNI is taken, not that a zone is shared (QA-94).
        await refuseIfVniHeld();
        throw new AdmissionError([
          {
            field: 'spec.vni',
            reason: 'FieldValueInvalid',
            message: `Invalid value: ${spec.vni}: its conntrack zone (${ctZone(spec.vni)}, the VNI modulo 65535 plus 1) is another network's (${sharing}); networks must not share one, or their load balanced connections would mix: choose another VNI, or leave it out to have one allocated`,
          },
        ]);
      }
    } else {
      let vni: number | undefined;
      for (let i = 0; i < POINT_PICKS && vni === undefined; i++) {
        const zone = 1 + Number(randomBelow(BigInt(ZONES), cryptoRng));
        if (legacy.has(zone) || (await ctx.allocations.get(ctZoneKey(zone)))) continue;
        vni = randomVniOfZone(zone);
      }
      // Most zones taken: one read of them all.
      vni ??= pickVniOfFreeZone(new Set([...(await ctx.allocations.ctZones()).keys(), ...legacy.keys()]));
      if (vni === undefined) throw new AdmissionError([{ field: 'spec.vni', reason: 'FieldValueInvalid', message: 'no free VNI left' }]);
      spec.vni = vni;
    }
    const owner = { kind: 'VirtualNetwork', namespace: net.metadata.namespace, name: net.metadata.name, uid: net.metadata.uid! };
    // Both claimed in the object's transaction: two networks created at once cannot take one zone.
    return { object: net, ops: [AllocationRegistry.claim(vniKey(spec.vni), owner), AllocationRegistry.claim(ctZoneKey(ctZone(spec.vni)), owner)] };
  }

  async update(old: VirtualNetwork, next: VirtualNetwork, ctx: AdmissionContext): Promise<Admitted<VirtualNetwork>> {
    const causes: StatusCause[] = [];
    const spec = next.spec!;
    immutable(causes, 'spec.vni', old.spec?.vni, spec.vni);
    spec.vni = old.spec?.vni;
    validateSubnets(next, causes, old.spec);
    // Judged when it changes: a network stored before the underlay's MTU was checked keeps
    // working. Read only then (and for a default), not on every label change.
    const limit = spec.mtu !== old.spec?.mtu || old.spec?.mtu === undefined ? await mtuLimit(ctx, this.underlayMtu) : undefined;
    const tooBig = limit && spec.mtu !== undefined ? mtuCause(spec.mtu, spec.encapsulation, limit) : undefined;
    if (tooBig) causes.push(tooBig);
    const tooSmall = ipv6MtuCause(spec, old.spec);
    if (tooSmall) causes.push(tooSmall);
    if (causes.length > 0) throw new AdmissionError(causes);
    normalise(next, limit?.max);
    // A subnet may change or go only while no address allocated in it is stranded: announced
    // first, so that no claim lands in it after the check below (subnet-changes.ts).
    const ns = next.metadata.namespace!;
    // Compared as the admission would store them: an object stored before a default existed
    // (a gateway) is not changing its subnets when a label changes.
    const was = structuredClone(old);
    if (was.spec) normalise(was, limit?.max);
    const kept = new Set(spec.subnets.map(subnetIdentity));
    const changing = (was.spec?.subnets ?? []).filter((s) => !kept.has(subnetIdentity(s))).map((s) => s.cidr);
    const announced = changing.length > 0 && !ctx.dryRun ? await announceSubnetChange(ctx, ns, next.metadata.name, changing) : undefined;
    const check = async (): Promise<void> => {
      const allocators = spec.subnets.map((s) => new IpAllocator(s));
      for (const [ip, a] of await ctx.allocations.ips(ns, next.metadata.name)) {
        if (!allocators.some((al) => al.holds(ip))) {
          causes.push({
            field: 'spec.subnets',
            reason: 'FieldValueForbidden',
            message: `Forbidden: ${ip} is allocated to ${a.owner.kind} "${a.owner.name}" and would be outside every subnet (or be a gateway)`,
          });
        }
      }
      // A load balancer's address backends are not claims, but as stranded (QA: every later
      // update of the load balancer was refused for them, a finalizer's removal included).
      if (changing.length > 0) {
        for (const lb of (await ctx.objects.list<LoadBalancer>(LOAD_BALANCERS, ns)).items) {
          if (lb.spec?.network !== next.metadata.name || lb.metadata.deletionTimestamp) continue;
          for (const b of lb.spec.backends ?? []) {
            if (b.ip === undefined || allocators.some((al) => al.holds(b.ip!))) continue;
            causes.push({ field: 'spec.subnets', reason: 'FieldValueForbidden', message: `Forbidden: ${b.ip} is a backend of LoadBalancer "${lb.metadata.name}" and would be outside every subnet (or be a gateway)` });
          }
        }
      }
      if (causes.length > 0) throw new AdmissionError(causes);
    };
    if (!announced) {
      await check();
      return { object: next, ops: [] };
    }
    // Whatever fails from here on (a stranded address, the store) withdraws the announcement.
    let end: TxnOp;
    try {
      await check();
      end = endSubnetChange(ns, next.metadata.name, announced);
    } catch (err) {
      await withdrawSubnetChange(ctx, ns, next.metadata.name, announced);
      throw err;
    }
    return { object: next, ops: [end], abandon: () => withdrawSubnetChange(ctx, ns, next.metadata.name, announced) };
  }
}
