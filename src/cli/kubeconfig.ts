/**
 * Finding and reading kubeconfig files the way kubectl does, plus vnetd's own default:
 *   --kubeconfig FILE > $KUBECONFIG (colon-separated, merged, first wins) >
 *   $VNETD_DATA_DIR/admin.kubeconfig > ./.vnetd/admin.kubeconfig > ~/.kube/config.
 * Pure functions take the filesystem as parameters so the resolution order is unit-tested.
 */
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parse } from 'yaml';
import { CliError } from './errors';
import { execCredential, type ExecConfig } from './exec-credential';

export interface KubeconfigEnv {
  KUBECONFIG?: string;
  VNETD_DATA_DIR?: string;
  HOME?: string;
}

export interface FileSystem {
  exists(path: string): boolean;
  read(path: string): string;
}

/** The files to load, in precedence order. Throws when none can be found. */
export function resolveKubeconfigPaths(flag: string | undefined, env: KubeconfigEnv, cwd: string, fs: Pick<FileSystem, 'exists'>): string[] {
  if (flag) {
    const p = resolve(cwd, flag);
    if (!fs.exists(p)) throw new CliError(`cannot load kubeconfig: ${p} (from --kubeconfig) does not exist; pass the path of an existing file`);
    return [p];
  }
  if (env.KUBECONFIG) {
    const listed = env.KUBECONFIG.split(':').filter((p) => p.length > 0).map((p) => resolve(cwd, p));
    const found = listed.filter((p) => fs.exists(p));
    if (found.length === 0) throw new CliError(`cannot load kubeconfig: none of the files in KUBECONFIG exist (${listed.join(', ')}); fix KUBECONFIG or unset it`);
    return found;
  }
  const candidates = [
    ...(env.VNETD_DATA_DIR ? [join(resolve(cwd, env.VNETD_DATA_DIR), 'admin.kubeconfig')] : []),
    join(cwd, '.vnetd', 'admin.kubeconfig'),
    ...(env.HOME ? [join(env.HOME, '.kube', 'config')] : []),
  ];
  const first = candidates.find((p) => fs.exists(p));
  if (!first) {
    throw new CliError(`cannot find a kubeconfig (looked for ${candidates.join(', ')}); start vnetd ("npm start" writes .vnetd/admin.kubeconfig) or pass --kubeconfig FILE`);
  }
  return [first];
}

export interface ClusterEntry {
  server?: string;
  'certificate-authority-data'?: string;
  'certificate-authority'?: string;
  'insecure-skip-tls-verify'?: boolean;
  'tls-server-name'?: string;
}

export interface UserEntry {
  token?: string;
  tokenFile?: string;
  /** A credential plugin (exec-credential.ts). */
  exec?: ExecConfig;
  'client-certificate-data'?: string;
  'client-key-data'?: string;
}

export interface ContextEntry {
  cluster?: string;
  user?: string;
  namespace?: string;
}

/** A merged kubeconfig: entries keep the file they came from (relative paths resolve against it). */
export interface Kubeconfig {
  clusters: Map<string, { entry: ClusterEntry; file: string }>;
  users: Map<string, { entry: UserEntry; file: string }>;
  contexts: Map<string, ContextEntry>;
  currentContext?: string;
  files: string[];
}

interface RawKubeconfig {
  clusters?: { name?: string; cluster?: ClusterEntry }[];
  users?: { name?: string; user?: UserEntry }[];
  contexts?: { name?: string; context?: ContextEntry }[];
  'current-context'?: string;
}

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** What in a parsed kubeconfig is not the shape kubectl reads (a list that is not a list, a value that is not text), or undefined. */
function shapeError(raw: unknown): string | undefined {
  if (!isMap(raw)) return 'it is not a YAML mapping';
  const lists = [['clusters', 'cluster'], ['users', 'user'], ['contexts', 'context']] as const;
  for (const [list, field] of lists) {
    const v = raw[list];
    if (v === undefined || v === null) continue;
    if (!Array.isArray(v)) return `${list} must be a list`;
    for (const [i, e] of v.entries()) {
      if (!isMap(e)) return `${list}[${i}] must be a mapping with name and ${field}`;
      if (e.name !== undefined && typeof e.name !== 'string') return `${list}[${i}].name must be text`;
      const inner = e[field];
      if (inner === undefined || inner === null) continue;
      if (!isMap(inner)) return `${list}[${i}].${field} must be a mapping`;
      for (const [k, x] of Object.entries(inner)) {
        if (x !== null && typeof x !== 'string' && typeof x !== 'boolean' && !Array.isArray(x) && !isMap(x)) return `${list}[${i}].${field}.${k} must be text`;
      }
      if (field === 'cluster' && typeof inner.server === 'string') {
        try {
          new URL(inner.server);
        } catch {
          return `${list}[${i}].cluster.server "${inner.server}" is not a URL such as https://127.0.0.1:6443`;
        }
      }
    }
  }
  if (raw['current-context'] !== undefined && raw['current-context'] !== null && typeof raw['current-context'] !== 'string') return 'current-context must be text';
  return undefined;
}

/** Loads and merges files; for each name the first file that defines it wins, as in kubectl. */
export function loadKubeconfig(paths: string[], fs: Pick<FileSystem, 'read'>): Kubeconfig {
  const out: Kubeconfig = { clusters: new Map(), users: new Map(), contexts: new Map(), files: paths };
  for (const file of paths) {
    let raw: RawKubeconfig;
    try {
      raw = (parse(fs.read(file)) ?? {}) as RawKubeconfig;
    } catch (err) {
      throw new CliError(`cannot load kubeconfig ${file}: ${(err as Error).message.split('\n')[0]}; fix or replace the file`);
    }
    const why = shapeError(raw);
    if (why) throw new CliError(`cannot load kubeconfig ${file}: ${why}; fix the file`);
    for (const c of raw.clusters ?? []) if (c.name && c.cluster && !out.clusters.has(c.name)) out.clusters.set(c.name, { entry: c.cluster, file });
    for (const u of raw.users ?? []) if (u.name && u.user && !out.users.has(u.name)) out.users.set(u.name, { entry: u.user, file });
    for (const c of raw.contexts ?? []) if (c.name && c.context && !out.contexts.has(c.name)) out.contexts.set(c.name, c.context);
    out.currentContext ??= raw['current-context'] || undefined;
  }
  return out;
}

/** Everything needed to talk to one server as one user. */
export interface Connection {
  server: string;
  /** PEM CA bundle; undefined means the system roots. */
  ca?: string;
  insecure: boolean;
  servername?: string;
  token?: string;
  cert?: string;
  key?: string;
  contextName: string;
  namespace?: string;
  /** Shown in error hints. */
  source: string;
}

function relativeTo(file: string, p: string): string {
  return isAbsolute(p) ? p : join(dirname(file), p);
}

/** Picks the context (flag or current-context) and resolves its cluster and user. */
export function selectContext(cfg: Kubeconfig, contextFlag: string | undefined, fs: Pick<FileSystem, 'read'>, opts: { execCredential?: typeof execCredential } = {}): Connection {
  const source = cfg.files.join(':');
  const name = contextFlag ?? cfg.currentContext;
  if (!name) throw new CliError(`cannot use kubeconfig ${source}: it has no current-context; pass --context (one of: ${[...cfg.contexts.keys()].join(', ') || 'none defined'})`);
  const ctx = cfg.contexts.get(name);
  if (!ctx) throw new CliError(`cannot use context "${name}": it is not in ${source}; pick one of: ${[...cfg.contexts.keys()].join(', ') || 'none defined'}`);
  const cluster = ctx.cluster ? cfg.clusters.get(ctx.cluster) : undefined;
  if (!cluster?.entry.server) throw new CliError(`cannot use context "${name}": its cluster "${ctx.cluster ?? ''}" has no server in ${source}; fix the kubeconfig`);
  const user = ctx.user ? cfg.users.get(ctx.user) : undefined;
  const readRel = (file: string, p: string, what: string) => {
    try {
      return fs.read(relativeTo(file, p));
    } catch (err) {
      throw new CliError(`cannot read ${what} ${relativeTo(file, p)} named in ${file}: ${(err as Error).message}`);
    }
  };
  const c = cluster.entry;
  const ca = c['certificate-authority-data']
    ? Buffer.from(c['certificate-authority-data'], 'base64').toString('utf8')
    : c['certificate-authority']
      ? readRel(cluster.file, c['certificate-authority'], 'certificate-authority')
      : undefined;
  const u = user?.entry ?? {};
  const server = c.server!.replace(/\/+$/, '');
  let token = u.token ?? (u.tokenFile && user ? readRel(user.file, u.tokenFile, 'tokenFile').trim() : undefined);
  let cert = u['client-certificate-data'] ? Buffer.from(u['client-certificate-data'], 'base64').toString('utf8') : undefined;
  let key = u['client-key-data'] ? Buffer.from(u['client-key-data'], 'base64').toString('utf8') : undefined;
  // A plugin only where the user has no token of its own (kubectl's order).
  if (!token && u.exec && user) {
    const got = (opts.execCredential ?? execCredential)(u.exec, user.file, { server, ca });
    token = got.token;
    if (got.cert && got.key) [cert, key] = [got.cert, got.key];
  }
  return {
    server,
    ca,
    insecure: c['insecure-skip-tls-verify'] === true,
    servername: c['tls-server-name'],
    token,
    cert,
    key,
    contextName: name,
    namespace: ctx.namespace || undefined,
    source,
  };
}
