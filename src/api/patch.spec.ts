import { applyPatchOfType } from './patch';

describe('applyPatchOfType', () => {
  const current = { metadata: { name: 'jp' }, spec: { backends: [{ port: 'old' }] } };

  it('applies the patch as sent every time: a retry after a conflict gets the same result (QA-96: a JSON patch\'s values were changed by its own later operations)', () => {
    const ops = [
      { op: 'replace', path: '/spec/backends', value: [{ port: 'ap1' }, { port: 'ap2' }, { port: 'ap3' }, { port: 'ap4' }] },
      { op: 'remove', path: '/spec/backends/0' },
    ];
    const first = applyPatchOfType('json', current, ops);
    const retry = applyPatchOfType('json', current, ops);
    expect(first).toEqual({ metadata: { name: 'jp' }, spec: { backends: [{ port: 'ap2' }, { port: 'ap3' }, { port: 'ap4' }] } });
    expect(retry).toEqual(first);
    const append = [
      { op: 'add', path: '/spec/backends', value: [] },
      { op: 'add', path: '/spec/backends/-', value: { port: 'apN' } },
    ];
    applyPatchOfType('json', current, append);
    expect(applyPatchOfType('json', current, append)).toEqual({ metadata: { name: 'jp' }, spec: { backends: [{ port: 'apN' }] } });
  });

  it('shares nothing with the patch: what admission writes into the result never reaches it', () => {
    for (const [type, patch] of [
      ['merge', { spec: { backends: [{ port: 'a' }] } }],
      ['json', [{ op: 'replace', path: '/spec', value: { backends: [{ port: 'a' }] } }]],
    ] as const) {
      const sent = structuredClone(patch);
      const result = applyPatchOfType(type, current, sent) as { spec: { backends: Array<{ port: string; weight?: number }>; mtu?: number } };
      result.spec.mtu = 1450;
      result.spec.backends[0]!.weight = 1;
      expect(sent).toEqual(patch);
      expect(current.spec.backends).toEqual([{ port: 'old' }]);
    }
  });
});
