/**
 * Events from condition transitions: when a network, port, load balancer or node goes wrong,
 * a Warning saying why (the condition's reason and message); when it recovers, a Normal
 * event. The conditions say how an object is now; these say what happened to it, and when,
 * which is what `kubectl describe` and `kubectl get events` show an operator after the fact.
 *
 * Only transitions someone should hear of: the steps every object passes through on its
 * way to Ready (Realizing, Pending, a port waiting for its VM) record nothing, so a healthy
 * cluster records no events at all, and a recovery is recorded only after a warning.
 */
import type { Logger } from 'pino';
import { ACTIVATED, ALSO_ON_OTHER_NODE } from '../../chassis/binding';
import type { EventType } from '../../resources/event';
import type { Condition, KubeObject } from '../../resources/object';
import { LOAD_BALANCERS, NETWORKS, NODES, PORTS } from '../../store/kinds';
import type { SharedInformers } from '../shared-informers';
import type { EventRecorder } from './event-recorder';

/** False for a while on the way to True, or while an object is made or deleted: not news. */
const ON_THE_WAY = new Set([
  'Realizing',
  'Allocating',
  'Pending',
  'Probing',
  'Connecting',
  'Applying',
  'NotBound',
  'InterfacePending',
  'InterfaceNotFound',
  'NetworkNotReady',
  'Terminating',
  'NetworkTerminating',
  // A Node's Ready while its switch is not connected: its Connected condition says why (Connecting, or Disconnected and ConnectFailed, which warn).
  'NotConnected',
]);
/** True, and yet something is wrong (a load balancer that lost some of its backends; a port's NIC also plugged on another node). */
const DEGRADED = new Set(['SomeBackendsUnavailable', 'SomeBackendsCutOff', ALSO_ON_OTHER_NODE]);

/**
 * Well, and news all the same: a port's binding moved to the NIC its VM announced itself on
 * (a live migration, binding.ts ACTIVATED), recorded once as a Normal event, as OVN logs a
 * port claimed by RARP: where the VM runs now, and since when.
 */
const NEWS = new Set([ACTIVATED]);

export interface ConditionEvent {
  type: EventType;
  reason: string;
  message: string;
}

const READY = 'Ready';

/** Conditions whose True is the trouble, as a Kubernetes Node's MemoryPressure: False is well. */
const TRUE_IS_TROUBLE = new Set(['ConntrackPressure']);
/** The status a condition has when all is well. */
const wellWhen = (c: Condition): Condition['status'] => (TRUE_IS_TROUBLE.has(c.type) ? 'False' : 'True');

/**
 * Unknown, and yet news: a Node whose agent stopped reporting (Kubernetes records NodeNotReady
 * when a kubelet goes silent; QA-135 F7: its ports warned, the Node itself recorded nothing,
 * twice, nor its recovery). Other Unknowns are not knowing yet.
 */
const UNKNOWN_WARNS = new Set(['AgentNotReporting']);

const warns = (c: Condition): boolean =>
  (TRUE_IS_TROUBLE.has(c.type) ? c.status === 'True' : c.status === 'False' && !ON_THE_WAY.has(c.reason)) || DEGRADED.has(c.reason) || (c.status === 'Unknown' && UNKNOWN_WARNS.has(c.reason));

interface WithConditions {
  status?: { conditions?: Condition[] };
}

const conditionsOf = (o: KubeObject): Condition[] => {
  const c = (o as WithConditions).status?.conditions;
  return Array.isArray(c) ? c : [];
};

/**
 * The events an update of an object records: a Warning per condition that has just gone
 * wrong (its status or reason changed to one that warns) or that warns and says something
 * else (same reason, another message: a second backend failing beside a drained one, QA-128
 * F4), a Normal one per condition that warned and is well again. The message is compared as
 * it is: no condition that warns puts a clock or a running count in it (a "since" is the time
 * it went wrong, set once), so it changes only when what it says does; the recorder counts a
 * repeat of a reason into its event, with the latest message, as kube's event aggregation does. Ready repeats the reason of the condition that holds it back, so
 * a Ready warning with the reason another condition of the object warns with is left out,
 * and so is Ready's recovery from such a reason.
 */
export function conditionEvents(before: KubeObject, after: KubeObject): ConditionEvent[] {
  if (after.metadata.deletionTimestamp) return [];
  const old = new Map(conditionsOf(before).map((c) => [c.type, c]));
  const out: Array<ConditionEvent & { condition: string }> = [];
  for (const c of conditionsOf(after)) {
    const was = old.get(c.type);
    if (was && was.status === c.status && was.reason === c.reason && was.message === c.message) continue;
    const message = `${c.type}: ${c.message}`;
    if (warns(c)) out.push({ type: 'Warning', reason: c.reason, message, condition: c.type });
    else if (was && warns(was) && c.status === wellWhen(c)) out.push({ type: 'Normal', reason: c.reason, message, condition: c.type });
    else if (NEWS.has(c.reason) && c.status === wellWhen(c) && was?.reason !== c.reason) out.push({ type: 'Normal', reason: c.reason, message, condition: c.type });
  }
  // Its other conditions as they are now: Ready often takes their reason an update later.
  // Likewise Ready's recovery from a reason another condition warned with (one incident, one
  // Warning and one Normal: that condition's).
  const othersWarning = (o: KubeObject) => new Set(conditionsOf(o).filter((c) => c.type !== READY && warns(c)).map((c) => c.reason));
  const warningNow = othersWarning(after);
  const warnedBefore = othersWarning(before);
  const readyBefore = old.get(READY)?.reason;
  return out
    .filter((e) => !(e.condition === READY && (e.type === 'Warning' ? warningNow.has(e.reason) : readyBefore !== undefined && warnedBefore.has(readyBefore))))
    .map(({ type, reason, message }) => ({ type, reason, message }));
}

/** Records conditionEvents for every update of the kinds that have conditions. */
export class ConditionEvents {
  private readonly unsubscribe: Array<() => void> = [];
  private readonly informers;

  constructor(
    private readonly recorder: EventRecorder,
    shared: SharedInformers,
    private readonly log: Logger,
  ) {
    this.informers = [NETWORKS, PORTS, LOAD_BALANCERS, NODES].map((t) => shared.of<KubeObject>(t));
  }

  async start(): Promise<void> {
    for (const informer of this.informers) {
      this.unsubscribe.push(informer.addEventHandler({ onUpdate: (before, after) => this.updated(before, after) }));
      informer.start();
    }
    await Promise.all(this.informers.map((i) => i.waitForSync()));
  }

  stop(): void {
    for (const u of this.unsubscribe.splice(0)) u();
  }

  private updated(before: KubeObject, after: KubeObject): void {
    for (const e of conditionEvents(before, after)) {
      this.log.debug({ event: 'events.condition', object: `${after.kind}/${after.metadata.namespace ?? ''}/${after.metadata.name}`, type: e.type, reason: e.reason });
      this.recorder.record(after, e.type, e.reason, e.message);
    }
  }
}
