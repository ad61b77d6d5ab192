/** Public types of the client: options, the interface, monitor requests, events. */
import type { Json } from '../wire/json';
import type { MonitorSelect, OperationResult } from '../wire/rpc';
import type { DatabaseSchema } from '../schema/schema';
import type { TableCache } from '../cache/table-cache';
import type { AnyCondition } from '../ops/condition';
import type { AnyModel, ColumnName, ModelMap, Operation, OperationBuilder, TableName } from '../ops/operations';
import type { TlsOptions } from '../jsonrpc/transport';
import type { OvsdbLogger } from '../logger';
import type { BackoffOptions } from './backoff';

export interface OvsdbClientOptions {
  /** OVS-style endpoints tried in turn: "unix:/run/db.sock", "tcp:127.0.0.1:6640", "ssl:host:6640". */
  endpoints: string | string[];
  /** Database whose schema, operations and cache the client serves (default Open_vSwitch). */
  database?: string;
  /** pino.Logger or anything with the same debug/info/warn/error(obj, msg) methods. */
  logger?: OvsdbLogger;
  /** Idle time before an echo probe, and the time allowed for its answer (default 5000; 0 disables). */
  inactivityProbeMs?: number;
  /** Largest incoming message accepted; larger ones close the connection (default 64 MiB). */
  maxMessageSize?: number;
  /** Reconnect after a lost connection (default true) with these backoff settings. */
  reconnect?: boolean | BackoffOptions;
  /**
   * For ssl: endpoints: PEM contents of the CA that signed the server's certificate, and
   * of our certificate and key (ovsdb-server's SSL is mutual, so all three are needed).
   * Failures surface as TlsError, whose `reason` says whose certificate was refused.
   * Set checkServerName: false for ovs-pki certificates (no subjectAltName), as OVS's
   * own clients do not check names either. See TlsOptions.
   */
  tls?: TlsOptions;
  /**
   * Clustered databases: only settle on the member that is the RAFT leader for
   * `database` (its _Server.Database row says connected and leader), trying the
   * endpoints in turn; drop the connection and look again when that member loses
   * leadership or leaves the cluster. Writes then never pay a follower's forwarding
   * hop and reads are never stale (like libovsdb's WithLeaderOnly). Non-clustered
   * (standalone, relay) databases are always accepted. Default false.
   */
  leaderOnly?: boolean;
  /** Per-request reply timeout (default none: the probe detects dead peers). */
  requestTimeoutMs?: number;
  /** How long the first exchanges of a connection (get_schema, the leader check) may take before it is dropped and retried (default 10 s). */
  handshakeTimeoutMs?: number;
  /** Per-attempt connect timeout (default 5000). */
  connectTimeoutMs?: number;
}

export type MonitorTableRequest<M extends ModelMap, T extends TableName<M>> = {
  /** Columns to replicate (default all). */
  columns?: Array<ColumnName<M, T>>;
  /** Rows to replicate (default all). Unlike a transaction's where, a row matches if ANY condition holds (ovsdb-server(7) 4.1.12). */
  where?: Array<AnyCondition<ColumnName<M, T> | '_uuid'>>;
  select?: MonitorSelect;
};

export interface MonitorRequest<M extends ModelMap> {
  tables: { [T in TableName<M>]?: MonitorTableRequest<M, T> };
  /**
   * monitor_cond_since (default) resumes from the last transaction id after a
   * reconnect; monitor_cond always resyncs (the cache still emits only real changes).
   */
  method?: 'monitor_cond_since' | 'monitor_cond';
}

export interface MonitorHandle<M extends ModelMap = AnyModel> {
  readonly id: string;
  /** Last transaction id seen (monitor_cond_since only). */
  readonly lastTxnId: string | undefined;
  /** Replaces the conditions of some tables (monitor_cond_change). */
  setConditions(where: { [T in TableName<M>]?: Array<AnyCondition<ColumnName<M, T> | '_uuid'>> }): Promise<void>;
  /** monitor_cancel; the cached rows of its tables stay until the client closes. */
  cancel(): Promise<void>;
}

/** A row of the _Server database's Database table (ovsdb-server(5)). */
export interface ServerDatabase {
  _uuid: string;
  name: string;
  model: string;
  connected: boolean;
  leader: boolean;
  schema: string | null;
  cid: string | null;
  sid: string | null;
  index: number | null;
}

export interface ClientEvents {
  connected: { endpoint: string };
  disconnected: { endpoint: string; error: Error | undefined };
  /** A monitor was (re)established; found=true means it resumed without a full resync. */
  monitorStarted: { id: string; method: string; found: boolean };
  locked: { lock: string };
  stolen: { lock: string };
}

export interface CancellableRequest<T> {
  id: number;
  result: Promise<T>;
  cancel(): void;
}

export interface OvsdbClient<M extends ModelMap = AnyModel> {
  readonly database: string;
  /** Schema of `database`, fetched on connect. */
  readonly schema: DatabaseSchema;
  /** Builds operations for `database`; pure, no I/O. */
  readonly ops: OperationBuilder<M>;
  /** The replica the monitors keep. */
  readonly cache: TableCache<M>;
  readonly connected: boolean;

  /** Connects (trying each endpoint once) and fetches the schema. */
  connect(): Promise<void>;
  /** Closes for good: no reconnect, outstanding requests fail. */
  close(): Promise<void>;
  /** Drops the current connection as if it failed (tests, forced failover). */
  disconnect(): void;

  on<E extends keyof ClientEvents>(event: E, listener: (e: ClientEvents[E]) => void): () => void;

  listDbs(): Promise<string[]>;
  getSchema(database: string): Promise<DatabaseSchema>;
  getServerId(): Promise<string>;
  echo(params?: Json[]): Promise<Json>;
  /** Runs the operations on `database`; throws TransactionError if any failed. */
  transact(...ops: Operation[]): Promise<OperationResult[]>;
  /** Like transact but on any database, cancellable, and returning errors instead of throwing. */
  transactOn(database: string, ops: Operation[]): CancellableRequest<OperationResult[]>;
  monitor(req: MonitorRequest<M>): Promise<MonitorHandle<M>>;
  /** RFC 7047 4.1.8: resolves true if acquired now; otherwise a `locked` event follows later. */
  lock(id: string): Promise<boolean>;
  steal(id: string): Promise<boolean>;
  unlock(id: string): Promise<void>;
  /** Rows of _Server.Database: which databases the server has and their state. */
  serverDatabases(): Promise<ServerDatabase[]>;
}
