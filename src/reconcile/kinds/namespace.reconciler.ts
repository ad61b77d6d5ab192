/**
 * Deleting a namespace deletes everything in it (Kubernetes' namespace controller):
 * the namespace turns Terminating, its objects are deleted (their own finalizers run),
 * and the namespace goes when it is empty.
 */
import type { Logger } from 'pino';
import { NAMESPACE_FINALIZER } from '../../resources/finalizers';
import type { KubeObject } from '../../resources/object';
import { NAMESPACE_TYPE, type ResourceCatalog } from '../../resources/catalog';
import { EVENTS } from '../../store/kinds';
import { typePrefix } from '../../store/keys';
import type { ObjectStore } from '../../store/object-store';
import { KeyNotFoundError } from '../../store/store';
import { Controller } from '../controller';
import { removeFinalizer } from '../finalizers';

type Namespace = KubeObject<unknown, { phase?: 'Active' | 'Terminating' }>;
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
    if (ns.status?.phase !== 'Terminating') {
      await this.objects.modify<Namespace>(NAMESPACE_TYPE, undefined, id.name, (cur) => ({ ...cur, status: { phase: 'Terminating' } }), { subresource: 'status' });
    }
    let remaining = 0;
    // Its events too, which no catalog kind lists (they are served read-only, beside it).
    for (const type of [...this.catalog.types.filter((t) => t.namespaced), EVENTS]) {
      const { items } = await this.objects.list(type, id.name);
      remaining += items.length;
      for (const obj of items) {
        if (obj.metadata.deletionTimestamp) continue;
        try {
          await this.objects.delete(type, id.name, obj.metadata.name);
        } catch (err) {
          if (!(err instanceof KeyNotFoundError)) throw err;
        }
      }
    }
    if (remaining > 0) return { requeueAfterMs: 100 };
    await this.objects.modify<Namespace>(NAMESPACE_TYPE, undefined, id.name, (cur) => removeFinalizer(cur, NAMESPACE_FINALIZER));
    this.log.info({ event: 'namespace.deleted', namespace: id.name });
  }
}
