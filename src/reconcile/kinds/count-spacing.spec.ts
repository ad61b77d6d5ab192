import pino from 'pino';
import { CountSpacing } from './count-spacing';

describe('CountSpacing', () => {
  const log = pino({ level: 'silent' });

  it('never holds back after a cheap count', () => {
    const s = new CountSpacing(log, 5_000);
    s.record(0, 99);
    expect(s.allows(100)).toBe(true);
  });

  it('holds the next count back ten times as long as a costly one took, then lets it go', () => {
    const s = new CountSpacing(log, 5_000);
    expect(s.allows(0)).toBe(true);
    s.record(1_000, 3_000); // 2 s
    expect(s.allows(3_001)).toBe(false);
    expect(s.allows(22_999)).toBe(false);
    expect(s.allows(23_000)).toBe(true);
    // Cheaper again: at once.
    s.record(23_000, 23_050);
    expect(s.allows(23_051)).toBe(true);
  });

  it('allows every count once lifted, however costly the last one was', () => {
    const s = new CountSpacing(log, 5_000);
    s.record(1_000, 3_000); // 2 s: held back until 23 s
    expect(s.allows(3_001)).toBe(false);
    s.lift();
    expect(s.allows(3_001)).toBe(true);
    // For good: a costly count after it holds nothing back either.
    s.record(3_001, 5_001);
    expect(s.allows(5_002)).toBe(true);
  });

  it('says once in the log when counting is paced, and again only after it was not', () => {
    const lines: string[] = [];
    const s = new CountSpacing(pino({ level: 'info' }, { write: (l: string) => void lines.push(l) }), 5_000);
    s.record(0, 600);
    s.record(10_000, 10_700);
    expect(lines.filter((l) => l.includes('lb.count_paced'))).toHaveLength(1);
    s.record(20_000, 20_010);
    s.record(30_000, 30_800);
    expect(lines.filter((l) => l.includes('lb.count_paced'))).toHaveLength(2);
  });
});
