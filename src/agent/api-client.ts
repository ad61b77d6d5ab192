/**
 * The agent's client for the controller's API: server, CA and bearer token from a
 * kubeconfig (the one the controller writes), JSON requests and newline-delimited watch
 * streams, all over one HTTP/2 connection (as client-go talks to kube-apiserver). An agent
 * holds three watches per network its node needs: over HTTP/1.1 each took a connection
 * (and a TLS session) of its own on both sides.
 */
import { readFileSync } from 'node:fs';
import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type Http2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import type { Logger } from 'pino';
import { parse } from 'yaml';

/** Receive windows, the connection's and each stream's: a burst of watch events or a large list is not held to 64 KiB per round trip. */
const SESSION_WINDOW_BYTES = 16 << 20;
const STREAM_WINDOW_BYTES = 4 << 20;

/**
 * How often the connection is pinged, and how long an answer may take before it is given
 * up for dead (client-go's HTTP/2 health check: 30 s / 15 s). A controller that vanished
 * without a reset (its host died behind a VIP) otherwise held every watch and request of
 * the agent on a dead connection until TCP gave up, about 15 minutes.
 */
export interface ConnectionHealth {
  pingEveryMs: number;
  pingTimeoutMs: number;
  /**
   * How long a new connection may take to connect and finish its TLS handshake (client-go's
   * TLSHandshakeTimeout: 10 s). A controller stopped (SIGSTOP) behind a Service still accepts
   * TCP in its kernel and never answers: pings wait for a connected session, and the agent
   * sent every request and watch onto that one for minutes (QA: 3 min 18 s, until SIGCONT).
   */
  connectTimeoutMs?: number;
  /**
   * A gap this long between ticks of a timer that should tick every third of it means this
   * process did not run (SIGSTOP, a paused VM, a starved or blocked event loop). What happened
   * to its connections meanwhile went unseen: a controller restarted behind an address that
   * drops the old connection's packets sends nothing more on it, and its watches and requests
   * waited for the next ping and its 15 s timeout (QA-117 F3: bound 18 s after SIGCONT).
   */
  stallMs?: number;
  /**
   * How long the ping sent on each connection after a stall may take. Short: a live
   * controller answers in milliseconds; a connection cut while this process stood still is
   * better dialled again than waited on.
   */
  stallPingTimeoutMs?: number;
}
const DEFAULT_HEALTH: Required<ConnectionHealth> = { pingEveryMs: 30_000, pingTimeoutMs: 15_000, connectTimeoutMs: 10_000, stallMs: 3_000, stallPingTimeoutMs: 2_000 };

export interface ApiResult {
  status: number;
  // The API's answers are Kubernetes objects, lists and Status of many shapes.
  body: Record<string, unknown> | undefined;
  text: string;
}

export interface WatchStream {
  stop(): void;
}

interface KubeconfigShape {
  clusters?: Array<{ cluster?: { server?: string; 'certificate-authority-data'?: string; 'certificate-authority'?: string } }>;
  users?: Array<{ user?: { token?: string } }>;
}

export class ApiClient {
  private session?: ClientHttp2Session;
  /** Every open connection, the current one and those still finishing streams after a GOAWAY. */
  private readonly sessions = new Set<ClientHttp2Session>();
  /** Ticks while a connection is open, to notice that this process stood still (ConnectionHealth.stallMs). */
  private stallWatch?: NodeJS.Timeout;

  constructor(
    readonly server: string,
    private readonly caPem: string,
    private readonly token: string,
    private readonly requestTimeoutMs = 15_000,
    private readonly health: ConnectionHealth = DEFAULT_HEALTH,
    private readonly log?: Logger,
  ) {}

  static fromKubeconfig(path: string, log?: Logger): ApiClient {
    let cfg: KubeconfigShape;
    try {
      cfg = parse(readFileSync(path, 'utf8')) as KubeconfigShape;
    } catch (err) {
      throw new Error(`cannot read kubeconfig ${path}: ${(err as Error).message}`);
    }
    const cluster = cfg.clusters?.[0]?.cluster;
    const token = cfg.users?.[0]?.user?.token;
    if (!cluster?.server || !token) throw new Error(`kubeconfig ${path} has no server or token (expected the one vnetd controller writes)`);
    const ca = cluster['certificate-authority-data']
      ? Buffer.from(cluster['certificate-authority-data'], 'base64').toString()
      : cluster['certificate-authority']
        ? readFileSync(cluster['certificate-authority'], 'utf8')
        : undefined;
    if (!ca) throw new Error(`kubeconfig ${path} names no certificate authority for ${cluster.server}`);
    return new ApiClient(cluster.server, ca, token, undefined, undefined, log);
  }

  /**
   * The connection, opened on first use and again after it is lost or the server sent
   * GOAWAY (its idle timeout, or a shutdown): streams still running on the old one finish there.
   */
  private connection(): ClientHttp2Session {
    const current = this.session;
    if (current && !current.closed && !current.destroyed) return current;
    const session = connect(this.server, { ca: this.caPem, settings: { initialWindowSize: STREAM_WINDOW_BYTES } });
    const forget = () => {
      if (this.session === session) this.session = undefined;
    };
    const connectMs = this.health.connectTimeoutMs ?? DEFAULT_HEALTH.connectTimeoutMs;
    const handshake = setTimeout(() => session.destroy(new Error(`the API at ${this.server} did not complete its connection (TLS handshake) within ${connectMs} ms`)), connectMs).unref();
    session.on('connect', () => {
      clearTimeout(handshake);
      session.setLocalWindowSize(SESSION_WINDOW_BYTES);
    });
    // A session's error reaches each of its streams as well, where the caller hears of it.
    session.on('error', forget);
    session.on('goaway', forget);
    const pinger = setInterval(() => this.checkAlive(session), this.health.pingEveryMs).unref();
    session.on('close', () => {
      clearTimeout(handshake);
      clearInterval(pinger);
      forget();
      this.sessions.delete(session);
      if (this.sessions.size === 0) this.unwatchStalls();
    });
    this.session = session;
    this.sessions.add(session);
    this.watchStalls();
    return session;
  }

  /**
   * Notices that this process stood still and then checks every connection with a short ping
   * at once. A connection whose peer's FIN or RST came meanwhile is seen closed anyway as
   * the socket is read; one that simply went quiet (the controller restarted and nothing
   * answers for the old connection) is seen only by a ping, and the regular ping's timeout
   * (15 s) is meant for a slow controller, not for one the agent has not heard for a minute.
   * A tick a second on a monotonic clock; the ping only after a stall.
   */
  private watchStalls(): void {
    if (this.stallWatch) return;
    const stallMs = this.health.stallMs ?? DEFAULT_HEALTH.stallMs;
    const tickMs = Math.max(1, Math.floor(stallMs / 3));
    let last = performance.now();
    this.stallWatch = setInterval(() => {
      const now = performance.now();
      const gapMs = now - last;
      last = now;
      if (gapMs < stallMs) return;
      const timeoutMs = this.health.stallPingTimeoutMs ?? DEFAULT_HEALTH.stallPingTimeoutMs;
      this.log?.warn(
        { event: 'agent.api_stall_check', server: this.server, stalledMs: Math.round(gapMs - tickMs), connections: this.sessions.size, pingTimeoutMs: timeoutMs },
        `this process did not run for ${Math.round(gapMs - tickMs)} ms (stopped or starved); checking its connections to the API at ${this.server} with a ${timeoutMs} ms ping`,
      );
      for (const session of this.sessions) this.checkAlive(session, timeoutMs, ` after this process did not run for ${Math.round(gapMs - tickMs)} ms`);
    }, tickMs).unref();
  }

  private unwatchStalls(): void {
    clearInterval(this.stallWatch);
    this.stallWatch = undefined;
  }

  /** Pings the connection; one that does not answer in time is destroyed, failing its streams (watches reopen on a new one). */
  private checkAlive(session: Http2Session, timeoutMs = this.health.pingTimeoutMs, context = ''): void {
    if (session.closed || session.destroyed || session.connecting) return;
    let answered = false;
    let deadline: NodeJS.Timeout | undefined;
    const arm = (ms: number, graceLeft: boolean): void => {
      const due = performance.now() + ms;
      deadline = setTimeout(() => {
        // This process was starved again (the timer fired late by half its time or more): the
        // controller may only be slow to be heard, not gone; once more before giving up
        // (review 121: a busy host's connections were cut and every watch listed again).
        if (graceLeft && performance.now() - due >= ms / 2) return arm(ms, false);
        // Timers run before sockets are read: after a stall the answer may be waiting, unread,
        // behind this timer. Judged once the socket was read (setImmediate follows the poll).
        setImmediate(() => {
          if (!answered && !session.destroyed) session.destroy(new Error(`the API at ${this.server} did not answer a ping within ${timeoutMs} ms${context}`));
        });
      }, ms).unref();
    };
    arm(timeoutMs, true);
    const sent = session.ping((err) => {
      answered = true;
      clearTimeout(deadline);
      if (err && !session.destroyed) session.destroy(err);
    });
    if (!sent) clearTimeout(deadline); // too many pings outstanding: the earlier one's deadline stands
  }

  private open(method: string, path: string, extra: OutgoingHttpHeaders = {}): ClientHttp2Stream {
    return this.connection().request({
      [constants.HTTP2_HEADER_METHOD]: method,
      [constants.HTTP2_HEADER_PATH]: path,
      authorization: `Bearer ${this.token}`,
      accept: 'application/json',
      ...extra,
    });
  }

  call(method: string, path: string, body?: unknown): Promise<ApiResult> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      let stream: ClientHttp2Stream;
      try {
        stream = this.open(method, path, payload ? { 'content-type': 'application/json' } : {});
      } catch (err) {
        reject(err as Error);
        return;
      }
      let status = 0;
      const chunks: Buffer[] = [];
      stream.on('response', (headers: IncomingHttpHeaders) => (status = Number(headers[constants.HTTP2_HEADER_STATUS])));
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', reject);
      // Reset or cut without 'end' (a no-op once answered).
      stream.on('close', () => reject(new Error(`${method} ${path}: the stream closed before an answer`)));
      stream.on('end', () => {
        // Ended without an answer: the connection went away under the request.
        if (!status) {
          reject(new Error(`${method} ${path}: the connection closed before an answer`));
          return;
        }
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: Record<string, unknown> | undefined;
        try {
          parsed = JSON.parse(text) as Record<string, unknown>;
        } catch {
          parsed = undefined;
        }
        resolve({ status, body: parsed, text });
      });
      stream.setTimeout(this.requestTimeoutMs, () => {
        stream.destroy(new Error(`${method} ${path}: no answer within ${this.requestTimeoutMs} ms`));
        // A slow answer, or a dead connection: find out now rather than at the next ping.
        if (stream.session) this.checkAlive(stream.session);
      });
      stream.end(payload);
    });
  }

  /**
   * Streams a watch: onEvent for each JSON line, onEnd once when the stream ends for any
   * reason (server timeout, connection lost, HTTP error before the stream: with its status).
   */
  watch(path: string, onEvent: (ev: { type: string; object: Record<string, unknown> }) => void, onEnd: (why: { status?: number; error?: Error; text?: string }) => void): WatchStream {
    let ended = false;
    const end = (why: { status?: number; error?: Error; text?: string }) => {
      if (ended) return;
      ended = true;
      onEnd(why);
    };
    let stream: ClientHttp2Stream;
    try {
      stream = this.open('GET', path);
    } catch (error) {
      queueMicrotask(() => end({ error: error as Error }));
      return { stop: () => (ended = true) };
    }
    let status = 0;
    let text = '';
    let buf = '';
    stream.on('response', (headers: IncomingHttpHeaders) => (status = Number(headers[constants.HTTP2_HEADER_STATUS])));
    stream.on('data', (c: Buffer) => {
      if (status !== 200) {
        text += c.toString('utf8');
        return;
      }
      buf += c.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        try {
          onEvent(JSON.parse(line) as { type: string; object: Record<string, unknown> });
        } catch (error) {
          stream.close(constants.NGHTTP2_CANCEL);
          end({ error: error as Error });
          return;
        }
      }
    });
    stream.on('end', () => end(status === 200 ? {} : { status, text }));
    stream.on('error', (error) => end({ error }));
    stream.on('close', () => end(status === 200 || status === 0 ? {} : { status, text }));
    stream.end();
    return {
      stop: () => {
        ended = true;
        stream.close(constants.NGHTTP2_CANCEL);
      },
    };
  }

  close(): void {
    this.unwatchStalls();
    for (const session of this.sessions) session.destroy();
    this.sessions.clear();
    this.session = undefined;
  }
}
