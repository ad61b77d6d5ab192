/**
 * The OVSDB client: one logical session over a sequence of transport connections.
 * Each (re)connection runs the same handshake - fetch the schema, become
 * db-change-aware, re-request wanted locks, re-establish monitors (resuming from the
 * last transaction id when the server still has it) - so callers see a cache that
 * stays consistent across failures. Only the factory and the interface are exported.
 */
import { ConnectionClosedError, NotConnectedError, NotLeaderError, OvsdbError, RequestTimeoutError } from '../errors';
import { TableCache } from '../cache/table-cache';
import { JsonRpcConnection } from '../jsonrpc/connection';
import { dial, parseEndpoint } from '../jsonrpc/transport';
import { silentLogger, type OvsdbLogger } from '../logger';
import { OperationBuilder, type AnyModel, type ModelMap, type Operation } from '../ops/operations';
import { parseResults, assertOperationResults } from '../ops/results';
import { rowFromWire } from '../schema/row';
import { parseSchema, tableSchema, type DatabaseSchema } from '../schema/schema';
import { isJsonObject, type Json } from '../wire/json';
import type { OperationResult, TableUpdates2 } from '../wire/rpc';
import { Backoff } from './backoff';
import { TypedEmitter } from './events';
import { MonitorState, type TableMonitorSpec } from './monitor';
import type {
  CancellableRequest,
  ClientEvents,
  MonitorHandle,
  MonitorRequest,
  OvsdbClient,
  OvsdbClientOptions,
  ServerDatabase,
} from './options';
import { startProbe } from './probe';

/** Monitor id of the leaderOnly watch on _Server.Database (not a user monitor). */
const LEADER_WATCH = 'vnetd-leader-watch';

class Client<M extends ModelMap> implements OvsdbClient<M> {
  readonly database: string;
  private readonly endpoints: string[];
  private readonly log: OvsdbLogger;
  private readonly events = new TypedEmitter<ClientEvents>();
  private readonly backoff: Backoff;
  private readonly monitors = new Map<string, MonitorState>();
  private readonly wantedLocks = new Set<string>();
  private conn: JsonRpcConnection | undefined;
  private ready = false;
  private closedByUser = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private stopProbe: (() => void) | undefined;
  private nextEndpoint = 0;
  private nextMonitorId = 1;
  private dbSchema: DatabaseSchema | undefined;
  private serverSchema: DatabaseSchema | undefined;
  private replica: TableCache<M> | undefined;
  private builder: OperationBuilder<M> | undefined;

  constructor(private readonly opts: OvsdbClientOptions) {
    this.endpoints = Array.isArray(opts.endpoints) ? opts.endpoints : [opts.endpoints];
    if (!this.endpoints.length) throw new OvsdbError('no OVSDB endpoints given');
    this.endpoints.forEach(parseEndpoint); // fail fast on typos
    this.database = opts.database ?? 'Open_vSwitch';
    this.log = opts.logger ?? silentLogger;
    this.backoff = new Backoff(typeof opts.reconnect === 'object' ? opts.reconnect : {});
  }

  get schema(): DatabaseSchema {
    if (!this.dbSchema) throw new NotConnectedError('schema not known before the first connect()');
    return this.dbSchema;
  }
  get cache(): TableCache<M> {
    if (!this.replica) throw new NotConnectedError('cache not available before the first connect()');
    return this.replica;
  }
  get ops(): OperationBuilder<M> {
    if (!this.builder) throw new NotConnectedError('operation builder needs the schema: connect() first');
    return this.builder;
  }
  get connected(): boolean {
    return this.ready;
  }

  on<E extends keyof ClientEvents>(event: E, listener: (e: ClientEvents[E]) => void): () => void {
    return this.events.on(event, listener);
  }

  async connect(): Promise<void> {
    this.closedByUser = false;
    await this.connectOnce();
  }

  async close(): Promise<void> {
    this.closedByUser = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.conn?.close(new ConnectionClosedError('client closed'));
  }

  disconnect(): void {
    this.conn?.close(new ConnectionClosedError('disconnect() requested'));
  }

  listDbs(): Promise<string[]> {
    return this.rpc()
      .request('list_dbs', [])
      .then((r) => (Array.isArray(r) ? r.filter((x): x is string => typeof x === 'string') : []));
  }
  async getSchema(database: string): Promise<DatabaseSchema> {
    return parseSchema(await this.rpc().request('get_schema', [database]));
  }
  async getServerId(): Promise<string> {
    const r = await this.rpc().request('get_server_id', []);
    if (typeof r !== 'string') throw new OvsdbError('get_server_id: unexpected reply');
    return r;
  }
  echo(params: Json[] = []): Promise<Json> {
    return this.rpc().request('echo', params);
  }

  async transact(...ops: Operation[]): Promise<OperationResult[]> {
    return assertOperationResults(await this.transactOn(this.database, ops).result, ops);
  }

  transactOn(database: string, ops: Operation[]): CancellableRequest<OperationResult[]> {
    const conn = this.rpc();
    const { id, result } = conn.start('transact', [database, ...(ops as unknown as Json[])]);
    return { id, result: result.then((r) => parseResults(r, ops.length)), cancel: () => conn.cancel(id) };
  }

  async monitor(req: MonitorRequest<M>): Promise<MonitorHandle<M>> {
    const tables = new Map<string, TableMonitorSpec>();
    for (const [t, spec] of Object.entries(req.tables)) {
      if (spec) tables.set(t, { ...(spec as TableMonitorSpec) });
    }
    const m = new MonitorState(`m${this.nextMonitorId++}`, req.method ?? 'monitor_cond_since', tables);
    this.monitors.set(m.id, m);
    try {
      await this.startMonitor(this.rpc(), m);
    } catch (e) {
      this.monitors.delete(m.id);
      throw e;
    }
    return this.handle(m);
  }

  lock(id: string): Promise<boolean> {
    return this.lockRequest('lock', id);
  }
  steal(id: string): Promise<boolean> {
    return this.lockRequest('steal', id);
  }
  async unlock(id: string): Promise<void> {
    this.wantedLocks.delete(id);
    await this.rpc().request('unlock', [id]);
  }

  async serverDatabases(): Promise<ServerDatabase[]> {
    this.serverSchema ??= await this.getSchema('_Server');
    const ts = tableSchema(this.serverSchema, 'Database');
    const [res] = await this.transactOn('_Server', [{ op: 'select', table: 'Database', where: [] }]).result;
    return (res?.rows ?? []).map((w) => {
      const uuid = w._uuid;
      const id = Array.isArray(uuid) && typeof uuid[1] === 'string' ? uuid[1] : '';
      return rowFromWire(ts, id, w as { [c: string]: Json }) as unknown as ServerDatabase;
    });
  }

  // ---- internals ----

  private rpc(): JsonRpcConnection {
    if (!this.conn || this.conn.closed) throw new NotConnectedError(`not connected to ${this.endpoints.join(', ')}`);
    return this.conn;
  }

  private async lockRequest(method: 'lock' | 'steal', id: string): Promise<boolean> {
    this.wantedLocks.add(id);
    const r = await this.rpc().request(method, [id]);
    return isJsonObject(r) && r.locked === true;
  }

  private handle(m: MonitorState): MonitorHandle<M> {
    return {
      id: m.id,
      get lastTxnId() {
        return m.lastTxnId;
      },
      setConditions: async (where) => {
        const wire: { [t: string]: Json } = {};
        for (const [t, conds] of Object.entries(where)) {
          const spec = m.tables.get(t);
          if (!spec || !conds) throw new OvsdbError(`monitor ${m.id} does not cover table ${t}`);
          spec.where = conds as TableMonitorSpec['where'];
        }
        for (const [t, req] of Object.entries(m.wireRequests(this.schema))) {
          if (t in where) wire[t] = [{ where: (req[0]?.where ?? []) as unknown as Json }];
        }
        if (!this.conn) {
          // Resuming by txn id would miss rows that only match the new condition.
          m.lastTxnId = undefined;
          return;
        }
        await this.rpc().request('monitor_cond_change', [m.id, m.id, wire]);
      },
      cancel: async () => {
        m.cancelled = true;
        this.monitors.delete(m.id);
        if (this.conn) await this.rpc().request('monitor_cancel', [m.id]);
      },
    };
  }

  private async startMonitor(conn: JsonRpcConnection, m: MonitorState): Promise<void> {
    const schema = this.schema;
    const cache = this.cache as unknown as TableCache;
    m.prepareCache(cache);
    let found = false;
    await conn.start(m.method, m.params(this.database, schema), (result) => {
      found = m.applyReply(cache, result).found;
    }).result;
    this.log.debug({ monitor: m.id, method: m.method, found }, 'ovsdb monitor started');
    this.events.emit('monitorStarted', { id: m.id, method: m.method, found });
  }

  private async connectOnce(): Promise<void> {
    let lastErr: unknown;
    for (let i = 0; i < this.endpoints.length; i++) {
      const endpoint = this.endpoints[this.nextEndpoint]!;
      this.nextEndpoint = (this.nextEndpoint + 1) % this.endpoints.length;
      try {
        await this.establish(endpoint);
        return;
      } catch (e) {
        lastErr = e;
        this.log.debug({ endpoint, err: e }, 'ovsdb connect failed');
      }
    }
    throw lastErr;
  }

  private async establish(endpoint: string): Promise<void> {
    const stream = await dial(parseEndpoint(endpoint), {
      tls: this.opts.tls,
      timeoutMs: this.opts.connectTimeoutMs ?? 5000,
    });
    const conn = new JsonRpcConnection(stream, {
      maxMessageSize: this.opts.maxMessageSize,
      logger: this.log,
      requestTimeoutMs: this.opts.requestTimeoutMs,
    });
    if (this.closedByUser) {
      conn.close();
      throw new ConnectionClosedError('client closed');
    }
    conn.onNotification((method, params) => this.onNotification(conn, method, params));
    this.conn = conn;
    try {
      // The first exchanges are timed: a TCP endpoint that accepts and never answers (not an
      // OVSDB server, or a hung one) left the client connecting forever.
      const schema = await withinMs(this.opts.handshakeTimeoutMs ?? 10_000, `${endpoint} accepted the connection but did not answer get_schema`, async () => {
        if (this.opts.leaderOnly) await this.watchLeadership(conn, endpoint);
        return parseSchema(await conn.request('get_schema', [this.database]));
      });
      this.adoptSchema(schema);
      // Lets the server tell us when a database is converted or removed (monitor_canceled).
      await conn.request('set_db_change_aware', [true]).catch(() => undefined);
      for (const lock of this.wantedLocks) {
        conn
          .request('lock', [lock])
          .then((r) => isJsonObject(r) && r.locked === true && this.events.emit('locked', { lock }))
          .catch(() => undefined);
      }
      for (const m of this.monitors.values()) await this.startMonitor(conn, m);
    } catch (e) {
      if (this.conn === conn) this.conn = undefined;
      conn.close(e as Error);
      throw e;
    }
    conn.onClose((err) => this.onClose(conn, endpoint, err));
    const probeMs = this.opts.inactivityProbeMs ?? 5000;
    this.stopProbe = probeMs > 0 ? startProbe(conn, probeMs) : undefined;
    this.backoff.reset();
    this.ready = true;
    this.log.info({ endpoint, database: this.database }, 'ovsdb connected');
    this.events.emit('connected', { endpoint });
  }

  /**
   * leaderOnly: monitors our database's _Server.Database row on this connection, and
   * fails (so connectOnce tries the next endpoint) unless this member is the connected
   * leader. Later changes of that row arrive as update2 for LEADER_WATCH (onNotification).
   * One monitor_cond round trip both checks and subscribes, so there is no window in
   * which leadership could move unnoticed between the check and the watch.
   */
  private async watchLeadership(conn: JsonRpcConnection, endpoint: string): Promise<void> {
    const where = [['name', '==', this.database]];
    const columns = ['name', 'model', 'connected', 'leader'];
    const reply = await conn.request('monitor_cond', ['_Server', LEADER_WATCH, { Database: [{ where, columns }] }]);
    const rows = isJsonObject(reply) && isJsonObject(reply.Database) ? Object.values(reply.Database) : [];
    const initial = rows.map((r) => (isJsonObject(r) ? r.initial : undefined)).find(isJsonObject);
    if (!initial) throw new NotLeaderError(`${endpoint} does not serve database ${this.database}`);
    // update2 "initial" omits columns at their default (false, ""), hence the === true.
    if (initial.model === 'clustered' && !(initial.connected === true && initial.leader === true)) {
      throw new NotLeaderError(`${endpoint} is not the cluster leader for ${this.database}`);
    }
  }

  /** leaderOnly: a change of the watched _Server.Database row on the live connection. */
  private onLeadershipUpdate(conn: JsonRpcConnection, updates: Json): void {
    const rows = isJsonObject(updates) && isJsonObject(updates.Database) ? Object.values(updates.Database) : [];
    for (const r of rows) {
      if (!isJsonObject(r)) continue;
      const diff = isJsonObject(r.modify) ? r.modify : undefined;
      // modify carries only changed columns; booleans flip, so a false is a loss.
      const lost = 'delete' in r || diff?.leader === false || diff?.connected === false;
      if (lost) {
        this.log.info({ database: this.database }, 'ovsdb: server lost cluster leadership, looking for the new leader');
        conn.close(new NotLeaderError(`server is no longer the cluster leader for ${this.database}`));
        return;
      }
    }
  }

  private adoptSchema(schema: DatabaseSchema): void {
    if (!this.dbSchema) {
      this.dbSchema = schema;
      this.replica = new TableCache<M>(schema, this.log);
      this.builder = new OperationBuilder<M>(schema);
      return;
    }
    if (schema.version !== this.dbSchema.version || schema.cksum !== this.dbSchema.cksum) {
      // The cache holds rows shaped by the old schema; tables/columns usually only grow
      // across OVS upgrades, so keep going but say so.
      this.log.warn({ old: this.dbSchema.version, new: schema.version }, 'ovsdb schema changed across reconnect');
    }
  }

  private onClose(conn: JsonRpcConnection, endpoint: string, err: Error | undefined): void {
    if (conn !== this.conn) return;
    this.conn = undefined;
    this.ready = false;
    this.stopProbe?.();
    this.stopProbe = undefined;
    // Our own close is routine: no error and its stack in the log at every stop.
    if (this.closedByUser) this.log.debug({ endpoint }, 'ovsdb connection closed');
    // Unasked, it is the node's OVSDB going away (its Node turns NotConnected): a warning.
    else this.log.warn({ event: 'ovsdb.disconnected', endpoint, err: err?.message }, 'ovsdb disconnected');
    this.events.emit('disconnected', { endpoint, error: err });
    if (!this.closedByUser && this.opts.reconnect !== false) this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer || this.closedByUser) return;
    const delay = this.backoff.next();
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.closedByUser) return;
      this.connectOnce().catch((e: unknown) => {
        this.log.debug({ err: e, delay }, 'ovsdb reconnect failed, backing off');
        this.scheduleReconnect();
      });
    }, delay);
  }

  private onNotification(conn: JsonRpcConnection, method: string, params: Json[]): void {
    if (conn !== this.conn) return;
    switch (method) {
      case 'update2':
      case 'update3': {
        if (params[0] === LEADER_WATCH) {
          this.onLeadershipUpdate(conn, params[1] ?? null);
          return;
        }
        const m = typeof params[0] === 'string' ? this.monitors.get(params[0]) : undefined;
        if (!m || m.cancelled) return;
        const updates = method === 'update2' ? params[1] : params[2];
        if (method === 'update3' && typeof params[1] === 'string') m.lastTxnId = params[1];
        if (isJsonObject(updates)) (this.cache as unknown as TableCache).applyUpdates(updates as unknown as TableUpdates2);
        return;
      }
      case 'locked':
      case 'stolen': {
        const lock = params[0];
        if (typeof lock === 'string') this.events.emit(method, { lock });
        return;
      }
      case 'monitor_canceled': {
        // The database was converted or removed under us: start the monitor afresh.
        const m = typeof params[0] === 'string' ? this.monitors.get(params[0]) : undefined;
        if (!m) return;
        m.lastTxnId = undefined;
        this.startMonitor(conn, m).catch((e: unknown) => this.log.error({ err: e, monitor: m.id }, 'ovsdb re-monitor failed'));
        return;
      }
      default:
        this.log.debug({ method }, 'ovsdb: unhandled notification');
    }
  }
}

/** Creates a client; call connect() on it. M is a generated model map (e.g. OpenVSwitchModel). */
export function createOvsdbClient<M extends ModelMap = AnyModel>(options: OvsdbClientOptions): OvsdbClient<M> {
  return new Client<M>(options);
}

/** run(), or a rejection with `what` once ms have passed without it settling. */
async function withinMs<T>(ms: number, what: string, run: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RequestTimeoutError(`${what} within ${ms} ms (is it an OVSDB server?)`)), ms);
  });
  try {
    return await Promise.race([run(), late]);
  } finally {
    clearTimeout(timer);
  }
}
