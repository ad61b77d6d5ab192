/**
 * Test bed: N simulated hypervisors on one machine, for integration and e2e tests and
 * for trying things by hand (deploy/dev/testbed.sh).
 *
 *   underlay netns P-ul           Linux bridge Pb<bed>ul, one veth per hypervisor
 *        |  198.18.0.0/24 (RFC 2544 benchmark range; exists only inside these netns)
 *   hypervisor netns P-hv1 ...    its own ovsdb-server (root netns, private dir) and
 *                                 ovs-vswitchd (inside the netns: the userspace datapath
 *                                 creates internal ports' tap devices in its netns);
 *                                 uplink veth -> br-phy, tunnel IP on br-phy's tap
 *   VM netns P-vm-NAME            one veth; the peer is plugged into br-int with
 *                                 external_ids:iface-id (+ attached-mac, vm-uuid), as
 *                                 libvirt does for <virtualport type='openvswitch'>
 *
 * Who builds br-int/br-phy: normally vnetd (register each hypervisor as a Node with
 * `hv.nodeSpec()`); the bed waits for br-phy to appear, then plugs the uplink into it
 * and puts the tunnel IP on it (`hv.underlay` resolves then), and addVm waits for
 * br-int. With `bridges: 'testbed'` the bed creates plain (non-vnetd) bridges itself,
 * for use without vnetd; vnetd would then report them as foreign (LayoutConflict).
 *
 * Names: every netns and interface carries the per-run prefix (runPrefix()) plus a
 * per-process bed index, interface names stay within 15 characters, and veth ends are
 * created directly inside their namespaces, so nothing appears in the root netns and
 * two runs never collide. stop() removes everything; failures, Ctrl-C and killed Jest
 * workers are covered by the harness's cleanup hooks (ovs.ts, netns-cleanup.ts).
 *
 *   const bed = await startTestbed({ hypervisors: 2 });
 *   for (const hv of bed.hypervisors) await createNode(hv.name, hv.nodeSpec());
 *   await bed.underlayReady();
 *   const vm = await bed.addVm('hv1', { name: 'a', ifaceId: port.spec.interfaceId, ip: '10.0.0.5/24' });
 *   await vm.exec(['ping', '-c1', '10.0.0.6']);
 *   await bed.stop();
 */
import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { findBinary, runCommand } from '../../src/chassis/ovs-daemons';
import { addNetns, delNetns } from './netns-cleanup';
import { runPrefix, startOvs, type OvsInstance } from './ovs';

export interface TestbedOptions {
  /** Count (named hv1..hvN) or explicit names (short: they appear in netns names). */
  hypervisors: number | string[];
  /** Who creates br-int and br-phy (default 'vnetd'). */
  bridges?: 'vnetd' | 'testbed';
  /** First three octets of the underlay /24 (default 198.18.0). */
  underlayNet?: string;
}

export interface Hypervisor {
  name: string;
  netns: string;
  /** VTEP address, on br-phy's internal interface once the underlay is attached. */
  tunnelIP: string;
  ovs: OvsInstance;
  /** The uplink veth (inside netns), plugged into br-phy. */
  uplink: string;
  /** Spec for this hypervisor's Node object. */
  nodeSpec(): { tunnelIP: string; ovsdb: string };
  /** Resolves once br-phy exists and the uplink and tunnel IP are on it. */
  underlay: Promise<void>;
  /** Runs a command inside the hypervisor netns. */
  exec(args: string[]): Promise<string>;
}

export interface AddVmOptions {
  name: string;
  /** external_ids:iface-id (a VirtualPort's spec.interfaceId). */
  ifaceId: string;
  mac?: string;
  /** Address with prefix length, e.g. 10.0.0.5/24. */
  ip?: string;
  /** Default 1450: overlay packets must fit the 1500-byte underlay. */
  mtu?: number;
  /** false: IPv6 off on the VM's NIC before its link comes up, so it sends no router solicitation or MLD report at all. */
  ipv6?: boolean;
}

export interface Vm {
  name: string;
  hypervisor: Hypervisor;
  netns: string;
  /** Interface inside the VM netns. */
  iface: string;
  /** Its peer on br-int (the "tap" a hypervisor would create). */
  tap: string;
  ifaceId: string;
  mac: string;
  ip?: string;
  exec(args: string[]): Promise<string>;
  /** ofport of the tap on br-int. */
  ofport(): Promise<number>;
}

export interface Testbed {
  prefix: string;
  hypervisors: Hypervisor[];
  underlayNetns: string;
  /** The Linux bridge in underlayNetns that every hypervisor's uplink hangs off: the wire. */
  underlayBridge: string;
  hv(name: string): Hypervisor;
  /** All hypervisors' underlays attached. */
  underlayReady(timeoutMs?: number): Promise<void>;
  addVm(hypervisor: string, opts: AddVmOptions): Promise<Vm>;
  removeVm(vm: Vm): Promise<void>;
  /** Every netns this bed created (for leak checks). */
  namespaces(): string[];
  stop(): Promise<void>;
}

let beds = 0;

function ip(): string {
  const p = findBinary('ip');
  if (!p) throw new Error('ip (iproute2) not found');
  return p;
}

export function nsExec(netns: string, args: string[]): Promise<string> {
  return runCommand(ip(), ['netns', 'exec', netns, ...args]);
}

/**
 * Userspace OVS and the AF_XDP fast path take frames as the veth hands them over: a TCP
 * checksum left to offload arrives unfinished and the peer drops the segment, while ping
 * still works. So the VM's NIC computes checksums itself, and a failure to arrange that is
 * an error here rather than a confusing TCP timeout later.
 */
async function checksumsInSoftware(exec: (args: string[]) => Promise<string>, iface: string): Promise<void> {
  if (!findBinary('ethtool')) throw new Error('ethtool not found: the set-up script installs it (VM NICs need TX checksum offload off)');
  await exec(['ethtool', '-K', iface, 'tx', 'off']);
  const state = /^tx-checksumming: (\S+)/m.exec(await exec(['ethtool', '-k', iface]))?.[1];
  if (state !== 'off') throw new Error(`TX checksum offload still ${state ?? 'unknown'} on ${iface} after ethtool -K tx off`);
}

function randomMac(): string {
  const b = randomBytes(6);
  b[0] = (b[0]! & 0xfe) | 0x02; // unicast, locally administered
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

class Bed implements Testbed {
  readonly hypervisors: Hypervisor[] = [];
  readonly vms = new Map<string, Vm>();
  readonly underlayNetns: string;
  private readonly created: string[] = [];
  private readonly waiters = new Set<ChildProcess>();
  private vmCount = 0;
  private stopped = false;

  constructor(
    readonly prefix: string,
    private readonly opts: TestbedOptions,
  ) {
    this.underlayNetns = `${prefix}-ul`;
  }

  private get ulBridge(): string {
    return `${this.prefix}ul`;
  }

  get underlayBridge(): string {
    return this.ulBridge;
  }

  hv(name: string): Hypervisor {
    const h = this.hypervisors.find((x) => x.name === name);
    if (!h) throw new Error(`no hypervisor ${name} in this test bed`);
    return h;
  }

  namespaces(): string[] {
    return [...this.created, ...this.hypervisors.map((h) => h.netns)];
  }

  async start(names: string[]): Promise<void> {
    addNetns(this.underlayNetns);
    this.created.push(this.underlayNetns);
    const ul = this.underlayNetns;
    await nsExec(ul, ['ip', 'link', 'add', this.ulBridge, 'type', 'bridge']);
    await nsExec(ul, ['ip', 'link', 'set', this.ulBridge, 'up']);
    const net = this.opts.underlayNet ?? '198.18.0';
    await Promise.all(names.map((name, i) => this.startHypervisor(name, i, `${net}.${i + 1}`)));
    this.hypervisors.sort((a, b) => names.indexOf(a.name) - names.indexOf(b.name));
  }

  private async startHypervisor(name: string, i: number, tunnelIP: string): Promise<void> {
    const netns = `${this.prefix}-${name}`;
    const ovs = await startOvs({ name: `${this.prefix}-${name}`, netns });
    const uplink = `${this.prefix}e${i}`;
    const peer = `${this.prefix}u${i}`;
    const exec = (args: string[]) => nsExec(netns, args);
    await runCommand(ip(), ['link', 'add', uplink, 'netns', netns, 'type', 'veth', 'peer', 'name', peer, 'netns', this.underlayNetns]);
    await nsExec(this.underlayNetns, ['ip', 'link', 'set', peer, 'master', this.ulBridge, 'up']);
    await exec(['ip', 'link', 'set', 'lo', 'up']);
    // As on a host whose NIC is a port of br-phy: the NIC holds no address, so its kernel must
    // not answer ARP for the tunnel IP (on br-phy) with the NIC's own MAC ("ARP flux", the
    // default arp_ignore=0). A peer that learned that MAC sends its tunnel frames where OVS's
    // tunnel endpoint (br-phy's MAC) does not take them: the fast path's frames toward an OVS
    // that had to decapsulate them were lost until the peer's neighbour entry changed.
    await exec(['sysctl', '-qw', `net.ipv4.conf.${uplink}.arp_ignore=1`]);
    await exec(['ip', 'link', 'set', uplink, 'up']);
    const hv: Hypervisor = {
      name,
      netns,
      tunnelIP,
      ovs,
      uplink,
      nodeSpec: () => ({ tunnelIP, ovsdb: `unix:${ovs.dbSocket}` }),
      underlay: Promise.resolve(),
      exec,
    };
    if (this.opts.bridges === 'testbed') {
      await ovs.vsctl(['add-br', 'br-int', '--', 'set', 'Bridge', 'br-int', 'datapath_type=netdev', 'fail_mode=secure']);
      await ovs.vsctl(['add-br', 'br-phy', '--', 'set', 'Bridge', 'br-phy', 'datapath_type=netdev']);
    }
    hv.underlay = this.attachUnderlay(hv);
    hv.underlay.catch(() => undefined); // observed through underlayReady()
    this.hypervisors.push(hv);
  }

  /** Blocks (in a child ovs-vsctl we can kill on stop; --timeout=0 is refused) until a bridge row exists. */
  private waitForBridge(hv: Hypervisor, bridge: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = spawn(findBinary('ovs-vsctl')!, [`--db=unix:${hv.ovs.dbSocket}`, '--no-wait', '--timeout=86400', 'wait-until', 'Bridge', bridge], {
        stdio: 'ignore',
      });
      this.waiters.add(child);
      child.on('exit', (code) => {
        this.waiters.delete(child);
        if (code === 0) resolve();
        else reject(new Error(`waiting for ${bridge} on ${hv.name} ended (${this.stopped ? 'test bed stopped' : `exit ${code}`})`));
      });
    });
  }

  private async attachUnderlay(hv: Hypervisor): Promise<void> {
    await this.waitForBridge(hv, 'br-phy');
    // The uplink is a foreign port on br-phy: vnetd leaves it alone.
    await hv.ovs.vsctl(['--may-exist', 'add-port', 'br-phy', hv.uplink, '--', 'set', 'Interface', hv.uplink, 'external_ids:testbed=uplink']);
    await hv.exec(['ip', 'addr', 'replace', `${hv.tunnelIP}/24`, 'dev', 'br-phy']);
    await hv.exec(['ip', 'link', 'set', 'br-phy', 'up']);
  }

  async underlayReady(timeoutMs = 30_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`underlay not attached within ${timeoutMs} ms (has vnetd created br-phy?)`)), timeoutMs);
    });
    try {
      await Promise.race([Promise.all(this.hypervisors.map((h) => h.underlay)), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async addVm(hypervisor: string, o: AddVmOptions): Promise<Vm> {
    const hv = this.hv(hypervisor);
    if (this.vms.has(o.name)) throw new Error(`VM ${o.name} exists`);
    const n = this.vmCount++;
    const netns = `${this.prefix}-vm-${o.name}`;
    const iface = `${this.prefix}v${n}`;
    const tap = `${this.prefix}t${n}`;
    const mac = o.mac ?? randomMac();
    addNetns(netns);
    this.created.push(netns);
    const exec = (args: string[]) => nsExec(netns, args);
    await runCommand(ip(), ['link', 'add', tap, 'netns', hv.netns, 'type', 'veth', 'peer', 'name', iface, 'netns', netns]);
    await exec(['ip', 'link', 'set', 'lo', 'up']);
    if (o.ipv6 === false) await exec(['sysctl', '-qw', `net.ipv6.conf.${iface}.disable_ipv6=1`]);
    await exec(['ip', 'link', 'set', iface, 'address', mac, 'mtu', String(o.mtu ?? 1450), 'up']);
    if (o.ip) await exec(['ip', 'addr', 'add', o.ip, 'dev', iface]);
    await checksumsInSoftware(exec, iface);
    await hv.exec(['ip', 'link', 'set', tap, 'up']);
    await this.waitForBridge(hv, 'br-int');
    await hv.ovs.vsctl([
      'add-port', 'br-int', tap, '--', 'set', 'Interface', tap,
      `external_ids:iface-id=${o.ifaceId}`, `external_ids:attached-mac="${mac}"`, `external_ids:vm-uuid=${o.name}`, 'external_ids:iface-status=active',
    ]);
    const vm: Vm = {
      name: o.name,
      hypervisor: hv,
      netns,
      iface,
      tap,
      ifaceId: o.ifaceId,
      mac,
      ip: o.ip,
      exec,
      ofport: async () => Number((await hv.ovs.vsctl(['get', 'Interface', tap, 'ofport'])).trim()),
    };
    this.vms.set(o.name, vm);
    return vm;
  }

  async removeVm(vm: Vm): Promise<void> {
    this.vms.delete(vm.name);
    await vm.hypervisor.ovs.vsctl(['--if-exists', 'del-port', 'br-int', vm.tap]).catch(() => undefined);
    delNetns(vm.netns); // takes the veth pair with it
    this.created.splice(this.created.indexOf(vm.netns), 1);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const c of this.waiters) if (c.pid) process.kill(c.pid, 'SIGTERM');
    for (const vm of [...this.vms.values()]) await this.removeVm(vm);
    await Promise.all(this.hypervisors.map((h) => h.ovs.stop()));
    for (const ns of this.created.splice(0)) delNetns(ns);
  }
}

/** Starts a test bed; on failure everything started so far is torn down. */
export async function startTestbed(opts: TestbedOptions): Promise<Testbed> {
  const names = typeof opts.hypervisors === 'number' ? Array.from({ length: opts.hypervisors }, (_, i) => `hv${i + 1}`) : opts.hypervisors;
  if (names.length > 36) throw new Error('at most 36 hypervisors per test bed');
  const bed = new Bed(`${runPrefix()}${(beds++).toString(36)}`, opts);
  try {
    await bed.start(names);
  } catch (e) {
    await bed.stop().catch(() => undefined);
    throw e;
  }
  return bed;
}
