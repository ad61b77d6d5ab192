import { warningsOf } from './client';

describe('warningsOf', () => {
  it('reads each Warning header the API sends (299 - "text"), unescaping quotes and backslashes', () => {
    const res = { headersDistinct: { warning: ['299 - "unknown field \\"spec.x\\""', '299 - "a \\\\ b"', 'not a warning'] } };
    expect(warningsOf(res)).toEqual(['unknown field "spec.x"', 'a \\ b']);
    expect(warningsOf({ headersDistinct: {} })).toEqual([]);
  });
});
