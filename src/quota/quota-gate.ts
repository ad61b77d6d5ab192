/**
 * Kubernetes' ResourceQuota admission for vnetd's kinds: a write that would take a namespace
 * past one of its quotas is refused (403, Kubernetes' "exceeded quota" message), and one that
 * fits commits the quotas' new status.used in its own transaction, each quota as it was read
 * (a conflict there is a retry: another write charged it meanwhile). Two replicas charging one
 * quota therefore never both fit in its last unit. Within one process, the writes of a
 * namespace with quotas take turns from the read of its quotas to their commit, so that
 * concurrent creates there queue instead of conflicting. Usage only goes up here (and down
 * with an update that shrinks a load balancer); what deleted objects gave back is counted
 * again by the quota reconciler, as Kubernetes' quota controller replenishes it.
 */
import type { ResourceQuota } from '../resources/kinds';
import { typePrefix } from '../store/keys';
import { RESOURCE_QUOTAS } from '../store/kinds';
import type { ObjectStore } from '../store/object-store';
import type { TxnOp } from '../store/store';
import { namespaceUsage } from './namespace-usage';
import { formatQuantity, parseQuantity, quotaResourceOf, usageDelta, usageOf, type QuotaKind, type QuotaResource } from './resources';

export class QuotaExceededError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QuotaExceededError';
  }
}

export interface QuotaCharge {
  /** Commit with the write: each charged quota's status, guarded by the revision it was read at. */
  ops: TxnOp[];
  /** Call once the write committed or failed: the namespace's next write may read the quotas. */
  release(): void;
}

const NO_CHARGE: QuotaCharge = { ops: [], release: () => undefined };

export function isQuotaKey(key: string): boolean {
  return key.startsWith(typePrefix(RESOURCE_QUOTAS));
}

/**
 * How long a namespace read without a quota is taken to have none. Most namespaces have none,
 * and a read per write took 0.2 s of a 3,000-port burst on SQLite (on etcd, a round trip
 * each). A quota created through this process counts at once (created); one created through
 * another replica from at most this long after, as Kubernetes' quota admission trusts its
 * informer and a live-lookup cache.
 */
export const QUOTALESS_TRUSTED_MS = 1_000;
const QUOTALESS_KEPT = 1_024;

export class QuotaGate {
  private readonly turns = new Map<string, Promise<void>>();
  /** Namespaces read without a quota, and when (clock()). */
  private readonly quotaless = new Map<string, number>();
  /** Counts created(): a read that began before a quota was created does not say there is none. */
  private quotasCreated = 0;

  constructor(
    private readonly objects: ObjectStore,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Namespaces deleted long ago are not kept: past this many entries, the expired ones go. */
  private remember(namespace: string, now: number): void {
    if (this.quotaless.size >= QUOTALESS_KEPT) for (const [ns, at] of this.quotaless) if (now - at >= QUOTALESS_TRUSTED_MS) this.quotaless.delete(ns);
    this.quotaless.set(namespace, now);
  }

  /** A quota of the namespace was written through this process: its next write reads the quotas. */
  created(namespace: string): void {
    this.quotasCreated++;
    this.quotaless.delete(namespace);
  }

  /**
   * Checks a write of an object of `kind` in `namespace` (spec `after`, replacing one with spec
   * `before` on an update) against the namespace's quotas. Throws QuotaExceededError; a dry run
   * is checked and charges nothing.
   */
  async charge(namespace: string, kind: QuotaKind, after: unknown, before?: { spec: unknown }, dryRun = false): Promise<QuotaCharge> {
    const delta = usageDelta(usageOf(kind, after), before ? usageOf(kind, before.spec) : undefined);
    if (delta.size === 0) return NO_CHARGE;
    // Most namespaces have no quota: one read of an empty range, and no turn taken.
    const readAt = this.quotaless.get(namespace);
    if (readAt !== undefined && this.clock() - readAt < QUOTALESS_TRUSTED_MS) return NO_CHARGE;
    const now = this.clock();
    const createdBefore = this.quotasCreated;
    const found = await this.quotasOf(namespace);
    if (found.length === 0) {
      if (this.quotasCreated === createdBefore) this.remember(namespace, now);
      return NO_CHARGE;
    }
    this.quotaless.delete(namespace);
    if (!limitsAny(found, delta)) return NO_CHARGE;
    const release = dryRun ? () => undefined : await this.takeTurn(namespace);
    try {
      const quotas = (await this.quotasOf(namespace)).filter((q) => limitsAny([q], delta));
      let counted: Map<QuotaResource, number> | undefined;
      const ops: TxnOp[] = [];
      for (const quota of quotas) {
        const used = { ...(quota.status?.used ?? {}) };
        const over: { name: string; requested: number; used: number; hard: number }[] = [];
        for (const [name, value] of Object.entries(quota.spec?.hard ?? {})) {
          const r = quotaResourceOf(name);
          const d = r === undefined ? undefined : delta.get(r);
          const hard = parseQuantity(value);
          if (d === undefined || !('value' in hard)) continue;
          // A resource the quota's status does not count yet (just added to spec.hard): counted now.
          let now = parseQuantity(used[name]);
          if (!('value' in now)) {
            counted ??= await namespaceUsage(this.objects, namespace);
            now = { value: counted.get(r!) ?? 0 };
          }
          if (d > 0 && now.value + d > hard.value) over.push({ name, requested: d, used: now.value, hard: hard.value });
          used[name] = formatQuantity(Math.max(0, now.value + d));
        }
        if (over.length > 0) throw new QuotaExceededError(exceeded(quota.metadata.name, namespace, over));
        if (!dryRun) ops.push(this.objects.statusWriteOp(RESOURCE_QUOTAS, quota, { ...quota.status, hard: hardOf(quota), used }));
      }
      return { ops, release };
    } catch (err) {
      release();
      throw err;
    }
  }

  private async quotasOf(namespace: string): Promise<ResourceQuota[]> {
    return (await this.objects.list<ResourceQuota>(RESOURCE_QUOTAS, namespace)).items;
  }

  private async takeTurn(namespace: string): Promise<() => void> {
    const before = this.turns.get(namespace) ?? Promise.resolve();
    let done!: () => void;
    const mine = new Promise<void>((resolve) => (done = resolve));
    const tail = before.then(() => mine);
    this.turns.set(namespace, tail);
    await before;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      done();
      if (this.turns.get(namespace) === tail) this.turns.delete(namespace);
    };
  }
}

function limitsAny(quotas: ResourceQuota[], delta: ReadonlyMap<QuotaResource, number>): boolean {
  return quotas.some((q) => Object.keys(q.spec?.hard ?? {}).some((name) => {
    const r = quotaResourceOf(name);
    return r !== undefined && delta.has(r);
  }));
}

function hardOf(quota: ResourceQuota): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(quota.spec?.hard ?? {})) {
    const q = parseQuantity(value);
    if ('value' in q) out[name] = formatQuantity(q.value);
  }
  return out;
}

/** Kubernetes' words (kubectl users grep for them), then what to do. */
function exceeded(quota: string, namespace: string, over: { name: string; requested: number; used: number; hard: number }[]): string {
  const list = (f: (o: (typeof over)[number]) => number) => over.map((o) => `${o.name}=${f(o)}`).join(',');
  return `exceeded quota: ${quota}, requested: ${list((o) => o.requested)}, used: ${list((o) => o.used)}, limited: ${list((o) => o.hard)}` +
    ` (delete what the namespace no longer needs, or ask an admin to raise it: kubectl describe resourcequota ${quota} -n ${namespace})`;
}
