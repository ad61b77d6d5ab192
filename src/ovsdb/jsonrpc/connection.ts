/**
 * JSON-RPC 1.0 peer over one Duplex stream (RFC 7047 section 4): numbered requests
 * matched to replies, notifications in both directions, requests from the server (only
 * "echo" is defined, and it must be answered or ovsdb-server drops us), and a bounded
 * incoming message size. One instance == one transport connection; reconnecting makes
 * a new instance, so no state leaks between connections.
 */
import type { Duplex } from 'node:stream';
import {
  ConnectionClosedError,
  OvsdbError,
  RequestCancelledError,
  RequestTimeoutError,
  RpcError,
  TlsError,
} from '../errors';
import { isJsonObject, type Json, type JsonObject } from '../wire/json';
import type { RpcId } from '../wire/rpc';
import { silentLogger, type OvsdbLogger } from '../logger';
import { DEFAULT_MAX_MESSAGE_SIZE, JsonStreamSplitter, encodeMessage } from './framing';
import { classifyTransportError } from './transport';

export interface JsonRpcConnectionOptions {
  maxMessageSize?: number;
  logger?: OvsdbLogger;
  /** Reject a request with RequestTimeoutError after this long (0/undefined: never). */
  requestTimeoutMs?: number;
}

export type NotificationHandler = (method: string, params: Json[]) => void;
/** Answers a server-initiated request other than echo; throw to send an error. */
export type RequestHandler = (method: string, params: Json[]) => Json;

interface Pending {
  method: string;
  /** Runs synchronously when the reply is dispatched, before any later message. */
  onResult?: (result: Json) => void;
  resolve: (v: Json) => void;
  reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
}

export class JsonRpcConnection {
  private readonly splitter: JsonStreamSplitter;
  private readonly pending = new Map<RpcId, Pending>();
  private readonly log: OvsdbLogger;
  private nextId = 1;
  private closedWith: Error | undefined;
  private isClosed = false;
  private notificationHandlers: NotificationHandler[] = [];
  private closeHandlers: Array<(err: Error | undefined) => void> = [];
  private requestHandler: RequestHandler | undefined;
  /** Time of the last byte received; the inactivity probe reads it. */
  lastActivity = Date.now();

  constructor(
    private readonly stream: Duplex,
    private readonly opts: JsonRpcConnectionOptions = {},
  ) {
    this.splitter = new JsonStreamSplitter(opts.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE);
    this.log = opts.logger ?? silentLogger;
    stream.on('data', (chunk: Buffer) => this.onData(chunk));
    // TLS failures can arrive after the handshake (TLS 1.3 servers reject a client
    // certificate that way): keep them typed rather than a bare socket error.
    stream.on('error', (err: Error) => this.close(classifyTransportError(err)));
    stream.on('close', () => this.close(this.closedWith ?? new ConnectionClosedError('connection closed by peer')));
    stream.on('end', () => this.close(new ConnectionClosedError('connection closed by peer')));
  }

  get closed(): boolean {
    return this.isClosed;
  }
  get closeReason(): Error | undefined {
    return this.closedWith;
  }

  onNotification(h: NotificationHandler): void {
    this.notificationHandlers.push(h);
  }
  onClose(h: (err: Error | undefined) => void): void {
    if (this.isClosed) queueMicrotask(() => h(this.closedWith));
    else this.closeHandlers.push(h);
  }
  setRequestHandler(h: RequestHandler): void {
    this.requestHandler = h;
  }

  /** Sends a request; `id` lets the caller cancel it. */
  /**
   * `onResult` runs synchronously while the reply is dispatched: a monitor reply must
   * reach the cache before the update notifications that follow it in the same read,
   * which a promise continuation (a later microtask) would not guarantee.
   */
  start(method: string, params: Json[], onResult?: (result: Json) => void): { id: number; result: Promise<Json> } {
    const id = this.nextId++;
    const result = new Promise<Json>((resolve, reject) => {
      if (this.isClosed) {
        const why = this.closedWith;
        reject(why instanceof ConnectionClosedError && !why.outcomeUnknown ? why : new ConnectionClosedError(why?.message ?? 'connection closed', { cause: why }));
        return;
      }
      const p: Pending = { method, resolve, reject, onResult };
      if (this.opts.requestTimeoutMs) {
        p.timer = setTimeout(() => {
          this.pending.delete(id);
          reject(new RequestTimeoutError(`${method} got no reply within ${this.opts.requestTimeoutMs} ms`));
        }, this.opts.requestTimeoutMs);
      }
      this.pending.set(id, p);
      this.write({ method, params, id });
    });
    return { id, result };
  }

  request(method: string, params: Json[]): Promise<Json> {
    return this.start(method, params).result;
  }

  notify(method: string, params: Json[]): void {
    this.write({ method, params, id: null });
  }

  /**
   * RFC 7047 4.1.4: tells the server to abandon request `id`. ovsdb-server drops the
   * pending transaction without replying (unless db_change_aware), so the local
   * promise is rejected here rather than waiting for an answer that may never come.
   */
  cancel(id: number): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    if (p.timer) clearTimeout(p.timer);
    this.notify('cancel', [id]);
    p.reject(new RequestCancelledError(`${p.method} request ${id} cancelled`));
  }

  /** Closes the transport and fails every outstanding request with `err`. */
  close(err?: Error): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.closedWith = err;
    this.stream.destroy();
    const reason = err ?? new ConnectionClosedError('connection closed');
    for (const [, p] of this.pending) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(sentRequestLost(p.method, reason));
    }
    this.pending.clear();
    for (const h of this.closeHandlers) h(err);
    this.closeHandlers = [];
  }

  private write(msg: JsonObject | { method: string; params: Json[]; id: RpcId | null }): void {
    if (this.isClosed) return;
    this.stream.write(encodeMessage(msg));
  }

  private onData(chunk: Buffer): void {
    if (this.isClosed) return;
    this.lastActivity = Date.now();
    let messages: Json[];
    try {
      messages = this.splitter.push(chunk);
    } catch (e) {
      // The stream position is lost after a framing error: the only safe move is to drop the connection.
      this.log.warn({ err: e }, 'ovsdb: closing connection after framing error');
      this.close(e as Error);
      return;
    }
    for (const m of messages) {
      if (this.isClosed) return;
      this.dispatch(m);
    }
  }

  private dispatch(m: Json): void {
    if (!isJsonObject(m)) {
      this.close(new OvsdbError('JSON-RPC message is not an object'));
      return;
    }
    const method = m.method;
    if (typeof method === 'string') {
      const params = Array.isArray(m.params) ? m.params : [];
      if (m.id === null || m.id === undefined) {
        for (const h of this.notificationHandlers) h(method, params);
      } else {
        this.answer(m.id, method, params);
      }
      return;
    }
    if (m.id === undefined || !('result' in m || 'error' in m)) {
      this.log.warn({ msg: m }, 'ovsdb: ignoring message that is neither request nor reply');
      return;
    }
    const id = m.id as RpcId;
    const p = this.pending.get(id);
    if (!p) return; // cancelled or timed out: a late reply is not an error
    this.pending.delete(id);
    if (p.timer) clearTimeout(p.timer);
    if (m.error !== null && m.error !== undefined) {
      p.reject(new RpcError(p.method, m.error));
      return;
    }
    const result = m.result ?? null;
    try {
      p.onResult?.(result);
    } catch (e) {
      p.reject(e as Error);
      return;
    }
    p.resolve(result);
  }

  private answer(id: Json, method: string, params: Json[]): void {
    if (method === 'echo') {
      // RFC 7047 4.1.11: the reply's result echoes the params. ovsdb-server's own
      // inactivity probe sends these and drops sessions that do not answer.
      this.log.debug({ id }, 'ovsdb: answering server echo');
      this.write({ result: params, error: null, id: id as RpcId });
      return;
    }
    try {
      if (!this.requestHandler) throw new OvsdbError(`unknown method ${method}`);
      this.write({ result: this.requestHandler(method, params), error: null, id: id as RpcId });
    } catch (e) {
      this.write({ result: null, error: (e as Error).message, id: id as RpcId });
    }
  }
}

/**
 * The error for a request that was written before the connection went: its outcome is
 * unknown. A TLS failure keeps its own error: the server never read the request.
 */
function sentRequestLost(method: string, reason: Error): ConnectionClosedError {
  if (reason instanceof TlsError) return reason;
  const note = method === 'transact' ? ' (the transaction had been sent: it may have committed)' : '';
  return new ConnectionClosedError(`${reason.message}${note}`, { cause: reason, outcomeUnknown: true });
}
