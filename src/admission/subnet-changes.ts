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
 * Claims only read the key (a check op): they do not conflict with each other. An
 * announcement lapses after SUBNET_CHANGE_MS, should its update never commit or clear it.
 */
import type { IpAllocator } from '../ipam';
import { subnetChangeKey } from '../ipam/allocation-registry';

import type { TxnOp } from '../store/store';
import type { AdmissionContext } from './admission';

export interface SubnetChange {
  /** The old subnets (canonical CIDRs) the update is removing or changing. */
  changing: string[];
  /** Epoch ms after which the announcement no longer holds. */
  until: number;
}

export const SUBNET_CHANGE_MS = 10_000;

export interface SubnetGuard {
  /** Subnets no address may be claimed in now. */
  changing: ReadonlySet<string>;
  /** To commit with the claims: fails if an announcement came since it was read. */
  op: TxnOp;
  /** The allocators claims may use. */
  usable(allocators: IpAllocator[]): IpAllocator[];
  /** The changing subnet an address is in, if any. */
  changingOf(allocators: IpAllocator[], ip: string): string | undefined;
}

export async function subnetGuard(ctx: AdmissionContext, namespace: string, network: string): Promise<SubnetGuard> {
  const key = subnetChangeKey(namespace, network);
  const kv = await ctx.objects.kv.get<SubnetChange>(key);
  const changing = new Set(kv && kv.value.until > Date.now() ? kv.value.changing : []);
  return {
    changing,
    op: { type: 'check', key, expectedModRevision: kv?.modRevision ?? 0 },
    usable: (allocators) => (changing.size ? allocators.filter((a) => !changing.has(a.cidr)) : allocators),
    changingOf: (allocators, ip) =>
      allocators.find((a) => {
        if (!changing.has(a.cidr)) return false;
        const why = a.check(ip);
        return why === undefined || why.includes('excluded range');
      })?.cidr,
  };
}

/** Announces the change (a write of its own, before the update's check). */
export async function announceSubnetChange(ctx: AdmissionContext, namespace: string, network: string, changing: string[]): Promise<void> {
  const key = subnetChangeKey(namespace, network);
  const value: SubnetChange = { changing, until: Date.now() + SUBNET_CHANGE_MS };
  const cur = await ctx.objects.kv.get(key);
  await ctx.objects.kv.txn([cur ? { type: 'update', key, value } : { type: 'create', key, value }]);
}

/** The op that ends the announcement with the update's commit. */
export function endSubnetChange(namespace: string, network: string): TxnOp {
  return { type: 'update', key: subnetChangeKey(namespace, network), value: { changing: [], until: 0 } satisfies SubnetChange };
}

/** Ends it now (the update was refused or did not commit); a failure is left to the lapse. */
export async function withdrawSubnetChange(ctx: AdmissionContext, namespace: string, network: string): Promise<void> {
  const key = subnetChangeKey(namespace, network);
  await ctx.objects.kv.txn([{ type: 'update', key, value: { changing: [], until: 0 } satisfies SubnetChange }]).catch(() => undefined);
}
