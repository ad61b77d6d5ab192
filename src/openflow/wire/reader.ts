import { OpenFlowDecodeError } from '../errors';

/**
 * Bounds-checked big-endian reader. Every read checks the remaining length first
 * and throws OpenFlowDecodeError, so no Buffer RangeError can escape a decoder.
 * `base` keeps offsets in errors relative to the outermost message.
 */
export class Reader {
  private pos = 0;

  constructor(
    private readonly buf: Buffer,
    private readonly base = 0,
  ) {}

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  /** Absolute offset (relative to the outermost buffer) for error messages. */
  get absolute(): number {
    return this.base + this.pos;
  }

  fail(message: string): never {
    throw new OpenFlowDecodeError(message, this.absolute);
  }

  private need(n: number, what: string): void {
    if (n < 0 || this.pos + n > this.buf.length) {
      this.fail(`truncated ${what}: need ${n} bytes, have ${this.remaining}`);
    }
  }

  u8(what = 'u8'): number {
    this.need(1, what);
    return this.buf[this.pos++] as number;
  }

  u16(what = 'u16'): number {
    this.need(2, what);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  u32(what = 'u32'): number {
    this.need(4, what);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  u64(what = 'u64'): bigint {
    this.need(8, what);
    const v = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  /** A copy, so decoded objects never alias the (possibly reused) input buffer. */
  bytes(n: number, what = 'bytes'): Buffer {
    this.need(n, what);
    const v = Buffer.from(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return v;
  }

  skip(n: number, what = 'padding'): void {
    this.need(n, what);
    this.pos += n;
  }

  /** Carves the next n bytes out as an independent reader (for length-prefixed TLVs). */
  sub(n: number, what = 'sub-structure'): Reader {
    this.need(n, what);
    const r = new Reader(this.buf.subarray(this.pos, this.pos + n), this.absolute);
    this.pos += n;
    return r;
  }

  /** Peeks a u16 at the current position plus delta without consuming. */
  peekU16(delta = 0, what = 'u16'): number {
    if (this.pos + delta + 2 > this.buf.length) this.fail(`truncated ${what}`);
    return this.buf.readUInt16BE(this.pos + delta);
  }

  /** A copy of the whole underlying slice regardless of position (for raw fallbacks). */
  bytesAt0(): Buffer {
    return Buffer.from(this.buf);
  }

  rest(): Buffer {
    return this.bytes(this.remaining, 'rest');
  }
}
