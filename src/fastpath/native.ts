/**
 * Raw koffi binding to native/build/libvnetfp.so. Everything pointer-shaped crosses as
 * `void *` and is passed as a Buffer or typed array: koffi hands C the memory itself,
 * no copy, and verdicts are decoded from the Buffer with a DataView (see verdict.ts).
 * Only this file knows koffi; the rest of src/fastpath sees the NativeLib interface.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import koffi, { type TypeObject } from 'koffi';

/** An opaque C pointer (vfp_dp *, vfp_ctx *, ...). Never dereferenced in JS. */
export type Handle = { readonly __handle: 'vfp' };

export const ABI_VERSION = 12;
export const VERDICT_SIZE = 36; // sizeof(struct vfp_verdict), checked by a _Static_assert in C
export const ENCAP_PARAMS_SIZE = 32;
export const RUNNER_IF_SIZE = 28; // sizeof(struct vfp_runner_if)
export const CONN_COUNT_SIZE = 24; // sizeof(struct vfp_conn_count), checked by a _Static_assert in C
export const CONN_COUNTS = 1024; // VFP_CONN_COUNTS

type Bytes = Buffer | Uint8Array;

export interface NativeLib {
  readonly path: string;
  abiVersion(): number;
  dpNew(): Handle | null;
  dpFree(dp: Handle): void;
  dpCommit(dp: Handle, b: Handle): bigint;
  dpGeneration(dp: Handle): bigint;
  ctxNew(dp: Handle, lruSlots: number): Handle | null;
  ctxFree(ctx: Handle): void;
  builderNew(): Handle | null;
  builderFree(b: Handle): void;
  builderClear(b: Handle): void;
  addPort(b: Handle, port: number, network: number, flags: number): number;
  addVni(b: Handle, vni: number, network: number): number;
  addVniEncap(b: Handle, vni: number, network: number, encap: number): number;
  addVtep(b: Handle, id: number, ip: number, nhMac: Bytes, encap: number): number;
  addMacLocal(b: Handle, network: number, mac: Bytes, port: number): number;
  addMacRemote(b: Handle, network: number, mac: Bytes, vtepId: number, vni: number): number;
  addVip(b: Handle, network: number, proto: number, addr: Bytes, port: number): number;
  addBackend(b: Handle, vip: number, id: number, addr: Bytes, port: number, weight: number): number;
  addBackendMac(b: Handle, vip: number, id: number, addr: Bytes, port: number, weight: number, mac: Bytes): number;
  setVipFlags(b: Handle, vip: number, flags: number): number;
  /** ids: one backend id per slot (NO_BACKEND for an empty slot), 1 to LB_SLOTS_MAX of them. */
  setVipSlots(b: Handle, vip: number, ids: Uint32Array): number;
  /** The slot OVS's multipath picks for an IPv4 connection (host-order addresses and ports) in a table of nSlots. */
  ovsLbSlot(saddr: number, daddr: number, proto: number, sport: number, dport: number, clientIp: number, nSlots: number): number;
  setLocalVtep(b: Handle, ip: number, mac: Bytes): number;
  forwardUmem(ctx: Handle, inPort: number, base: Bytes, chunk: number, offs: Uint32Array, lens: Uint32Array, n: number, verdicts: Bytes): number;
  classifyUmem(ctx: Handle, inPort: number, base: Bytes, offs: Uint32Array, lens: Uint32Array, n: number, verdicts: Bytes): void;
  ctxCounters(ctx: Handle, out: BigUint64Array, n: number): number;
  ctxIfaceCounters(ctx: Handle, port: number, out: BigUint64Array, n: number): number;
  /** out: CONN_COUNT_SIZE bytes per entry (struct vfp_conn_count). */
  ctxConnCounts(ctx: Handle, out: Buffer, n: number): number;
  maglevBuild(ids: Uint32Array, addrs: Bytes, ports: Uint16Array, weights: Uint16Array, n: number, ring: Uint16Array): number;
  encap(params: Bytes, inner: Bytes, innerLen: number, out: Bytes, outCap: number): number;
  decap(frame: Bytes, len: number, innerOff: Uint32Array, vni: Uint32Array): number;
  flowHash(frame: Bytes, len: number): number;
  xskOpen(ifname: string, queue: number, objPath: string, mode: number, skbMode: number, err: Buffer): Handle | null;
  xskClose(x: Handle): void;
  xskRxForward(x: Handle, ctx: Handle, inPort: number, outs: (Handle | null)[], underlayPort: number, slowPort: number, budget: number): number;
  xskStats(x: Handle, out: BigUint64Array, n: number): number;
  xskUmemAddr(x: Handle): bigint;
  /**
   * UMEM frames (RX, TX) of the VM NICs opened from now on, process-wide: powers of two, 64 to
   * 4096, 2 KiB each, pinned; (0, 0) restores the default (VFP_XSK_VM_UMEM, else 4096/512).
   */
  xskSetVmUmem(rx: number, tx: number): number;
  /**
   * The runner calls that take milliseconds (a port's XDP program through the verifier, its
   * attach, its UMEM; a thread joined) run on a worker thread: the event loop goes on meanwhile.
   * ifs: packed struct vfp_runner_if[] (RUNNER_IF_SIZE bytes each).
   */
  runnerStart(ctx: Handle, netns: string, ifs: Buffer, n: number, objPath: string, skbMode: number, underlayPort: number, err: Buffer): Promise<Handle | null>;
  runnerStop(r: Handle): Promise<void>;
  /** Stops the runner, leaving its XDP programs attached with their connections held for the next process. */
  runnerRelease(r: Handle): Promise<void>;
  /** out[0]: connections of an earlier process taken over; out[1]: inherited ones let go. */
  runnerAdopted(r: Handle, out: BigUint64Array, n: number): number;
  /** key: struct vfp_conn_key (16 bytes), val: struct vfp_conn_val (8 bytes). 0 or a negative errno. */
  connAdopt(ctx: Handle, port: number, key: Bytes, val: Bytes): number;
  connOwns(ctx: Handle, port: number, key: Bytes, kind: number): number;
  /** ifc: one packed struct vfp_runner_if. On a worker thread, as runnerStart. */
  runnerAdd(r: Handle, ifc: Buffer, err: Buffer): Promise<number>;
  runnerRemove(r: Handle, port: number): Promise<number>;
  runnerFilter(r: Handle, port: number, map: number, key: Bytes, add: number): number;
  runnerStats(r: Handle, port: number, out: BigUint64Array, n: number): number;
  /** out: {ns, count} of the add/remove commands on the runner thread, ns the callers waited, idle waits a command woke. */
  runnerCmdStats(r: Handle, out: BigUint64Array, n: number): number;
  stressStart(dp: Handle, inPort: number, base: Bytes, offs: Uint32Array, lens: Uint32Array, n: number, expA: Bytes, expB: Bytes): Handle | null;
  stressStop(s: Handle, out: BigUint64Array): number;
}

/** Where the library is: $VNETD_FASTPATH_LIB, else native/build above this file (src or dist). */
export function findLibrary(): string | null {
  const env = process.env.VNETD_FASTPATH_LIB;
  if (env) return existsSync(env) ? resolve(env) : null;
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    const p = join(dir, 'native', 'build', 'libvnetfp.so');
    if (existsSync(p)) return p;
    dir = dirname(dir);
  }
  return null;
}

let loaded: NativeLib | null = null;

/** The NUL-terminated text C wrote into buf (an error message; '' without a NUL). */
export function cString(buf: Buffer): string {
  return buf.toString('utf8', 0, Math.max(0, buf.indexOf(0)));
}

/**
 * How many of the runner's slow calls run at once, over every node. koffi runs them on libuv's
 * thread pool (4 threads unless UV_THREADPOOL_SIZE says otherwise), which the store's WAL
 * syncs and file reads need too: nodes starting together (a restart) must leave them room.
 */
export const WORKER_LANES = 2;
let lanesBusy = 0;
const laneQueue: Array<() => void> = [];

export async function inLane<T>(fn: () => Promise<T>): Promise<T> {
  if (lanesBusy >= WORKER_LANES) await new Promise<void>((go) => laneQueue.push(go));
  else lanesBusy++;
  try {
    return await fn();
  } finally {
    // The lane passes to the next call waiting, or is freed.
    const next = laneQueue.shift();
    if (next) next();
    else lanesBusy--;
  }
}

/** Loads the library once per process; throws with the loader's message on failure. */
export function loadNative(path: string): NativeLib {
  if (loaded && loaded.path === path) return loaded;
  const lib = koffi.load(path);
  // The ABI first: a library of another version may lack a function bound below, and its
  // loader error would not say what to do.
  const abi = Number(lib.func('vfp_abi_version', 'uint32_t', [])());
  if (abi !== ABI_VERSION) throw new Error(`libvnetfp ABI ${abi}, binding expects ${ABI_VERSION}: rebuild native/ (make -C native)`);
  // Distinct opaque types keep koffi from accepting a ctx where a dp is expected. They
  // are anonymous: koffi's type names are process-wide, and Jest (or a second loader)
  // may evaluate this module again in the same process.
  const dp = koffi.pointer(koffi.opaque());
  const ctx = koffi.pointer(koffi.opaque());
  const bld = koffi.pointer(koffi.opaque());
  const st = koffi.pointer(koffi.opaque());
  const xsk = koffi.pointer(koffi.opaque());
  const runner = koffi.pointer(koffi.opaque());
  const f = (name: string, ret: string | TypeObject, args: (string | TypeObject)[]) => lib.func(name, ret, args);
  const fns = {
    abi: f('vfp_abi_version', 'uint32_t', []),
    dpNew: f('vfp_dp_new', dp, []),
    dpFree: f('vfp_dp_free', 'void', [dp]),
    dpCommit: f('vfp_dp_commit', 'int64_t', [dp, bld]),
    dpGen: f('vfp_dp_generation', 'uint64_t', [dp]),
    ctxNew: f('vfp_ctx_new', ctx, [dp, 'uint32_t']),
    ctxFree: f('vfp_ctx_free', 'void', [ctx]),
    bNew: f('vfp_builder_new', bld, []),
    bFree: f('vfp_builder_free', 'void', [bld]),
    bClear: f('vfp_builder_clear', 'void', [bld]),
    port: f('vfp_builder_add_port', 'int', [bld, 'uint32_t', 'uint32_t', 'uint32_t']),
    vni: f('vfp_builder_add_vni', 'int', [bld, 'uint32_t', 'uint32_t']),
    vniEncap: f('vfp_builder_add_vni_encap', 'int', [bld, 'uint32_t', 'uint32_t', 'uint32_t']),
    vtep: f('vfp_builder_add_vtep', 'int', [bld, 'uint32_t', 'uint32_t', 'void *', 'uint32_t']),
    macL: f('vfp_builder_add_mac_local', 'int', [bld, 'uint32_t', 'void *', 'uint32_t']),
    macR: f('vfp_builder_add_mac_remote', 'int', [bld, 'uint32_t', 'void *', 'uint32_t', 'uint32_t']),
    vip: f('vfp_builder_add_vip', 'int', [bld, 'uint32_t', 'uint8_t', 'void *', 'uint16_t']),
    be: f('vfp_builder_add_backend', 'int', [bld, 'uint32_t', 'uint32_t', 'void *', 'uint16_t', 'uint16_t']),
    beMac: f('vfp_builder_add_backend_mac', 'int', [bld, 'uint32_t', 'uint32_t', 'void *', 'uint16_t', 'uint16_t', 'void *']),
    vipFlags: f('vfp_builder_set_vip_flags', 'int', [bld, 'uint32_t', 'uint32_t']),
    vipSlots: f('vfp_builder_set_vip_slots', 'int', [bld, 'uint32_t', 'void *', 'uint32_t']),
    ovsLbSlot: f('vfp_ovs_lb_slot_of', 'uint32_t', ['uint32_t', 'uint32_t', 'uint8_t', 'uint16_t', 'uint16_t', 'uint32_t', 'uint32_t']),
    local: f('vfp_builder_set_local_vtep', 'int', [bld, 'uint32_t', 'void *']),
    forward: f('vfp_forward_umem', 'uint32_t', [ctx, 'uint32_t', 'void *', 'uint32_t', 'void *', 'void *', 'uint32_t', 'void *']),
    classify: f('vfp_classify_umem', 'void', [ctx, 'uint32_t', 'void *', 'void *', 'void *', 'uint32_t', 'void *']),
    ctrs: f('vfp_ctx_counters', 'uint32_t', [ctx, 'void *', 'uint32_t']),
    ictrs: f('vfp_ctx_iface_counters', 'uint32_t', [ctx, 'uint32_t', 'void *', 'uint32_t']),
    cconns: f('vfp_ctx_conn_counts', 'uint32_t', [ctx, 'void *', 'uint32_t']),
    maglev: f('vfp_maglev_build', 'int', ['void *', 'void *', 'void *', 'void *', 'uint32_t', 'void *']),
    encap: f('vfp_encap', 'int', ['void *', 'void *', 'uint32_t', 'void *', 'uint32_t']),
    decap: f('vfp_decap', 'int', ['void *', 'uint32_t', 'void *', 'void *']),
    hash: f('vfp_flow_hash', 'uint32_t', ['void *', 'uint32_t']),
    xOpen: f('vfp_xsk_open', xsk, ['const char *', 'uint32_t', 'const char *', 'uint32_t', 'uint32_t', 'void *', 'uint32_t']),
    xClose: f('vfp_xsk_close', 'void', [xsk]),
    xRun: f('vfp_xsk_rx_forward', 'uint32_t', [xsk, ctx, 'uint32_t', koffi.pointer(xsk), 'uint32_t', 'uint32_t', 'uint32_t', 'uint32_t']),
    xStats: f('vfp_xsk_stats', 'uint32_t', [xsk, 'void *', 'uint32_t']),
    xUmem: f('vfp_xsk_umem_addr', 'uint64_t', [xsk]),
    xVmUmem: f('vfp_xsk_set_vm_umem', 'int', ['uint32_t', 'uint32_t']),
    rStart: f('vfp_runner_start', runner, [ctx, 'const char *', 'void *', 'uint32_t', 'const char *', 'uint32_t', 'uint32_t', 'void *', 'uint32_t']),
    rStop: f('vfp_runner_stop', 'void', [runner]),
    rRelease: f('vfp_runner_release', 'void', [runner]),
    rAdopted: f('vfp_runner_adopted', 'uint32_t', [runner, 'void *', 'uint32_t']),
    connAdopt: f('vfp_conn_adopt', 'int', [ctx, 'uint32_t', 'void *', 'void *']),
    connOwns: f('vfp_conn_owns', 'int', [ctx, 'uint32_t', 'void *', 'uint32_t']),
    rAdd: f('vfp_runner_add', 'int', [runner, 'void *', 'void *', 'uint32_t']),
    rRemove: f('vfp_runner_remove', 'int', [runner, 'uint32_t']),
    rFilter: f('vfp_runner_filter', 'int', [runner, 'uint32_t', 'uint32_t', 'void *', 'uint32_t']),
    rStats: f('vfp_runner_stats', 'uint32_t', [runner, 'uint32_t', 'void *', 'uint32_t']),
    rCmdStats: f('vfp_runner_cmd_stats', 'uint32_t', [runner, 'void *', 'uint32_t']),
    sStart: f('vfp_stress_start', st, [dp, 'uint32_t', 'void *', 'void *', 'void *', 'uint32_t', 'void *', 'void *']),
    sStop: f('vfp_stress_stop', 'int', [st, 'void *']),
  };
  const h = (v: unknown): Handle | null => (v === null || v === undefined ? null : (v as Handle));
  const big = (v: unknown): bigint => (typeof v === 'bigint' ? v : BigInt(v as number));
  const n = (v: unknown): number => v as number;
  /**
   * Calls fn on one of koffi's worker threads (WORKER_LANES at a time); the arguments stay
   * referenced until it returns. koffi runs it on a stack of its own, 128 KiB for async calls:
   * vfp_runner_add (libbpf's open and load of the XDP object included) used 15 KiB of it.
   */
  const onWorker = (fn: ReturnType<typeof f>, ...args: unknown[]): Promise<unknown> =>
    inLane(() => new Promise((done, fail) => fn.async(...args, (err: unknown, res: unknown) => (err ? fail(err instanceof Error ? err : new Error(String(err))) : done(res)))));
  loaded = {
    path,
    abiVersion: () => n(fns.abi()),
    dpNew: () => h(fns.dpNew()),
    dpFree: (d) => void fns.dpFree(d),
    dpCommit: (d, b) => big(fns.dpCommit(d, b)),
    dpGeneration: (d) => big(fns.dpGen(d)),
    ctxNew: (d, slots) => h(fns.ctxNew(d, slots)),
    ctxFree: (c) => void fns.ctxFree(c),
    builderNew: () => h(fns.bNew()),
    builderFree: (b) => void fns.bFree(b),
    builderClear: (b) => void fns.bClear(b),
    addPort: (b, p, net, fl) => n(fns.port(b, p, net, fl)),
    addVni: (b, v, net) => n(fns.vni(b, v, net)),
    addVniEncap: (b, v, net, e) => n(fns.vniEncap(b, v, net, e)),
    addVtep: (b, id, ip, mac, e) => n(fns.vtep(b, id, ip, mac, e)),
    addMacLocal: (b, net, mac, p) => n(fns.macL(b, net, mac, p)),
    addMacRemote: (b, net, mac, vt, vni) => n(fns.macR(b, net, mac, vt, vni)),
    addVip: (b, net, pr, a, p) => n(fns.vip(b, net, pr, a, p)),
    addBackend: (b, v, id, a, p, w) => n(fns.be(b, v, id, a, p, w)),
    addBackendMac: (b, v, id, a, p, w, mac) => n(fns.beMac(b, v, id, a, p, w, mac)),
    setVipFlags: (b, v, fl) => n(fns.vipFlags(b, v, fl)),
    setVipSlots: (b, v, ids) => n(fns.vipSlots(b, v, ids, ids.length)),
    ovsLbSlot: (s, d, pr, sp, dp, c, m) => n(fns.ovsLbSlot(s, d, pr, sp, dp, c, m)),
    setLocalVtep: (b, ip, mac) => n(fns.local(b, ip, mac)),
    forwardUmem: (c, ip, base, chunk, offs, lens, cnt, out) => n(fns.forward(c, ip, base, chunk, offs, lens, cnt, out)),
    classifyUmem: (c, ip, base, offs, lens, cnt, out) => void fns.classify(c, ip, base, offs, lens, cnt, out),
    ctxCounters: (c, out, cnt) => n(fns.ctrs(c, out, cnt)),
    ctxIfaceCounters: (c, p, out, cnt) => n(fns.ictrs(c, p, out, cnt)),
    ctxConnCounts: (c, out, cnt) => n(fns.cconns(c, out, cnt)),
    maglevBuild: (ids, addrs, ports, w, cnt, ring) => n(fns.maglev(ids, addrs, ports, w, cnt, ring)),
    encap: (p, inner, len, out, cap) => n(fns.encap(p, inner, len, out, cap)),
    decap: (fr, len, off, vni) => n(fns.decap(fr, len, off, vni)),
    flowHash: (fr, len) => n(fns.hash(fr, len)),
    xskOpen: (ifn, q, obj, mode, skb, err) => h(fns.xOpen(ifn, q, obj, mode, skb, err, err.length)),
    xskClose: (x) => void fns.xClose(x),
    xskRxForward: (x, c, ip, outs, up, sp, budget) => n(fns.xRun(x, c, ip, outs, outs.length, up, sp, budget)),
    xskStats: (x, out, cnt) => n(fns.xStats(x, out, cnt)),
    xskUmemAddr: (x) => BigInt(fns.xUmem(x) as number | bigint),
    xskSetVmUmem: (rx, tx) => n(fns.xVmUmem(rx, tx)),
    runnerStart: async (c, netns, ifs, cnt, obj, skb, up, err) => h(await onWorker(fns.rStart, c, netns, ifs, cnt, obj, skb, up, err, err.length)),
    runnerStop: async (r) => void (await onWorker(fns.rStop, r)),
    runnerRelease: async (r) => void (await onWorker(fns.rRelease, r)),
    runnerAdopted: (r, out, cnt) => n(fns.rAdopted(r, out, cnt)),
    connAdopt: (c, port, key, val) => n(fns.connAdopt(c, port, key, val)),
    connOwns: (c, port, key, kind) => n(fns.connOwns(c, port, key, kind)),
    runnerAdd: async (r, ifc, err) => n(await onWorker(fns.rAdd, r, ifc, err, err.length)),
    runnerRemove: async (r, port) => n(await onWorker(fns.rRemove, r, port)),
    runnerFilter: (r, i, m, key, add) => n(fns.rFilter(r, i, m, key, add)),
    runnerStats: (r, i, out, cnt) => n(fns.rStats(r, i, out, cnt)),
    runnerCmdStats: (r, out, cnt) => n(fns.rCmdStats(r, out, cnt)),
    stressStart: (d, ip, base, offs, lens, cnt, a, b) => h(fns.sStart(d, ip, base, offs, lens, cnt, a, b)),
    stressStop: (s, out) => n(fns.sStop(s, out)),
  };
  return loaded;
}
