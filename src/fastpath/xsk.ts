/**
 * AF_XDP ports through libvnetfp: open reports why it cannot start (no rights, no
 * kernel support, interface missing) as a typed status instead of throwing.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Classifier, FastPath } from './fastpath';
import { cString, type Handle } from './native';
import type { FastPathStatus } from './types';

/** vfp_cfg.mode of bpf/xdp_redirect.c (VFP_XDP_* in include/vfp.h); the runner opens its ports filtered. */
export enum XdpMode { PassAll = 0, AllOurs = 1, TunnelsOnly = 2, VmFiltered = 3, UnderlayFiltered = 4 }
export const XSK_STATS = ['rx', 'tx', 'txFull', 'fast', 'slow', 'drops'] as const;
export type XskStats = Record<(typeof XSK_STATS)[number], bigint>;
export const NO_PORT = 0xffffffff;

export class XskPort {
  private readonly st = new BigUint64Array(XSK_STATS.length);
  private closed = false;
  constructor(private readonly fp: FastPath, readonly handle: Handle, readonly ifname: string) {}
  /**
   * Receive up to budget frames, classify and act on them, and queue each on
   * outs[port] (local), outs[underlayPort] (encapsulated) or outs[slowPort] (slow path).
   */
  pump(c: Classifier, inPort: number, outs: (XskPort | null)[], underlayPort = NO_PORT, slowPort = NO_PORT, budget = 256): number {
    return this.fp.lib.xskRxForward(this.handle, c.handle, inPort, outs.map((o) => o?.handle ?? null), underlayPort, slowPort, budget);
  }
  /** Where its UMEM is mapped. */
  umemAddress(): bigint {
    return this.fp.lib.xskUmemAddr(this.handle);
  }
  stats(): XskStats {
    this.fp.lib.xskStats(this.handle, this.st, this.st.length);
    return Object.fromEntries(XSK_STATS.map((k, i) => [k, this.st[i]])) as XskStats;
  }
  close(): void {
    if (!this.closed) this.fp.lib.xskClose(this.handle);
    this.closed = true;
  }
}

export function xdpObjectPath(libPath: string): string | null {
  const p = join(dirname(libPath), 'xdp_redirect.o');
  return existsSync(p) ? p : null;
}

export function openXskPort(
  fp: FastPath, ifname: string, opts: { queue?: number; mode?: XdpMode; skbMode?: boolean } = {},
): { status: FastPathStatus; port: XskPort | null } {
  const obj = xdpObjectPath(fp.lib.path);
  if (!obj) return { status: { available: false, component: 'afxdp', reason: 'xdp_redirect.o not built' }, port: null };
  const err = Buffer.alloc(256);
  const h = fp.lib.xskOpen(ifname, opts.queue ?? 0, obj, opts.mode ?? XdpMode.AllOurs, opts.skbMode === false ? 0 : 1, err);
  if (!h) {
    const reason = cString(err) || 'unknown error';
    return { status: { available: false, component: 'afxdp', reason: `${ifname}: ${reason}` }, port: null };
  }
  return { status: { available: true, library: fp.lib.path }, port: new XskPort(fp, h, ifname) };
}
