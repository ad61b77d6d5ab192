/** Starts an in-process vnetd on a free port with a private data dir, for API tests. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { parse, stringify } from 'yaml';
import type { StoreConfig } from '../../src/app/config';
import { startVnetd, type RunningVnetd } from '../../src/app/vnetd';
import { LogRing } from './log-ring';

export interface TestVnetd extends RunningVnetd {
  dataDir: string;
  call(method: string, path: string, body?: unknown, opts?: CallOptions): Promise<ApiResponse>;
  /** Creates a tenant token bound to namespaces; returns the bearer token. */
  tenantToken(name: string, namespaces: string[]): Promise<string>;
  /** Creates an agent's token for `node` (AccessToken spec.node, "*" for every node) and a kubeconfig with it beside admin.kubeconfig; returns its path. */
  agentKubeconfig(node: string): Promise<string>;
  /** The JSON lines it logged lately (debug and up; none when VNETD_TEST_LOG prints them instead). */
  logLines(): string[];
  stop(): Promise<void>;
}

export interface CallOptions {
  token?: string | null;
  contentType?: string;
  accept?: string;
  raw?: Buffer | string;
  /** More request headers (Impersonate-User, say). */
  headers?: Record<string, string | string[]>;
}

export interface ApiResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  // Tests inspect arbitrary JSON shapes.
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** An API call with fixed credentials. */
export type Caller = (method: string, path: string, body?: unknown) => Promise<ApiResponse>;

/** The server, CA (PEM) and bearer token of the first cluster and user of a kubeconfig vnetd wrote. */
export function readKubeconfig(path: string): { server: string; ca: string; token: string } {
  const cfg = parse(readFileSync(path, 'utf8')) as { clusters: { cluster: { server: string; 'certificate-authority-data': string } }[]; users: { user: { token: string } }[] };
  return {
    server: cfg.clusters[0]!.cluster.server,
    ca: Buffer.from(cfg.clusters[0]!.cluster['certificate-authority-data'], 'base64').toString(),
    token: cfg.users[0]!.user.token,
  };
}

/** Calls as the admin kubeconfig a vnetd process wrote says: its server, its CA, its token. */
export function kubeconfigCaller(path: string): Caller {
  const { server, ca, token } = readKubeconfig(path);
  return (method, p, body) => httpsCall(server, ca, method, p, body, { defaultToken: token });
}

/** Nodes whose flow table the vnetd behind `call` has fully synced since it started (vnetd_openflow_in_sync in its /metrics). */
export async function nodesInSync(call: Caller): Promise<Set<string>> {
  const r = await call('GET', '/metrics');
  if (r.status !== 200) return new Set();
  return new Set([...r.text.matchAll(/^vnetd_openflow_in_sync\{node="([^"]+)"\} 1$/gm)].map((m) => m[1]!));
}

export function httpsCall(base: string, ca: string, method: string, path: string, body: unknown, opts: CallOptions & { defaultToken: string }): Promise<ApiResponse> {
  const url = new URL(path, base);
  const payload = opts.raw ?? (body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body));
  const headers: Record<string, string | string[]> = { ...opts.headers };
  const token = opts.token === undefined ? opts.defaultToken : opts.token;
  if (token) headers.authorization = `Bearer ${token}`;
  if (payload !== undefined) {
    headers['content-type'] = opts.contentType ?? 'application/json';
    // Node sends a DELETE's body without framing unless its length is given (it does not chunk DELETEs).
    headers['content-length'] = String(Buffer.byteLength(payload));
  }
  if (opts.accept) headers.accept = opts.accept;
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, ca }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/** A watch held open with `token`: `ended` resolves once the server ends it (its status code). */
export function openWatch(v: Pick<RunningVnetd, 'url' | 'caCertPem'>, path: string, token: string, headers: Record<string, string> = {}): { ended: Promise<number>; events: () => number; stop(): void } {
  let count = 0;
  let stop = () => undefined as void;
  const ended = new Promise<number>((resolve, reject) => {
    const req = request(new URL(path, v.url), { ca: v.caCertPem, headers: { ...headers, authorization: `Bearer ${token}` } }, (res) => {
      res.on('data', (d: Buffer) => (count += d.toString().split('\n').filter(Boolean).length));
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
    stop = () => void req.destroy();
  });
  return { ended, events: () => count, stop };
}

export interface TestVnetdOptions {
  bookmarkIntervalMs?: number;
  dataDir?: string;
  /** Run the Node reconciler (default off: API tests create Nodes with made-up endpoints). */
  chassis?: boolean;
  /** Start the embedded local OVS (default off), its ovs-vswitchd in localOvsNetns if given. */
  localOvs?: boolean;
  localOvsNetns?: string;
  /** 'controller' (SQLite): with chassis off, agents program the nodes and Ready comes from their reports. */
  role?: 'all-in-one' | 'controller';
  /** The controller's store (role 'controller' only); default SQLite in dataDir. */
  store?: StoreConfig;
  /** StartOptions.idleConnectionMs. */
  idleConnectionMs?: number;
  /** StartOptions.maxWatchesPerTenant. */
  maxWatchesPerTenant?: number;
}

export async function startTestVnetd(options: TestVnetdOptions = {}): Promise<TestVnetd> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'vnetd-test-'));
  // Kept in memory and printed if a test of the file fails, unless VNETD_TEST_LOG prints it all.
  const ring = process.env.VNETD_TEST_LOG ? undefined : new LogRing();
  const logger = ring ? pino({ level: 'debug' }, ring.stream) : pino({ level: process.env.VNETD_TEST_LOG });
  const running = await startVnetd(
    { dataDir, host: '127.0.0.1', port: 0, logLevel: 'silent', workers: 2, chassis: options.chassis ?? false, localOvs: options.localOvs ?? false, store: options.store },
    { logger, bookmarkIntervalMs: options.bookmarkIntervalMs, localOvsNetns: options.localOvsNetns, role: options.role, idleConnectionMs: options.idleConnectionMs, maxWatchesPerTenant: options.maxWatchesPerTenant },
  );
  const call = (method: string, path: string, body?: unknown, opts: CallOptions = {}) =>
    httpsCall(running.url, running.caCertPem, method, path, body, { ...opts, defaultToken: running.adminToken });
  // The running instance's getters stay getters (a spread would read them now, and a
  // standby controller's pipeline getter throws until it leads).
  const live = Object.defineProperties({}, Object.getOwnPropertyDescriptors(running)) as RunningVnetd;
  return Object.assign(live, {
    dataDir,
    call,
    logLines: () => ring?.tail(Number.MAX_SAFE_INTEGER) ?? [],
    async tenantToken(name: string, namespaces: string[]) {
      const res = await call('POST', '/apis/vnet.dev/v1alpha1/accesstokens', { metadata: { name }, spec: { namespaces } });
      if (res.status !== 201) throw new Error(`token create failed: ${res.text}`);
      return res.json.status.token as string;
    },
    async agentKubeconfig(node: string) {
      const name = `agent-${node === '*' ? 'every-node' : node}`;
      const res = await call('POST', '/apis/vnet.dev/v1alpha1/accesstokens', { metadata: { name }, spec: { node } });
      if (res.status !== 201) throw new Error(`token create failed: ${res.text}`);
      const cfg = parse(readFileSync(running.kubeconfigPath, 'utf8')) as { users: { user: { token: string } }[] };
      cfg.users[0]!.user.token = res.json.status.token as string;
      const path = join(dataDir, `${name}.kubeconfig`);
      writeFileSync(path, stringify(cfg), { mode: 0o600 });
      return path;
    },
    async stop() {
      await running.close();
      ring?.printIfFailed(`vnetd ${dataDir}`);
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  });
}

/**
 * GET, change, PUT with the resourceVersion read; on a 409 (a controller's status write
 * landed in between) read and try again, as client-go's RetryOnConflict and kubectl edit do.
 * Returns the PUT's response (anything but a 409, or the last 409) and the body it sent.
 */
export async function replaceOnConflict<T>(v: TestVnetd, path: string, change: (cur: T) => unknown, attempts = 10): Promise<{ response: ApiResponse; sent: unknown }> {
  for (let attempt = 1; ; attempt++) {
    const cur = (await v.call('GET', path)).json as T;
    const sent = change(cur);
    const response = await v.call('PUT', path, sent);
    if (response.status !== 409 || attempt >= attempts) return { response, sent };
  }
}

/** Polls until fn returns a truthy value or the deadline passes. */
export async function eventually<T>(fn: () => Promise<T | undefined | false>, timeoutMs = 5000, stepMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
