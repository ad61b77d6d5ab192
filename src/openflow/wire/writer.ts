import { OpenFlowEncodeError } from '../errors';
import { writeMac } from './addr';

const U64_MAX = 0xffffffffffffffffn;

/** Growable big-endian writer; length fields are patched once a body is known. */
export class Writer {
  private buf: Buffer;
  private pos = 0;

  // allocUnsafe (pooled below 4 kB, no zero fill): every byte handed out is written first,
  // padding included (zeros), as detach already relies on. A Writer per bundle was 0.5% of
  // vnetd's CPU at N=3000 in Buffer.alloc.
  constructor(initial = 256) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  get length(): number {
    return this.pos;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  private fail(v: unknown, bits: number, what: string): never {
    throw new OpenFlowEncodeError(`${what} out of range for ${bits} bits: ${String(v)}`);
  }

  // Range checks use masking (x & 0xff) === x: true only for integers in range,
  // and much cheaper than Number.isInteger plus two comparisons on this hot path.
  u8(v: number, what = 'u8'): this {
    if ((v & 0xff) !== v) this.fail(v, 8, what);
    this.ensure(1);
    this.buf[this.pos++] = v;
    return this;
  }

  u16(v: number, what = 'u16'): this {
    if ((v & 0xffff) !== v) this.fail(v, 16, what);
    this.ensure(2);
    const b = this.buf;
    b[this.pos] = v >>> 8;
    b[this.pos + 1] = v;
    this.pos += 2;
    return this;
  }

  u32(v: number, what = 'u32'): this {
    if (v >>> 0 !== v) this.fail(v, 32, what);
    this.ensure(4);
    const b = this.buf;
    b[this.pos] = v >>> 24;
    b[this.pos + 1] = v >>> 16;
    b[this.pos + 2] = v >>> 8;
    b[this.pos + 3] = v;
    this.pos += 4;
    return this;
  }

  u64(v: bigint, what = 'u64'): this {
    if (typeof v !== 'bigint' || v < 0n || v > U64_MAX) this.fail(v, 64, what);
    // Most 64-bit values here (cookies, masks of 0) fit in two words cheaply.
    this.u32(Number(v >> 32n)).u32(Number(v & 0xffffffffn));
    return this;
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  zeros(n: number): this {
    this.ensure(n);
    for (let i = this.pos, end = this.pos + n; i < end; i++) this.buf[i] = 0;
    this.pos += n;
    return this;
  }

  /** Pads with zeros from `start` up to the next multiple of 8 (OpenFlow's alignment). */
  pad8(start = 0): this {
    const len = this.pos - start;
    return this.zeros((8 - (len % 8)) % 8);
  }

  patchU16(at: number, v: number, what = 'length'): void {
    if ((v & 0xffff) !== v) this.fail(v, 16, what);
    this.buf.writeUInt16BE(v, at);
  }

  patchU8(at: number, v: number, what = 'u8'): void {
    if ((v & 0xff) !== v) this.fail(v, 8, what);
    this.buf[at] = v;
  }

  /** A MAC address parsed straight into the buffer. */
  mac(s: string): this {
    this.ensure(6);
    writeMac(s, this.buf, this.pos);
    this.pos += 6;
    return this;
  }

  /** Drops everything after `length` (undoes a partly written message). */
  truncate(length: number): void {
    if (length < this.pos) this.pos = length;
  }

  /**
   * Hands out the bytes written so far without copying and starts over on a
   * fresh buffer, for callers that stream many messages out of one writer.
   */
  detach(nextSize = this.buf.length): Buffer {
    const out = this.buf.subarray(0, this.pos);
    this.buf = Buffer.allocUnsafe(nextSize);
    this.pos = 0;
    return out;
  }

  /** Patches a 16-bit length field at `at` with the bytes written since `start`. */
  patchLength(at: number, start: number): void {
    this.patchU16(at, this.pos - start);
  }

  /** Empties the writer, keeping its buffer for reuse. */
  reset(): this {
    this.pos = 0;
    return this;
  }

  /** The bytes written so far as a latin1 string (a cheap, exact map key). */
  toLatin1(): string {
    return this.buf.toString('latin1', 0, this.pos);
  }

  finish(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }
}
