import { MacAllocator, canonicalIfIp, canonicalIp, parseMac, tryParseCidr, tryParseIp, parseCidr } from '../ipam';
import { AllocationRegistry, ifaceKey, ipKey, macKey, type Allocation } from '../ipam/allocation-registry';
import type { TxnOp } from '../store/store';
import type { LoadBalancer, VirtualPort } from '../resources/kinds';
import type { StatusCause } from '../resources/status';
import { AdmissionError, DATAPLANE_FINALIZER, IPAM_FINALIZER, SUBNET_CHANGING, immutable, withoutValue, type AdmissionContext, type Admitted, type KindAdmission } from './admission';
import { networkForClaims } from './subnet-changes';
import { allocatorsOf, checkRequestedIp, excludedRangesNote, familiesOf, pickIp } from './address-claims';
import { LOAD_BALANCERS, NODES } from '../store/kinds';
import { claimantAllocatedStatus } from '../reconcile/kinds/ipam-status';
import { dns1123SubdomainError } from './names';
import { pairsOverVipsWarnings } from './pair-overlap';
import { claimsOf, readdresses, readdressingOf, readdressWarnings, releasesOf } from './port-readdress';

const macs = new MacAllocator({ prefix: '0a:58' });

/** A port pinned to a Node that does not exist is valid (the Node may come later), but most often a typo. */
async function nodeWarnings(port: VirtualPort, ctx: AdmissionContext): Promise<string[]> {
  const node = port.spec?.node;
  if (!node || (await (ctx.nodes ? ctx.nodes.get(undefined, node) : ctx.objects.get(NODES, undefined, node)))) return [];
  return [`spec.node: Node "${node}" does not exist (yet); the port binds only once it does`];
}

/** A node name no Node can have: the port would never bind (a Node not there yet only warns). */
function validateNode(port: VirtualPort, causes: StatusCause[]): void {
  const node = port.spec!.node;
  const why = node === undefined ? undefined : dns1123SubdomainError(node);
  if (why) causes.push({ field: 'spec.node', reason: 'FieldValueInvalid', message: `Invalid value: "${node}": ${why}` });
}

/**
 * What an interface id may not hold: what breaks the ovs-vsctl and libvirt commands printed
 * for it (whitespace, quotes, a backslash, shell and XML metacharacters, control characters).
 * Commas and '=' stay (field selectors escape them).
 */
const INTERFACE_ID = /^[^\s\x00-\x1f\x7f"'`\\<>$;&|()]+$/;

/** An empty interface id: no OVS Interface binds by it (and before 2026-12-02 its claim was never released). */
function validateInterfaceId(port: VirtualPort, causes: StatusCause[]): void {
  const id = port.spec!.interfaceId;
  if (id !== undefined && id.trim() === '') {
    causes.push({ field: 'spec.interfaceId', reason: 'FieldValueRequired', message: "Required value: an interface id may not be empty (omit the field: it defaults to the port's uid)" });
  } else if (id !== undefined && !INTERFACE_ID.test(id)) {
    // It goes into external_ids:iface-id and the commands vnetctl prints for the hypervisor
    // (ovs-vsctl, libvirt XML): a newline or a quote there broke them (QA-96).
    causes.push({ field: 'spec.interfaceId', reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(id)}: an interface id (a UUID, as libvirt and Neutron give, or a name) may not hold spaces, quotes, a backslash, control characters or any of < > $ ; & | ( )` });
  }
}

function validatePairs(port: VirtualPort, causes: StatusCause[]): void {
  (port.spec!.allowedAddressPairs ?? []).forEach((p, i) => {
    let why: string | undefined;
    // Stored in canonical form, as every other address (QA-156 F6: "FD56:3::ABCD" stayed as
    // typed; the API's canonical-form warning names the rewrite).
    if (p.ip.includes('/')) {
      try {
        p.ip = parseCidr(p.ip).text;
      } catch (err) {
        // ipam's own reason (host bits set, a bad prefix length) says more than "invalid".
        why = withoutValue((err as Error).message, p.ip);
      }
    } else if (!tryParseIp(p.ip)) why = 'must be an IP address or a CIDR';
    else p.ip = canonicalIp(p.ip);
    if (why) causes.push({ field: `spec.allowedAddressPairs[${i}].ip`, reason: 'FieldValueInvalid', message: `Invalid value: "${p.ip}": ${why}` });
    if (p.mac !== undefined) {
      try {
        p.mac = parseMac(p.mac);
      } catch (err) {
        causes.push({ field: `spec.allowedAddressPairs[${i}].mac`, reason: 'FieldValueInvalid', message: `Invalid value: "${p.mac}": ${(err as Error).message}` });
      }
    }
  });
}

/**
 * Pairs that add nothing or cannot be a source, as Neutron refuses them: the same pair twice,
 * the port's own address with its own MAC, the unspecified address. (Before 2026-12-02 they
 * were taken, and their repeated flows made a node refuse every object's flow update.)
 */
function validatePairsAgainst(port: VirtualPort, ips: readonly string[], causes: StatusCause[]): void {
  const mac = port.spec!.mac?.toLowerCase();
  const own = new Set(ips.map((ip) => canonicalIfIp(ip)));
  const seen = new Map<string, number>();
  (port.spec!.allowedAddressPairs ?? []).forEach((p, i) => {
    const field = `spec.allowedAddressPairs[${i}]`;
    const ip = tryParseIp(p.ip);
    const text = p.ip.includes('/') ? tryParseCidr(p.ip)?.text : ip ? canonicalIp(p.ip) : undefined;
    if (text === undefined) return; // refused by validatePairs
    const pairMac = (p.mac ?? mac ?? '').toLowerCase();
    if (ip && ip.value === 0n) causes.push({ field: `${field}.ip`, reason: 'FieldValueInvalid', message: `Invalid value: "${p.ip}": the unspecified address is no source a pair can allow` });
    else if (ip && own.has(text) && pairMac === mac) causes.push({ field: `${field}.ip`, reason: 'FieldValueInvalid', message: `Invalid value: "${p.ip}": the port's own address with its own MAC; a pair allows another address or MAC` });
    const key = `${text} ${pairMac}`;
    const first = seen.get(key);
    if (first !== undefined) causes.push({ field, reason: 'FieldValueDuplicate', message: `Duplicate value: ${text} with MAC ${pairMac} is also spec.allowedAddressPairs[${first}]` });
    else seen.set(key, i);
  });
}

/**
 * Pair MACs other objects of the network answer with (QA-113): a load balancer's is refused,
 * as the pipeline drops what is sent to it and not to its VIP (and the fast path would not);
 * another port's own MAC only warns, as Neutron allows it: frames to it still go to that port.
 * known: pair MACs the port had before (an update judges only new ones).
 */
async function checkPairMacs(port: VirtualPort, ctx: AdmissionContext, causes: StatusCause[], warnings: string[], known: ReadonlySet<string> = new Set()): Promise<void> {
  const ns = port.metadata.namespace!;
  const { network, mac: own } = port.spec!;
  const seen = new Set<string>();
  for (const [i, p] of (port.spec!.allowedAddressPairs ?? []).entries()) {
    const mac = p.mac?.toLowerCase();
    if (!mac || mac === own?.toLowerCase() || known.has(mac) || seen.has(mac)) continue;
    seen.add(mac);
    const holder = await ctx.allocations.macHolder(ns, network, mac);
    if (holder?.owner.kind === 'LoadBalancer') causes.push({ field: `spec.allowedAddressPairs[${i}].mac`, reason: 'FieldValueInvalid', message: `Invalid value: "${mac}": the MAC LoadBalancer "${holder.owner.name}" answers its VIP with in network "${network}"` });
    else if (holder && holder.owner.uid !== port.metadata.uid) warnings.push(`spec.allowedAddressPairs[${i}].mac: ${mac} is the MAC of ${holder.owner.kind} "${holder.owner.name}": frames to it still go to that port; this pair only lets this port send from it`);
  }
}

/** Load balancers of the namespace naming an address the port lets go of as a backend (spec.backends[].ip). */
async function removedBackendWarnings(ctx: AdmissionContext, namespace: string, removed: readonly string[]): Promise<string[]> {
  if (removed.length === 0) return [];
  const lbs = (await ctx.objects.list<LoadBalancer>(LOAD_BALANCERS, namespace)).items;
  return lbs.flatMap((lb) =>
    (lb.spec?.backends ?? [])
      .filter((b) => b.ip !== undefined && tryParseIp(b.ip) && removed.includes(canonicalIp(b.ip)))
      .map((b) => `${b.ip} is a backend of LoadBalancer "${lb.metadata.name}": it sends it no connections (ResolvedRefs=False) until a port holds the address again or it is removed from its backends (vnetctl lb remove-backend)`),
  );
}

/**
 * Load balancers that name this port as a backend and one of its added addresses as another:
 * one backend listed twice (taking its connections once), which the load balancer's admission
 * refuses when it is written but cannot see coming from here (QA-134 F7: accepted silently).
 */
async function doubledBackendWarnings(ctx: AdmissionContext, port: VirtualPort, added: readonly string[]): Promise<string[]> {
  if (added.length === 0) return [];
  const lbs = (await ctx.objects.list<LoadBalancer>(LOAD_BALANCERS, port.metadata.namespace)).items;
  return lbs.flatMap((lb) => {
    const backends = lb.spec?.backends ?? [];
    if (lb.spec?.network !== port.spec?.network || !backends.some((b) => b.port === port.metadata.name)) return [];
    // A port backend balances to the port's first address of the VIP's family (lb-backends.ts): only that one doubles.
    const v6 = lb.spec?.vip?.includes(':') === true;
    const resolved = port.spec?.ips?.find((ip) => ip.includes(':') === v6);
    if (resolved === undefined || !added.includes(resolved)) return [];
    return backends
      .filter((b) => b.ip !== undefined && tryParseIp(b.ip) && canonicalIp(b.ip) === resolved)
      .map((b) => `${b.ip} is a backend of LoadBalancer "${lb.metadata.name}", which names this port as one too: one backend listed twice, which takes its connections once; remove one of them from its backends`);
  });
}

export class VirtualPortAdmission implements KindAdmission<VirtualPort> {
  readonly finalizers = [DATAPLANE_FINALIZER, IPAM_FINALIZER];

  /** A port that load balancers name as a backend (QA R21: deleted without a word, they turned ResolvedRefs=False). */
  async deleteWarnings(port: VirtualPort, ctx: AdmissionContext): Promise<string[]> {
    const name = port.metadata.name;
    const lbs = (await ctx.objects.list<LoadBalancer>(LOAD_BALANCERS, port.metadata.namespace)).items;
    const using = lbs.filter((lb) => !lb.metadata.deletionTimestamp && (lb.spec?.backends ?? []).some((b) => b.port === name)).map((lb) => lb.metadata.name);
    if (!using.length) return [];
    return [`VirtualPort "${name}" is a backend of LoadBalancer${using.length > 1 ? 's' : ''} ${using.map((n) => `"${n}"`).join(', ')}: ${using.length > 1 ? 'they send' : 'it sends'} it no connections (ResolvedRefs=False) until a port of that name exists again or it is removed from their backends (vnetctl lb remove-backend)`];
  }

  async create(port: VirtualPort, ctx: AdmissionContext): Promise<Admitted<VirtualPort>> {
    const ns = port.metadata.namespace!;
    const spec = port.spec!;
    const causes: StatusCause[] = [];
    validateNode(port, causes);
    validateInterfaceId(port, causes);
    validatePairs(port, causes);
    if (causes.length > 0) throw new AdmissionError(causes);
    const { guard, net } = await networkForClaims(ctx, ns, spec.network);
    const allNets = allocatorsOf(net);
    const allocators = guard.usable(allNets);
    const allocations = ctx.allocations;

    if (spec.mac !== undefined) {
      try {
        spec.mac = parseMac(spec.mac);
      } catch (err) {
        causes.push({ field: 'spec.mac', reason: 'FieldValueInvalid', message: `Invalid value: "${spec.mac}": ${(err as Error).message}` });
      }
      const holder = spec.mac ? await allocations.macHolder(ns, spec.network, spec.mac) : undefined;
      if (holder) {
        causes.push({ field: 'spec.mac', reason: 'FieldValueInvalid', message: `Invalid value: "${spec.mac}": already used by ${holder.owner.kind} "${holder.owner.name}" in network "${spec.network}"` });
      }
    } else {
      // 32 random bits under the prefix: almost never taken, so no lookup first. The claim
      // below is create-only: a MAC taken after all fails the write, and the API admits the
      // port again with a new pick (as for an address taken by a concurrent request).
      spec.mac = macs.random();
    }

    let picked = false;
    if (spec.ips !== undefined && spec.ips.length > 0) {
      const seen = new Set<string>();
      const checked = await Promise.all(spec.ips.map((ip) => checkRequestedIp(ip, net, allNets, allocations)));
      spec.ips = spec.ips.map((ip, i) => {
        const res = checked[i]!;
        if ('error' in res) {
          causes.push({ field: `spec.ips[${i}]`, reason: 'FieldValueInvalid', message: `Invalid value: "${ip}": ${res.error}` });
          return ip;
        }
        const changing = guard.changingOf(allNets, res.ip);
        if (changing) causes.push({ field: `spec.ips[${i}]`, reason: SUBNET_CHANGING, message: `Invalid value: "${ip}": subnet ${changing} of VirtualNetwork "${spec.network}" is being changed or removed; try again in a moment` });
        if (seen.has(res.ip)) causes.push({ field: `spec.ips[${i}]`, reason: 'FieldValueDuplicate', message: `Duplicate value: "${ip}"` });
        seen.add(res.ip);
        return res.ip;
      });
    } else {
      picked = true;
      const ips: string[] = [];
      // Every family the network has: one whose every subnet is being changed right now gets no
      // address silently (ips are immutable): the port waits for the change instead.
      for (const family of familiesOf(allNets)) {
        if (!allocators.some((a) => a.subnet.cidr.family === family)) {
          causes.push({ field: 'spec.ips', reason: SUBNET_CHANGING, message: `every IPv${family} subnet of VirtualNetwork "${spec.network}" is being changed or removed; try again in a moment` });
          continue;
        }
        const ip = await pickIp(net, allocators, family, allocations);
        if (!ip) {
          causes.push({ field: 'spec.ips', reason: 'FieldValueInvalid', message: `no free IPv${family} address left in VirtualNetwork "${spec.network}": every IPv${family} subnet is full${excludedRangesNote(allNets, family)}; add a subnet to the network, or delete ports or load balancers that hold its addresses` });
        } else ips.push(ip);
      }
      spec.ips = ips;
    }
    validatePairsAgainst(port, spec.ips, causes);
    const pairWarnings: string[] = [];
    await checkPairMacs(port, ctx, causes, pairWarnings);
    spec.interfaceId ??= port.metadata.uid;
    const ifaceHolder = await allocations.interfaceHolder(spec.interfaceId!);
    if (ifaceHolder) {
      const o = ifaceHolder.owner;
      causes.push({ field: 'spec.interfaceId', reason: 'FieldValueInvalid', message: `Invalid value: "${spec.interfaceId}": already used by ${o.namespace === port.metadata.namespace ? `${o.kind} "${o.name}"` : `a ${o.kind} in another namespace`}` });
    }
    if (causes.length > 0) {
      // A rejected request claims nothing: its picks go back for the next request.
      if (picked) for (const ip of spec.ips) allocations.unreserveIp(ns, spec.network, allocators, ip, net.metadata.uid);
      throw new AdmissionError(causes);
    }

    spec.portSecurity ??= true;
    // The claims below commit with the port: its status says so from the first revision
    // (generation 1), not one status write later.
    port.status = claimantAllocatedStatus('VirtualPort', port, [], 1) as VirtualPort['status'];
    const owner = { kind: 'VirtualPort', namespace: ns, name: port.metadata.name, uid: port.metadata.uid! };
    const giveBack = () => {
      if (picked) for (const ip of spec.ips!) allocations.unreserveIp(ns, spec.network, allocators, ip, net.metadata.uid);
    };
    return {
      object: port,
      ops: [
        AllocationRegistry.claim(macKey(ns, spec.network, spec.mac!), owner),
        ...spec.ips.map((ip) => AllocationRegistry.claim(ipKey(ns, spec.network, ip), owner)),
        AllocationRegistry.claim(ifaceKey(spec.interfaceId!), owner),
        ...(spec.ips.length ? [guard.op] : []),
      ],
      warnings: [...(await nodeWarnings(port, ctx)), ...(await pairsOverVipsWarnings(ctx, port)), ...pairWarnings],
      // Its picks go back either way: not stored, or held by the store's claims now.
      abandon: giveBack,
      committed: giveBack,
    };
  }

  /**
   * spec.mac and spec.ips may change, as a Neutron port's fixed IPs and MAC do (QA-130: they
   * were immutable, and the only way was to delete the port and create it again): the new
   * ones are claimed and the old ones released in the update's own transaction, so an address
   * is never both free and held, and a refused update changes nothing. Omitted, they keep their
   * values, as a Service's clusterIP does.
   */
  async update(old: VirtualPort, next: VirtualPort, ctx: AdmissionContext): Promise<Admitted<VirtualPort>> {
    const causes: StatusCause[] = [];
    const spec = next.spec!;
    const was = old.spec!;
    const ns = old.metadata.namespace!;
    const uid = old.metadata.uid!;
    immutable(causes, 'spec.network', was.network, spec.network);
    // Claimed at create (see AllocationRegistry): the NIC's identity, as an OVN port's name.
    immutable(causes, 'spec.interfaceId', was.interfaceId, spec.interfaceId);
    if (spec.node !== was.node) validateNode(next, causes);
    validatePairs(next, causes);
    const r = readdressingOf(was, spec, causes);
    if (readdresses(r) && old.metadata.deletionTimestamp) {
      causes.push({ field: r.macChanged ? 'spec.mac' : 'spec.ips', reason: 'FieldValueForbidden', message: 'Forbidden: the port is being deleted: its addresses are being released' });
    }
    const owner = { kind: 'VirtualPort', namespace: ns, name: old.metadata.name, uid };
    const ops = causes.length === 0 ? await claimsOf(ctx, ns, was.network, r, owner, spec.mac, causes) : [];
    // Only pairs being changed, or judged against new addresses: a port stored with such a pair can still be updated otherwise (then fixed).
    const pairWarnings: string[] = [];
    const pairsChanged = JSON.stringify(spec.allowedAddressPairs ?? []) !== JSON.stringify(was.allowedAddressPairs ?? []);
    if (pairsChanged || readdresses(r)) {
      const readdressedPort: VirtualPort = { ...next, spec: { ...spec, mac: r.mac, ips: r.ips } };
      validatePairsAgainst(readdressedPort, r.ips, causes);
      const known = new Set(r.macChanged ? [] : (was.allowedAddressPairs ?? []).flatMap((p) => (p.mac ? [p.mac.toLowerCase()] : [])));
      await checkPairMacs(readdressedPort, ctx, causes, pairWarnings, known);
    }
    if (causes.length > 0) throw new AdmissionError(causes);
    ops.push(...(await releasesOf(ctx, ns, was.network, r, was.mac, uid)));
    spec.mac = r.mac;
    spec.ips = r.ips;
    spec.interfaceId ??= was.interfaceId;
    spec.portSecurity ??= true;
    const warnings = [
      ...(spec.node !== was.node ? await nodeWarnings(next, ctx) : []),
      ...(pairsChanged || r.added.length > 0 ? await pairsOverVipsWarnings(ctx, next) : []),
      ...pairWarnings,
      ...readdressWarnings(r, spec.portSecurity),
      ...(await removedBackendWarnings(ctx, ns, r.removed)),
      ...(await doubledBackendWarnings(ctx, next, r.added)),
    ];
    return { object: next, ops, warnings };
  }
}
