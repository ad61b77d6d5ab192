/** Opens the Store the configuration names: the embedded SQLite file or a shared etcd. */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { SqliteStore } from '../store/sqlite-store';
import type { Store } from '../store/store';
import { storeFailure, storeMessage } from '../store/unavailable';
import { Backoff } from '../ovsdb';
import type { StoreConfig } from './config';

/** Every vnetd key in a shared etcd lives under this prefix (the leader election beside it). */
export const ETCD_KEY_PREFIX = '/vnetd';

/** The etcd3 client options for a StoreConfig of kind etcd (store and election share them). */
export function etcdClientOptions(store: Extract<StoreConfig, { kind: 'etcd' }>): { hosts: string[]; credentials?: { rootCertificate: Buffer; certChain?: Buffer; privateKey?: Buffer } } {
  const tls = store.tls;
  return {
    hosts: store.endpoints,
    credentials: tls ? { rootCertificate: tls.ca, certChain: tls.cert, privateKey: tls.key } : undefined,
  };
}

/**
 * What to check when a TLS client cannot reach etcd: its handshake with a plain-text etcd ends
 * in a reset connection, which said nothing of which end was wrong (QA-146 F5). Empty otherwise.
 */
export function tlsMismatchHint(why: string, tls: boolean): string {
  return tls && /ECONNRESET|wrong version number|handshake|before secure TLS connection/i.test(why) ? ': is etcd serving TLS? VNETD_ETCD_CA is set, so vnetd speaks TLS to it (an etcd started without --cert-file speaks plain text)' : '';
}

export async function openStore(config: StoreConfig, dataDir: string, logger: Logger): Promise<Store> {
  if (config.kind === 'sqlite') {
    const path = join(dataDir, 'store.db');
    try {
      return SqliteStore.open(path, { logger });
    } catch (err) {
      // SQLITE_BUSY: another vnetd (a second replica, or one still stopping) holds the file.
      const code = (err as { code?: string }).code ?? '';
      if (code === 'SQLITE_BUSY') {
        throw new Error(`${path} is in use by another vnetd process: SQLite serves one process; for several controller replicas use VNETD_STORE=etcd://HOST:PORT`);
      }
      // QA: "vnetd: disk I/O error", with no path, on a full disk.
      if (code.startsWith('SQLITE_FULL') || code.startsWith('SQLITE_IOERR') || code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_CANTOPEN')) {
        throw new Error(`cannot open the SQLite store ${path}: ${(err as Error).message} (${code}): is its file system full, read-only or gone? (df ${dataDir}; VNETD_DATA_DIR moves the data dir)`);
      }
      throw err;
    }
  }
  const { hosts, credentials } = etcdClientOptions(config);
  // Loaded only here: the etcd client and its gRPC stack are a fifth of vnetd's start-up.
  const { EtcdStore } = await import('../store/etcd-store');
  const backoff = new Backoff({ initialDelayMs: 250, maxDelayMs: 5000 });
  let waitingSince: number | undefined;
  let saidAt = -Infinity;
  for (;;) {
    try {
      const store = await EtcdStore.open({ endpoints: hosts, keyPrefix: ETCD_KEY_PREFIX, logger, client: { credentials } });
      if (waitingSince !== undefined) logger.info({ event: 'store.etcd_reachable', waitedMs: Date.now() - waitingSince }, `etcd at ${hosts.join(', ')} answers`);
      return store;
    } catch (err) {
      const why = storeMessage((err as Error).message);
      // Not up yet (a controller started before etcd, as at a host's boot): waited for, as an
      // agent waits for its controller, and said once a minute. It exited at once (QA).
      if (storeFailure(err) === undefined) throw new Error(`cannot open the etcd store at ${hosts.join(', ')}: ${why}`);
      const now = Date.now();
      waitingSince ??= now;
      if (now - saidAt >= 60_000) {
        saidAt = now;
        const hint = tlsMismatchHint(why, credentials !== undefined);
        const since = now > waitingSince ? ` for ${Math.round((now - waitingSince) / 1000)} s` : ' yet';
        logger.warn({ event: 'store.etcd_unreachable', err: why, waitedMs: now - waitingSince }, `cannot reach etcd at ${hosts.join(', ')}${since} (${why})${hint}; retrying`);
      }
      await sleep(backoff.next());
    }
  }
}

/**
 * The leader's view of an etcd store: writes that require the leader's election key to
 * exist (EtcdStore.fenced). Undefined for any other store (nothing to fence with).
 */
export async function fencedStore(kv: Store, fenceKey: string): Promise<Store | undefined> {
  const { EtcdStore } = await import('../store/etcd-store');
  return kv instanceof EtcdStore ? kv.fenced(fenceKey) : undefined;
}
