/** Shared by the overlay e2e files: joining a test bed to vnetd, and packet captures in VMs. */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Testbed, Vm } from '../harness/testbed';

type Call = (method: string, path: string, body?: unknown) => Promise<unknown>;

/**
 * Registers every hypervisor as a Node, waits for the underlay, and pins the underlay
 * neighbours so the first overlay packet does not wait for ARP on br-phy.
 */
export async function joinBed(bed: Testbed, call: Call): Promise<void> {
  for (const hv of bed.hypervisors) await call('POST', '/apis/vnet.dev/v1alpha1/nodes', { metadata: { name: hv.name }, spec: hv.nodeSpec() });
  await bed.underlayReady();
  const macs = await Promise.all(bed.hypervisors.map(async (h) => (await h.exec(['cat', '/sys/class/net/br-phy/address'])).trim()));
  for (const h of bed.hypervisors) {
    for (const [i, other] of bed.hypervisors.entries()) {
      if (other !== h) await h.ovs.appctl('ovs-vswitchd', ['tnl/neigh/set', 'br-phy', other.tunnelIP, macs[i]!]);
    }
  }
}

/**
 * tcpdump on a VM's interface, started once it says it is listening; stop() waits
 * `settleMs` for frames still crossing a tunnel and returns the lines seen. The process is
 * kept in `track` so the file's afterAll can end it (by PID) if a test fails first.
 */
export async function startCapture(vm: Vm, track: Set<ChildProcess>, filter = 'not ip6', settleMs = 300): Promise<{ stop(): Promise<string[]> }> {
  const child = spawn('ip', ['netns', 'exec', vm.netns, 'tcpdump', '-l', '-n', '-e', '-i', vm.iface, filter], { stdio: ['ignore', 'pipe', 'pipe'] });
  track.add(child);
  child.on('exit', () => track.delete(child));
  let text = '';
  child.stdout!.on('data', (c: Buffer) => (text += c.toString()));
  await new Promise<void>((resolve) => {
    const t = setTimeout(resolve, 2000);
    child.stderr!.on('data', (c: Buffer) => {
      if (c.toString().includes('listening')) {
        clearTimeout(t);
        resolve();
      }
    });
  });
  return {
    async stop() {
      await new Promise((r) => setTimeout(r, settleMs));
      const exited = new Promise((r) => child.once('exit', r));
      if (child.pid && child.exitCode === null) process.kill(child.pid, 'SIGTERM');
      await exited;
      track.delete(child);
      return text.split('\n').filter(Boolean);
    },
  };
}
