import type { PortModel } from './model';
import { ipv6AddressesOf, ipv6SpoofGuardFlows, linkLocalOf } from './port-security-v6';

const port = (over: Partial<PortModel> = {}): PortModel => ({
  uid: 'u1',
  key: 'ns/p',
  version: '1',
  network: 'n1',
  mac: '52:54:00:12:34:56',
  ips: ['10.0.0.5', 'fd00::5'],
  portSecurity: true,
  allowedAddressPairs: [],
  ...over,
});

describe('IPv6 port security', () => {
  it('derives the EUI-64 link-local address a guest configures from its MAC', () => {
    expect(linkLocalOf('52:54:00:12:34:56')).toBe('fe80::5054:ff:fe12:3456');
    expect(linkLocalOf('02:00:00:00:00:01')).toBe('fe80::ff:fe00:1');
    expect(() => linkLocalOf('not-a-mac')).toThrow(/not a MAC/);
  });

  it('adds nothing for an IPv4-only port (its flow count stays constant)', () => {
    expect(ipv6SpoofGuardFlows(port({ ips: ['10.0.0.5'] }), 7)).toEqual([]);
  });

  it('allows the port’s IPv6 addresses, its link-local address and allowed pairs (with their own MAC)', () => {
    const pairs = ipv6AddressesOf(port({ allowedAddressPairs: [{ ip: 'fd00::77', mac: '52:54:00:12:34:56' }, { ip: 'fd00::88', mac: '02:aa:00:00:00:01' }] }));
    expect(pairs).toEqual([
      { ip: 'fd00::5', mac: '52:54:00:12:34:56' },
      { ip: 'fd00::77', mac: '52:54:00:12:34:56' },
      { ip: 'fd00::88', mac: '02:aa:00:00:00:01' },
      { ip: 'fe80::5054:ff:fe12:3456', mac: '52:54:00:12:34:56' },
      { ip: 'fe80::aa:ff:fe00:1', mac: '02:aa:00:00:00:01' },
    ]);
  });

  it('lets ND advertise only what the port owns and drops every other NS/NA from it', () => {
    const flows = ipv6SpoofGuardFlows(port(), 7);
    // 2 addresses (global + link-local) x (2 NA + 2 NS + 1 IP) + the global's 2 NA from the link-local + DAD NS + DAD MLD + 2 drops.
    expect(flows).toHaveLength(2 * 5 + 2 + 2 + 2);
    const matches = flows.map((f) => Object.fromEntries(f.match.map((m) => [m.field, String(m.value)])));
    const na = matches.filter((m) => m.icmpv6_type === '136' && f(m));
    function f(m: Record<string, string>): boolean {
      return m.ipv6_nd_target !== undefined;
    }
    expect(na.map((m) => m.ipv6_nd_target).sort()).toEqual(['fd00::5', 'fd00::5', 'fd00::5', 'fd00::5', 'fe80::5054:ff:fe12:3456', 'fe80::5054:ff:fe12:3456']);
    // Each from the address it advertises or the port's link-local one, never from any address (QA-116 F3: an NA from a neighbour's address went through).
    expect(na.map((m) => `${m.ipv6_src} ${m.ipv6_nd_target}`).sort()).toEqual([
      'fd00::5 fd00::5', 'fd00::5 fd00::5',
      'fe80::5054:ff:fe12:3456 fd00::5', 'fe80::5054:ff:fe12:3456 fd00::5',
      'fe80::5054:ff:fe12:3456 fe80::5054:ff:fe12:3456', 'fe80::5054:ff:fe12:3456 fe80::5054:ff:fe12:3456',
    ]);
    expect(new Set(na.map((m) => m.ipv6_nd_tll))).toEqual(new Set(['52:54:00:12:34:56', '00:00:00:00:00:00']));
    const drops = flows.filter((fl) => fl.instructions.length === 0);
    expect(drops.map((d) => d.priority)).toEqual([115, 115]);
    // Every allow outranks the drops only when it is ND; plain IPv6 sits below them.
    for (const fl of flows.filter((x) => x.instructions.length)) {
      const m = Object.fromEntries(fl.match.map((x) => [x.field, String(x.value)]));
      expect(fl.priority).toBe(m.icmpv6_type === '135' || m.icmpv6_type === '136' ? 120 : 100);
      expect(m.in_port).toBe('7');
    }
  });

  it('an IPv6 allowed pair alone turns IPv6 port security on for an IPv4 port', () => {
    const flows = ipv6SpoofGuardFlows(port({ ips: ['10.0.0.5'], allowedAddressPairs: [{ ip: 'fd00::9', mac: '52:54:00:12:34:56' }] }), 3);
    expect(flows.some((f) => f.match.some((m) => m.field === 'ipv6_src' && m.value === 'fd00::9'))).toBe(true);
  });
});
