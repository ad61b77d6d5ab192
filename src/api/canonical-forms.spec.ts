import { canonicalFormWarnings } from './canonical-forms';

const tail = '(its canonical form; write it so in your manifest, or diffs against the live object never settle)';

describe('canonicalFormWarnings (QA-134 F6)', () => {
  it('names each MAC, address and CIDR stored in another spelling, with its stored form', () => {
    const sent = { mac: '0A-58-AA-BB-CC-DD', ips: ['FD00:0:0:0:0:0:0:99', '10.0.0.199', 'fd00::10.0.0.1'], subnets: [{ cidr: 'FD00:2:0::/64', gateway: 'fd00:2::1' }] };
    const stored = { mac: '0a:58:aa:bb:cc:dd', ips: ['fd00::99', '10.0.0.199', 'fd00::a00:1'], subnets: [{ cidr: 'fd00:2::/64', gateway: 'fd00:2::1' }] };
    expect(canonicalFormWarnings(sent, stored)).toEqual([
      `spec.mac: stored as 0a:58:aa:bb:cc:dd ${tail}`,
      `spec.ips[0]: stored as fd00::99 ${tail}`,
      `spec.ips[2]: stored as fd00::a00:1 ${tail}`,
      `spec.subnets[0].cidr: stored as fd00:2::/64 ${tail}`,
    ]);
  });

  it('says nothing of values already canonical, defaults, or values the server chose instead of the sent one', () => {
    expect(canonicalFormWarnings({ mac: '0a:58:aa:bb:cc:dd', ips: [] }, { mac: '0a:58:aa:bb:cc:dd', ips: ['10.0.0.2'], portSecurity: true })).toEqual([]);
    // Not the canonical form of what was sent (a kept old value, say): not this warning's business.
    expect(canonicalFormWarnings({ vip: '10.0.0.9', node: 'HV1' }, { vip: '10.0.0.5', node: 'hv1' })).toEqual([]);
    expect(canonicalFormWarnings(undefined, { mac: '0a:58:aa:bb:cc:dd' })).toEqual([]);
  });

  it('names a few values each and the rest in one warning, whose paths are listed up to ten', () => {
    const n = 30;
    const sent = { ips: Array.from({ length: n }, (_, i) => `FD00::${(i + 16).toString(16).toUpperCase()}`) };
    const stored = { ips: sent.ips.map((ip) => ip.toLowerCase()) };
    const out = canonicalFormWarnings(sent, stored);
    expect(out).toHaveLength(8);
    expect(out[6]).toBe(`spec.ips[6]: stored as fd00::16 ${tail}`);
    expect(out[7]).toBe(`${Array.from({ length: 10 }, (_, i) => `spec.ips[${i + 7}]`).join(', ')} and 13 more: stored in their canonical forms too (read them back from the live object; write them so in your manifest, or diffs against the live object never settle)`);
    expect(out.join('').length).toBeLessThan(2048);
  });
});
