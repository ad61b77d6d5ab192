import { EventEmitter } from 'node:events';
import { Server, Socket } from 'node:net';
import { OFP13_VERSION, OFPMPF_MORE } from './constants';
import {
  BundleFailure,
  BundleWithheldError,
  OpenFlowBundleError,
  OpenFlowConnectionError,
  OpenFlowRequestError,
  OpenFlowTimeoutError,
} from './connection-errors';
import { OpenFlowDecodeError } from './errors';
import { MessageFramer } from './framing';
import { BundleFlags } from './messages/bundle';
import { ErrorMessage, OFPET_HELLO_FAILED, errorFromName } from './messages/error';
import { FlowStats, MultipartReplyBody, MultipartReplyMessage } from './messages/multipart-reply';
import { FlowStatsSelector, MultipartRequestBody } from './messages/multipart-request';
import { FeaturesReply } from './messages/simple';
import { OfMessage, decodeMessage, encodeMessage, encodeMessageInto } from './message';
import { Writer } from './wire/writer';
import { Target, describe, listenOn, openSocket, parseTarget } from './transport';
import { WriteQueue } from './write-queue';

/** The subset of pino's API we use, so any pino logger (or none) fits. */
export interface OpenFlowLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface ConnectionOptions {
  logger?: OpenFlowLogger;
  /** Send ECHO_REQUEST after this long without traffic from the peer. Default 5 s. */
  echoIntervalMs?: number;
  /** Declare the peer dead after this long without traffic. Default 3 x echoIntervalMs. */
  deadAfterMs?: number;
  /** Reply deadline for requests. Default 30 s. */
  requestTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** Active connections only: reconnect with exponential backoff. Default on. */
  reconnect?: false | { initialDelayMs?: number; maxDelayMs?: number };
}

/** A message without an xid yet (or xid 0): the connection assigns one. */
export type Outgoing = OfMessage extends infer M ? (M extends { xid: number } ? Omit<M, 'xid'> & { xid?: number } : never) : never;

type Events = {
  /** Asynchronous messages: packet_in, port_status, flow_removed, unmatched errors. */
  message: [OfMessage];
  connected: [FeaturesReply];
  disconnected: [Error | undefined];
};

export interface BundleOptions {
  /** Bundle flags (default atomic). */
  flags?: number;
  /** Asked after every add was accepted, just before the commit: false discards the bundle. */
  beforeCommit?: () => Promise<boolean>;
}

/** While a switch stays unreachable, its reconnect failure is logged again at most this often. */
const RECONNECT_LOG_MS = 30_000;

export interface OpenFlowConnection {
  readonly connected: boolean;
  /**
   * A connect is in flight or HELLO/FEATURES are under way: the switch may already have
   * accepted the socket (ovs-vswitchd hangs up if our HELLO is not in within about a second),
   * so a caller about to hold the event loop for long lets this finish first.
   */
  readonly establishing: boolean;
  /** Why the connection is down (refused, closed by the peer...), while it is. */
  readonly lastFailure: string | undefined;
  readonly datapathId: bigint | undefined;
  /** Resolves once HELLO and FEATURES have been exchanged (again after a reconnect). */
  ready(): Promise<FeaturesReply>;
  /** Sends without expecting a reply; resolves when handed to the socket. */
  send(msg: Outgoing): Promise<number>;
  /** Sends and resolves with the reply (multipart replies assembled into one). */
  request<R extends OfMessage = OfMessage>(msg: Outgoing): Promise<R>;
  /**
   * Sends messages that have no reply (flow_mod, group_mod...) followed by a
   * barrier; rejects with OpenFlowRequestError if the switch refused any of them.
   */
  transact(msgs: readonly Outgoing[]): Promise<void>;
  barrier(): Promise<void>;
  multipart(body: MultipartRequestBody): Promise<MultipartReplyBody>;
  dumpFlows(selector?: Partial<FlowStatsSelector>): Promise<FlowStats[]>;
  /**
   * All-or-nothing: open, add, commit; rejects with OpenFlowBundleError. beforeCommit, when
   * given, is asked once every add has been accepted: false discards the bundle instead of
   * committing it (BundleWithheldError).
   */
  bundle(msgs: readonly Outgoing[], opts?: BundleOptions): Promise<void>;
  close(): Promise<void>;
  on<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): this;
  off<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): this;
  once<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): this;
}

interface Pending {
  request: OfMessage;
  /** False for messages that have no reply: they only collect errors. */
  expectsReply: boolean;
  resolve: (m: OfMessage) => void;
  reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
  parts: MultipartReplyMessage[];
  errors: ErrorMessage[];
}

interface XidRange {
  first: number;
  count: number;
  errors: { index: number; error: ErrorMessage }[];
}

const EMPTY = Buffer.alloc(0);
/** Bytes of bundle_adds encoded before handing them to the socket in one write. */
const BUNDLE_CHUNK = 256 * 1024;
/** Typical bytes of one bundle_add carrying a flow_mod (sizes a bundle's first buffer). */
const BUNDLE_ADD_GUESS = 192;

const noopLogger: OpenFlowLogger = { debug: () => undefined, info: () => undefined, warn: () => undefined };

class Connection extends EventEmitter implements OpenFlowConnection {
  private socket: Socket | undefined;
  private writer: WriteQueue | undefined;
  private framer = new MessageFramer();
  private pending = new Map<number, Pending>();
  /** xid blocks of bundles in flight, collecting the errors of their adds. */
  private readonly ranges = new Set<XidRange>();
  private nextXid = (Math.random() * 0x7fffffff) >>> 0;
  private nextBundleId = 1;
  private features: FeaturesReply | undefined;
  private readyWaiters: { resolve: (f: FeaturesReply) => void; reject: (e: Error) => void }[] = [];
  private helloSeen = false;
  private lastRx = Date.now();
  /** When tick() last ran: a gap far past its interval means this process stalled, not the peer. */
  private lastTickAt = Date.now();
  private keepalive: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private closed = false;
  /** start() is waiting for the socket to connect. */
  private dialing = false;
  private readonly log: OpenFlowLogger;
  private readonly echoIntervalMs: number;
  private readonly deadAfterMs: number;
  private readonly requestTimeoutMs: number;

  constructor(
    private readonly target: Target | undefined,
    private readonly opts: ConnectionOptions,
  ) {
    super();
    this.log = opts.logger ?? noopLogger;
    this.echoIntervalMs = opts.echoIntervalMs ?? 5000;
    this.deadAfterMs = opts.deadAfterMs ?? this.echoIntervalMs * 3;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
  }

  get connected(): boolean {
    return this.features !== undefined;
  }

  get establishing(): boolean {
    return !this.closed && (this.dialing || (this.socket !== undefined && this.features === undefined));
  }

  get datapathId(): bigint | undefined {
    return this.features?.datapathId;
  }

  /** Active side: connect now, and again after failures if reconnect is on. */
  async start(): Promise<void> {
    if (!this.target) throw new OpenFlowConnectionError('no target to connect to');
    this.dialing = true;
    try {
      this.log.debug({ target: describe(this.target) }, 'openflow connecting');
      const s = await openSocket(this.target, this.opts.connectTimeoutMs ?? 10_000);
      this.dialing = false;
      this.attach(s);
    } catch (e) {
      this.dialing = false;
      this.scheduleReconnect(e as Error);
    }
  }

  attach(s: Socket): void {
    if (this.closed) {
      s.destroy();
      return;
    }
    this.socket = s;
    this.writer = new WriteQueue(s);
    this.framer = new MessageFramer();
    this.helloSeen = false;
    this.lastRx = Date.now();
    s.on('data', (chunk: Buffer) => this.onData(chunk));
    // Said by the reconnect line that follows (once per failure, see RECONNECT_LOG_MS).
    s.on('error', (e) => this.log.debug({ err: e.message }, 'openflow socket error'));
    s.on('close', () => this.onClose(s));
    this.lastTickAt = Date.now();
    this.keepalive = setInterval(() => this.tick(), this.tickMs);
    this.keepalive.unref();
    // A socket closed right after connecting rejects this write; onClose handles the rest.
    void this.writeRaw({ type: 'hello', xid: this.allocXid(), versions: [OFP13_VERSION] }).catch(() => undefined);
  }

  ready(): Promise<FeaturesReply> {
    if (this.features) return Promise.resolve(this.features);
    if (this.closed) return Promise.reject(new OpenFlowConnectionError('connection closed'));
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  /** n consecutive xids, none of them 0; returns the first. */
  private allocXidBlock(n: number): number {
    if (this.nextXid + n >= 0xffffffff) this.nextXid = 0;
    const first = this.nextXid + 1;
    this.nextXid += n;
    return first;
  }

  private allocXid(): number {
    this.nextXid = (this.nextXid + 1) >>> 0 || 1;
    return this.nextXid;
  }

  /** xid 0 or absent means "assign one" (the allocator never hands out 0). */
  private withXid(msg: Outgoing): OfMessage {
    const xid = msg.xid || this.allocXid();
    const m = { ...msg, xid } as OfMessage;
    // A bundled message must carry the outer xid (OVS checks it).
    if (m.type === 'bundle_add') m.message = { ...m.message, xid } as OfMessage;
    return m;
  }

  private async writeRaw(m: OfMessage): Promise<void> {
    if (!this.writer) throw new OpenFlowConnectionError('not connected');
    this.log.debug({ type: m.type, xid: m.xid }, 'openflow send');
    await this.writer.send(encodeMessage(m));
  }

  private requireConnected(): void {
    if (!this.features || !this.writer) throw new OpenFlowConnectionError('OpenFlow connection is not established');
  }

  async send(msg: Outgoing): Promise<number> {
    this.requireConnected();
    const m = this.withXid(msg);
    await this.writeRaw(m);
    return m.xid;
  }

  private track(m: OfMessage, expectsReply: boolean): Promise<OfMessage> {
    const tracked = new Promise<OfMessage>((resolve, reject) => {
      const p: Pending = { request: m, expectsReply, resolve, reject, parts: [], errors: [] };
      if (expectsReply) {
        p.timer = setTimeout(() => {
          this.pending.delete(m.xid);
          reject(new OpenFlowTimeoutError(m, this.requestTimeoutMs));
        }, this.requestTimeoutMs);
      }
      this.pending.set(m.xid, p);
    });
    // Teardown rejects every pending reply, including ones whose caller already left
    // (its write failed first): mark those handled so a dropped switch never surfaces as an
    // unhandled rejection. Callers awaiting the promise still get the error.
    tracked.catch(() => undefined);
    return tracked;
  }

  async request<R extends OfMessage = OfMessage>(msg: Outgoing): Promise<R> {
    this.requireConnected();
    const m = this.withXid(msg);
    const reply = this.track(m, true);
    await this.writeRaw(m);
    return (await reply) as R;
  }

  async transact(msgs: readonly Outgoing[]): Promise<void> {
    this.requireConnected();
    const sent: OfMessage[] = [];
    for (const msg of msgs) {
      const m = this.withXid(msg);
      void this.track(m, false).catch(() => undefined);
      sent.push(m);
      await this.writeRaw(m);
    }
    try {
      await this.request({ type: 'barrier_request' });
    } finally {
      this.throwCollected(sent);
    }
  }

  /** Removes the silent trackers and throws the first error one of them collected. */
  private throwCollected(sent: readonly OfMessage[]): void {
    let first: OpenFlowRequestError | undefined;
    for (const m of sent) {
      const p = this.pending.get(m.xid);
      this.pending.delete(m.xid);
      const e = p?.errors[0];
      if (e && !first) first = new OpenFlowRequestError(e, m, this.decodeFailed(e));
    }
    if (first) throw first;
  }

  async barrier(): Promise<void> {
    await this.request({ type: 'barrier_request' });
  }

  async multipart(body: MultipartRequestBody): Promise<MultipartReplyBody> {
    const r = await this.request<MultipartReplyMessage>({ type: 'multipart_request', flags: 0, body });
    return r.body;
  }

  async dumpFlows(selector: Partial<FlowStatsSelector> = {}): Promise<FlowStats[]> {
    const body = await this.multipart({
      kind: 'flow',
      tableId: 0xff,
      outPort: 0xffffffff,
      outGroup: 0xffffffff,
      cookie: 0n,
      cookieMask: 0n,
      match: [],
      ...selector,
    });
    return body.kind === 'flow' ? body.flows : [];
  }

  async bundle(msgs: readonly Outgoing[], opts: BundleOptions = {}): Promise<void> {
    this.requireConnected();
    const bundleId = this.nextBundleId++;
    const flags = opts.flags ?? BundleFlags.ATOMIC;
    const control = (controlType: 'open_request' | 'commit_request' | 'discard_request'): Outgoing => ({
      type: 'bundle_control',
      bundleId,
      controlType,
      flags,
      properties: EMPTY,
    });
    // The open is not waited for on its own: open, adds and barrier go out together
    // and the switch answers them in order, so a bundle costs two round trips (the
    // barrier's, then the commit's) instead of three. A refused open makes every add
    // fail too, and its error is read below before anything is committed.
    const opened = this.request(control('open_request'));
    opened.catch(() => undefined);
    // The adds take one block of xids and are tracked as a range, not one
    // pending promise each: a bundle may hold 100,000 messages.
    const range: XidRange = { first: this.allocXidBlock(msgs.length), count: msgs.length, errors: [] };
    this.ranges.add(range);
    let commitError: OpenFlowRequestError | undefined;
    try {
      const t0 = performance.now();
      await this.streamBundleAdds(msgs, bundleId, flags, range.first);
      // OVS refuses some messages already when they are added (a bad table id)
      // and would then commit the rest. The barrier's reply comes after every
      // add's error, so a bundle with a refused add is discarded, never committed.
      // (The price is the commit's own round trip: measured 0.5-1 ms against a busy
      // ovs-vswitchd whose barrier took 40-220 ms, so pipelining the commit would buy
      // nothing worth a switch that may see half a bundle.)
      await this.request({ type: 'barrier_request' });
      await opened;
      const barrierMs = performance.now() - t0;
      // Withheld: the catch below discards it, as for any failure before the commit.
      if (range.errors.length === 0 && opts.beforeCommit && !(await opts.beforeCommit())) throw new BundleWithheldError(bundleId);
      if (range.errors.length === 0) await this.request(control('commit_request'));
      this.log.debug({ event: 'openflow.bundle', bundleId, adds: msgs.length, committed: range.errors.length === 0, barrierMs: +barrierMs.toFixed(1), ms: +(performance.now() - t0).toFixed(1) }, 'openflow: bundle done');
    } catch (e) {
      if (!(e instanceof OpenFlowRequestError)) {
        this.ranges.delete(range);
        // Nothing was committed; do not leave an open bundle behind on the switch.
        if (this.connected) await this.request(control('discard_request')).catch(() => undefined);
        throw e;
      }
      commitError = e;
    }
    this.ranges.delete(range);
    // OVS reports each failed inner message (with its bundle_add xid) before the commit's answer.
    const failures: BundleFailure[] = range.errors.map(({ index, error }) => ({
      error,
      request: { ...msgs[index], xid: (range.first + index) >>> 0 } as OfMessage,
    }));
    if (commitError) {
      // A failed commit already discarded the bundle; a failed add did not.
      if (commitError.request?.type !== 'bundle_control' || commitError.request.controlType !== 'commit_request') {
        await this.request(control('discard_request')).catch(() => undefined);
      }
      throw new OpenFlowBundleError(bundleId, commitError.error, commitError.request, failures);
    }
    const first = failures[0];
    if (first) {
      await this.request(control('discard_request')).catch(() => undefined);
      throw new OpenFlowBundleError(bundleId, first.error, first.request, failures);
    }
  }

  /**
   * Encodes the bundle_adds back to back into large buffers and writes those,
   * waiting for the socket to drain between chunks: no per-message allocation,
   * promise or syscall, and memory stays bounded for any bundle size.
   */
  private async streamBundleAdds(msgs: readonly Outgoing[], bundleId: number, flags: number, firstXid: number): Promise<void> {
    // Buffers sized for what is left to encode (the writer grows if a guess is short): a
    // port's bundle is a few kB, and a full chunk each (twice: detach allocates the next)
    // was half a megabyte of allocation per bundle.
    const sizeFor = (left: number) => Math.min(BUNDLE_CHUNK + 4096, 512 + left * BUNDLE_ADD_GUESS);
    const w = new Writer(sizeFor(msgs.length));
    for (let i = 0; i < msgs.length; i++) {
      const message = msgs[i] as OfMessage;
      encodeMessageInto(w, { type: 'bundle_add', xid: (firstXid + i) >>> 0, bundleId, flags, properties: EMPTY, message });
      if (w.length >= BUNDLE_CHUNK) await this.writeChunk(w.detach(sizeFor(msgs.length - i - 1)));
    }
    if (w.length > 0) await this.writeChunk(w.detach(0));
  }

  private async writeChunk(buf: Buffer): Promise<void> {
    if (!this.writer) throw new OpenFlowConnectionError('not connected');
    await this.writer.send(buf);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const s = this.socket;
    if (!s || s.destroyed) {
      this.teardown(new OpenFlowConnectionError('connection closed'));
      return;
    }
    await new Promise<void>((resolve) => {
      s.once('close', () => resolve());
      s.end();
      setTimeout(() => s.destroy(), 1000).unref();
    });
  }

  private onData(chunk: Buffer): void {
    this.lastRx = Date.now();
    let frames: Buffer[];
    try {
      frames = this.framer.push(chunk);
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'openflow stream corrupt, dropping connection');
      this.socket?.destroy();
      return;
    }
    for (const f of frames) {
      let m: OfMessage;
      try {
        m = decodeMessage(f);
      } catch (e) {
        // One undecodable message (e.g. a type we do not model) must not kill the session.
        if (e instanceof OpenFlowDecodeError) {
          this.log.warn({ err: e.message, bytes: f.length }, 'openflow: dropping undecodable message');
          continue;
        }
        throw e;
      }
      this.dispatch(m);
    }
  }

  private dispatch(m: OfMessage): void {
    this.log.debug({ type: m.type, xid: m.xid }, 'openflow recv');
    if (!this.helloSeen) {
      if (m.type !== 'hello') return this.fail(new OpenFlowConnectionError(`expected HELLO, got ${m.type}`));
      this.helloSeen = true;
      // The peer must support 1.3: by its bitmap if it sent one, else by its header's
      // version, the highest it speaks (OpenFlow 1.3.1 section 6.3.1).
      const offered = m.versions.length > 0 ? m.versions : [m.headerVersion ?? OFP13_VERSION];
      const speaks13 = m.versions.length > 0 ? offered.includes(OFP13_VERSION) : offered[0]! >= OFP13_VERSION;
      if (!speaks13) {
        void this.writeRaw(errorFromName('OFPHFC_INCOMPATIBLE', m.xid)).catch(() => undefined);
        const what = m.versions.length > 0 ? `offers ${offered.map(ofVersionName).join(', ')}` : `its HELLO says ${ofVersionName(offered[0]!)}, with no version bitmap`;
        return this.fail(new OpenFlowConnectionError(`peer does not speak OpenFlow 1.3 (${what}); set the bridge's protocols to include OpenFlow13`));
      }
      void this.handshake();
      return;
    }
    // The switch refusing our HELLO says why in the error's text, then hangs up.
    if (m.type === 'error' && m.errorType === OFPET_HELLO_FAILED && !this.features) {
      const text = m.data.toString('latin1').replace(/[^\x20-\x7e]+/g, ' ').trim();
      return this.fail(new OpenFlowConnectionError(`the switch refused the connection: ${m.name}${text ? `: ${text}` : ''}`));
    }
    if (m.type === 'echo_request') {
      void this.writeRaw({ type: 'echo_reply', xid: m.xid, data: m.data }).catch(() => undefined);
      return;
    }
    const p = this.pending.get(m.xid);
    if (!p) {
      if (m.type === 'error' && this.collectRangeError(m)) return;
      if (m.type !== 'echo_reply') this.emit('message', m);
      return;
    }
    if (m.type === 'error') {
      if (!p.expectsReply) {
        p.errors.push(m);
        return;
      }
      this.settle(m.xid, p);
      p.reject(new OpenFlowRequestError(m, p.request, this.decodeFailed(m)));
      return;
    }
    if (m.type === 'multipart_reply' && m.flags & OFPMPF_MORE) {
      p.parts.push(m);
      return;
    }
    if (!p.expectsReply) return;
    this.settle(m.xid, p);
    p.resolve(m.type === 'multipart_reply' ? mergeMultipart([...p.parts, m]) : m);
  }

  private collectRangeError(e: ErrorMessage): boolean {
    for (const r of this.ranges) {
      const index = (e.xid - r.first) >>> 0;
      if (index < r.count) {
        r.errors.push({ index, error: e });
        return true;
      }
    }
    return false;
  }

  private settle(xid: number, p: Pending): void {
    if (p.timer) clearTimeout(p.timer);
    this.pending.delete(xid);
  }

  private decodeFailed(e: ErrorMessage): OfMessage | undefined {
    try {
      return e.data.length >= 8 ? decodeMessage(e.data) : undefined;
    } catch {
      return undefined; // OVS may truncate the echoed request.
    }
  }

  private async handshake(): Promise<void> {
    try {
      const xid = this.allocXid();
      const reply = this.track({ type: 'features_request', xid }, true);
      await this.writeRaw({ type: 'features_request', xid });
      const f = (await reply) as FeaturesReply;
      this.features = f;
      this.attempt = 0;
      this.log.info({ dpid: f.datapathId.toString(16) }, 'openflow connected');
      for (const w of this.readyWaiters.splice(0)) w.resolve(f);
      this.reconnectLogged = undefined;
      this.emit('connected', f);
    } catch (e) {
      this.fail(e as Error);
    }
  }

  private get tickMs(): number {
    return Math.max(50, Math.floor(this.echoIntervalMs / 2));
  }

  private tick(): void {
    const now = Date.now();
    const gap = now - this.lastTickAt;
    this.lastTickAt = now;
    if (gap > 2 * this.tickMs + 100) {
      // Our own event loop was blocked (a verify of half a million flows takes seconds): the
      // peer's echo replies are sitting unread in the socket, so its silence is ours. Give it
      // one echo interval from now, and ask.
      this.log.debug({ stalledMs: gap - this.tickMs }, 'openflow keepalive: this process stalled, not judging the peer');
      this.lastRx = Math.max(this.lastRx, now - this.echoIntervalMs);
      this.sendEcho();
      return;
    }
    // Judge after the poll phase, so bytes that arrived during a short stall are read first.
    setImmediate(() => this.judgeLiveness());
  }

  private judgeLiveness(): void {
    if (!this.socket || this.socket.destroyed) return;
    const idle = Date.now() - this.lastRx;
    if (idle >= this.deadAfterMs) {
      this.log.warn({ idleMs: idle }, 'openflow peer is not answering, dropping connection');
      this.fail(new OpenFlowConnectionError(`peer silent for ${idle} ms`));
    } else if (idle >= this.echoIntervalMs) {
      this.sendEcho();
    }
  }

  private sendEcho(): void {
    if (!this.helloSeen) return;
    void this.writeRaw({ type: 'echo_request', xid: this.allocXid(), data: Buffer.alloc(0) }).catch(() => undefined);
  }

  private fail(e: Error): void {
    this.lastError = e;
    this.socket?.destroy();
  }

  private lastError: Error | undefined;
  /**
   * The failure of the latest attempt to connect or stay connected (a changed one is logged
   * at once, so this is always the latest), when it was last logged, and how many attempts
   * since went unlogged; cleared once connected.
   */
  private reconnectLogged: { err: string; at: number; repeats: number } | undefined;

  /** Why the connection is down (refused, closed by the peer...), while it is. */
  get lastFailure(): string | undefined {
    return this.connected ? undefined : this.reconnectLogged?.err;
  }

  private onClose(s: Socket): void {
    if (s !== this.socket) return;
    const err = this.lastError ?? new OpenFlowConnectionError('connection closed by peer');
    this.lastError = undefined;
    this.teardown(err);
    this.emit('disconnected', this.closed ? undefined : err);
    if (!this.closed) this.scheduleReconnect(err);
  }

  private teardown(err: Error): void {
    if (this.keepalive) clearInterval(this.keepalive);
    this.keepalive = undefined;
    this.writer?.fail(err);
    this.writer = undefined;
    this.socket = undefined;
    this.features = undefined;
    for (const [xid, p] of this.pending) {
      this.settle(xid, p);
      p.reject(err);
    }
    if (this.closed || !this.target || this.opts.reconnect === false) {
      for (const w of this.readyWaiters.splice(0)) w.reject(err);
    }
  }

  private scheduleReconnect(err: Error): void {
    if (this.closed || !this.target || this.opts.reconnect === false) {
      for (const w of this.readyWaiters.splice(0)) w.reject(err);
      return;
    }
    const cfg = this.opts.reconnect ?? {};
    const base = Math.min(cfg.maxDelayMs ?? 8000, (cfg.initialDelayMs ?? 100) * 2 ** this.attempt++);
    // Jitter spreads reconnect storms when many switches restart together.
    const delay = Math.round(base * (0.75 + Math.random() * 0.5));
    // A switch that stays away would get a line per attempt (every second, per connection):
    // the same failure is said once, then every RECONNECT_LOG_MS with how many attempts it took.
    const now = Date.now();
    if (err.message !== this.reconnectLogged?.err || now - this.reconnectLogged.at >= RECONNECT_LOG_MS) {
      this.log.info({ target: describe(this.target), delayMs: delay, err: err.message, attempts: (this.reconnectLogged?.repeats ?? 0) + 1 }, 'openflow reconnecting');
      this.reconnectLogged = { err: err.message, at: now, repeats: 0 };
    } else this.reconnectLogged.repeats++;
    this.reconnectTimer = setTimeout(() => void this.start(), delay);
  }
}

/** Concatenates the records of a multi-message multipart reply. */
function mergeMultipart(parts: MultipartReplyMessage[]): MultipartReplyMessage {
  const last = parts[parts.length - 1] as MultipartReplyMessage;
  const body = last.body;
  const concat = <K extends string>(key: K): MultipartReplyBody =>
    ({ ...body, [key]: parts.flatMap((p) => (p.body as unknown as Record<K, unknown[]>)[key] ?? []) }) as MultipartReplyBody;
  switch (body.kind) {
    case 'flow':
      return { ...last, flags: 0, body: concat('flows') };
    case 'table':
      return { ...last, flags: 0, body: concat('tables') };
    case 'port_stats':
    case 'port_desc':
      return { ...last, flags: 0, body: concat('ports') };
    case 'group':
    case 'group_desc':
      return { ...last, flags: 0, body: concat('groups') };
    case 'meter':
    case 'meter_config':
      return { ...last, flags: 0, body: concat('meters') };
    default:
      return last;
  }
}

/** Connects actively to a switch ("unix:/run/openvswitch/br0.mgmt", "tcp:10.0.0.1:6653"). */
export function createConnection(target: string, opts: ConnectionOptions = {}): OpenFlowConnection {
  const c = new Connection(parseTarget(target), opts);
  void c.start();
  return c;
}

export interface OpenFlowListener {
  readonly address: string;
  close(): Promise<void>;
}

/** Passive side: switches connect to us (ovs-vsctl set-controller br0 tcp:...). */
export async function listen(
  target: string,
  onConnection: (c: OpenFlowConnection) => void,
  opts: Omit<ConnectionOptions, 'reconnect'> = {},
): Promise<OpenFlowListener> {
  const t = parseTarget(target);
  const conns = new Set<Connection>();
  const server: Server = await listenOn(t, (s) => {
    const c = new Connection(undefined, { ...opts, reconnect: false });
    conns.add(c);
    c.once('disconnected', () => conns.delete(c));
    c.attach(s);
    onConnection(c);
  });
  const addr = server.address();
  const address = typeof addr === 'string' ? `unix:${addr}` : addr ? `tcp:${addr.address}:${addr.port}` : target;
  return {
    address,
    close: async () => {
      await Promise.all([...conns].map((c) => c.close()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** "OpenFlow 1.0" for wire version 1, as ovs-vsctl's protocols names them. */
function ofVersionName(wire: number): string {
  return wire >= 1 && wire <= 6 ? `OpenFlow 1.${wire - 1}` : `wire version ${wire}`;
}
