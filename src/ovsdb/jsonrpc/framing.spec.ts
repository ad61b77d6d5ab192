import { MessageTooLargeError, ProtocolError } from '../errors';
import { JsonStreamSplitter } from './framing';

const msgs = [
  { id: 1, method: 'echo', params: ['a'] },
  { id: null, method: 'update2', params: ['m1', { T: { u: { insert: { s: 'br{ace}"[x]\\' } } } }] },
  { result: ['ünïcødé ✓ 🚀'], error: null, id: 2 },
  [1, [2, [3]]],
];
const wire = Buffer.from(msgs.map((m) => JSON.stringify(m)).join(''));

describe('JsonStreamSplitter', () => {
  it('splits messages joined in one read', () => {
    expect(new JsonStreamSplitter().push(wire)).toEqual(msgs);
  });

  it('reassembles messages cut at every byte (including inside UTF-8 sequences)', () => {
    const s = new JsonStreamSplitter();
    const out = [];
    for (let i = 0; i < wire.length; i++) out.push(...s.push(wire.subarray(i, i + 1)));
    expect(out).toEqual(msgs);
    expect(s.pendingBytes).toBe(0);
  });

  it('handles arbitrary chunk boundaries', () => {
    for (const size of [2, 3, 7, 13, 64]) {
      const s = new JsonStreamSplitter();
      const out = [];
      for (let i = 0; i < wire.length; i += size) out.push(...s.push(wire.subarray(i, i + size)));
      expect(out).toEqual(msgs);
    }
  });

  it('tracks escapes across every split point: runs of backslashes before quotes and brackets', () => {
    // The scanner jumps between quotes and counts the backslashes before each one, so
    // odd and even runs, escaped quotes and brackets next to them must all survive any cut.
    const tricky = [
      { s: '\\', t: '\\"', u: '"\\\\"}', v: ['\\\\\\', '"]"', '\\{'] },
      { id: null, method: 'x', params: ['\\"\\"', '}}}', '\\\\'] },
    ];
    const bytes = Buffer.from(tricky.map((m) => JSON.stringify(m)).join(''));
    for (let cut = 1; cut < bytes.length; cut++) {
      const s = new JsonStreamSplitter();
      const out = [...s.push(bytes.subarray(0, cut)), ...s.push(bytes.subarray(cut))];
      expect(out).toEqual(tricky);
    }
    for (const size of [1, 2, 3]) {
      const s = new JsonStreamSplitter();
      const out = [];
      for (let i = 0; i < bytes.length; i += size) out.push(...s.push(bytes.subarray(i, i + size)));
      expect(out).toEqual(tricky);
    }
  });

  it('skips whitespace between messages', () => {
    expect(new JsonStreamSplitter().push(Buffer.from(' {"a":1}\n\r\t {"b":2} '))).toEqual([{ a: 1 }, { b: 2 }]);
  });

  it('rejects a complete message above the limit', () => {
    const s = new JsonStreamSplitter(10);
    expect(() => s.push(Buffer.from('{"a":"0123456789"}'))).toThrow(MessageTooLargeError);
  });

  it('rejects an incomplete message once it outgrows the limit, without waiting for the end', () => {
    const s = new JsonStreamSplitter(100);
    s.push(Buffer.from('{"a":"'));
    expect(() => s.push(Buffer.alloc(200, 0x61))).toThrow(MessageTooLargeError);
  });

  it('accepts messages right at the limit', () => {
    const m = Buffer.from('{"a":"xyz"}');
    expect(new JsonStreamSplitter(m.length).push(m)).toEqual([{ a: 'xyz' }]);
  });

  it('rejects garbage between messages', () => {
    expect(() => new JsonStreamSplitter().push(Buffer.from('{"a":1}x'))).toThrow(ProtocolError);
    expect(() => new JsonStreamSplitter().push(Buffer.from('42'))).toThrow(ProtocolError);
  });

  it('rejects malformed JSON inside a balanced message', () => {
    expect(() => new JsonStreamSplitter().push(Buffer.from('{"a":1,,}'))).toThrow(ProtocolError);
    expect(() => new JsonStreamSplitter().push(Buffer.from('{"a" 1}'))).toThrow(ProtocolError);
  });
});
