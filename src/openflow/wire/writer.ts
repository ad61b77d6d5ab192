import { OpenFlowEncodeError } from '../errors';

/** Growable big-endian writer; length fields are patched once a body is known. */
export class Writer {
  private buf: Buffer;
  private pos = 0;

  constructor(initial = 256) {
    this.buf = Buffer.alloc(initial);
  }

  get length(): number {
    return this.pos;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  private check(v: number, bits: number, what: string): void {
    if (!Number.isInteger(v) || v < 0 || v >= 2 ** bits) {
      throw new OpenFlowEncodeError(`${what} out of range for ${bits} bits: ${v}`);
    }
  }

  u8(v: number, what = 'u8'): this {
    this.check(v, 8, what);
    this.ensure(1);
    this.buf[this.pos++] = v;
    return this;
  }

  u16(v: number, what = 'u16'): this {
    this.check(v, 16, what);
    this.ensure(2);
    this.buf.writeUInt16BE(v, this.pos);
    this.pos += 2;
    return this;
  }

  u32(v: number, what = 'u32'): this {
    this.check(v, 32, what);
    this.ensure(4);
    this.buf.writeUInt32BE(v, this.pos);
    this.pos += 4;
    return this;
  }

  u64(v: bigint, what = 'u64'): this {
    if (v < 0n || v >= 1n << 64n) throw new OpenFlowEncodeError(`${what} out of range for 64 bits: ${v}`);
    this.ensure(8);
    this.buf.writeBigUInt64BE(v, this.pos);
    this.pos += 8;
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
    this.buf.fill(0, this.pos, this.pos + n);
    this.pos += n;
    return this;
  }

  /** Pads with zeros from `start` up to the next multiple of 8 (OpenFlow's alignment). */
  pad8(start = 0): this {
    const len = this.pos - start;
    return this.zeros((8 - (len % 8)) % 8);
  }

  patchU16(at: number, v: number, what = 'length'): void {
    this.check(v, 16, what);
    this.buf.writeUInt16BE(v, at);
  }

  /** Patches a 16-bit length field at `at` with the bytes written since `start`. */
  patchLength(at: number, start: number): void {
    this.patchU16(at, this.pos - start);
  }

  finish(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }
}
