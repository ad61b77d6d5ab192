/**
 * Admission: what happens to an object between a valid request body and the store.
 * Validation beyond the schema (addresses, references), defaulting, and allocation of
 * addresses/VNIs/MACs. The claims it returns commit in the same transaction as the object.
 */
import type { AllocationRegistry } from '../ipam/allocation-registry';
import type { HypervisorNode, VirtualNetwork } from '../resources/kinds';
import type { KubeObject } from '../resources/object';
import type { StatusCause } from '../resources/status';
import type { ObjectStore } from '../store/object-store';
import type { TxnOp } from '../store/store';

/** Reads one kind's objects (the store itself, or a cache of it: then results are read-only). */
export interface ObjectReader<T extends KubeObject> {
  get(namespace: string | undefined, name: string): Promise<T | undefined>;
}

export interface AdmissionContext {
  objects: ObjectStore;
  allocations: AllocationRegistry;
  /** Where spec.network is looked up (default: the store). */
  networks?: ObjectReader<VirtualNetwork>;
  /** Where a port's spec.node is looked up for its warning (default: the store): a read per pinned port created otherwise. */
  nodes?: ObjectReader<HypervisorNode>;
  /** The request is a dry run: admission writes nothing of its own (subnet-changes.ts). */
  dryRun?: boolean;
}

export interface Admitted<T> {
  object: T;
  /** Store writes that must commit with the object (allocation claims and releases). */
  ops: TxnOp[];
  /**
   * Gives back what admission set aside for this request in memory (addresses it picked),
   * when the object is not stored after all: dry run, name taken, store error. Without it
   * a picked address stays reserved for a while, and a small subnet looks full.
   */
  abandon?(): void | Promise<void>;
  /**
   * The object is stored with its claims: what admission set aside in memory is moot (the
   * store's keys hold the addresses now). Kept, a claim released soon after (the object
   * deleted) left its address looking taken until the reservation ran out.
   */
  committed?(): void;
  /**
   * What the client should know although the write is valid (a reference to an object that
   * does not exist yet): sent as Warning headers, which kubectl and vnetctl print.
   */
  warnings?: string[];
}

export interface KindAdmission<T extends KubeObject = KubeObject> {
  /** Finalizers the object gets on create (removed by its reconciler). */
  readonly finalizers: string[];
  create(obj: T, ctx: AdmissionContext): Promise<Admitted<T>>;
  update(old: T, next: T, ctx: AdmissionContext): Promise<Admitted<T>>;
  /** What the client should know about a delete it asked for (other objects that refer to it), as Warning headers. */
  deleteWarnings?(obj: T, ctx: AdmissionContext): Promise<string[]>;
  /** Ops committed with the write that starts the object's deletion (not with a DELETE of one already being deleted). */
  deletionOps?(namespace: string | undefined, name: string, ctx: AdmissionContext): Promise<TxnOp[]>;
}

/** Thrown by admission with Kubernetes field causes; the API turns it into 422 Invalid. */
export class AdmissionError extends Error {
  constructor(readonly causes: StatusCause[]) {
    super(causes.map((c) => `${c.field}: ${c.message}`).join(', '));
    this.name = 'AdmissionError';
  }
}

/**
 * A cause that is no fault of the request: the network's subnet it claims from is being changed
 * by an update in progress. Alone, the request is answered 409 Conflict (retryable, as a write
 * conflict), not 422 Invalid, which tells clients and controllers not to retry (QA-96).
 */
export const SUBNET_CHANGING = 'SubnetChanging';

/** Thrown when a referenced object (e.g. spec.network) cannot be used. */
export class AdmissionForbiddenError extends Error {}

export function fail(field: string, message: string, reason: StatusCause['reason'] = 'FieldValueInvalid'): never {
  throw new AdmissionError([{ field, message, reason }]);
}

/** ipam messages often start with the offending value, which the cause already shows. */
export function withoutValue(message: string, value: unknown): string {
  const quoted = JSON.stringify(value);
  for (const prefix of [`${quoted}: `, `${quoted} `]) if (message.startsWith(prefix)) return message.slice(prefix.length);
  return message;
}

/** Fields whose value may be defaulted once and never changed (like a Service's clusterIP). */
export function immutable(causes: StatusCause[], field: string, oldValue: unknown, newValue: unknown): void {
  if (newValue !== undefined && JSON.stringify(oldValue) !== JSON.stringify(newValue)) {
    causes.push({ field, reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(newValue)}: field is immutable` });
  }
}

export { DATAPLANE_FINALIZER, IPAM_FINALIZER } from '../resources/finalizers';
