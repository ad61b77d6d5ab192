/**
 * Splits a byte stream into JSON texts. OVSDB peers write JSON-RPC messages back to
 * back with no delimiter, and TCP/unix reads cut them anywhere (even inside a UTF-8
 * sequence), so we track nesting depth and string state across chunks and hand each
 * complete top-level object to JSON.parse exactly once.
 *
 * Scanning works on bytes: '{', '}', '[', ']', '"' and '\\' are ASCII and never occur
 * inside a multi-byte UTF-8 sequence, so no decoding is needed until a message is whole.
 * Chunks are kept in a list (not re-concatenated on every read) so a large message
 * arriving in many reads costs O(n), not O(n^2).
 */
import { MessageTooLargeError, ProtocolError } from '../errors';
import type { Json } from '../wire/json';

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function isWhitespace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

/** Length of the run of backslashes ending just before `end`, not looking before `from`. */
function backslashesBefore(chunk: Buffer, end: number, from: number): number {
  let k = 0;
  for (let j = end - 1; j >= from && chunk[j] === BACKSLASH; j--) k++;
  return k;
}

export const DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024;

export class JsonStreamSplitter {
  private chunks: Buffer[] = [];
  /** Bytes of the current (incomplete) message held in `chunks`. */
  private buffered = 0;
  private depth = 0;
  private inString = false;
  private escaped = false;

  constructor(private readonly maxMessageSize: number = DEFAULT_MAX_MESSAGE_SIZE) {}

  /**
   * Feeds one read. Returns the messages completed by it, in order. Throws
   * MessageTooLargeError or ProtocolError; the splitter is unusable afterwards (the
   * caller closes the connection, since the stream position is lost).
   */
  push(chunk: Buffer): Json[] {
    const out: Json[] = [];
    const n = chunk.length;
    let start = 0;
    let i = 0;
    while (i < n) {
      if (this.inString) {
        // Most of an OVSDB message is string bytes (uuids, names), so jump to the next
        // quote with the native indexOf instead of visiting each byte in JavaScript;
        // the quote ends the string unless an odd run of backslashes precedes it.
        if (this.escaped) {
          this.escaped = false;
          i++;
          continue;
        }
        const q = chunk.indexOf(QUOTE, i);
        if (q === -1) {
          // The string goes on in the next chunk; carry a trailing unfinished escape.
          this.escaped = (backslashesBefore(chunk, n, i) & 1) === 1;
          i = n;
          break;
        }
        // Bytes before i were scanned already with no escape pending, so count from i.
        if ((backslashesBefore(chunk, q, i) & 1) === 0) this.inString = false;
        i = q + 1;
        continue;
      }
      const b = chunk[i]!;
      if (this.depth === 0) {
        // Between messages: only whitespace or the start of an object/array is legal.
        if (isWhitespace(b)) {
          start = ++i;
          continue;
        }
        if (b !== OPEN_BRACE && b !== OPEN_BRACKET) {
          throw new ProtocolError(`unexpected byte 0x${b.toString(16)} between JSON-RPC messages`);
        }
        start = i++;
        this.depth = 1;
        continue;
      }
      if (b === QUOTE) this.inString = true;
      else if (b === OPEN_BRACE || b === OPEN_BRACKET) this.depth++;
      else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) {
        this.depth--;
        if (this.depth === 0) {
          this.checkSize(this.buffered + (i + 1 - start));
          out.push(this.parse(chunk.subarray(start, i + 1)));
          start = i + 1;
        }
      }
      i++;
    }
    if (this.depth > 0 && start < n) {
      this.chunks.push(chunk.subarray(start));
      this.buffered += n - start;
      this.checkSize(this.buffered);
    }
    return out;
  }

  /** Bytes held for an incomplete message (for tests and diagnostics). */
  get pendingBytes(): number {
    return this.buffered;
  }

  private checkSize(n: number): void {
    if (n > this.maxMessageSize) throw new MessageTooLargeError(this.maxMessageSize, n);
  }

  private parse(tail: Buffer): Json {
    const whole = this.chunks.length ? Buffer.concat([...this.chunks, tail]) : tail;
    this.chunks = [];
    this.buffered = 0;
    try {
      return JSON.parse(whole.toString('utf8')) as Json;
    } catch (e) {
      throw new ProtocolError(`malformed JSON from peer: ${(e as Error).message}`, { cause: e });
    }
  }
}

/** Serialises one message; JSON.stringify never emits raw newlines inside strings. */
export function encodeMessage(msg: Json | object): Buffer {
  return Buffer.from(JSON.stringify(msg), 'utf8');
}
