import fc from 'fast-check';
import { OpenFlowDecodeError } from './errors';
import { decodeMessage, encodeMessage, OfMessage } from './message';
import { decodeMatch, encodeMatch } from './oxm/match';
import { GOLDEN_CASES } from './testing/golden-cases';
import { anyMatchArb, flowModArb } from './testing/arbitraries';
import { Reader } from './wire/reader';
import { Writer } from './wire/writer';

/** Decoding must only ever fail with OpenFlowDecodeError, never RangeError & co. */
function decodesOrThrowsTyped(buf: Buffer): void {
  try {
    decodeMessage(buf);
  } catch (e) {
    if (!(e instanceof OpenFlowDecodeError)) throw e;
  }
}

describe('codec properties', () => {
  it('match: decode(encode(m)) == m for any distinct fields', () => {
    fc.assert(
      fc.property(anyMatchArb, (m) => {
        const w = new Writer();
        encodeMatch(w, m, false);
        const r = new Reader(w.finish());
        expect(decodeMatch(r)).toEqual(m);
        expect(r.remaining).toBe(0);
      }),
      { numRuns: 500 },
    );
  });

  it('flow_mod: decode(encode(x)) == x', () => {
    fc.assert(
      fc.property(flowModArb, (m) => {
        expect(decodeMessage(encodeMessage(m))).toEqual(m);
      }),
      { numRuns: 500 },
    );
  });

  it('bundle_add of a random flow_mod round-trips', () => {
    fc.assert(
      fc.property(flowModArb, fc.integer({ min: 0, max: 0xffffffff }), (m, bundleId) => {
        const add: OfMessage = { type: 'bundle_add', xid: m.xid, bundleId, flags: 1, message: m, properties: Buffer.alloc(0) };
        expect(decodeMessage(encodeMessage(add))).toEqual(add);
      }),
      { numRuns: 100 },
    );
  });

  it('random bytes only throw OpenFlowDecodeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 29 }), (bytes, type) => {
        const buf = Buffer.from(bytes);
        // Give most inputs a plausible header so decoding reaches the bodies.
        if (buf.length >= 8) {
          buf[0] = 4;
          buf[1] = type;
          buf.writeUInt16BE(buf.length, 2);
        }
        decodesOrThrowsTyped(buf);
      }),
      { numRuns: 3000 },
    );
  });

  it('truncated and corrupted valid messages only throw OpenFlowDecodeError', () => {
    const samples = fc.oneof(
      flowModArb.map((m) => encodeMessage(m)),
      fc.constantFrom(...GOLDEN_CASES.map((c) => encodeMessage(c.message))),
    );
    fc.assert(
      fc.property(samples, fc.nat(), fc.nat(), fc.integer({ min: 0, max: 255 }), (buf, cut, pos, byte) => {
        const len = cut % (buf.length + 1);
        const truncated = Buffer.from(buf.subarray(0, len));
        if (truncated.length >= 4) truncated.writeUInt16BE(truncated.length, 2);
        decodesOrThrowsTyped(truncated);
        const corrupted = Buffer.from(buf);
        if (corrupted.length > 8) corrupted[8 + (pos % (corrupted.length - 8))] = byte;
        decodesOrThrowsTyped(corrupted);
      }),
      { numRuns: 3000 },
    );
  });
});
