/**
 * A small Kubernetes-style REST client over node:https: JSON in, JSON out, Status
 * objects become ApiStatusError, socket failures become TransportError. Watches are
 * newline-delimited JSON streams read event by event.
 */
import { request, type RequestOptions } from 'node:https';
import { request as requestHttp } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { opensslReason } from '../../pki/tls-failure';
import type { Status } from '../../resources/status';
import { ApiStatusError, TransportError } from '../errors';
import type { Connection } from '../kubeconfig';

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestSpec {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Query;
  body?: unknown;
  contentType?: string;
}

export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

const USER_AGENT = 'vnetctl/0.1.0';

function isStatus(v: unknown): v is Status {
  return typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'Status' && typeof (v as { message?: unknown }).message === 'string';
}

/** A Status for responses that did not carry one (a proxy's HTML page, an empty 503). */
function syntheticStatus(code: number, text: string): Status {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', code, message: `HTTP ${code}${text ? `: ${text.slice(0, 200).replace(/\s+/g, ' ')}` : ''}` };
}

/** The texts of an answer's Warning headers (`299 - "text"`, quotes and backslashes escaped). */
export function warningsOf(res: Pick<IncomingMessage, 'headersDistinct'>): string[] {
  const out: string[] = [];
  for (const h of res.headersDistinct.warning ?? []) {
    const m = /^\d{3} \S+ "((?:[^"\\]|\\.)*)"/.exec(h);
    if (m) out.push(m[1]!.replace(/\\(.)/g, '$1'));
  }
  return out;
}

/** Calls onExpire once ms have passed, unless the returned stop is called first. */
function wallClock(ms: number, onExpire: () => void): () => void {
  const timer = setTimeout(onExpire, ms);
  return () => clearTimeout(timer);
}

export class ApiClient {
  private hasAnswered = false;

  constructor(
    private readonly conn: Connection,
    private readonly timeoutMs = 30_000,
    /** Each Warning header of an answer (RFC 7234 `299 - "text"`), as kubectl prints them. */
    private readonly onWarning: (text: string) => void = () => undefined,
  ) {}

  get server(): string {
    return this.conn.server;
  }

  /**
   * Whether this server has answered anything yet: a connection refused before it ever did
   * is a wrong kubeconfig or a stopped vnetd, one refused after is a replica going away.
   */
  get answered(): boolean {
    return this.hasAnswered;
  }

  private url(path: string, query: Query = {}): URL {
    const url = new URL(this.conn.server + path);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    return url;
  }

  private open(spec: RequestSpec, timeoutMs: number | undefined, onResponse: (res: IncomingMessage) => void, onError: (err: Error) => void): () => void {
    const url = this.url(spec.path, spec.query);
    const payload = spec.body === undefined ? undefined : Buffer.from(JSON.stringify(spec.body));
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': USER_AGENT };
    if (this.conn.token) headers.authorization = `Bearer ${this.conn.token}`;
    if (payload) {
      headers['content-type'] = spec.contentType ?? 'application/json';
      headers['content-length'] = String(payload.length);
    }
    const options: RequestOptions = {
      method: spec.method,
      headers,
      ca: this.conn.ca,
      cert: this.conn.cert,
      key: this.conn.key,
      rejectUnauthorized: !this.conn.insecure,
      servername: this.conn.servername,
    };
    // A wall-clock bound on the whole request, as kubectl's --request-timeout: a socket idle
    // timeout (req.setTimeout) is armed only once TCP connects, so a hung TLS handshake took
    // twice as long, and is reset by every byte, so a server trickling its body never timed out.
    // 0 is no bound, as kubectl's (and as req.setTimeout(0) was).
    const stopClock =
      timeoutMs === undefined || timeoutMs <= 0
        ? () => undefined
        : wallClock(timeoutMs, () => {
            fail(Object.assign(new Error(`no answer within ${timeoutMs / 1000}s`), { code: 'ETIMEDOUT' }));
            req.destroy();
          });
    // Whether this request got its answer's status: a write with none may or may not have been done.
    let answeredHere = false;
    const req = (url.protocol === 'http:' ? requestHttp : request)(url, options, (res) => {
      this.hasAnswered = true;
      answeredHere = true;
      // The body is part of the request: the clock stops only once it is read to its end.
      res.once('end', stopClock);
      res.once('close', stopClock);
      onResponse(res);
    });
    let failed = false;
    const fail = (err: Error) => {
      stopClock();
      if (failed) return;
      failed = true;
      const code = (err as NodeJS.ErrnoException).code ?? 'EUNKNOWN';
      // One line: OpenSSL's messages carry an error number, a file:line trail and a newline.
      const reason = opensslReason(err.message);
      // A write that left in full and got no answer (a timeout, a connection reset) may have been
      // done: this request's answer, not the client's first one (a second POST of an apply that
      // timed out was said to be "cannot reach vnetd").
      const unknown = spec.method !== 'GET' && req.writableFinished && !answeredHere && (code === 'ETIMEDOUT' || code === 'ECONNRESET');
      onError(new TransportError(this.conn.server, code, reason ? `${code}: ${reason}` : (err.message || code).replace(/\s*\n\s*/g, ' ').trim(), unknown));
    };
    req.on('error', fail);
    if (payload) req.write(payload);
    req.end();
    return () => {
      stopClock();
      req.destroy();
    };
  }

  /** One request; resolves with the decoded JSON body of a 2xx answer. */
  call<T>(spec: RequestSpec): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.open(
        spec,
        this.timeoutMs,
        (res) => {
          for (const w of warningsOf(res)) this.onWarning(w);
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let json: unknown;
            try {
              json = text ? JSON.parse(text) : undefined;
            } catch {
              json = undefined;
            }
            const code = res.statusCode ?? 0;
            if (code >= 200 && code < 300) resolve(json as T);
            else reject(new ApiStatusError(code, isStatus(json) ? json : syntheticStatus(code, text)));
          });
        },
        reject,
      );
    });
  }

  /**
   * Streams a watch until the server ends it, `stop()` is called, or onEvent returns
   * true (done). Resolves with how it ended. onOpen is called when the server accepts it.
   */
  watch<T>(path: string, query: Query, onEvent: (ev: WatchEvent<T>) => boolean | void, onOpen: () => void = () => undefined): { done: Promise<'ended' | 'stopped' | 'satisfied'>; stop: () => void } {
    let cancel: () => void = () => undefined;
    let settle: (how: 'ended' | 'stopped' | 'satisfied') => void = () => undefined;
    const done = new Promise<'ended' | 'stopped' | 'satisfied'>((resolve, reject) => {
      let finished = false;
      settle = (how) => {
        if (finished) return;
        finished = true;
        cancel();
        resolve(how);
      };
      const fail = (err: unknown) => {
        if (finished) return;
        finished = true;
        cancel();
        reject(err);
      };
      cancel = this.open(
        { method: 'GET', path, query: { ...query, watch: true } },
        undefined,
        (res) => {
          const code = res.statusCode ?? 0;
          if (code < 200 || code >= 300) {
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
              fail(new ApiStatusError(code, isStatus(json) ? json : syntheticStatus(code, text)));
            });
            return;
          }
          onOpen();
          let buffered = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            buffered += chunk;
            let nl: number;
            while ((nl = buffered.indexOf('\n')) >= 0 && !finished) {
              const line = buffered.slice(0, nl).trim();
              buffered = buffered.slice(nl + 1);
              if (!line) continue;
              let ev: WatchEvent<T>;
              try {
                ev = JSON.parse(line) as WatchEvent<T>;
              } catch {
                fail(new TransportError(this.conn.server, 'EPROTO', `the watch stream sent a line that is not JSON: ${line.slice(0, 80)}`));
                return;
              }
              try {
                if (onEvent(ev) === true) settle('satisfied');
              } catch (err) {
                fail(err);
              }
            }
          });
          res.on('end', () => settle('ended'));
          res.on('error', (err) => fail(new TransportError(this.conn.server, 'ECONNRESET', err.message)));
        },
        fail,
      );
    });
    return { done, stop: () => settle('stopped') };
  }
}
