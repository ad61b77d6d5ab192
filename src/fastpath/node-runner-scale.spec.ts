/**
 * NodeRunner at a hypervisor's scale: 300 VM NICs on one node (a runner took 255 before), with
 * fast-path port ids as OVS numbers ports on a host whose VMs come and go (OpenFlow port
 * numbers up to OFPP_MAX - 1; ids of 1024 and up were refused before), all in one network. The
 * node's filter keys are its network's MACs once (not once per NIC), so one more port writes a
 * handful of keys. Needs root and iproute2; skips, saying why, without.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { FastPath, openFastPath } from './fastpath';
import { libWith } from './testing/lib-with';
import { NodeRunner } from './node-runner';
import { FilterMap, type NodeTables, type NodeTablesPort } from './node-tables';

const id = `${process.pid % 100000}`;
const HV = `vfsh${id}`, VMS = `vfsv${id}`, WIRE = `vfsw${id}`, UL = `vfsu${id}`, WIF = `vfsx${id}`;
const NICS = 300;
/** OVS's highest port number (OFPP_MAX - 1) and a spread of others above the old limit of 1024. */
const portId = (i: number): number => (i === NICS - 1 ? 0xfeff : i < 10 ? 3 + i : 1024 + i * 211);
const tap = (i: number) => `vfst${id}.${i}`;
const vif = (i: number) => `vfsi${id}.${i}`;
const mac = (i: number) => `02:00:00:05:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
const vmIp = (i: number) => `10.5.${(i + 1) >> 8}.${(i + 1) & 255}`;
const REMOTE_MAC = '02:00:00:05:ff:ff', REMOTE_IP = '10.5.255.254';
const UDPGEN = resolve(__dirname, '../../native/build/udpgen');

function unavailable(): string | null {
  if (process.getuid?.() !== 0) return 'not root';
  if (spawnSync('sh', ['-c', 'command -v ip && command -v ping']).status !== 0) return 'iproute2 or ping not installed';
  return null;
}
const why = unavailable();
if (why) console.warn(`skipping NodeRunner scale test: ${why}`);
const maybe = why ? describe.skip : describe;
const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });
/** Many ip commands in one process (a few seconds for hundreds of veths, not minutes). */
const ipBatch = (ns: string | null, lines: string[]) => execFileSync('ip', [...(ns ? ['-n', ns] : []), '-batch', '-'], { input: lines.join('\n') + '\n', stdio: ['pipe', 'pipe', 'pipe'] });

function rx(ns: string, dev: string): number {
  const out = execFileSync('ip', ['-n', ns, '-s', '-j', 'link', 'show', dev], { encoding: 'utf8' });
  return (JSON.parse(out) as { stats64: { rx: { packets: number } } }[])[0]!.stats64.rx.packets;
}

const port = (i: number): NodeTablesPort => ({ id: portId(i), ifname: tap(i), network: 100, mac: mac(i), portSecurity: true, sources: [{ mac: mac(i), ip: vmIp(i) }] });
const tables = (n: number): NodeTables => ({
  localVtep: { ip: '198.18.5.1', mac: '02:ff:00:00:05:01' },
  underlay: { ifname: UL },
  ports: Array.from({ length: n }, (_, i) => port(i)),
  vnis: [{ vni: 100, network: 100 }],
  vteps: [{ id: 1, ip: '198.18.5.2', mac: '02:ff:00:00:05:02', encap: 'vxlan' }],
  macs: [
    ...Array.from({ length: n }, (_, i) => ({ network: 100, mac: mac(i), to: { kind: 'local' as const, port: portId(i) } })),
    { network: 100, mac: REMOTE_MAC, to: { kind: 'remote', vtep: 1, vni: 100 } },
  ],
  vips: [],
});

maybe('NodeRunner with hundreds of VM NICs', () => {
  const { fastPath: real } = openFastPath();
  beforeAll(() => {
    // 300 UMEMs of the default 9 MiB would pin 2.7 GiB (and take 20 s to clear): the smallest
    // the runner allows, 256 KiB. (process.env here is Jest's copy, which C's getenv never sees.)
    if (!real) throw new Error('libvnetfp did not load');
    expect(real.lib.xskSetVmUmem(64, 64)).toBe(0);
    for (const ns of [HV, VMS, WIRE]) ip('netns', 'add', ns);
    ip('link', 'add', UL, 'netns', HV, 'type', 'veth', 'peer', 'name', WIF, 'netns', WIRE);
    ipBatch(HV, Array.from({ length: NICS }, (_, i) => `link add ${tap(i)} type veth peer name ${vif(i)} netns ${VMS}`));
    ipBatch(HV, [...Array.from({ length: NICS }, (_, i) => `link set ${tap(i)} up`), `link set ${UL} up`, `addr add 198.18.5.1/24 dev ${UL}`]);
    ipBatch(VMS, Array.from({ length: NICS }, (_, i) => `link set ${vif(i)} address ${mac(i)} up`));
    ip('-n', WIRE, 'link', 'set', WIF, 'up');
    // The VM NIC with the highest port id sends to the remote MAC.
    const last = NICS - 1;
    ip('-n', VMS, 'addr', 'add', `${vmIp(last)}/16`, 'dev', vif(last));
    ip('-n', VMS, 'neigh', 'add', REMOTE_IP, 'lladdr', REMOTE_MAC, 'dev', vif(last));
  }, 120_000);
  afterAll(() => {
    for (const ns of [HV, VMS, WIRE]) spawnSync('ip', ['netns', 'del', ns]);
    real?.lib.xskSetVmUmem(0, 0); // the library stays loaded for this worker's next test file
  });

  it('runs on 300 VM NICs with port ids up to 65279, forwards from the highest, and one more NIC writes a handful of filter keys', async () => {
    if (!real) throw new Error('libvnetfp did not load');
    const writes: Array<{ port: number; map: FilterMap; add: boolean }> = [];
    const lib = libWith(real.lib, {
      runnerFilter: (r, p, map, key, add) => {
        writes.push({ port: p, map, add: add === 1 });
        return real.lib.runnerFilter(r, p, map, key, add);
      },
    });
    const runner = new NodeRunner(new FastPath(lib), { netns: HV });
    try {
      const t0 = performance.now();
      expect(await runner.apply(tables(NICS - 1))).toEqual({ state: 'Running', interfaces: NICS });
      const startMs = performance.now() - t0;
      // Every NIC's keys once: its tag and its source pair; the network's MACs once for the node.
      const count = (map: FilterMap) => writes.filter((w) => w.map === map && w.add).length;
      expect(count(FilterMap.Dst)).toBe(NICS); // 299 local MACs and the remote one (per NIC before: 299 x 299)
      expect(count(FilterMap.Net)).toBe(NICS - 1);
      expect(count(FilterMap.Src)).toBe(NICS - 1);

      // One more NIC, the highest port id OVS gives: its own keys, its MAC for the node and at the underlay.
      writes.length = 0;
      const t1 = performance.now();
      expect(await runner.apply(tables(NICS))).toEqual({ state: 'Running', interfaces: NICS + 1 });
      const addMs = performance.now() - t1;
      expect(writes.map((w) => FilterMap[w.map]).sort()).toEqual(['Dst', 'Inner', 'Net', 'Src']);
      console.log(`NodeRunner: ${NICS} VM NICs opened in ${(startMs / 1000).toFixed(1)} s; one more in ${addMs.toFixed(0)} ms with ${writes.length} filter writes`);

      // Its frames take the fast path: out on the underlay, VXLAN-encapsulated.
      const before = rx(WIRE, WIF);
      spawnSync('ip', ['netns', 'exec', VMS, 'ping', '-c', '3', '-i', '0.2', '-W', '1', REMOTE_IP]);
      expect(rx(WIRE, WIF) - before).toBeGreaterThanOrEqual(3);
      const nic = runner.counters().interfaces.find((i) => i.port === 0xfeff)!;
      expect(nic.counters.rx).toBeGreaterThanOrEqual(3n);
      expect(nic.counters.fast).toBeGreaterThanOrEqual(3n);

      // 64-byte UDP from it, forwarded as fast beside 299 idle NICs as beside none:
      // each pass over the interfaces used to scan every port id up to the highest for frames
      // to send (301 x 65,280 per pass; 1,000 NICs forwarded a tenth of what 2 did).
      // (The best of three half seconds each side: CI's other Jest worker shares the two cores.)
      const blast = (): number => {
        let best = 0;
        for (let k = 0; k < 3; k++) {
          const c0 = runner.counters().interfaces.find((i) => i.port === 0xfeff)!.counters.fast;
          spawnSync('ip', ['netns', 'exec', VMS, UDPGEN, REMOTE_IP, '9000', '0.5']);
          best = Math.max(best, Number(runner.counters().interfaces.find((i) => i.port === 0xfeff)!.counters.fast - c0));
        }
        return best;
      };
      const amongMany = blast();

      // Half of them go: their tags with them, and only their MACs from the node's keys.
      writes.length = 0;
      expect(await runner.apply({ ...tables(NICS), ports: tables(NICS).ports.filter((_, i) => i % 2 === 1), macs: tables(NICS).macs.filter((m, i) => i % 2 === 1 || m.mac === REMOTE_MAC) })).toEqual({ state: 'Running', interfaces: NICS / 2 + 1 });
      expect(writes.filter((w) => w.add)).toEqual([]);
      expect(writes.filter((w) => w.map === FilterMap.Dst)).toHaveLength(NICS / 2);

      // All but the sender go.
      const alone = tables(NICS);
      expect(await runner.apply({ ...alone, ports: alone.ports.slice(-1), macs: alone.macs.filter((m) => m.mac === mac(NICS - 1) || m.mac === REMOTE_MAC) })).toEqual({ state: 'Running', interfaces: 2 });
      const alongside = blast();
      console.log(`NodeRunner: half a second of UDP from one NIC, forwarded beside ${NICS - 1} others: ${amongMany} packets; alone: ${alongside}`);
      // Before the fix 0.03 of it (in a second: 7,040 against 266,796); 0.8-1.4 on a quiet machine, 0.4 under CI's
      // load, once 0.16 (2026-12-01, CI with a review's scripts beside it): a tenth still tells the two apart.
      expect(amongMany).toBeGreaterThan(alongside * 0.1);
    } finally {
      await runner.close();
    }
  }, 180_000);
});
