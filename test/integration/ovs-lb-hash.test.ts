/**
 * The fast path deals a load balancer's new connection to the backend OVS would (issue 6:
 * the two datapaths never disagree about where a packet goes): it computes the slot OVS's
 * `multipath` action computes (native/src/ovs_hash.c) and looks it up in the same slot
 * table. This checks that hash against a running ovs-vswitchd: a flow with the pipeline's
 * multipath actions (symmetric_l3l4+udp for plain VIPs, nw_src for ClientIP affinity,
 * basis 0, modulo_n over the table sizes the pipeline uses: 256, 2048 and 8192 slots, and
 * 1000, which is not a power of two) and ofproto/trace of random TCP and UDP packets; the
 * registers OVS fills must be the slots the C library computes.
 */
import { randomInt } from 'node:crypto';
import { openFastPath, type FastPath } from '../../src/fastpath';
import { startOvs, type OvsInstance } from '../harness/ovs';
import { describeOvs } from './ovsdb-helpers';

const TRACES = 200;
/** Register n gets hash `fields` modulo `size`. */
const TABLES = [
  { reg: 0, fields: 'symmetric_l3l4+udp', clientIp: 0, size: 256 },
  { reg: 1, fields: 'nw_src', clientIp: 1, size: 256 },
  { reg: 2, fields: 'symmetric_l3l4+udp', clientIp: 0, size: 2048 },
  { reg: 3, fields: 'nw_src', clientIp: 1, size: 2048 },
  { reg: 4, fields: 'symmetric_l3l4+udp', clientIp: 0, size: 8192 },
  { reg: 5, fields: 'symmetric_l3l4+udp', clientIp: 0, size: 1000 },
];

describeOvs('OVS multipath hash, as the fast path computes it', () => {
  let ovs: OvsInstance | undefined;
  let fp: FastPath;

  beforeAll(async () => {
    const opened = openFastPath();
    if (!opened.fastPath) throw new Error(`libvnetfp must build for the tests: ${JSON.stringify(opened.status)}`);
    fp = opened.fastPath;
    const tag = `lbh${process.pid.toString(36).slice(-4)}`;
    ovs = await startOvs({ name: tag, netns: tag });
    await ovs.vsctl(['add-br', 'br0', '--', 'set', 'bridge', 'br0', 'datapath_type=netdev', 'protocols=OpenFlow13', 'fail_mode=secure']);
    const picks = TABLES.map((t) => `multipath(${t.fields},0,modulo_n,${t.size},0,NXM_NX_REG${t.reg}[0..15])`);
    await ovs.ofctl(['-O', 'OpenFlow13', 'add-flow', 'br0', `table=0,ip,actions=${picks.join(',')}`]);
  }, 60_000);
  afterAll(async () => {
    await ovs?.stop();
  }, 60_000);

  it(`gives the slot OVS gives, for ${TRACES} random TCP and UDP connections, with and without ClientIP affinity`, async () => {
    const ip = () => [10, randomInt(256), randomInt(256), randomInt(1, 255)];
    const num = (a: number[]) => ((a[0]! << 24) | (a[1]! << 16) | (a[2]! << 8) | a[3]!) >>> 0;
    const mismatches: string[] = [];
    const slots = new Map(TABLES.map((t) => [t.reg, new Set<number>()]));
    for (let i = 0; i < TRACES; i++) {
      const [src, dst] = [ip(), ip()];
      const proto = i % 2 ? 17 : 6;
      const [sport, dport] = [randomInt(1, 65536), i % 3 ? 80 : randomInt(1, 65536)];
      const l4 = proto === 6 ? 'tcp' : 'udp';
      const out = await ovs!.appctl('ovs-vswitchd', ['ofproto/trace', 'br0', `in_port=LOCAL,${l4},nw_src=${src.join('.')},nw_dst=${dst.join('.')},${l4}_src=${sport},${l4}_dst=${dport}`]);
      const final = /Final flow: (.*)/.exec(out)?.[1] ?? '';
      const reg = (n: number) => Number(new RegExp(`reg${n}=(0x[0-9a-f]+|\\d+)`).exec(final)?.[1] ?? 0);
      const want = TABLES.map((t) => reg(t.reg));
      const got = TABLES.map((t) => fp.lib.ovsLbSlot(num(src), num(dst), proto, sport, dport, t.clientIp, t.size));
      TABLES.forEach((t, k) => slots.get(t.reg)!.add(got[k]!));
      if (want.some((w, k) => w !== got[k])) mismatches.push(`${l4} ${src.join('.')}:${sport} -> ${dst.join('.')}:${dport}: OVS ${JSON.stringify(want)}, fast path ${JSON.stringify(got)} (tables ${TABLES.map((t) => `${t.fields}/${t.size}`).join(', ')})`);
    }
    const seen = TABLES.map((t) => `${t.fields} over ${t.size}: ${slots.get(t.reg)!.size} distinct`).join('; ');
    process.stdout.write(`[ovs-lb-hash] ${TRACES - mismatches.length}/${TRACES} connections: the fast path computes OVS's slot in every table (${seen})\n`);
    expect(mismatches).toEqual([]);
    // A hash that spreads: as many distinct slots as a uniform hash gives. Two of n
    // connections share a slot of `size` about n(n-1)/2/size times (a Poisson count: 19.9
    // over 1000 slots, 9.7 over 2048, 2.4 over 8192); allow six standard deviations and six
    // more, so a fair hash fails this about once in a million runs and a hash that uses a
    // fraction of the table always does. (A fixed 170 failed a CI run: 170 distinct over
    // 1000 slots is 30 collisions, 2.3 deviations, a 1-in-100 event.)
    const distinctAtLeast = (size: number) => {
      const collisions = (TRACES * (TRACES - 1)) / 2 / size;
      return TRACES - Math.ceil(collisions + 6 * Math.sqrt(collisions) + 6);
    };
    expect(slots.get(0)!.size).toBeGreaterThan(100);
    for (const t of TABLES.filter((x) => x.size > 256)) {
      if (t.fields === 'nw_src') continue;
      expect(slots.get(t.reg)!.size).toBeGreaterThanOrEqual(distinctAtLeast(t.size));
      expect(Math.max(...slots.get(t.reg)!)).toBeGreaterThan(0.7 * t.size);
    }
  }, 120_000);
});
