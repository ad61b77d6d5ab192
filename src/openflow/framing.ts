import { OFP_HEADER_LEN } from './constants';
import { OpenFlowDecodeError } from './errors';

/**
 * Splits a TCP/unix byte stream into whole OpenFlow messages using the header's
 * length field. Keeps a list of chunks instead of concatenating on every read.
 */
export class MessageFramer {
  private chunks: Buffer[] = [];
  private size = 0;

  push(chunk: Buffer): Buffer[] {
    this.chunks.push(chunk);
    this.size += chunk.length;
    const out: Buffer[] = [];
    while (this.size >= OFP_HEADER_LEN) {
      const head = this.peek(OFP_HEADER_LEN);
      const len = head.readUInt16BE(2);
      if (len < OFP_HEADER_LEN) throw new OpenFlowDecodeError(`stream framing: message length ${len} < 8`);
      if (this.size < len) break;
      out.push(this.take(len));
    }
    return out;
  }

  private peek(n: number): Buffer {
    const first = this.chunks[0] as Buffer;
    if (first.length >= n) return first.subarray(0, n);
    this.chunks = [Buffer.concat(this.chunks)];
    return (this.chunks[0] as Buffer).subarray(0, n);
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks);
    const msg = Buffer.from(all.subarray(0, n));
    const rest = all.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.size -= n;
    return msg;
  }
}
