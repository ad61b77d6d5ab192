import { fitWidths, renderTable, truncate } from './table';

describe('table layout', () => {
  it('keeps natural widths when they fit, with three-space gaps and no trailing spaces', () => {
    const lines = renderTable(['NAME', 'VNI'], [[{ text: 'blue' }, { text: '42' }], [{ text: 'a-longer-name' }, { text: '7' }]], { maxWidth: 80, color: false });
    expect(lines).toEqual(['NAME            VNI', 'blue            42', 'a-longer-name   7']);
  });

  it('shrinks the widest column first and never below its floor', () => {
    expect(fitWidths([4, 40, 10], [4, 7, 5], 40)).toEqual([4, 20, 10]);
    // Cannot fit: every column at its floor, the terminal wraps.
    expect(fitWidths([30, 30], [4, 4], 5)).toEqual([6, 6]);
    expect(fitWidths([30, 30], [4, 4], undefined)).toEqual([30, 30]);
  });

  it('never shrinks a column that tells rows apart: the others give up more, and the terminal wraps when they alone do not fit', () => {
    expect(fitWidths([4, 40, 17], [4, 7, 3], 40, [false, false, true])).toEqual([4, 13, 17]);
    expect(fitWidths([30, 30], [4, 4], 5, [true, false])).toEqual([30, 6]);
    const lines = renderTable(['NAME', 'MAC', 'SUBNETS'], [[{ text: 'vm1' }, { text: '0a:58:0a:00:00:14' }, { text: '10.0.0.0/24,fd00:1234::/64' }]], { maxWidth: 40, color: false, keep: [true, true, false] });
    expect(lines[1]).toContain('0a:58:0a:00:00:14');
  });

  it('truncates with an ellipsis and fits every line to the width', () => {
    expect(truncate('abcdef', 4)).toBe('abc…');
    const lines = renderTable(['NAME', 'SUBNETS'], [[{ text: 'n' }, { text: '10.0.0.0/24,fd00:1234:5678:9abc::/64' }]], { maxWidth: 30, color: false });
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(30);
    expect(lines[1]).toMatch(/…$/);
  });

  it('colours after padding so escape codes do not shift columns', () => {
    const [header, row] = renderTable(['READY', 'AGE'], [[{ text: 'True', color: 'green' }, { text: '1s' }]], { color: true });
    expect(header).toBe('\x1b[1mREADY\x1b[22m   \x1b[1mAGE\x1b[22m');
    expect(row).toBe('\x1b[32mTrue\x1b[39m    1s');
  });

  it('keeps widths from earlier rows (watch output)', () => {
    let widths: number[] = [];
    renderTable(['NAME'], [[{ text: 'a-long-name' }]], { color: false, onWidths: (w) => (widths = w) });
    const [, row] = renderTable(['NAME', 'X'], [[{ text: 'a' }, { text: 'x' }]], { color: false, minWidths: widths });
    expect(row).toBe('a             x');
  });
});
