/**
 * br-int's OpenFlow port config flags on real Open vSwitch: no-forward on a VM's port and
 * no-receive on a tunnel port, set by hand with ovs-ofctl mod-port, are cleared by vnetd (a
 * port mod) and said once each; before, the VM (or every tunnel) stayed dark with nothing said
 * through verifies and audits, which do not read port config (QA-155 F2). The port's admin
 * state (mod-port down) is left alone: the binding reports it (LinkDown).
 */
import pino from 'pino';
import type { VirtualNetwork } from '../../src/resources/kinds';
import { NETWORKS } from '../../src/store/kinds';
import { eventually } from '../support/vnetd';
import { describeOvs } from './ovsdb-helpers';
import { portWithVm, startPipelineBed, type PipelineBed } from './pipeline-bed';

describeOvs('pipeline: port config flags set on br-int by hand are cleared', () => {
  let pb: PipelineBed | undefined;
  afterAll(async () => {
    await pb?.stop();
  }, 60_000);

  it('clears no-forward on a VM port and no-receive on a tunnel port within one check, each said once; leaves a port set down', async () => {
    const lines: string[] = [];
    pb = await startPipelineBed({ hypervisors: 1, pipeline: { flowAuditMs: 300, logger: pino({ level: 'info' }, { write: (l: string) => void lines.push(l) }) } });
    const hv = pb.bed.hypervisors[0]!;
    await pb.objects.create<VirtualNetwork>(NETWORKS, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualNetwork', metadata: { name: 'net', namespace: 'pcg' }, spec: { subnets: [{ cidr: '10.82.0.0/24' }], vni: 8201 } } as VirtualNetwork);
    const vm = await portWithVm(pb, hv, 'pcg', 'a', '0a:82:00:00:00:05', '10.82.0.5');
    const sock = `unix:${hv.ovs.bridgeMgmtSocket('br-int')}`;
    const configOf = async (port: string) => {
      const show = await hv.ovs.ofctl(['-O', 'OpenFlow13', 'show', sock]);
      const at = show.indexOf(`(${port}):`);
      return at < 0 ? undefined : /config:\s+([^\n]*)/.exec(show.slice(at))![1]!.trim();
    };
    await eventually(async () => (await configOf(vm.tap)) !== undefined, 15_000, 100);

    const t0 = performance.now();
    await hv.ovs.ofctl(['-O', 'OpenFlow13', 'mod-port', sock, vm.tap, 'no-forward']);
    await hv.ovs.ofctl(['-O', 'OpenFlow13', 'mod-port', sock, 'vxlan0', 'no-receive']);
    // (Cleared within milliseconds when the switch sends a port status, as OVS 3.1 does here.)
    await eventually(async () => (await configOf(vm.tap)) === '0' && (await configOf('vxlan0')) === '0', 10_000, 50);
    process.stdout.write(`[port-config] no-forward on ${vm.tap}, no-receive on vxlan0: cleared after ${(performance.now() - t0).toFixed(0)} ms\n`);
    const repaired = () => lines.map((l) => JSON.parse(l) as { event?: string; port?: string; flags?: string }).filter((l) => l.event === 'openflow.port_config_repaired');
    expect(repaired().map((l) => `${l.port}: ${l.flags}`).sort()).toEqual([`${vm.tap}: no-forward`, 'vxlan0: no-receive'].sort());

    // Its admin state is the operator's (and the binding says LinkDown): not put back.
    await hv.ovs.ofctl(['-O', 'OpenFlow13', 'mod-port', sock, vm.tap, 'down']);
    await new Promise((r) => setTimeout(r, 1000));
    expect(await configOf(vm.tap)).toContain('PORT_DOWN');
    await hv.ovs.ofctl(['-O', 'OpenFlow13', 'mod-port', sock, vm.tap, 'up']);
    expect(repaired()).toHaveLength(2);
  }, 90_000);

  it('warns once of a controller on br-int that vnetd did not set, and leaves it (QA-155 F7: kept silently)', async () => {
    await pb?.stop();
    const lines: string[] = [];
    pb = await startPipelineBed({ hypervisors: 1, chassis: { logger: pino({ level: 'info' }, { write: (l: string) => void lines.push(l) }) } });
    const hv = pb.bed.hypervisors[0]!;
    await hv.ovs.vsctl(['--', '--id=@c', 'create', 'Controller', 'target="tcp:127.0.0.1:6653"', '--', 'add', 'Bridge', 'br-int', 'controller', '@c']);
    const foreign = () => lines.map((l) => JSON.parse(l) as { event?: string; targets?: string[] }).filter((l) => l.event === 'chassis.foreign_controller');
    await eventually(async () => foreign().length > 0, 15_000, 100);
    expect(foreign()[0]!.targets).toEqual(['tcp:127.0.0.1:6653']);
    // Left in place (it may be meant), and not said again while it stays.
    await new Promise((r) => setTimeout(r, 1500));
    expect((await hv.ovs.vsctl(['get-controller', 'br-int'])).split('\n')).toContain('tcp:127.0.0.1:6653');
    expect(foreign()).toHaveLength(1);
  }, 90_000);
});
