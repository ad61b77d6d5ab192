/**
 * Frames port security drops are counted per port, on real Open vSwitch: a VM sending
 * from an address that is not its port's shows in the pipeline's per-port drop counts
 * (vnetd_port_security_dropped_packets_total and one log line per port), a well-behaved
 * VM does not. Before, such drops were said nowhere (QA-126 H1). Unicast to a MAC no port
 * holds, dropped for want of a port without port security, is counted per network
 * (vnetd_unknown_unicast_dropped_packets_total). And a flow changed by hand is named in the
 * repair's warning (QA-131 F5).
 */
import pino from 'pino';
import { TABLES } from '../../src/pipeline/tables';
import type { VirtualNetwork } from '../../src/resources/kinds';
import { NETWORKS } from '../../src/store/kinds';
import type { Vm } from '../harness/testbed';
import { eventually } from '../support/vnetd';
import { describeOvs } from './ovsdb-helpers';
import { brIntFlows, portWithVm, startPipelineBed, type PipelineBed } from './pipeline-bed';

const NS = 'psd';

describeOvs('pipeline: frames port security drops are counted per port', () => {
  let pb: PipelineBed | undefined;
  /** The VM that sends from its own addresses (the first test's). */
  let goodVm: Vm | undefined;
  /** The pipeline's warnings, one JSON line each. */
  const warnings: string[] = [];
  afterAll(async () => {
    await pb?.stop();
  }, 60_000);

  it('counts a spoofing VM\'s dropped frames, and none of a VM sending from its own addresses', async () => {
    // Verified (dumped with counters) every 400 ms instead of every minute.
    pb = await startPipelineBed({ hypervisors: 1, pipeline: { flowVerifyMs: 400, logger: pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) }) } });
    const { bed, objects, pipeline } = pb;
    const hv = bed.hypervisors[0]!;
    await objects.create<VirtualNetwork>(NETWORKS, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualNetwork', metadata: { name: 'net', namespace: NS }, spec: { subnets: [{ cidr: '10.78.0.0/24' }], vni: 7801 } } as VirtualNetwork);
    // The spoofer's VM uses 10.78.0.9, not its port's 10.78.0.5: its ARP and IP are dropped.
    // IPv4-only ports: a VM's own IPv6 chatter (router solicitations, MLD reports) is dropped
    // by port security too, and counted (5 frames here); off before the links come up, so that
    // only the spoofing counts (turned off after, a report sent at link-up was counted once in CI).
    const spoofer = await portWithVm(pb, hv, NS, 'spoofer', '0a:78:00:00:00:05', '10.78.0.5', '10.78.0.9/24');
    const good = await portWithVm(pb, hv, NS, 'good', '0a:78:00:00:00:06', '10.78.0.6');
    goodVm = good;
    const [ofS, ofG] = [await spoofer.ofport(), await good.ofport()];
    await eventually(async () => {
      const f = await brIntFlows(hv);
      return f.some((l) => l.includes(`in_port=${ofS}`)) && f.some((l) => l.includes(`in_port=${ofG}`));
    }, 15_000, 50);
    // Let a verify take its first counters, then send.
    await new Promise((r) => setTimeout(r, 1000));
    await spoofer.exec(['ping', '-c', '3', '-i', '0.3', '-W', '1', '10.78.0.6']).catch(() => undefined);
    await good.exec(['ping', '-c', '3', '-i', '0.3', '-W', '1', '10.78.0.5']).catch(() => undefined);
    const drops = await eventually(async () => {
      const d = pipeline.flowTables().find((t) => t.node === hv.name)?.portSecurityDrops ?? [];
      return d.some((x) => x.port === `${NS}/spoofer`) ? d : undefined;
    }, 15_000, 100);
    const spoofed = drops.find((x) => x.port === `${NS}/spoofer`)!;
    process.stdout.write(`[port-security-drops] spoofer: ${spoofed.dropped} frame(s) dropped and counted; good: ${drops.find((x) => x.port === `${NS}/good`)?.dropped ?? 0}\n`);
    expect(spoofed.dropped).toBeGreaterThanOrEqual(1);
    // The good VM's ARP for 10.78.0.5 is answered on the node and its pings go out: nothing of it dropped.
    expect(drops.find((x) => x.port === `${NS}/good`)).toBeUndefined();
  }, 90_000);

  it('counts unicast to a MAC no port of the network holds, dropped where no port without port security takes it, per network', async () => {
    const hv = pb!.bed.hypervisors[0]!;
    const good = goodVm!;
    const before = pb!.pipeline.flowTables().find((t) => t.node === hv.name)?.unknownUnicastDrops ?? [];
    expect(before).toEqual([]);
    // A neighbour entry with a MAC vnetd was never told of: the VM's 4 pings go to it as unicast.
    await good.exec(['ip', 'neigh', 'replace', '10.78.0.77', 'lladdr', '0a:78:00:00:00:77', 'dev', good.iface, 'nud', 'permanent']);
    await good.exec(['ping', '-c', '4', '-i', '0.2', '-W', '1', '10.78.0.77']).catch(() => undefined);
    const counted = await eventually(async () => {
      const d = pb!.pipeline.flowTables().find((t) => t.node === hv.name)?.unknownUnicastDrops ?? [];
      return d.find((x) => x.network === `${NS}/net` && x.dropped >= 4);
    }, 15_000, 100);
    process.stdout.write(`[port-security-drops] unknown unicast: ${counted.dropped} frame(s) to 0a:78:00:00:00:77 dropped and counted for ${counted.network}\n`);
    expect(counted.dropped).toBe(4);
    // Not port security's: the good VM sent from its own addresses.
    expect(pb!.pipeline.flowTables().find((t) => t.node === hv.name)?.portSecurityDrops.find((x) => x.port === `${NS}/good`)).toBeUndefined();
  }, 30_000);

  it('a flow changed by hand is named in the repair\'s warning, with its table\'s name and what it was put back to (QA-131 F5: only a count)', async () => {
    const hv = pb!.bed.hypervisors[0]!;
    const sock = `unix:${hv.ovs.bridgeMgmtSocket('br-int')}`;
    const l2 = `table=${TABLES.L2Lookup.id},dl_dst=0a:78:00:00:00:06`;
    await hv.ovs.ofctl(['-O', 'OpenFlow13', 'mod-flows', sock, `${l2},actions=drop`]);
    const said = await eventually(async () => warnings.map((l) => JSON.parse(l) as { event?: string; msg: string }).find((w) => w.event === 'openflow.drift_repaired')?.msg, 15_000, 100);
    process.stdout.write(`[port-security-drops] ${said}\n`);
    expect(said).toMatch(new RegExp(`^node ${hv.name}: 1 of vnetd's flows or groups differed from the desired ones \\(changed outside vnetd\\); repaired: changed: table=${TABLES.L2Lookup.id} \\(L2Lookup\\), priority=\\d+, cookie=0x[0-9a-f]+, .*dl_dst=0a:78:00:00:00:06.* actions=drop, put back to actions=output:\\d+$`));
  }, 30_000);
});
