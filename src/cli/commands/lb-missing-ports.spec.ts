import { missingPorts } from './lb-missing-ports';

describe('missingPorts: backends naming no VirtualPort of the namespace', () => {
  it('names each missing one, with the existing name it is likely a typo of (at most 2 edits away)', () => {
    const existing = ['r1', 'r2', 'web-1'];
    expect(missingPorts([{ port: 'r11' }, { port: 'r2' }, { ip: '10.0.0.9' }, { port: 'web-l', weight: 3 }, { port: 'database' }], existing)).toEqual([
      { backend: { port: 'r11' }, suggestion: 'r1' },
      { backend: { port: 'web-l', weight: 3 }, suggestion: 'web-1' },
      { backend: { port: 'database' } },
    ]);
  });

  it('finds nothing missing when every named port exists, and suggests nothing in an empty namespace', () => {
    expect(missingPorts([{ port: 'r1' }, { ip: '10.0.0.9' }], ['r1'])).toEqual([]);
    expect(missingPorts([{ port: 'r1' }], [])).toEqual([{ backend: { port: 'r1' } }]);
  });
});
