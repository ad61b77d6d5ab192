/**
 * A network update that takes a subnet away or changes it checks that no address allocated
 * there would be stranded. A port or load balancer admitted against the old subnets could
 * still claim an address there between that check and the update's commit (a review found
 * a port left with an address outside every subnet, and the network's later updates all
 * refused). So the update first announces the subnets it is changing, under a key of its
 * own, and only then checks; every address claim commits with a guard on that key:
 *
 *   - a claim admitted before the announcement fails its guard (409 inside the API, which
 *     admits the object again) and is admitted again against the announcement;
 *   - a claim admitted after it stays out of the announced subnets;
 *   - so what the update's check sees is every address that will ever be in them.
 *
 * Claims only read the key (a check op): they do not conflict with each other. A claim reads
 * the key before the network, and reads the network again from the store when what it read
 * is older than the key (a cache lagging the update that ended the announcement: the review
 * of the first version found a port claiming in a removed subnet through it). One update of
 * a network's subnets at a time: a second one meanwhile is a 409 (the API retries a patch).
 * An announcement lapses after SUBNET_CHANGE_MS, should its update never commit or clear it,
 * and an update that took longer than half of it gives up instead of committing.
 */
import type { IpAllocator } from '../ipam';
import { subnetChangeKey } from '../ipam/allocation-registry';
import { ApiErrors } from '../resources/status';
import type { VirtualNetwork } from '../resources/kinds';
import { ConflictError, KeyExistsError, type TxnOp } from '../store/store';
import type { AdmissionContext } from './admission';
import { referencedNetwork } from './network-lookup';

export interface SubnetChange {
  /** The old subnets (canonical CIDRs) the update is removing or changing. */
  changing: string[];
  /** Epoch ms after which the announcement no longer holds. */
  until: number;
}

export const SUBNET_CHANGE_MS = 60_000;

const ENDED: SubnetChange = { changing: [], until: 0 };

export interface SubnetGuard {
  /** Subnets no address may be claimed in now. */
  changing: ReadonlySet<string>;
  /** To commit with the claims: fails if an announcement came since it was read. */
  op: TxnOp;
  /** The network as read before the guard is older than the announcement key: read it again from the store. */
  stale(net: VirtualNetwork): boolean;
  /** The allocators claims may use. */
  usable(allocators: IpAllocator[]): IpAllocator[];
  /** The changing subnet an address is in, if any. */
  changingOf(allocators: IpAllocator[], ip: string): string | undefined;
}

/** Read it before the network (see the top of this file). */
async function subnetGuard(ctx: AdmissionContext, namespace: string, network: string): Promise<SubnetGuard> {
  const key = subnetChangeKey(namespace, network);
  const kv = await ctx.objects.kv.get<SubnetChange>(key);
  const changing = new Set(kv && kv.value.until > Date.now() ? kv.value.changing : []);
  return {
    changing,
    op: { type: 'check', key, expectedModRevision: kv?.modRevision ?? 0 },
    stale: (net) => kv !== undefined && Number(net.metadata.resourceVersion ?? 0) < kv.modRevision,
    usable: (allocators) => (changing.size ? allocators.filter((a) => !changing.has(a.cidr)) : allocators),
    changingOf: (allocators, ip) => allocators.find((a) => changing.has(a.cidr) && a.holds(ip))?.cidr,
  };
}

/**
 * The network a claim is admitted against, with its guard: the guard read first, the network
 * read again from the store when the one read (a cache) is older than the guard's key.
 */
export async function networkForClaims(ctx: AdmissionContext, namespace: string, network: string): Promise<{ guard: SubnetGuard; net: VirtualNetwork }> {
  const guard = await subnetGuard(ctx, namespace, network);
  const net = await referencedNetwork(ctx, namespace, network);
  return { guard, net: guard.stale(net) ? await referencedNetwork(ctx, namespace, network, true) : net };
}

/** An announcement this update made: what its end and withdrawal are conditional on. */
export interface Announcement {
  revision: number;
  until: number;
}

const busy = (network: string, why: string) => ApiErrors.conflict({ group: 'vnet.dev', kind: 'virtualnetworks', name: network }, why);

/** Announces the change (a write of its own, before the update's check); a 409 while another update's is in force. */
export async function announceSubnetChange(ctx: AdmissionContext, namespace: string, network: string, changing: string[]): Promise<Announcement> {
  const key = subnetChangeKey(namespace, network);
  const cur = await ctx.objects.kv.get<SubnetChange>(key);
  if (cur && cur.value.changing.length > 0 && cur.value.until > Date.now()) throw busy(network, `another update of its subnets (${cur.value.changing.join(', ')}) is in progress; try again`);
  const value: SubnetChange = { changing, until: Date.now() + SUBNET_CHANGE_MS };
  try {
    const res = await ctx.objects.kv.txn([cur ? { type: 'update', key, value, expectedModRevision: cur.modRevision } : { type: 'create', key, value }]);
    return { revision: res.revision, until: value.until };
  } catch (err) {
    if (err instanceof ConflictError || err instanceof KeyExistsError) throw busy(network, 'another update of its subnets began at the same time; try again');
    throw err;
  }
}

/** The op that ends the announcement with the update's commit (which fails if another took its place), or a 409 when the update took too long. */
export function endSubnetChange(namespace: string, network: string, a: Announcement): TxnOp {
  if (Date.now() > a.until - SUBNET_CHANGE_MS / 2) throw busy(network, 'checking its subnets took too long; try again');
  return ending(namespace, network, a);
}

const ending = (namespace: string, network: string, a: Announcement): TxnOp => ({ type: 'update', key: subnetChangeKey(namespace, network), value: ENDED, expectedModRevision: a.revision });

/**
 * What the write that starts a network's deletion adds: its announcement key written again (as
 * it is: an update of its subnets meanwhile keeps its announcement), so that every claim
 * admitted against the network as it was fails its guard, and is admitted again against the
 * network read from the store, which is being deleted: refused. Without it, a replica whose
 * cache had not yet seen the deletion let ports into the network after it (QA-99: 6 of 25
 * rounds), which then held it Terminating.
 */
export async function networkDeletionGuard(ctx: AdmissionContext, namespace: string, network: string): Promise<TxnOp> {
  const key = subnetChangeKey(namespace, network);
  const cur = await ctx.objects.kv.get<SubnetChange>(key);
  return cur ? { type: 'update', key, value: cur.value, expectedModRevision: cur.modRevision } : { type: 'create', key, value: ENDED };
}

/** Ends it now (the update was refused or did not commit), if it is still this one; a failure is left to the lapse. */
export async function withdrawSubnetChange(ctx: AdmissionContext, namespace: string, network: string, a: Announcement): Promise<void> {
  await ctx.objects.kv.txn([ending(namespace, network, a)]).catch(() => undefined);
}

/** A subnet's meaning as text: the same whatever the order of its keys and of its excluded ranges. */
export function subnetIdentity(s: object): string {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical).sort((x, y) => (JSON.stringify(x) < JSON.stringify(y) ? -1 : 1))
      : v !== null && typeof v === 'object'
        ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, x]) => [k, canonical(x)]))
        : v;
  return JSON.stringify(canonical(s));
}
