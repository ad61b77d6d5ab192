/**
 * Kubernetes' resource quota controller for vnetd's quotas: each ResourceQuota's status says
 * its spec.hard and what its namespace uses. Writes that use quota charge it themselves, in
 * their own transaction (quota/quota-gate.ts); this gives back what deletions freed (a port
 * counts until it is gone, after its finalizers), takes in a changed spec.hard, and counts
 * again every minute whatever nothing charged (an object created while its quota was being
 * created, before either saw the other).
 */
import type { Logger } from 'pino';
import { namespaceUsage, quotaStatus } from '../../quota/namespace-usage';
import type { ResourceQuota } from '../../resources/kinds';
import type { KubeObject } from '../../resources/object';
import { sameValue } from '../../resources/same-value';
import { LOAD_BALANCERS, NETWORKS, PORTS, RESOURCE_QUOTAS } from '../../store/kinds';
import type { ObjectStore } from '../../store/object-store';
import { ConflictError, KeyNotFoundError } from '../../store/store';
import { Controller } from '../controller';
import type { Informer } from '../informer';
import type { SharedInformers } from '../shared-informers';

const BY_NAMESPACE = 'namespace';
/** How often a namespace with quotas is counted again although no event said so. */
export const QUOTA_RESYNC_MS = 60_000;

export class QuotaReconciler {
  private readonly controller: Controller;
  private readonly quotas: Informer<ResourceQuota>;
  private readonly watched: Informer<KubeObject>[] = [];
  private readonly unsubscribe: Array<() => void> = [];

  constructor(
    private readonly objects: ObjectStore,
    shared: SharedInformers,
    private readonly log: Logger,
  ) {
    this.controller = new Controller({ name: 'resource-quotas', logger: log, reconcile: (ns) => this.reconcile(ns) });
    this.quotas = shared.of<ResourceQuota>(RESOURCE_QUOTAS);
    this.quotas.ensureIndex(BY_NAMESPACE, (q) => [q.metadata.namespace ?? '']);
    this.unsubscribe.push(
      this.quotas.addEventHandler({
        onAdd: (q) => this.controller.enqueue(q.metadata.namespace ?? ''),
        // Its own status writes (a charge, this controller's) change no spec: nothing to count.
        onUpdate: (o, n) => {
          if (!sameValue(o.spec, n.spec)) this.controller.enqueue(n.metadata.namespace ?? '');
        },
      }),
    );
    for (const type of [NETWORKS, PORTS, LOAD_BALANCERS]) {
      const informer = shared.of<KubeObject>(type);
      this.watched.push(informer);
      this.unsubscribe.push(
        informer.addEventHandler({
          onDelete: (o) => this.touched(o),
          // A load balancer's listeners and backends changed by an update were charged; by
          // anything else (a replica's write racing this one's read) they are counted here.
          onUpdate: (o, n) => {
            if (type === LOAD_BALANCERS && !sameValue(o.spec, n.spec)) this.touched(n);
          },
        }),
      );
    }
  }

  async start(): Promise<void> {
    for (const i of [this.quotas, ...this.watched]) i.start();
    await Promise.all([this.quotas, ...this.watched].map((i) => i.waitForSync()));
    this.controller.start();
  }

  async stop(): Promise<void> {
    for (const u of this.unsubscribe.splice(0)) u();
    await this.controller.stop();
  }

  private touched(o: KubeObject): void {
    const ns = o.metadata.namespace;
    if (ns !== undefined && this.quotas.byIndex(BY_NAMESPACE, ns).length > 0) this.controller.enqueue(ns);
  }

  private async reconcile(namespace: string): Promise<{ requeueAfterMs?: number } | void> {
    // The quotas before the usage: a write charged after this read moves a quota's revision,
    // so the status written below from an older count fails its precondition.
    const quotas = (await this.objects.list<ResourceQuota>(RESOURCE_QUOTAS, namespace)).items;
    if (quotas.length === 0) return;
    const used = await namespaceUsage(this.objects, namespace);
    for (const quota of quotas) {
      const status = quotaStatus(quota, used);
      if (sameValue(status, { hard: quota.status?.hard ?? {}, used: quota.status?.used ?? {} })) continue;
      try {
        await this.objects.kv.txn([this.objects.statusWriteOp(RESOURCE_QUOTAS, quota, status)]);
        this.log.debug({ event: 'quota.counted', namespace, quota: quota.metadata.name, used: status.used }, 'resource quota counted');
      } catch (err) {
        if (err instanceof KeyNotFoundError) continue;
        // Charged or changed meanwhile: count again.
        if (err instanceof ConflictError) return { requeueAfterMs: 10 };
        throw err;
      }
    }
    return { requeueAfterMs: QUOTA_RESYNC_MS };
  }
}
