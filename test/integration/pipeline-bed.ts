/**
 * The production ChassisManager and PipelineReconciler over an in-memory store, programming
 * a test bed's real Open vSwitch (one or more hypervisors): what the pipeline's integration
 * tests share, with the two things they do to a switch (plug a NIC, read br-int's flows).
 */
import pino from 'pino';
import { ChassisManager, type ChassisManagerOptions } from '../../src/chassis/chassis-manager';
import { PipelineReconciler, type PipelineReconcilerOptions } from '../../src/reconcile/kinds/pipeline.reconciler';
import { MemoryStore } from '../../src/reconcile/testing/memory-store';
import type { HypervisorNode, VirtualPort } from '../../src/resources/kinds';
import { NODES, PORTS } from '../../src/store/kinds';
import { ObjectStore } from '../../src/store/object-store';
import { startTestbed, type Hypervisor, type Testbed, type Vm } from '../harness/testbed';
import { eventually } from '../support/vnetd';

export interface PipelineBed {
  bed: Testbed;
  objects: ObjectStore;
  chassis: ChassisManager;
  pipeline: PipelineReconciler;
  /** Stops the pipeline, the chassis layer and the bed, in that order. */
  stop(): Promise<void>;
}

/**
 * A bed of `hypervisors`, a Node of each in `objects` (default a new in-memory store), and the
 * chassis layer and pipeline (readiness off unless `pipeline` says otherwise) in sync with
 * every switch. What started is stopped again when a later step fails.
 */
export async function startPipelineBed(opts: { hypervisors: number; objects?: ObjectStore; pipeline?: Partial<PipelineReconcilerOptions>; chassis?: Partial<ChassisManagerOptions> }): Promise<PipelineBed> {
  const logger = pino({ level: 'silent' });
  const objects = opts.objects ?? new ObjectStore(new MemoryStore());
  const bed = await startTestbed({ hypervisors: opts.hypervisors });
  let chassis: ChassisManager | undefined;
  let pipeline: PipelineReconciler | undefined;
  const stop = async () => {
    await pipeline?.stop();
    await chassis?.stop();
    await bed.stop();
  };
  try {
    for (const hv of bed.hypervisors) await objects.create<HypervisorNode>(NODES, { apiVersion: 'vnet.dev/v1alpha1', kind: 'Node', metadata: { name: hv.name }, spec: hv.nodeSpec() } as HypervisorNode);
    chassis = new ChassisManager({ objects, logger, ...opts.chassis });
    await chassis.start();
    pipeline = new PipelineReconciler({ objects, logger, chassis, readiness: 'off', echoIntervalMs: 500, ...opts.pipeline });
    await pipeline.start();
    const p = pipeline;
    await eventually(async () => bed.hypervisors.every((h) => p.agent(h.name)?.inSync), 30_000, 50);
    return { bed, objects, chassis, pipeline, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The flows of hv's br-int, one line each (ovs-ofctl dump-flows). */
export async function brIntFlows(hv: Hypervisor): Promise<string[]> {
  const o = await hv.ovs.ofctl(['-O', 'OpenFlow13', 'dump-flows', `unix:${hv.ovs.bridgeMgmtSocket('br-int')}`]);
  return o.split('\n').filter((l) => l.includes('actions='));
}

/** A VM's NIC on hv's br-int (an internal port carrying the port's iface-id): its ofport. */
export async function plugNic(hv: Hypervisor, name: string, ifaceId: string): Promise<number> {
  await hv.ovs.vsctl(['add-port', 'br-int', name, '--', 'set', 'Interface', name, 'type=internal', `external_ids:iface-id=${ifaceId}`]);
  return Number((await hv.ovs.vsctl(['get', 'Interface', name, 'ofport'])).trim());
}

/**
 * A VirtualPort of network "net" in ns, pinned to hv, with its MAC and one address, stored past
 * admission, and the VM (a namespace on a veth into br-int, IPv6 off before its link comes up)
 * that plugs it: what the bed's tests with real traffic start from. vmIp: the address the VM
 * itself uses (another than its port's: a spoofer), with its prefix length.
 */
export async function portWithVm(pb: PipelineBed, hv: Hypervisor, ns: string, name: string, mac: string, ip: string, vmIp = `${ip}/24`): Promise<Vm> {
  const interfaceId = `${pb.bed.prefix}-${name}`;
  await pb.objects.create<VirtualPort>(PORTS, { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name, namespace: ns }, spec: { network: 'net', node: hv.name, mac, ips: [ip], interfaceId } } as VirtualPort);
  return pb.bed.addVm(hv.name, { name, ifaceId: interfaceId, mac, ip: vmIp, ipv6: false });
}
