/**
 * Deleting a namespace deletes everything in it (Kubernetes' namespace controller):
 * the namespace turns Terminating, its objects are deleted (their own finalizers run),
 * and the namespace goes when it is empty. While it waits, its status says on what, with
 * Kubernetes' conditions: NamespaceContentRemaining (how many objects of each resource) and
 * NamespaceFinalizersRemaining (which finalizers hold how many), what users read to unstick
 * a namespace (QA-127 F10: it said only Terminating).
 */
import type { Logger } from 'pino';
import { NAMESPACE_FINALIZER } from '../../resources/finalizers';
import type { KubeObject } from '../../resources/object';
import { NAMESPACE_TYPE, type ResourceCatalog } from '../../resources/catalog';
import { EVENTS, RESOURCE_QUOTAS } from '../../store/kinds';
import { typePrefix } from '../../store/keys';
import type { ObjectStore } from '../../store/object-store';
import { KeyNotFoundError } from '../../store/store';
import { setCondition } from '../conditions';
import { Controller } from '../controller';
import { removeFinalizer } from '../finalizers';
import type { Condition } from '../../resources/object';

type Namespace = KubeObject<unknown, { phase?: 'Active' | 'Terminating'; conditions?: Condition[] }>;
import { Informer } from '../informer';
import { parseObjectKey } from './object-keys';

export class NamespaceReconciler {
  private readonly informer: Informer<Namespace>;
  private readonly controller: Controller;

  constructor(
    private readonly objects: ObjectStore,
    private readonly catalog: ResourceCatalog,
    private readonly log: Logger,
  ) {
    this.informer = new Informer<Namespace>({ store: objects.kv, prefix: typePrefix(NAMESPACE_TYPE), decode: (kv) => kv.value as Namespace, logger: log });
    this.controller = new Controller({ name: 'namespaces', logger: log, reconcile: (key) => this.reconcile(key) });
    this.controller.watch(this.informer);
  }

  async start(): Promise<void> {
    this.informer.start();
    await this.informer.waitForSync();
    this.controller.start();
  }

  async stop(): Promise<void> {
    this.informer.stop();
    await this.controller.stop();
  }

  private async reconcile(key: string): Promise<{ requeueAfterMs?: number } | void> {
    const id = parseObjectKey(NAMESPACE_TYPE, key);
    if (!id) return;
    const ns = await this.objects.get<Namespace>(NAMESPACE_TYPE, undefined, id.name);
    if (!ns?.metadata.deletionTimestamp) return;
    let remaining = 0;
    const byResource = new Map<string, number>();
    const byFinalizer = new Map<string, number>();
    // Its events and resource quotas too, which no catalog kind lists (core/v1, served beside it).
    for (const type of [...this.catalog.types.filter((t) => t.namespaced), EVENTS, RESOURCE_QUOTAS]) {
      const { items } = await this.objects.list(type, id.name);
      remaining += items.length;
      if (items.length) byResource.set(type.group ? `${type.plural}.${type.group}` : type.plural, items.length);
      for (const obj of items) {
        for (const f of obj.metadata.finalizers ?? []) byFinalizer.set(f, (byFinalizer.get(f) ?? 0) + 1);
        if (obj.metadata.deletionTimestamp) continue;
        try {
          await this.objects.delete(type, id.name, obj.metadata.name);
        } catch (err) {
          if (!(err instanceof KeyNotFoundError)) throw err;
        }
      }
    }
    await this.sayWhatRemains(id.name, byResource, byFinalizer);
    if (remaining > 0) return { requeueAfterMs: 100 };
    await this.objects.modify<Namespace>(NAMESPACE_TYPE, undefined, id.name, (cur) => removeFinalizer(cur, NAMESPACE_FINALIZER));
    this.log.info({ event: 'namespace.deleted', namespace: id.name });
  }

  /** Phase Terminating and the two conditions, written only when they change (it is requeued every 100 ms while it waits). */
  private async sayWhatRemains(name: string, byResource: ReadonlyMap<string, number>, byFinalizer: ReadonlyMap<string, number>): Promise<void> {
    const list = (m: ReadonlyMap<string, number>, what: string) => [...m].sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${k} ${what} ${n} resource instances`).join(', ');
    const content = byResource.size
      ? { type: 'NamespaceContentRemaining', status: 'True' as const, reason: 'SomeResourcesRemain', message: `Some resources are remaining: ${list(byResource, 'has')}` }
      : { type: 'NamespaceContentRemaining', status: 'False' as const, reason: 'ContentRemoved', message: 'All content successfully removed' };
    const finalizers = byFinalizer.size
      ? { type: 'NamespaceFinalizersRemaining', status: 'True' as const, reason: 'SomeFinalizersRemain', message: `Some content in the namespace has finalizers remaining: ${list(byFinalizer, 'in')}` }
      : { type: 'NamespaceFinalizersRemaining', status: 'False' as const, reason: 'ContentHasNoFinalizers', message: 'All content-preserving finalizers finished' };
    await this.objects.modify<Namespace>(
      NAMESPACE_TYPE,
      undefined,
      name,
      (cur) => {
        const before = cur.status?.conditions;
        const conditions = setCondition(setCondition(before, content), finalizers);
        if (cur.status?.phase === 'Terminating' && conditions === before) return undefined;
        return { ...cur, status: { ...(cur.status ?? {}), phase: 'Terminating', conditions } };
      },
      { subresource: 'status' },
    );
  }
}
