/**
 * The fast path's TypeScript API: fill tables, classify batches, read counters.
 * openFastPath() never throws for environmental reasons: when the library cannot load
 * it returns an unavailable status with the reason (once per process in the log) and
 * callers carry on without a fast path.
 */
import { findLibrary, loadNative, CONN_COUNT_SIZE, CONN_COUNTS, VERDICT_SIZE, ENCAP_PARAMS_SIZE, type Handle, type NativeLib } from './native';
import {
  LB_SLOTS_MAX,
  Encap, IFACE_COUNTERS, TABLE_COUNTERS, type BackendSpec, type EncapParams, type FastPathStatus, type IfaceCounters,
  type TableCounters, type Verdict, type VipSpec, type VtepSpec,
} from './types';

export class FastPathError extends Error {
  constructor(readonly op: string, readonly code: number) {
    super(`fastpath: ${op} failed (${code})`);
  }
}

/** struct vfp_conn_val flags (vfp.h VFP_CONN_*). */
const CONN_CLOSED = 1;
const CONN_PASS = 2;
/** Where a connection key is published on the underlay (vfp.h VFP_PORT_VIA_UNDERLAY). */
export const PORT_VIA_UNDERLAY = 0xffffffff;

/**
 * struct vfp_conn_key: an IPv4 4-tuple in network order (addresses as numbers), and the VNI
 * of a key at the underlay (24 bits, network order; 0 at a VM's NIC).
 */
function connKey(src: number, dst: number, sport: number, dport: number, proto: number, vni = 0): Buffer {
  const key = Buffer.alloc(16);
  key.writeUInt32BE(src >>> 0, 0);
  key.writeUInt32BE(dst >>> 0, 4);
  key.writeUInt16BE(sport, 8);
  key.writeUInt16BE(dport, 10);
  key.writeUInt8(proto, 12);
  key.writeUIntBE(vni, 13, 3);
  return key;
}

function check(op: string, rc: number): number {
  if (rc < 0) throw new FastPathError(op, rc);
  return rc;
}

/** Tables being assembled; commit() publishes them atomically (RCU in C). */
export class TableBuilder {
  constructor(private readonly lib: NativeLib, readonly handle: Handle) {}
  /** Outer source of encapsulated frames: this host's VTEP address and underlay MAC. */
  localVtep(ip: number, mac: Uint8Array): this {
    check('set_local_vtep', this.lib.setLocalVtep(this.handle, ip >>> 0, mac));
    return this;
  }
  port(port: number, network: number, flags = 0): this {
    check('add_port', this.lib.addPort(this.handle, port, network, flags));
    return this;
  }
  /** encap: the network's; a tunnel frame of the other one carrying this VNI is refused (absent: either). */
  vni(vni: number, network: number, encap?: Encap): this {
    if (encap === undefined) check('add_vni', this.lib.addVni(this.handle, vni, network));
    else check('add_vni_encap', this.lib.addVniEncap(this.handle, vni, network, encap));
    return this;
  }
  vtep(v: VtepSpec): this {
    check('add_vtep', this.lib.addVtep(this.handle, v.id, v.ip >>> 0, v.nextHopMac, v.encap));
    return this;
  }
  localMac(network: number, mac: Uint8Array, port: number): this {
    check('add_mac_local', this.lib.addMacLocal(this.handle, network, mac, port));
    return this;
  }
  remoteMac(network: number, mac: Uint8Array, vtepId: number, vni: number): this {
    check('add_mac_remote', this.lib.addMacRemote(this.handle, network, mac, vtepId, vni));
    return this;
  }
  vip(v: VipSpec): this {
    const idx = check('add_vip', this.lib.addVip(this.handle, v.network, v.proto, v.addr, v.port));
    if (v.flags) check('set_vip_flags', this.lib.setVipFlags(this.handle, idx, v.flags));
    for (const b of v.backends) this.backend(idx, b);
    if (v.slots) {
      if (v.slots.length < 1 || v.slots.length > LB_SLOTS_MAX) throw new RangeError(`a VIP's slot table has 1 to ${LB_SLOTS_MAX} entries, not ${v.slots.length}`);
      check('set_vip_slots', this.lib.setVipSlots(this.handle, idx, Uint32Array.from(v.slots)));
    }
    return this;
  }
  private backend(vip: number, b: BackendSpec): void {
    if (b.mac) check('add_backend_mac', this.lib.addBackendMac(this.handle, vip, b.id, b.addr, b.port, b.weight, b.mac));
    else check('add_backend', this.lib.addBackend(this.handle, vip, b.id, b.addr, b.port, b.weight));
  }
  clear(): this {
    this.lib.builderClear(this.handle);
    return this;
  }
  free(): void {
    this.lib.builderFree(this.handle);
  }
}

/** A batch of frames laid out in one buffer (as in a UMEM): one pointer crosses into C. */
export class FrameBatch {
  readonly offs: Uint32Array;
  readonly lens: Uint32Array;
  readonly verdictBuf: Buffer;
  private readonly view: DataView;
  count = 0;
  /** chunkSize: frames sit in chunks of this size, headroom before each (0: none, packed). */
  constructor(readonly buf: Buffer, readonly capacity: number, readonly chunkSize = 0) {
    this.offs = new Uint32Array(capacity);
    this.lens = new Uint32Array(capacity);
    this.verdictBuf = Buffer.alloc(capacity * VERDICT_SIZE);
    this.view = new DataView(this.verdictBuf.buffer, this.verdictBuf.byteOffset, this.verdictBuf.byteLength);
  }
  /** Packs frames back to back into buf (copying them once, as an rx ring would). */
  static of(frames: readonly Uint8Array[]): FrameBatch {
    const total = frames.reduce((s, f) => s + f.length, 0);
    const b = new FrameBatch(Buffer.alloc(Math.max(total, 1)), Math.max(frames.length, 1));
    let at = 0;
    frames.forEach((f, i) => {
      b.buf.set(f, at);
      b.offs[i] = at;
      b.lens[i] = f.length;
      at += f.length;
    });
    b.count = frames.length;
    return b;
  }
  /**
   * Frames in fixed-size slots with headroom in front of each, as in an AF_XDP UMEM
   * (XDP_PACKET_HEADROOM is 256): room to prepend tunnel headers in place.
   */
  static withHeadroom(frames: readonly Uint8Array[], headroom = 256, stride = 2048): FrameBatch {
    const b = new FrameBatch(Buffer.alloc(Math.max(frames.length, 1) * stride), Math.max(frames.length, 1), stride);
    frames.forEach((f, i) => {
      if (headroom + f.length > stride) throw new RangeError(`frame ${i} too long for stride ${stride}`);
      b.buf.set(f, i * stride + headroom);
      b.offs[i] = i * stride + headroom;
      b.lens[i] = f.length;
    });
    b.count = frames.length;
    return b;
  }
  /** Frame i as it is now (after forward(), the frame to transmit). A view, no copy. */
  frame(i: number): Buffer {
    return this.buf.subarray(this.offs[i], this.offs[i] + this.lens[i]);
  }
  kind(i: number): number {
    return this.view.getUint8(i * VERDICT_SIZE);
  }
  port(i: number): number {
    return this.view.getUint32(i * VERDICT_SIZE + 8, true);
  }
  verdict(i: number): Verdict {
    const o = i * VERDICT_SIZE, v = this.view;
    return {
      kind: v.getUint8(o), reason: v.getUint8(o + 1), encap: v.getUint8(o + 2), err: v.getUint8(o + 3),
      innerOff: v.getUint16(o + 4, true), l4port: v.getUint16(o + 6, true), port: v.getUint32(o + 8, true),
      network: v.getUint32(o + 12, true), vni: v.getUint32(o + 16, true),
      addr: Uint8Array.from(this.verdictBuf.subarray(o + 20, o + 36)),
    };
  }
  verdicts(): Verdict[] {
    return Array.from({ length: this.count }, (_, i) => this.verdict(i));
  }
}

/** One classifying context (per thread in C): its own LRU and counters. */
export class Classifier {
  private readonly ctr = new BigUint64Array(TABLE_COUNTERS.length);
  private readonly ictr = new BigUint64Array(IFACE_COUNTERS.length);
  constructor(private readonly lib: NativeLib, readonly handle: Handle) {}
  /** Hot path: one native call for the whole batch, no copies. */
  classify(inPort: number, batch: FrameBatch, n = batch.count): void {
    this.lib.classifyUmem(this.handle, inPort, batch.buf, batch.offs, batch.lens, n, batch.verdictBuf);
  }
  /**
   * Classify and act in place: encapsulate into the headroom, decapsulate, rewrite
   * toward VIP backends; offs/lens then describe the frames to transmit. Returns how
   * many frames took the fast path.
   */
  forward(inPort: number, batch: FrameBatch, n = batch.count): number {
    return this.lib.forwardUmem(this.handle, inPort, batch.buf, batch.chunkSize, batch.offs, batch.lens, n, batch.verdictBuf);
  }
  counters(): TableCounters {
    this.lib.ctxCounters(this.handle, this.ctr, this.ctr.length);
    return Object.fromEntries(TABLE_COUNTERS.map((k, i) => [k, this.ctr[i]])) as TableCounters;
  }
  ifaceCounters(port: number): IfaceCounters {
    this.ictr.fill(0n);
    this.lib.ctxIfaceCounters(this.handle, port, this.ictr, this.ictr.length);
    return Object.fromEntries(IFACE_COUNTERS.map((k, i) => [k, this.ictr[i]])) as IfaceCounters;
  }
  /**
   * Takes over a connection an earlier process published in its XDP maps (vfp_conn_adopt):
   * client:sport -> vip:vport, dealt to backend:bport, its forward key found on fast-path port
   * `port` (the client's NIC). IPv4 addresses as numbers. 0, or a negative errno when the
   * connection cannot be taken over (VIP or backend gone, backend not on the fast path) or
   * needs not be (-ESTALE: `closed`, the key says it had ended). A passthrough connection
   * (`passthrough`) is taken over from its backend's key instead: backend:bport -> client:sport
   * found at the backend's NIC (`port`; vip and vport unused).
   */
  adoptConnection(port: number, c: { client: number; sport: number; vip: number; vport: number; proto: number; backend: number; bport: number; closed?: boolean; passthrough?: boolean }): number {
    const key = c.passthrough ? connKey(c.backend, c.client, c.bport, c.sport, c.proto) : connKey(c.client, c.vip, c.sport, c.vport, c.proto);
    const val = Buffer.alloc(8);
    val.writeUInt32BE(c.backend, 0); // a passthrough connection's keys name the backend itself
    val.writeUInt16BE(c.bport, 4);
    val.writeUInt8(c.passthrough ? 1 : 0, 6);
    val.writeUInt8((c.closed ? CONN_CLOSED : 0) | (c.passthrough ? CONN_PASS : 0), 7);
    return this.lib.connAdopt(this.handle, port, key, val);
  }

  /**
   * Whether this context owns the connection direction src:sport -> dst:dport with its XDP key
   * published at `port` (PORT_VIA_UNDERLAY: the underlay, whose keys name the VNI `vni`);
   * reverse: the backend's direction; passthrough: of a passthrough connection (vfp_conn_owns).
   */
  ownsConnection(port: number, k: { src: number; dst: number; sport: number; dport: number; proto: number; vni?: number }, opts: { reverse?: boolean; passthrough?: boolean } = {}): boolean {
    return this.lib.connOwns(this.handle, port, connKey(k.src, k.dst, k.sport, k.dport, k.proto, k.vni), (opts.reverse ? 1 : 0) | (opts.passthrough ? 2 : 0)) === 1;
  }

  /** Connections this context dispatched per (conntrack VIP listener, backend), cumulative. */
  connCounts(): VipConnections[] {
    const buf = Buffer.alloc(CONN_COUNTS * CONN_COUNT_SIZE);
    const n = this.lib.ctxConnCounts(this.handle, buf, CONN_COUNTS);
    const ip = (x: number) => [x >>> 24, (x >>> 16) & 255, (x >>> 8) & 255, x & 255].join('.');
    return Array.from({ length: n }, (_, i) => {
      const o = i * CONN_COUNT_SIZE;
      return { network: buf.readUInt32LE(o + 12), vip: ip(buf.readUInt32LE(o)), backend: ip(buf.readUInt32LE(o + 4)), port: buf.readUInt16LE(o + 8), proto: buf.readUInt8(o + 10), connections: Number(buf.readBigUInt64LE(o + 16)) };
    });
  }
  free(): void {
    this.lib.ctxFree(this.handle);
  }
}

export interface VipConnections {
  /** The VIP's network (tenants may use the same VIP and backend addresses). */
  network: number;
  vip: string;
  port: number;
  proto: number;
  backend: string;
  connections: number;
}

export class FastPath {
  private readonly dp: Handle;
  constructor(readonly lib: NativeLib) {
    const dp = lib.dpNew();
    if (!dp) throw new FastPathError('dp_new', -12);
    this.dp = dp;
  }
  get handle(): Handle {
    return this.dp;
  }
  builder(): TableBuilder {
    const b = this.lib.builderNew();
    if (!b) throw new FastPathError('builder_new', -12);
    return new TableBuilder(this.lib, b);
  }
  /** Publishes b; returns the new generation. Classification never blocks on this. */
  commit(b: TableBuilder): bigint {
    const g = this.lib.dpCommit(this.dp, b.handle);
    if (g < 0n) throw new FastPathError('commit', Number(g));
    return g;
  }
  classifier(lruSlots = 65536): Classifier {
    const c = this.lib.ctxNew(this.dp, lruSlots);
    if (!c) throw new FastPathError('ctx_new', -28);
    return new Classifier(this.lib, c);
  }
  /** Frees the datapath; every classifier of it must be freed first. */
  close(): void {
    this.lib.dpFree(this.dp);
  }
}

export function encapsulate(lib: NativeLib, p: EncapParams, inner: Uint8Array): Buffer {
  const params = Buffer.alloc(ENCAP_PARAMS_SIZE);
  params.writeUInt8(p.type, 0);
  params.writeUInt8(p.ttl, 1);
  params.writeUInt16LE(p.srcPort, 2);
  params.writeUInt32LE(p.vni >>> 0, 4);
  params.writeUInt32LE(p.srcIp >>> 0, 8);
  params.writeUInt32LE(p.dstIp >>> 0, 12);
  params.set(p.srcMac, 16);
  params.set(p.dstMac, 22);
  params.writeUInt16LE(p.ipId, 28);
  const out = Buffer.alloc(inner.length + 50);
  const n = check('encap', lib.encap(params, inner, inner.length, out, out.length));
  return out.subarray(0, n);
}

export function decapsulate(lib: NativeLib, frame: Uint8Array): { type: number; innerOff: number; vni: number } | null {
  const off = new Uint32Array(1), vni = new Uint32Array(1);
  const t = lib.decap(frame, frame.length, off, vni);
  return t < 0 ? null : { type: t, innerOff: off[0], vni: vni[0] };
}

/** Maglev ring from the C implementation: indexes into backends sorted by id. */
export function maglevRing(lib: NativeLib, backends: readonly BackendSpec[]): Uint16Array {
  const n = backends.length;
  const ids = Uint32Array.from(backends.map((b) => b.id));
  const addrs = Buffer.alloc(Math.max(n, 1) * 16);
  backends.forEach((b, i) => addrs.set(b.addr, i * 16));
  const ring = new Uint16Array(65537);
  check('maglev_build', lib.maglevBuild(ids, addrs, Uint16Array.from(backends.map((b) => b.port)),
    Uint16Array.from(backends.map((b) => b.weight)), n, ring));
  return ring;
}

let reported: FastPathStatus | null = null;

/**
 * Opens the fast path or explains why not. `log` is called at most once per process
 * with the reason when unavailable.
 */
export function openFastPath(log?: (msg: string) => void): { status: FastPathStatus; fastPath: FastPath | null } {
  let status: FastPathStatus;
  let fp: FastPath | null = null;
  const path = findLibrary();
  if (!path) {
    status = { available: false, component: 'library', reason: 'native/build/libvnetfp.so not found (run make -C native)' };
  } else {
    try {
      fp = new FastPath(loadNative(path));
      status = { available: true, library: path };
    } catch (e) {
      status = { available: false, component: 'library', reason: e instanceof Error ? e.message : String(e) };
    }
  }
  if (!status.available && reported === null && log) log(`fast path unavailable (${status.component}): ${status.reason}`);
  if (reported === null) reported = status;
  return { status, fastPath: fp };
}
