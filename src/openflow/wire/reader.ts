import { OpenFlowDecodeError } from '../errors';
import { ipv4At, macAt } from './addr';

/**
 * Bounds-checked big-endian reader. Every read checks the remaining length first
 * and throws OpenFlowDecodeError, so no Buffer RangeError can escape a decoder.
 * `base` keeps offsets in errors relative to the outermost message.
 */
export class Reader {
  /** Index into buf of the next byte; this reader's bytes are buf[start, end). */
  private pos: number;
  private readonly start: number;
  private readonly end: number;

  /**
   * A reader over buf[start, end). Sub-readers share the buffer with their parent instead
   * of holding a subarray of it: a dump of 12,000 flows makes ~20 of them per flow, and a
   * Buffer view costs an allocation where a pair of offsets costs none.
   */
  constructor(
    private readonly buf: Buffer,
    private readonly base = 0,
    start = 0,
    end = buf.length,
  ) {
    this.start = start;
    this.pos = start;
    this.end = end;
  }

  get offset(): number {
    return this.pos - this.start;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  /** Absolute offset (relative to the outermost buffer) for error messages. */
  get absolute(): number {
    return this.base + this.pos - this.start;
  }

  fail(message: string): never {
    throw new OpenFlowDecodeError(message, this.absolute);
  }

  private need(n: number, what: string): void {
    if (n < 0 || this.pos + n > this.end) {
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

  /** An unsigned big-endian integer of n bytes (1..6). */
  uintBE(n: number, what = 'uint'): number {
    this.need(n, what);
    const v = this.buf.readUIntBE(this.pos, n);
    this.pos += n;
    return v;
  }

  /** Six bytes as a lower-case colon-separated MAC. */
  mac(what = 'mac'): string {
    this.need(6, what);
    const v = macAt(this.buf, this.pos);
    this.pos += 6;
    return v;
  }

  /** Four bytes as a dotted IPv4 address. */
  ipv4(what = 'ipv4'): string {
    this.need(4, what);
    const v = ipv4At(this.buf, this.pos);
    this.pos += 4;
    return v;
  }

  /** A copy, so decoded objects never alias the (possibly reused) input buffer. */
  bytes(n: number, what = 'bytes'): Buffer {
    this.need(n, what);
    const v = Buffer.allocUnsafe(n);
    this.buf.copy(v, 0, this.pos, this.pos + n);
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
    const r = new Reader(this.buf, this.absolute, this.pos, this.pos + n);
    this.pos += n;
    return r;
  }

  /** Peeks a u16 at the current position plus delta without consuming. */
  peekU16(delta = 0, what = 'u16'): number {
    if (this.pos + delta + 2 > this.end) this.fail(`truncated ${what}`);
    return this.buf.readUInt16BE(this.pos + delta);
  }

  /** A copy of the whole underlying slice regardless of position (for raw fallbacks). */
  bytesAt0(): Buffer {
    return Buffer.from(this.buf.subarray(this.start, this.end));
  }

  rest(): Buffer {
    return this.bytes(this.remaining, 'rest');
  }
}
