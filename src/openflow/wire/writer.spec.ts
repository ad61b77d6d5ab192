import { encodeMessage, encodeMessageInto } from '../message';
import { GOLDEN_CASES } from '../testing/golden-cases';
import { Writer } from './writer';

describe('Writer', () => {
  it('hands out only bytes it wrote: uninitialised memory never reaches the wire', () => {
    const clean = GOLDEN_CASES.map((c) => encodeMessage(c.message));
    // What allocUnsafe may return: memory full of old bytes.
    const spy = jest.spyOn(Buffer, 'allocUnsafe').mockImplementation((n: number) => Buffer.alloc(n, 0xa5));
    try {
      // A small first buffer, so that growing (allocUnsafe again) is exercised too.
      const dirty = GOLDEN_CASES.map((c) => {
        const w = new Writer(8);
        encodeMessageInto(w, c.message);
        return w.finish();
      });
      expect(dirty.map((b) => b.toString('hex'))).toEqual(clean.map((b) => b.toString('hex')));
      expect(spy).toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  });

  it('keeps what it wrote when it grows past its first buffer', () => {
    const w = new Writer(2);
    for (let i = 0; i < 100; i++) w.u8(i).zeros(1);
    const out = w.finish();
    expect(out.length).toBe(200);
    for (let i = 0; i < 100; i++) expect([out[2 * i], out[2 * i + 1]]).toEqual([i, 0]);
  });
});
