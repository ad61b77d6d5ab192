/**
 * The IPAM reconciler. Addresses, MACs and VNIs are claimed at admission, in the same
 * transaction as the object; this reconciler owns the rest of their life:
 *   - status: what was allocated, and the AddressesAllocated condition (with
 *     observedGeneration; Ready of ports, networks and load balancers is the pipeline
 *     reconciler's);
 *   - release: on deletion it frees the object's claims and drops the vnet.dev/ipam
 *     finalizer in one transaction, so an address is never both free and in use;
 *     a network waits until no port or load balancer uses it;
 *   - repair: a periodic sweep frees claims whose owner is gone (e.g. a finalizer
 *     removed by hand), like the apiserver's IP repair controller.
 */
import type { Logger } from 'pino';
import { IpAllocator } from '../../ipam';
import { AllocationRegistry, ctZoneKey, ifaceKey, interfaceIdOfKey, ipKey, macKey, macPrefix, networkOfClaim, subnetChangeKey, vniKey, type Allocation } from '../../ipam/allocation-registry';
import { ctZone, loadBalancerMac } from '../../pipeline/owners';
import type { LoadBalancer, VirtualNetwork, VirtualPort } from '../../resources/kinds';
import type { Condition, KubeObject } from '../../resources/object';
import { IPAM_FINALIZER } from '../../resources/finalizers';
import { typePrefix, type StoredType } from '../../store/keys';
import { LOAD_BALANCERS, NETWORKS, PORTS } from '../../store/kinds';
import type { ObjectStore } from '../../store/object-store';
import { KeyExistsError, type TxnOp } from '../../store/store';
import { getCondition, setCondition } from '../conditions';
import { ALLOCATED, allocatedAtGeneration, allocationConditions, claimantAllocatedStatus } from './ipam-status';
import { Controller } from '../controller';
import { removeFinalizer, hasFinalizer } from '../finalizers';
import type { Informer } from '../informer';
import { SharedInformers } from '../shared-informers';
import { sameSpecAndLifecycle } from '../predicates';
import { sameValue } from '../../resources/same-value';
import { throttledEnqueue } from '../throttle';
import { parseObjectKey } from './object-keys';

type Claimant = VirtualPort | LoadBalancer;

function claimKeys(type: StoredType, obj: KubeObject): string[] {
  const ns = obj.metadata.namespace!;
  if (type === NETWORKS) {
    const vni = (obj as VirtualNetwork).spec?.vni;
    return vni ? [vniKey(vni), ctZoneKey(ctZone(vni))] : [];
  }
  if (type === PORTS) {
    const s = (obj as VirtualPort).spec!;
    // An empty interface id too: admission took it (and claimed it) before 2026-12-02.
    return [...(s.mac ? [macKey(ns, s.network, s.mac)] : []), ...(s.ips ?? []).map((ip) => ipKey(ns, s.network, ip)), ...(s.interfaceId !== undefined ? [ifaceKey(s.interfaceId)] : [])];
  }
  const lb = obj as LoadBalancer;
  const s = lb.spec!;
  const mac = loadBalancerMac(lb);
  return [...(s.vip ? [ipKey(ns, s.network, s.vip)] : []), ...(mac ? [macKey(ns, s.network, mac)] : [])];
}

export interface IpamReconcilerOptions {
  objects: ObjectStore;
  logger: Logger;
  workers?: number;
  repairIntervalMs?: number;
  /** Port and VIP changes recount their network's status at most once per this period. */
  networkStatusDelayMs?: number;
  /** The process's shared informers (its own when absent). */
  informers?: SharedInformers;
}

export const NETWORK_STATUS_DELAY_MS = 200;

export class IpamReconciler {
  private readonly informers: Informer<KubeObject>[] = [];
  /** Made here when none were given: then stopped here too. */
  private readonly ownInformers?: SharedInformers;
  private readonly unsubscribe: Array<() => void> = [];
  /** The informers' first lists are in: adds from now on are new objects, not a restart's. */
  private synced = false;
  private readonly controllers: Controller[] = [];
  private readonly allocations: AllocationRegistry;
  private repairTimer?: NodeJS.Timeout;
  private readonly log: Logger;
  /** Recounts a network's status soon (throttled): namespace and network name. */
  private recountNetwork: (namespace: string, network: string) => void = () => undefined;

  constructor(private readonly opts: IpamReconcilerOptions) {
    this.allocations = new AllocationRegistry(opts.objects.kv);
    this.log = opts.logger.child({ component: 'ipam-reconciler' });
    const shared = opts.informers ?? (this.ownInformers = new SharedInformers(opts.objects.kv, this.log));
    const portInformer = shared.of<KubeObject>(PORTS);
    const lbInformer = shared.of<KubeObject>(LOAD_BALANCERS);
    const netInformer = shared.of<KubeObject>(NETWORKS);
    this.informers.push(portInformer, lbInformer, netInformer);
    const networkKeyOf = (obj: KubeObject) => [`${typePrefix(NETWORKS)}${obj.metadata.namespace}/${(obj as Claimant).spec?.network}`];
    for (const [type, informer] of [[PORTS, portInformer], [LOAD_BALANCERS, lbInformer], [NETWORKS, netInformer]] as const) {
      const c = new Controller({
        name: `ipam-${type.plural}`,
        workers: opts.workers ?? 2,
        logger: this.log,
        reconcile: (key) => this.reconcile(type, key),
      });
      // What this reconciler reads of an object is its spec, identity and deletion state: the
      // status writes of other reconcilers (Bound, Ready) and its own would only queue
      // reconciles that find nothing to do (and, for a network, another O(N) recount).
      // A port or load balancer created through the API got its allocation status at
      // admission, with its claims in the same write: reconciling that add would only
      // confirm it (three reads). An add seen before start() has synced (the first list: a
      // restart; or a shared informer's replay of what it holds) is checked.
      const ignoreAdd = type === NETWORKS ? undefined : (o: KubeObject) => this.synced && !o.metadata.deletionTimestamp && allocatedAtGeneration(o as Claimant);
      // A status that lost its allocation condition (written over through /status) is rebuilt,
      // and so is one whose addresses another writer changed: a network's VNI, a port's MAC and
      // IPs, a load balancer's VIP (vnetctl shows them; QA: a VIP written over stood until a restart).
      const ignoreUpdate = (o: KubeObject, n: KubeObject) => sameSpecAndLifecycle(o, n) && getCondition((n as Claimant).status?.conditions, ALLOCATED) !== undefined && statusSaysSpec(type, n);
      this.unsubscribe.push(c.watch(informer, undefined, { ignoreUpdate, ignoreAdd }));
      // An object gone with its claims still held: its finalizers were removed by hand (the
      // usual mend of an object stuck Terminating), so vnet.dev/ipam never released them. Its
      // addresses were refused to everyone, naming an object that no longer exists, until the
      // next repair sweep, up to 5 minutes later (QA-96).
      this.unsubscribe.push(informer.addEventHandler({ onDelete: (o) => void this.releaseOrphaned(type, o) }));
      this.controllers.push(c);
    }
    // Network status counts its ports and VIPs, and its deletion waits for them. A recount
    // reads all of the network's addresses, so port and VIP events recount a network at
    // most once per delay (the first at once, the rest of a burst together at the end of
    // the window): N creates cost a few recounts, not N (O(N^2) rows read).
    const netController = this.controllers[2]!;
    const delay = opts.networkStatusDelayMs ?? NETWORK_STATUS_DELAY_MS;
    const throttled = throttledEnqueue(netController.queue, delay);
    this.recountNetwork = (namespace, network) => throttled(`${typePrefix(NETWORKS)}${namespace}/${network}`);
    for (const informer of [portInformer, lbInformer]) {
      const schedule = (obj: KubeObject) => {
        for (const k of networkKeyOf(obj)) throttled(k);
      };
      // Status writes (binding, Ready) change no address: only spec, finalizers and deletion count.
      this.unsubscribe.push(
        informer.addEventHandler({
          onAdd: schedule,
          onUpdate: (o, n) => {
            if (sameSpecAndLifecycle(o, n)) return;
            schedule(o);
            schedule(n);
          },
          onDelete: schedule,
        }),
      );
    }
  }

  async start(): Promise<void> {
    for (const i of this.informers) i.start();
    await Promise.all(this.informers.map((i) => i.waitForSync()));
    this.synced = true;
    for (const c of this.controllers) c.start();
    await this.repair().catch((err: unknown) => this.log.error({ err }, 'ipam repair failed'));
    const every = this.opts.repairIntervalMs ?? 5 * 60_000;
    const tick = () => {
      void this.repair()
        .catch((err: unknown) => this.log.error({ err }, 'ipam repair failed'))
        .finally(() => {
          if (this.repairTimer) this.repairTimer = setTimeout(tick, every).unref();
        });
    };
    this.repairTimer = setTimeout(tick, every).unref();
  }

  async stop(): Promise<void> {
    clearTimeout(this.repairTimer);
    this.repairTimer = undefined;
    for (const u of this.unsubscribe.splice(0)) u();
    this.ownInformers?.stop();
    await Promise.all(this.controllers.map((c) => c.stop()));
  }

  private async reconcile(type: StoredType, key: string): Promise<void> {
    const id = parseObjectKey(type, key);
    if (!id) return;
    const obj = await this.opts.objects.get<KubeObject>(type, id.namespace, id.name);
    if (!obj) return;
    if (obj.metadata.deletionTimestamp) return this.finalize(type, obj);
    if (type === NETWORKS) return this.networkStatus(obj as VirtualNetwork);
    return this.claimantStatus(type, obj as Claimant);
  }

  /** Says, in Ready, what the object's deletion waits for before its claims are released. */
  private async terminating(type: StoredType, obj: KubeObject, message: string): Promise<void> {
    // Said already, for this generation: spares the write's read.
    const ready = getCondition((obj.status as { conditions?: Condition[] } | undefined)?.conditions, 'Ready');
    if (ready?.message === message && ready.observedGeneration === obj.metadata.generation) return;
    await this.writeStatus(type, obj, (o) => {
      // Ready decided for this generation (the deletion's): the status as a whole describes it too.
      o.status = { ...(o.status as object), observedGeneration: o.metadata.generation, conditions: setCondition((o.status as { conditions?: Condition[] })?.conditions, { type: 'Ready', status: 'False', reason: 'Terminating', message, observedGeneration: o.metadata.generation }) };
    });
  }

  /** Releases the object's claims and removes our finalizer, atomically. */
  private async finalize(type: StoredType, obj: KubeObject): Promise<void> {
    if (!hasFinalizer(obj, IPAM_FINALIZER)) return;
    const ns = obj.metadata.namespace!;
    if (type === NETWORKS) {
      const users = await this.usersOf(ns, obj.metadata.name);
      // Named (a few), so that whoever waits for the deletion knows what to delete (QA: a count).
      const named = users.length > 5 ? `${users.slice(0, 5).join(', ')} and ${users.length - 5} more` : users.join(', ');
      if (users.length > 0) return this.terminating(type, obj, `waiting for ${users.length} port(s)/load balancer(s) on this network to be deleted: ${named}`);
    }
    // Released last: while another finalizer holds the object it still shows its addresses,
    // so none may go to a new object meanwhile (the owner of that finalizer may still be
    // using them). Deleting that finalizer's holder re-queues this key.
    const others = (obj.metadata.finalizers ?? []).filter((f) => f !== IPAM_FINALIZER);
    if (others.length > 0) return this.terminating(type, obj, `waiting for finalizers ${others.join(', ')} before releasing its addresses`);
    const releases: TxnOp[] = [];
    for (const k of claimKeys(type, obj)) {
      const kv = await this.opts.objects.kv.get<Allocation>(k);
      if (kv && kv.value.owner.uid === obj.metadata.uid) releases.push({ type: 'delete', key: k, expectedModRevision: kv.modRevision });
    }
    // A network's last subnet-change announcement goes with it (a network of that name later starts afresh).
    if (type === NETWORKS) {
      const announced = await this.opts.objects.kv.get(subnetChangeKey(ns, obj.metadata.name));
      if (announced) releases.push({ type: 'delete', key: announced.key, expectedModRevision: announced.modRevision });
    }
    await this.opts.objects.modify(type, ns, obj.metadata.name, (cur) => (cur.metadata.uid === obj.metadata.uid ? removeFinalizer(cur, IPAM_FINALIZER) : undefined), {
      extraOps: () => releases,
    });
    this.log.info({ event: 'ipam.released', kind: type.plural, namespace: ns, name: obj.metadata.name, released: releases.length });
  }

  /** The ports and load balancers on a network ("port/a", "loadbalancer/b"). */
  private async usersOf(ns: string, network: string): Promise<string[]> {
    const out: string[] = [];
    for (const [t, kind] of [[PORTS, 'port'], [LOAD_BALANCERS, 'loadbalancer']] as const) {
      const list = await this.opts.objects.list<Claimant>(t, ns);
      for (const o of list.items) if (o.spec?.network === network) out.push(`${kind}/${o.metadata.name}`);
    }
    return out;
  }

  private async claimantStatus(type: StoredType, obj: Claimant): Promise<void> {
    // Every claim must be held by this very object; anything else is a conflict to report.
    const missing: string[] = [];
    for (const k of claimKeys(type, obj)) {
      const a = await this.allocations.get(k);
      const interfaceId = interfaceIdOfKey(k);
      // A port created before interface ids were claimed holds none, nor a load balancer
      // created before VIP MACs were: it claims it now if it is free.
      const late = interfaceId !== undefined || (type === LOAD_BALANCERS && k.startsWith(macPrefix(obj.metadata.namespace!, obj.spec!.network)));
      if (!a && late && (await this.claimLate(k, obj))) continue;
      if (!a || a.owner.uid !== obj.metadata.uid) missing.push(interfaceId !== undefined ? `interfaceId ${interfaceId}` : k.split('/').pop()!);
    }
    await this.writeStatus(type, obj, (o) => {
      const c = o as Claimant;
      c.status = claimantAllocatedStatus(type === PORTS ? 'VirtualPort' : 'LoadBalancer', c, missing);
    });
  }

  /** Creates a claim the object should hold and does not; false if another took the key first. */
  private async claimLate(key: string, obj: Claimant): Promise<boolean> {
    const owner = { kind: obj.kind, namespace: obj.metadata.namespace, name: obj.metadata.name, uid: obj.metadata.uid! };
    try {
      await this.opts.objects.kv.txn([AllocationRegistry.claim(key, owner)]);
      this.log.info({ event: 'ipam.claimed_late', key, owner }, 'claimed what an object stored before this claim existed holds');
      return true;
    } catch (err) {
      if (err instanceof KeyExistsError) return false;
      throw err;
    }
  }

  private async networkStatus(net: VirtualNetwork): Promise<void> {
    const ns = net.metadata.namespace!;
    const specSubnets = net.spec?.subnets ?? [];
    // Every address claimed in a network lies in one of its subnets (admission checks): with
    // one subnet and no excluded ranges, a count of its keys is the figure, without reading
    // thousands of claims. allocated counts every address held in the subnet, those asked for
    // in an excluded range too (QA-127 F8: left out, 6 of 7 held were "allocated"); free is
    // what picks still have, so only the pickable ones come off it.
    const only = specSubnets.length === 1 && !specSubnets[0]!.excludeRanges?.length ? await this.allocations.countIps(ns, net.metadata.name) : undefined;
    const ips = only === undefined ? await this.allocations.ips(ns, net.metadata.name) : undefined;
    const vniHolder = net.spec?.vni ? await this.allocations.get(vniKey(net.spec.vni)) : undefined;
    const ok = !!vniHolder && vniHolder.owner.uid === net.metadata.uid;
    const subnets = specSubnets.map((s) => {
      const a = new IpAllocator(s);
      const held = only === undefined ? [...ips!.keys()].filter((ip) => a.holds(ip)) : undefined;
      const allocated = only ?? held!.length;
      const pickable = only ?? held!.filter((ip) => a.check(ip) === undefined).length;
      return { cidr: a.cidr, allocated, free: String(a.capacity - BigInt(pickable)) };
    });
    await this.writeStatus(NETWORKS, net, (o) => {
      const n = o as VirtualNetwork;
      n.status = {
        ...(n.status ?? {}),
        vni: n.spec?.vni,
        subnets,
        conditions: allocationConditions(n, ok, ok ? 'Allocated' : 'VNIConflict', ok ? `VNI ${n.spec?.vni} allocated` : `VNI ${n.spec?.vni} is not held by this network`),
      };
    });
  }

  private async writeStatus(type: StoredType, obj: KubeObject, mutate: (o: KubeObject) => void): Promise<void> {
    await this.opts.objects.modify(
      type,
      obj.metadata.namespace,
      obj.metadata.name,
      (cur) => {
        if (cur.metadata.uid !== obj.metadata.uid) return undefined;
        const next = structuredClone(cur);
        mutate(next);
        return JSON.stringify(next.status) === JSON.stringify(cur.status) ? undefined : next;
      },
      { subresource: 'status' },
    );
  }

  /** Frees the claims a deleted object still holds (none after a normal deletion: finalize released them). */
  private async releaseOrphaned(type: StoredType, obj: KubeObject): Promise<void> {
    try {
      const stale: Array<{ key: string; modRevision: number }> = [];
      for (const k of claimKeys(type, obj)) {
        const kv = await this.opts.objects.kv.get<Allocation>(k);
        if (kv && kv.value.owner.uid === obj.metadata.uid) stale.push(kv);
      }
      // A network's subnet-change announcement goes with it, unless a network of that name is back.
      if (type === NETWORKS && stale.length > 0 && !(await this.opts.objects.get(type, obj.metadata.namespace, obj.metadata.name))) {
        const announced = await this.opts.objects.kv.get(subnetChangeKey(obj.metadata.namespace!, obj.metadata.name));
        if (announced) stale.push(announced);
      }
      for (const kv of stale) {
        // Refused: claimed again, or gone, meanwhile; nothing of this object's to free.
        const freed = await this.opts.objects.kv.txn([{ type: 'delete', key: kv.key, expectedModRevision: kv.modRevision }]).then(
          () => true,
          () => false,
        );
        if (freed) this.log.warn({ event: 'ipam.released_orphaned', kind: type.plural, namespace: obj.metadata.namespace, name: obj.metadata.name, key: kv.key }, 'freed a claim of an object deleted without its vnet.dev/ipam finalizer');
        if (freed) this.recountFreed(kv.key);
      }
    } catch (err) {
      this.log.warn({ err, kind: type.plural, name: obj.metadata.name }, 'releasing a deleted object\'s claims failed; the repair sweep will');
    }
  }

  /**
   * The network of a freed address claim counts one less: recounted, as the delete event's
   * own recount ran before the claim was freed (QA-107: status said an address was still
   * allocated after its load balancer's finalizers were removed by hand).
   */
  private recountFreed(key: string): void {
    const at = networkOfClaim(key);
    if (at) this.recountNetwork(at.namespace, at.network);
  }

  /** Frees claims whose owner no longer exists (or is a different object of the same name). */
  async repair(): Promise<number> {
    let freed = 0;
    const types: Record<string, StoredType> = { VirtualNetwork: NETWORKS, VirtualPort: PORTS, LoadBalancer: LOAD_BALANCERS };
    // An owner holds several claims (a port: its MAC and each address): read each owner once.
    const uids = new Map<string, Promise<string | undefined>>();
    for (const kv of await this.allocations.all()) {
      const owner = kv.value.owner;
      const type = types[owner.kind];
      if (!type) continue;
      const id = `${owner.kind}/${owner.namespace ?? ''}/${owner.name}`;
      let uid = uids.get(id);
      if (!uid) uids.set(id, (uid = this.opts.objects.get(type, owner.namespace, owner.name).then((o) => o?.metadata.uid)));
      if ((await uid) === owner.uid) continue;
      try {
        await this.opts.objects.kv.txn([{ type: 'delete', key: kv.key, expectedModRevision: kv.modRevision }]);
        freed++;
        this.recountFreed(kv.key);
        this.log.warn({ event: 'ipam.repaired', key: kv.key, owner }, 'freed an allocation whose owner is gone');
      } catch {
        /* re-claimed or already gone meanwhile: nothing to repair */
      }
    }
    return freed;
  }
}

/** The addresses status shows are the spec's (what the IPAM reconciler writes there). */
function statusSaysSpec(type: StoredType, o: KubeObject): boolean {
  if (type === NETWORKS) return (o as VirtualNetwork).status?.vni === (o as VirtualNetwork).spec?.vni;
  if (type === LOAD_BALANCERS) return (o as LoadBalancer).status?.vip === (o as LoadBalancer).spec?.vip;
  const p = o as VirtualPort;
  return p.status?.mac === p.spec?.mac && sameValue(p.status?.ips, p.spec?.ips);
}
