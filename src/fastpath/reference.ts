/**
 * Reference implementations in plain TypeScript, written for clarity, not speed:
 * frame builders for tests and benchmarks, the encapsulation byte layout, the naive
 * Maglev (explicit permutation tables), and a naive classifier (the benchmark's peer).
 */
import { Encap, type BackendSpec, type EncapParams } from './types';

export const mac = (s: string): Uint8Array => Uint8Array.from(s.split(':').map((h) => parseInt(h, 16)));
export const ipv4 = (s: string): number => s.split('.').reduce((a, o) => ((a << 8) | Number(o)) >>> 0, 0);
export function mapped(ip: number): Uint8Array {
  const a = new Uint8Array(16);
  a[10] = a[11] = 0xff;
  new DataView(a.buffer).setUint32(12, ip);
  return a;
}

export function checksum(b: Uint8Array): number {
  let s = 0;
  for (let i = 0; i + 1 < b.length; i += 2) s += (b[i] << 8) | b[i + 1];
  if (b.length & 1) s += b[b.length - 1] << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

const cat = (...p: Uint8Array[]): Buffer => Buffer.concat(p);
const u16 = (v: number): Buffer => { const b = Buffer.alloc(2); b.writeUInt16BE(v); return b; };

/** TCP/UDP checksum over the IPv4 pseudo-header, written into the segment. */
export function withL4Checksum(src: number, dst: number, proto: number, seg: Buffer): Buffer {
  const out = Buffer.from(seg);
  const at = proto === 6 ? 16 : 6;
  out.writeUInt16BE(0, at);
  const pseudo = Buffer.alloc(12);
  pseudo.writeUInt32BE(src, 0);
  pseudo.writeUInt32BE(dst, 4);
  pseudo[9] = proto;
  pseudo.writeUInt16BE(out.length, 10);
  let c = checksum(Buffer.concat([pseudo, out, Buffer.alloc(out.length & 1)]));
  if (proto === 17 && c === 0) c = 0xffff;
  out.writeUInt16BE(c, at);
  return out;
}

export function eth(dst: Uint8Array, src: Uint8Array, type: number, payload: Uint8Array, vlans: number[] = []): Buffer {
  return cat(dst, src, ...vlans.flatMap((tci) => [u16(0x8100), u16(tci)]), u16(type), payload);
}

export function ipv4Packet(src: number, dst: number, proto: number, payload: Uint8Array, o: { ttl?: number; frag?: number; id?: number } = {}): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + payload.length, 2);
  h.writeUInt16BE(o.id ?? 0, 4);
  h.writeUInt16BE(o.frag ?? 0x4000, 6);
  h[8] = o.ttl ?? 64;
  h[9] = proto;
  h.writeUInt32BE(src, 12);
  h.writeUInt32BE(dst, 16);
  h.writeUInt16BE(checksum(h), 10);
  return cat(h, payload);
}

export function ipv6Packet(src: Uint8Array, dst: Uint8Array, next: number, payload: Uint8Array): Buffer {
  const h = Buffer.alloc(40);
  h[0] = 0x60;
  h.writeUInt16BE(payload.length, 4);
  h[6] = next;
  h[7] = 64;
  h.set(src, 8);
  h.set(dst, 24);
  return cat(h, payload);
}

export function udp(sport: number, dport: number, data: Uint8Array = new Uint8Array(0)): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt16BE(8 + data.length, 4);
  return cat(h, data);
}

export function tcp(sport: number, dport: number, flags = 0x02): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h[12] = 5 << 4;
  h[13] = flags;
  return h;
}

export const icmpEcho = (): Buffer => Buffer.from([8, 0, 0, 0, 0, 1, 0, 1]);
export const arp = (): Buffer => Buffer.concat([Buffer.from([0, 1, 8, 0, 6, 4, 0, 1]), Buffer.alloc(20)]);

/** Outer headers built field by field from the RFCs, independently of encap.c. */
export function referenceEncap(p: EncapParams, inner: Uint8Array): Buffer {
  const tun = Buffer.alloc(8);
  if (p.type === Encap.Vxlan) {
    tun[0] = 0x08;
  } else {
    tun.writeUInt16BE(0x6558, 2);
  }
  tun.writeUInt32BE((p.vni << 8) >>> 0, 4);
  const u = Buffer.alloc(8);
  u.writeUInt16BE(p.srcPort, 0);
  u.writeUInt16BE(p.type === Encap.Vxlan ? 4789 : 6081, 2);
  u.writeUInt16BE(16 + inner.length, 4);
  const ip = ipv4Packet(p.srcIp, p.dstIp, 17, cat(u, tun, inner), { ttl: p.ttl, id: p.ipId, frag: 0x4000 });
  return eth(p.dstMac, p.srcMac, 0x0800, ip);
}

const M = 65537;
function fnv1a(seed: number, d: Uint8Array): number {
  let h = seed >>> 0;
  for (const b of d) h = Math.imul(h ^ b, 16777619) >>> 0;
  return h;
}

/** Maglev as in the paper, with explicit permutations; weights as in maglev.h. */
export function naiveMaglev(backends: readonly BackendSpec[]): Uint16Array {
  const be = [...backends].sort((a, b) => a.id - b.id);
  const perm = be.map((b) => {
    const key = new Uint8Array(18);
    key.set(b.addr, 0);
    key[16] = b.port >> 8;
    key[17] = b.port & 0xff;
    const offset = fnv1a(0x811c9dc5, key) % M;
    const skip = (fnv1a(0x050c5d1f, key) % (M - 1)) + 1;
    return Array.from({ length: M }, (_, j) => Number((BigInt(offset) + BigInt(j) * BigInt(skip)) % BigInt(M)));
  });
  const ring = new Uint16Array(M).fill(0xffff);
  const wmax = Math.max(...be.map((b) => b.weight));
  const next = be.map(() => 0);
  const credit = be.map(() => 0);
  let filled = 0;
  while (filled < M) {
    for (let i = 0; i < be.length && filled < M; i++) {
      credit[i] += be[i].weight;
      if (credit[i] < wmax) continue;
      credit[i] -= wmax;
      let c = perm[i][next[i]];
      while (ring[c] !== 0xffff) c = perm[i][++next[i]];
      next[i]++;
      ring[c] = i;
      filled++;
    }
  }
  return ring;
}

/**
 * The benchmark's peer: the same decision (Ethernet/VLAN/IPv4/UDP/TCP parse with
 * checksum check, port -> network, VIP -> Maglev ring, (network, MAC) -> target)
 * written in idiomatic TypeScript with Maps and string keys.
 */
export class NaiveClassifier {
  readonly ports = new Map<number, number>();
  readonly macs = new Map<string, { remote: boolean; target: number }>();
  readonly vips = new Map<string, { ring: Uint16Array; ids: number[] }>();
  classify(inPort: number, f: Buffer): number {
    if (f.length < 14) return -1;
    let off = 12;
    let et = f.readUInt16BE(off);
    while (et === 0x8100) {
      off += 4;
      if (off + 2 > f.length) return -1;
      et = f.readUInt16BE(off);
    }
    const l3 = off + 2;
    const net = this.ports.get(inPort);
    if (net === undefined) return -2;
    if (f[0] & 1 || et === 0x0806) return -3;
    if (et === 0x0800) {
      if (f.length < l3 + 20) return -1;
      const ihl = (f[l3] & 15) * 4;
      if (checksum(f.subarray(l3, l3 + ihl)) !== 0) return -1;
      const proto = f[l3 + 9];
      if ((proto === 6 || proto === 17) && f.length >= l3 + ihl + 4) {
        const dst = f.readUInt32BE(l3 + 16), dport = f.readUInt16BE(l3 + ihl + 2);
        const vip = this.vips.get(`${proto}/${dst}/${dport}`);
        if (vip) {
          const key = `${f.readUInt32BE(l3 + 12)}/${dst}/${f.readUInt16BE(l3 + ihl)}/${dport}/${proto}`;
          return vip.ids[vip.ring[fnv1a(0x811c9dc5, Buffer.from(key)) % M]];
        }
      }
    }
    const m = this.macs.get(`${net}/${f.toString('hex', 0, 6)}`);
    return m ? m.target : -4;
  }
}
