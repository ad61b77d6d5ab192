/**
 * Kubernetes' garbage collector, for vnetd's kinds: an object whose
 * metadata.ownerReferences name owners that are all gone is deleted (a Background delete of
 * the owner, the default); an owner deleted with propagationPolicy=Foreground stays
 * (finalizer foregroundDeletion) until its dependents are deleted; with Orphan (finalizer
 * orphan), its dependents drop their reference to it and stay.
 *
 * Only references to kinds vnetd serves are followed. A reference to anything else (a
 * KubeVirt VM's uid, say: vnetd is not that API server) cannot be checked, so its object is
 * never collected, as kube-apiserver's collector leaves a reference it cannot resolve.
 * An owner counts as present when an object of its kind and name has its uid. One being
 * deleted in the background but held by a finalizer counts as gone for its dependents: a
 * network's own finalizer waits for the ports on it, so a port it owns, collected only once
 * the network was gone, held it Terminating for good (kube-apiserver's collector waits for
 * the owner to be gone; no built-in owner there waits on its dependents).
 */
import type { Logger } from 'pino';
import { FOREGROUND_DELETION, ORPHAN } from '../../resources/finalizers';
import type { KubeObject, OwnerReference } from '../../resources/object';
import { objectKey, typePrefix, type StoredType } from '../../store/keys';
import { LOAD_BALANCERS, NETWORKS, NODES, NODE_LEASES, PORTS } from '../../store/kinds';
import { UidPreconditionError, type ObjectStore } from '../../store/object-store';
import { KeyNotFoundError } from '../../store/store';
import { Controller } from '../controller';
import { hasFinalizer, removeFinalizer } from '../finalizers';
import type { Informer } from '../informer';
import type { SharedInformers } from '../shared-informers';

/** The kinds that own and are owned, by the kind name an owner reference gives. */
const BY_KIND: ReadonlyMap<string, StoredType> = new Map([
  ['VirtualNetwork', NETWORKS],
  ['VirtualPort', PORTS],
  ['LoadBalancer', LOAD_BALANCERS],
  ['Node', NODES],
  // Each agent's heartbeat, owned by its Node (node-lease.ts).
  ['NodeLease', NODE_LEASES],
]);
const KINDS: readonly StoredType[] = [...BY_KIND.values()];
const GROUP = 'vnet.dev';
/** Index of each object by the uids of its owners. */
const OWNER_UID = 'ownerUid';
/** How soon a Foreground owner looks again at dependents still being deleted. */
const FOREGROUND_RECHECK_MS = 200;

const ownerUids = (o: KubeObject): readonly string[] => (o.metadata.ownerReferences ?? []).map((r) => r.uid);

export class GarbageCollector {
  private readonly controller: Controller;
  private readonly informers = new Map<StoredType, Informer<KubeObject>>();
  private readonly unsubscribe: Array<() => void> = [];

  constructor(
    private readonly objects: ObjectStore,
    shared: SharedInformers,
    private readonly log: Logger,
  ) {
    this.controller = new Controller({ name: 'garbage-collector', logger: log, reconcile: (key) => this.reconcile(key) });
    for (const type of KINDS) {
      const informer = shared.of<KubeObject>(type);
      informer.ensureIndex(OWNER_UID, ownerUids);
      this.informers.set(type, informer);
      this.unsubscribe.push(
        informer.addEventHandler({
          onAdd: (o, key) => this.changed(o, key),
          onUpdate: (_o, n, key) => this.changed(n, key),
          // Its dependents may have lost their last owner; its owners (Foreground) one dependent.
          onDelete: (o) => {
            this.enqueueDependents(o.metadata.uid);
            this.enqueueOwners(o);
          },
        }),
      );
    }
  }

  async start(): Promise<void> {
    for (const i of this.informers.values()) i.start(); // shared: a no-op for those another reconciler started
    await Promise.all([...this.informers.values()].map((i) => i.waitForSync()));
    this.controller.start();
  }

  async stop(): Promise<void> {
    for (const u of this.unsubscribe.splice(0)) u();
    await this.controller.stop();
  }

  /** Only objects that own or are owned are work: most have neither, and cost a check here. */
  private changed(o: KubeObject, key: string): void {
    const gcFinalizer = o.metadata.deletionTimestamp !== undefined && (hasFinalizer(o, FOREGROUND_DELETION) || hasFinalizer(o, ORPHAN));
    if (gcFinalizer || o.metadata.ownerReferences?.length) this.controller.enqueue(key);
    if (o.metadata.deletionTimestamp !== undefined) {
      this.enqueueOwners(o);
      this.enqueueDependents(o.metadata.uid);
    }
  }

  private enqueueDependents(uid: string | undefined): void {
    if (!uid) return;
    for (const informer of this.informers.values()) for (const key of informer.indexKeys(OWNER_UID, uid)) this.controller.enqueue(key);
  }

  private enqueueOwners(o: KubeObject): void {
    for (const ref of o.metadata.ownerReferences ?? []) {
      const type = typeOf(ref);
      if (type) this.controller.enqueue(objectKey(type, type.namespaced ? o.metadata.namespace : undefined, ref.name));
    }
  }

  private lookup(key: string): { type: StoredType; obj: KubeObject } | undefined {
    for (const [type, informer] of this.informers) {
      if (!key.startsWith(typePrefix(type))) continue;
      const obj = informer.get(key);
      return obj ? { type, obj } : undefined;
    }
    return undefined;
  }

  /**
   * The objects whose owner references resolve to `owner`: those in its namespace, or any for
   * a cluster-scoped owner. A reference from another namespace names an owner that, as
   * Kubernetes resolves it, is absent there (collect deletes such a dependent); counted here, a
   * tenant's object with a finalizer held another namespace's Foreground deletion, and with it
   * that namespace's, for as long as it liked (QA-127 F2), and Orphan rewrote it.
   */
  private dependentsOf(ownerType: StoredType, owner: KubeObject): Array<{ type: StoredType; obj: KubeObject }> {
    const out: Array<{ type: StoredType; obj: KubeObject }> = [];
    for (const [type, informer] of this.informers) {
      for (const obj of informer.byIndex(OWNER_UID, owner.metadata.uid!)) {
        if (!ownerType.namespaced || obj.metadata.namespace === owner.metadata.namespace) out.push({ type, obj });
      }
    }
    return out;
  }

  private async reconcile(key: string): Promise<{ requeueAfterMs?: number } | void> {
    const found = this.lookup(key);
    if (!found) return;
    const { type, obj } = found;
    if (obj.metadata.deletionTimestamp !== undefined) {
      if (hasFinalizer(obj, ORPHAN)) return this.orphan(type, obj);
      if (hasFinalizer(obj, FOREGROUND_DELETION)) return this.foreground(type, obj);
    }
    if (obj.metadata.ownerReferences?.length) await this.collect(type, obj);
  }

  /**
   * Deletes an object whose owners are all gone or being deleted (not orphaning); drops the
   * references to owners that are gone while others remain.
   */
  private async collect(type: StoredType, obj: KubeObject): Promise<void> {
    const refs = obj.metadata.ownerReferences ?? [];
    const gone: OwnerReference[] = [];
    let going = 0;
    for (const ref of refs) {
      const ownerType = typeOf(ref);
      // An owner vnetd cannot see, or a namespaced owner of a cluster-scoped object (which
      // Kubernetes also calls unresolvable): never collected.
      if (!ownerType || (ownerType.namespaced && !obj.metadata.namespace)) return;
      const owner = this.informers.get(ownerType)!.get(objectKey(ownerType, ownerType.namespaced ? obj.metadata.namespace : undefined, ref.name));
      if (owner?.metadata.uid === ref.uid) {
        // A Foreground owner takes its dependents with it.
        if (owner.metadata.deletionTimestamp !== undefined && hasFinalizer(owner, FOREGROUND_DELETION) && !obj.metadata.deletionTimestamp) return this.remove(type, obj, 'owner deleted in the foreground');
        if (owner.metadata.deletionTimestamp !== undefined && !hasFinalizer(owner, ORPHAN)) going++;
        continue;
      }
      gone.push(ref);
    }
    if (gone.length + going === refs.length && going > 0) {
      if (!obj.metadata.deletionTimestamp) await this.remove(type, obj, 'every owner is gone or being deleted');
      return;
    }
    if (gone.length === 0) return;
    if (gone.length === refs.length) {
      if (!obj.metadata.deletionTimestamp) await this.remove(type, obj, 'every owner is gone');
      return;
    }
    const goneUids = new Set(gone.map((r) => r.uid));
    await this.dropReferences(type, obj, goneUids);
  }

  private async orphan(type: StoredType, owner: KubeObject): Promise<void> {
    const uid = owner.metadata.uid!;
    for (const dep of this.dependentsOf(type, owner)) await this.dropReferences(dep.type, dep.obj, new Set([uid]));
    await this.objects.modify(type, owner.metadata.namespace, owner.metadata.name, (cur) => (cur.metadata.uid === uid ? removeFinalizer(cur, ORPHAN) : undefined));
    this.log.info({ event: 'gc.orphaned', kind: type.plural, namespace: owner.metadata.namespace, name: owner.metadata.name });
  }

  private async foreground(type: StoredType, owner: KubeObject): Promise<{ requeueAfterMs?: number } | void> {
    const uid = owner.metadata.uid!;
    const dependents = this.dependentsOf(type, owner);
    for (const dep of dependents) if (!dep.obj.metadata.deletionTimestamp) await this.remove(dep.type, dep.obj, 'owner deleted in the foreground');
    // Dependents still being deleted (their own finalizers) hold the owner, as in Kubernetes.
    if (dependents.length > 0) return { requeueAfterMs: FOREGROUND_RECHECK_MS };
    await this.objects.modify(type, owner.metadata.namespace, owner.metadata.name, (cur) => (cur.metadata.uid === uid ? removeFinalizer(cur, FOREGROUND_DELETION) : undefined));
  }

  private async remove(type: StoredType, obj: KubeObject, why: string): Promise<void> {
    try {
      await this.objects.delete(type, obj.metadata.namespace, obj.metadata.name, { preconditions: { uid: obj.metadata.uid } });
      this.log.info({ event: 'gc.deleted', kind: type.plural, namespace: obj.metadata.namespace, name: obj.metadata.name, why });
    } catch (err) {
      // Gone already, or replaced by a new object of the same name (not ours to delete).
      if (!(err instanceof KeyNotFoundError) && !(err instanceof UidPreconditionError)) throw err;
    }
  }

  private async dropReferences(type: StoredType, obj: KubeObject, uids: ReadonlySet<string>): Promise<void> {
    await this.objects.modify(type, obj.metadata.namespace, obj.metadata.name, (cur) => {
      if (cur.metadata.uid !== obj.metadata.uid) return undefined;
      const kept = (cur.metadata.ownerReferences ?? []).filter((r) => !uids.has(r.uid));
      if (kept.length === (cur.metadata.ownerReferences ?? []).length) return undefined;
      const { ownerReferences: _old, ...rest } = cur.metadata;
      return { ...cur, metadata: kept.length > 0 ? { ...rest, ownerReferences: kept } : rest };
    });
  }
}

/** The kind an owner reference names, if it is one vnetd serves. */
function typeOf(ref: OwnerReference): StoredType | undefined {
  if (ref.apiVersion.split('/')[0] !== GROUP) return undefined;
  return BY_KIND.get(ref.kind);
}
