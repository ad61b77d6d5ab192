/**
 * Embedded Store on one SQLite file, kine-style MVCC:
 *
 * - `log` keeps history: one row per key written by a transaction (rev, seq = op index),
 *   deletions are tombstone rows carrying the last value. A snapshot at revision R is the
 *   latest row per key with rev <= R that is not a tombstone.
 * - `current` mirrors the latest live row per key so that get/list/count at the latest
 *   revision never scan history.
 * - `meta` holds the global revision and the compacted revision.
 *
 * Group commit: txn() queues its ops; at the end of the event-loop turn (setImmediate) every
 * queued txn is applied in arrival order, each at its own revision, inside one SQLite
 * transaction, and that one commit (one fsync) acknowledges them all. A txn whose
 * preconditions fail writes nothing (all are checked before its first write) and rejects
 * alone. Nothing changes for a caller: each txn still gets its own revision, results, errors
 * and watch events, in order.
 * A burst of concurrent writes (API requests, reconcilers' status writes) pays one commit.
 *
 * better-sqlite3 is synchronous: the revision advances at the commit, before any other
 * JavaScript runs, which is what makes watch replay -> live hand-over exact.
 *
 * Durability without blocking the event loop: a file store runs WAL with synchronous=NORMAL
 * (SQLite writes the commit to the WAL file but does not fsync it) and fsyncs the WAL file
 * itself on libuv's thread pool; a batch's events are published and its txns resolved only
 * when an fsync that started after its commit has returned. So a resolved txn() survives
 * kill -9 and, as far as the disk honours fsync, power loss, as with synchronous=FULL, while
 * the event loop goes on serving (and committing the next batch) during the fsync: on a
 * real disk that wait was most of a write's cost. Batches settle in commit order; one fsync
 * covers every batch committed before it started. The difference from FULL: a get/list
 * issued during that fsync already sees the batch (as an etcd read never would), though no
 * watcher and no writer has been told. Without a WAL file (':memory:', or a filesystem
 * without WAL support) commits are synchronous=FULL and settle at once.
 */
import { closeSync, existsSync, fsync, openSync } from 'node:fs';
import Database from 'better-sqlite3';
import pino from 'pino';
import {
  ConflictError,
  GoneError,
  KeyExistsError,
  KeyNotFoundError,
  StoreClosedError,
  StoreError,
  type KeyValue,
  type ListOptions,
  type ListResult,
  type Store,
  type TxnOp,
  type TxnResult,
  type Watch,
  type WatchEvent,
  type WatchHandler,
  type WatchOptions,
} from './store';
import { RecentRows } from './recent-rows';
import { RecentBatches } from './recent-batches';
import { Watcher, WatchHub } from './watch-hub';

export interface SqliteStoreOptions {
  logger?: pino.Logger;
  /**
   * How long open() waits for another process to let go of the file (e.g. a previous
   * instance still shutting down). Default 5000 ms.
   */
  busyTimeoutMs?: number;
  /** How the WAL file is flushed to disk (node:fs fsync); tests slow it down or fail it. */
  fsync?: (fd: number, callback: (err: NodeJS.ErrnoException | null) => void) => void;
}

const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (
  name  TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT OR IGNORE INTO meta (name, value) VALUES ('revision', 0), ('compacted', 0);

CREATE TABLE IF NOT EXISTS log (
  rev        INTEGER NOT NULL,
  seq        INTEGER NOT NULL,
  key        TEXT    NOT NULL,
  value      TEXT    NOT NULL,
  deleted    INTEGER NOT NULL,
  create_rev INTEGER NOT NULL,
  prev_rev   INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS log_rev ON log (rev, seq);
CREATE UNIQUE INDEX IF NOT EXISTS log_key_rev ON log (key, rev);

CREATE TABLE IF NOT EXISTS current (
  key        TEXT PRIMARY KEY,
  value      TEXT    NOT NULL,
  create_rev INTEGER NOT NULL,
  mod_rev    INTEGER NOT NULL
);
`;

interface CurrentRow {
  key: string;
  value: string;
  create_rev: number;
  mod_rev: number;
}

interface LogRow {
  rev: number;
  key: string;
  value: string;
  deleted: number;
  create_rev: number;
  prev_rev: number;
  prev_value: string | null;
}

/** Bounds of a key range in SQL; `hi` absent means unbounded. */
interface Range {
  lo: string;
  loStrict: boolean;
  hi?: string;
}

type RangeParams = { lo: string; hi?: string };

/**
 * The smallest string greater than every string starting with prefix, in UTF-8 byte order
 * (which is code point order, and SQLite's BINARY collation). Undefined when unbounded.
 * Exact: a key k satisfies prefix <= k < prefixEnd(prefix) iff k starts with prefix.
 */
export function prefixEnd(prefix: string): string | undefined {
  const cps = Array.from(prefix);
  while (cps.length > 0) {
    const last = cps.pop()!.codePointAt(0)!;
    if (last < 0x10ffff) {
      // Surrogate code points do not exist in UTF-8: skip over them.
      const next = last + 1 === 0xd800 ? 0xe000 : last + 1;
      return cps.join('') + String.fromCodePoint(next);
    }
  }
  return undefined;
}

function byteCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function keyRange(prefix: string, startAfter?: string): Range {
  const hi = prefixEnd(prefix);
  if (startAfter !== undefined && byteCompare(startAfter, prefix) >= 0) {
    return { lo: startAfter, loStrict: true, hi };
  }
  return { lo: prefix, loStrict: false, hi };
}

function rangeSql(column: string, range: Range): string {
  const lower = `${column} ${range.loStrict ? '>' : '>='} @lo`;
  return range.hi === undefined ? lower : `${lower} AND ${column} < @hi`;
}

function rangeParams(range: Range): RangeParams {
  return range.hi === undefined ? { lo: range.lo } : { lo: range.lo, hi: range.hi };
}

function serialize(key: string, value: unknown): string {
  const json = JSON.stringify(value);
  if (json === undefined) throw new StoreError(`value of ${key} is not JSON-serialisable`);
  return json;
}

function checkRevision(what: string, revision: number): void {
  if (!Number.isSafeInteger(revision) || revision < 0) {
    throw new StoreError(`${what} must be a non-negative integer, got ${revision}`);
  }
}

type Planned =
  | { type: 'create'; key: string; json: string }
  | { type: 'update'; key: string; json: string; cur: CurrentRow }
  | { type: 'delete'; key: string; cur: CurrentRow }
  | { type: 'check'; key: string; cur: CurrentRow | undefined };

const writes = (planned: Planned[]): Exclude<Planned, { type: 'check' }>[] => planned.filter((p): p is Exclude<Planned, { type: 'check' }> => p.type !== 'check');

function prepareStatements(db: Database.Database) {
  return {
    getMeta: db.prepare<[string], number>('SELECT value FROM meta WHERE name = ?').pluck(),
    setMeta: db.prepare<[number, string]>('UPDATE meta SET value = ? WHERE name = ?'),
    getCurrent: db.prepare<[string], CurrentRow>('SELECT key, value, create_rev, mod_rev FROM current WHERE key = ?'),
    insertCurrent: db.prepare<[string, string, number, number]>(
      'INSERT INTO current (key, value, create_rev, mod_rev) VALUES (?, ?, ?, ?)',
    ),
    updateCurrent: db.prepare<[string, number, string]>('UPDATE current SET value = ?, mod_rev = ? WHERE key = ?'),
    deleteCurrent: db.prepare<[string]>('DELETE FROM current WHERE key = ?'),
    insertLog: db.prepare<[number, number, string, string, number, number, number]>(
      'INSERT INTO log (rev, seq, key, value, deleted, create_rev, prev_rev) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    // A row is superseded when the same key has a newer row at or below the target;
    // the latest row of each key at the target stays, so a snapshot at it is intact.
    compactSuperseded: db.prepare<[{ r: number }]>(
      `DELETE FROM log WHERE rev <= @r AND EXISTS
         (SELECT 1 FROM log AS n WHERE n.key = log.key AND n.rev > log.rev AND n.rev <= @r)`,
    ),
    compactTombstones: db.prepare<[{ r: number }]>('DELETE FROM log WHERE rev <= @r AND deleted = 1'),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

/** A txn() waiting for the next group commit. */
interface QueuedTxn {
  ops: TxnOp[];
  /** Values serialised when txn() was called: a caller mutating its object later changes nothing. */
  json: (string | undefined)[];
  resolve: (result: TxnResult<unknown>) => void;
  reject: (err: unknown) => void;
}

type Outcome = { ok: true; revision: number; planned: Planned[] } | { ok: false; error: unknown };

/** Counters of point reads (get), for tests. */
export interface ReadStats {
  /** Answered from the rows this process wrote last. */
  recent: number;
  /** Answered by a query. */
  queried: number;
}

/** Counters of the group commit, for tests and metrics. */
export interface CommitStats {
  /** Transactions acknowledged (each has its own revision). */
  txns: number;
  /** SQLite commits that carried them. */
  commits: number;
}

export class SqliteStore implements Store {
  private readonly hub = new WatchHub();
  /** Batches published lately, replayed to watches that start a little behind (see RecentBatches). */
  private readonly published: RecentBatches;
  private closed = false;
  private revision: number;
  private compacted: number;
  private readonly rangeStatements = new Map<string, Database.Statement<[RangeParams & Record<string, unknown>], unknown>>();
  private queued: QueuedTxn[] = [];
  private flushScheduled = false;
  private readonly counters: CommitStats = { txns: 0, commits: 0 };
  /** Rows of the keys written last (see RecentRows): get() answers from them without a query. */
  private readonly recent = new RecentRows();
  private readonly reads: ReadStats = { recent: 0, queried: 0 };
  /** One SQLite transaction around a batch. */
  private readonly commitBatch: (batch: QueuedTxn[], base: number) => Outcome[];

  private readonly stmt: Statements;
  /** Batches committed but not yet on disk, oldest first: each settles after an fsync that started after it. */
  private unsynced: Array<(err: Error | null) => void> = [];
  private syncing = false;
  private whenSynced: Array<() => void> = [];

  private constructor(
    private readonly db: Database.Database,
    private readonly logger: pino.Logger,
    /** The WAL file, fsynced off the event loop after commits; undefined: commits sync themselves (FULL). */
    private readonly walFd: number | undefined,
    private readonly fsyncWal: NonNullable<SqliteStoreOptions['fsync']> = fsync,
  ) {
    this.stmt = prepareStatements(db);
    this.revision = this.stmt.getMeta.get('revision') ?? 0;
    this.published = new RecentBatches(this.revision);
    this.compacted = this.stmt.getMeta.get('compacted') ?? 0;
    const batchTxn = db.transaction((batch: QueuedTxn[], base: number) => {
      let revision = base;
      const outcomes = batch.map((q): Outcome => {
        // check() reads (seeing the txns before it in the batch) and throws before anything of
        // this txn is written, so a failed precondition fails it alone without a savepoint.
        // apply() throwing is SQLite failing (disk full, I/O): that escapes, and the whole
        // batch rolls back and fails (see flush).
        let planned: Planned[];
        try {
          planned = this.check(q.ops, q.json);
        } catch (error) {
          return { ok: false, error };
        }
        this.apply(planned, ++revision);
        return { ok: true, revision, planned };
      });
      if (revision !== base) this.stmt.setMeta.run(revision, 'revision');
      return outcomes;
    });
    this.commitBatch = (batch, base) => batchTxn.immediate(batch, base);
  }

  /** How many txns were acknowledged and how many SQLite commits carried them. */
  commitStats(): CommitStats {
    return { ...this.counters };
  }

  /** How many get() calls were answered from the rows written last, and how many queried SQLite. */
  readStats(): ReadStats {
    return { ...this.reads };
  }

  /** Opens (creating if needed) the store at path; ':memory:' gives a private in-memory store. */
  static open(path: string, options: SqliteStoreOptions = {}): SqliteStore {
    const logger = options.logger ?? pino({ level: 'silent' });
    const db = new Database(path, { timeout: options.busyTimeoutMs ?? 5000 });
    let walFd: number | undefined;
    try {
      const wal = db.pragma('journal_mode = WAL', { simple: true }) === 'wal';
      // FULL until the WAL file is known to exist: then NORMAL, and the store fsyncs it (see the header).
      db.pragma('synchronous = FULL');
      // Watches and the cached revision live in this process: a second process writing the
      // same file would break both, so hold the file exclusively (released on exit/kill).
      db.pragma('locking_mode = EXCLUSIVE');
      const version = db.pragma('user_version', { simple: true });
      if (typeof version === 'number' && version > SCHEMA_VERSION) {
        throw new StoreError(`store ${path} has schema version ${version}, newer than ${SCHEMA_VERSION}`);
      }
      db.transaction(() => {
        db.exec(SCHEMA);
        db.pragma(`user_version = ${SCHEMA_VERSION}`);
      }).immediate();
      if (wal && existsSync(`${path}-wal`)) {
        walFd = openSync(`${path}-wal`, 'r');
        db.pragma('synchronous = NORMAL');
      }
      const store = new SqliteStore(db, logger, walFd, options.fsync);
      logger.debug({ path, revision: store.revision, compacted: store.compacted, fsync: walFd === undefined ? 'sqlite' : 'async' }, 'sqlite store opened');
      return store;
    } catch (err) {
      if (walFd !== undefined) closeSync(walFd);
      db.close();
      throw err;
    }
  }

  async get<V = unknown>(key: string): Promise<KeyValue<V> | undefined> {
    this.assertOpen();
    let row: CurrentRow | undefined = this.recent.get(key);
    if (row) this.reads.recent++;
    else {
      this.reads.queried++;
      row = this.stmt.getCurrent.get(key);
    }
    return row && toKeyValue<V>(row.key, row.value, row.create_rev, row.mod_rev);
  }

  async list<V = unknown>(prefix: string, options: ListOptions = {}): Promise<ListResult<V>> {
    this.assertOpen();
    const limit = options.limit ?? 0;
    if (!Number.isSafeInteger(limit) || limit < 0) throw new StoreError(`limit must be a non-negative integer, got ${limit}`);
    const revision = options.revision ?? this.revision;
    checkRevision('list revision', revision);
    if (revision < this.compacted) throw new GoneError(revision, this.compacted);
    if (revision > this.revision) {
      throw new StoreError(`list revision ${revision} is newer than the current revision ${this.revision}`);
    }

    const range = keyRange(prefix, options.startAfter);
    // One extra row tells whether more follow; -1 is SQLite's "no limit".
    const sqlLimit = limit === 0 ? -1 : limit + 1;
    const atLatest = revision === this.revision;
    const sql = atLatest
      ? `SELECT key, value, create_rev, mod_rev FROM current WHERE ${rangeSql('key', range)} ORDER BY key LIMIT @limit`
      : // The bare columns come from the row holding MAX(rev) (SQLite's documented min/max rule).
        `SELECT key, value, create_rev, rev AS mod_rev FROM (
           SELECT key, MAX(rev) AS rev, value, deleted, create_rev FROM log
           WHERE ${rangeSql('key', range)} AND rev <= @revision GROUP BY key
         ) WHERE deleted = 0 ORDER BY key LIMIT @limit`;
    const params = atLatest
      ? { ...rangeParams(range), limit: sqlLimit }
      : { ...rangeParams(range), limit: sqlLimit, revision };
    const rows = this.prepareCached(sql).all(params) as CurrentRow[];
    const more = limit > 0 && rows.length > limit;
    if (more) rows.length = limit;
    return {
      items: rows.map((r) => toKeyValue<V>(r.key, r.value, r.create_rev, r.mod_rev)),
      revision,
      more,
    };
  }

  async count(prefix: string): Promise<number> {
    this.assertOpen();
    const range = keyRange(prefix);
    return this.prepareCached(`SELECT COUNT(*) AS n FROM current WHERE ${rangeSql('key', range)}`).pluck().get(rangeParams(range)) as number;
  }

  txn<V = unknown>(ops: TxnOp<V>[]): Promise<TxnResult<V>> {
    let json: (string | undefined)[];
    try {
      this.assertOpen();
      if (!Array.isArray(ops) || ops.length === 0) throw new StoreError('a transaction needs at least one op');
      if (ops.every((op) => op.type === 'check')) throw new StoreError('a transaction needs at least one op that writes');
      json = ops.map((op) => (op.type === 'create' || op.type === 'update' ? serialize(op.key, op.value) : undefined));
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<TxnResult<V>>((resolve, reject) => {
      this.queued.push({ ops: ops as TxnOp[], json, resolve: resolve as (r: TxnResult<unknown>) => void, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        // After the I/O callbacks of this loop turn: concurrent requests share the commit.
        setImmediate(() => this.flush());
      }
    });
  }

  /** Commits every queued txn in one SQLite transaction, then publishes and acknowledges in order. */
  private flush(): void {
    this.flushScheduled = false;
    const batch = this.queued;
    if (batch.length === 0) return;
    this.queued = [];
    if (this.closed) {
      for (const q of batch) q.reject(new StoreClosedError());
      return;
    }
    let outcomes: Outcome[];
    try {
      outcomes = this.commitBatch(batch, this.revision);
    } catch (err) {
      // The commit itself failed: nothing of the batch is written, revision and watchers untouched.
      for (const q of batch) q.reject(err);
      return;
    }
    this.counters.commits++;
    // What the batch left in the current table, as a query would now read it.
    for (const o of outcomes) if (o.ok) for (const p of o.planned) this.remember(p, o.revision);
    // Reads from here on (also by watch handlers) see the whole batch, so the revision is the
    // batch's last; a watch() opened before the batch settles (or by a handler) replays the
    // rest of it from history and the hub skips it then (Watcher.offer drops revisions already
    // queued).
    for (const o of outcomes) if (o.ok) this.revision = o.revision;
    const settle = (syncError: Error | null) => {
      batch.forEach((q, i) => {
        const o = outcomes[i]!;
        if (!o.ok) {
          q.reject(o.error);
          return;
        }
        // Readers may already have seen it: watchers must too, whatever the disk said.
        if (this.hub.size > 0) {
          const published = { revision: o.revision, events: writes(o.planned).map((p) => toEvent(p, o.revision)) };
          this.published.push(published);
          this.hub.publish(published);
        } else this.published.reset(o.revision);
        if (syncError) {
          q.reject(new StoreError(`revision ${o.revision} was committed but the disk did not confirm it (fsync: ${syncError.message})`));
          return;
        }
        this.counters.txns++;
        q.resolve({ revision: o.revision, results: o.planned.map((p) => toResult(p, o.revision)) });
      });
    };
    if (this.walFd === undefined) settle(null);
    else this.afterSync(settle);
  }

  /** Runs `settle` once an fsync of the WAL that started after this call has returned. */
  private afterSync(settle: (err: Error | null) => void): void {
    this.unsynced.push(settle);
    if (!this.syncing) this.syncWal();
  }

  private syncWal(): void {
    const covered = this.unsynced;
    this.unsynced = [];
    this.syncing = true;
    this.fsyncWal(this.walFd!, (err) => {
      this.syncing = false;
      if (err) this.logger.error({ err, batches: covered.length }, 'fsync of the store WAL failed: its commits are not confirmed');
      for (const settle of covered) settle(err);
      if (this.unsynced.length > 0) this.syncWal();
      else for (const done of this.whenSynced.splice(0)) done();
    });
  }

  /** Resolves when every committed batch has settled. */
  private synced(): Promise<void> {
    if (!this.syncing && this.unsynced.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.whenSynced.push(resolve));
  }

  watch<V = unknown>(prefix: string, handler: WatchHandler<V>, options: WatchOptions = {}): Watch {
    this.assertOpen();
    const after = options.afterRevision;
    if (after !== undefined) {
      checkRevision('watch afterRevision', after);
      if (after < this.compacted) throw new GoneError(after, this.compacted);
    }
    const watcher = new Watcher(
      prefix,
      options.route,
      handler as WatchHandler,
      Math.max(after ?? this.revision, this.revision),
      this.logger,
      (w) => this.hub.remove(w),
      () => this.hub.published,
      after ?? this.revision,
    );
    // Reading history and registering happen in the same synchronous step, so no commit
    // can fall between them: replayed events end at this.revision, live ones start after.
    if (after !== undefined && after < this.revision) watcher.startReplay(this.published.since(after, this.revision, prefix, options.route) ?? this.history(prefix, after));
    this.hub.add(watcher);
    return { stop: () => watcher.stop(), progress: () => watcher.progress() };
  }

  async currentRevision(): Promise<number> {
    this.assertOpen();
    return this.revision;
  }

  async compactedRevision(): Promise<number> {
    this.assertOpen();
    return this.compacted;
  }

  async compact(revision: number): Promise<void> {
    this.assertOpen();
    checkRevision('compact revision', revision);
    if (revision > this.revision) {
      throw new StoreError(`cannot compact to ${revision}, newer than the current revision ${this.revision}`);
    }
    // Idempotent (etcd says ErrCompacted): periodic compactors may race a manual compaction.
    if (revision <= this.compacted) return;
    const started = Date.now();
    const removed = this.db
      .transaction(() => {
        const n = this.stmt.compactSuperseded.run({ r: revision }).changes + this.stmt.compactTombstones.run({ r: revision }).changes;
        this.stmt.setMeta.run(revision, 'compacted');
        return n;
      })
      .immediate();
    this.compacted = revision;
    this.logger.debug({ revision, removed, ms: Date.now() - started }, 'store compacted');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // Txns already accepted are committed, not dropped, and settle before the file closes.
    this.flush();
    this.closed = true;
    await this.synced();
    this.hub.stopAll();
    if (this.walFd !== undefined) closeSync(this.walFd);
    this.recent.clear();
    this.db.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreClosedError();
  }

  private prepareCached(sql: string): Database.Statement<[RangeParams & Record<string, unknown>], unknown> {
    let stmt = this.rangeStatements.get(sql);
    if (!stmt) {
      stmt = this.db.prepare<[RangeParams & Record<string, unknown>], unknown>(sql);
      this.rangeStatements.set(sql, stmt);
    }
    return stmt;
  }

  /**
   * Checks every precondition against the state before the transaction, like etcd's
   * compares, and throws before anything is written.
   */
  private check(ops: TxnOp[], json: (string | undefined)[]): Planned[] {
    const seen = new Set<string>();
    return ops.map((op, i): Planned => {
      if (typeof op.key !== 'string' || op.key === '') throw new StoreError('keys must be non-empty strings');
      // etcd rejects a key twice in one txn; forbidding it here keeps both backends alike.
      if (seen.has(op.key)) throw new StoreError(`key ${op.key} appears twice in one transaction`);
      seen.add(op.key);
      const cur = this.stmt.getCurrent.get(op.key);
      switch (op.type) {
        case 'create':
          if (cur) throw new KeyExistsError(op.key);
          return { type: 'create', key: op.key, json: json[i]! };
        case 'update':
        case 'delete': {
          if (!cur) throw new KeyNotFoundError(op.key);
          if (op.expectedModRevision !== undefined && op.expectedModRevision !== cur.mod_rev) {
            throw new ConflictError(op.key, op.expectedModRevision, cur.mod_rev);
          }
          return op.type === 'update'
            ? { type: 'update', key: op.key, json: json[i]!, cur }
            : { type: 'delete', key: op.key, cur };
        }
        case 'check': {
          const actual = cur?.mod_rev ?? 0;
          if (actual !== op.expectedModRevision) throw new ConflictError(op.key, op.expectedModRevision, actual);
          return { type: 'check', key: op.key, cur };
        }
        default:
          throw new StoreError(`unknown op type ${(op as { type: unknown }).type}`);
      }
    });
  }

  private remember(p: Planned, rev: number): void {
    if (p.type === 'check') return;
    if (p.type === 'delete') this.recent.forget(p.key);
    else this.recent.put({ key: p.key, value: p.json, create_rev: p.type === 'create' ? rev : p.cur.create_rev, mod_rev: rev });
  }

  private apply(planned: Planned[], rev: number): void {
    planned.forEach((p, seq) => {
      switch (p.type) {
        case 'create':
          this.stmt.insertCurrent.run(p.key, p.json, rev, rev);
          this.stmt.insertLog.run(rev, seq, p.key, p.json, 0, rev, 0);
          break;
        case 'update':
          this.stmt.updateCurrent.run(p.json, rev, p.key);
          this.stmt.insertLog.run(rev, seq, p.key, p.json, 0, p.cur.create_rev, p.cur.mod_rev);
          break;
        case 'delete':
          this.stmt.deleteCurrent.run(p.key);
          // The tombstone keeps the last value: a delete event carries it (etcd does too).
          this.stmt.insertLog.run(rev, seq, p.key, p.cur.value, 1, p.cur.create_rev, p.cur.mod_rev);
          break;
        case 'check':
          break;
      }
    });
  }

  /** Events under prefix with revision > after, in commit order. */
  private history(prefix: string, after: number): WatchEvent[] {
    const range = keyRange(prefix);
    // Left to itself SQLite reads every row of the prefix's log (log_key_rev) and sorts
    // them (in a temporary file once large), whatever `after` is: 0.5 ms per watch over
    // 6,000 rows of ports, and agents resuming thousands of watches after a reconnect had
    // it write and read gigabytes. By revision (log_rev) it reads only the rows after
    // `after`, already in order: at worst the retained log (Compactor), never a sort.
    // The previous row of a retained event is never compacted away: it is the key's
    // latest row at or below the compacted revision (tombstones have no successor with prev_rev).
    const rows = this.prepareCached(
      `SELECT l.rev, l.key, l.value, l.deleted, l.create_rev, l.prev_rev, p.value AS prev_value
         FROM log AS l INDEXED BY log_rev LEFT JOIN log AS p ON p.key = l.key AND p.rev = l.prev_rev
        WHERE l.rev > @after AND ${rangeSql('l.key', range)}
        ORDER BY l.rev, l.seq`,
    ).all({ ...rangeParams(range), after }) as LogRow[];
    return rows.map(rowToEvent);
  }
}

function toKeyValue<V>(key: string, json: string, createRevision: number, modRevision: number): KeyValue<V> {
  return { key, value: JSON.parse(json) as V, createRevision, modRevision };
}

function toResult<V>(p: Planned, rev: number): KeyValue<V> {
  switch (p.type) {
    case 'check':
      return p.cur ? toKeyValue<V>(p.key, p.cur.value, p.cur.create_rev, p.cur.mod_rev) : { key: p.key, value: undefined as V, createRevision: 0, modRevision: 0 };
    case 'create':
      return toKeyValue<V>(p.key, p.json, rev, rev);
    case 'update':
      return toKeyValue<V>(p.key, p.json, p.cur.create_rev, rev);
    case 'delete':
      return toKeyValue<V>(p.key, p.cur.value, p.cur.create_rev, p.cur.mod_rev);
  }
}

/** Live event for a just-committed op. Values are parsed once and shared by all watchers. */
function toEvent(p: Exclude<Planned, { type: 'check' }>, rev: number): WatchEvent {
  switch (p.type) {
    case 'create':
      return { type: 'put', kv: toKeyValue(p.key, p.json, rev, rev), created: true };
    case 'update': {
      const event: WatchEvent = { type: 'put', kv: toKeyValue(p.key, p.json, p.cur.create_rev, rev), created: false };
      // Parsed on first read: informers keep their own previous state and never ask.
      const cur = p.cur;
      let prevKv: KeyValue | undefined;
      Object.defineProperty(event, 'prevKv', {
        enumerable: true,
        get: () => (prevKv ??= toKeyValue(cur.key, cur.value, cur.create_rev, cur.mod_rev)),
      });
      return event;
    }
    case 'delete': {
      const prevKv = toKeyValue(p.key, p.cur.value, p.cur.create_rev, p.cur.mod_rev);
      return { type: 'delete', kv: { ...prevKv, modRevision: rev }, prevKv, created: false };
    }
  }
}

function rowToEvent(r: LogRow): WatchEvent {
  if (r.deleted) {
    const prevKv = toKeyValue(r.key, r.value, r.create_rev, r.prev_rev);
    return { type: 'delete', kv: { ...prevKv, modRevision: r.rev }, prevKv, created: false };
  }
  const kv = toKeyValue(r.key, r.value, r.create_rev, r.rev);
  const created = r.create_rev === r.rev;
  if (created || r.prev_value === null) return { type: 'put', kv, created };
  return { type: 'put', kv, prevKv: toKeyValue(r.key, r.prev_value, r.create_rev, r.prev_rev), created };
}
