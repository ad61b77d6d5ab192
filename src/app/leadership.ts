/**
 * Who reconciles, in the terms the rest of vnetd needs (the API's leader header, the
 * start-up): the etcd election itself lives in leader-election.ts, loaded only when the
 * store is etcd (its client library is a fifth of start-up).
 */
import { hostname } from 'node:os';

/** What the API and logs ask: is this process the one reconciling? */
export interface Leadership {
  readonly isLeader: boolean;
  /** This process's candidate value (host/pid/url). */
  readonly identity: string;
  /** How often this process became leader or lost it (vnetd_leader_transitions_total: a flapping leadership). */
  readonly transitionCount?: number;
}

export interface LeaderCallbacks {
  /**
   * Start the leader-only work; a rejection resigns and campaigns again. fenceKey is this
   * leader's election key: writes that require it to exist (EtcdStore.fenced) are refused
   * once the lease is lost, even if this process has not noticed yet.
   */
  onElected(fenceKey: string): Promise<void>;
  /** Stop it (idempotent). */
  onDeposed(): Promise<void>;
}

export function candidateIdentity(url: string): string {
  return `${hostname()}/${process.pid}/${url}`;
}

/** The SQLite controller (and all-in-one): always the leader, from the start. */
export class SoleLeader implements Leadership {
  readonly isLeader = true;
  constructor(readonly identity: string) {}
}
