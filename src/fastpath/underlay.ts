/**
 * Underlay facts the fast path needs and OVS does not tell: the MAC of the device that
 * holds the local VTEP address (source of encapsulated frames) and each remote VTEP's
 * next-hop MAC, read from the kernel of the node's network namespace with iproute2.
 * An unknown neighbour is resolved by the kernel (one ping), and reported as missing
 * until then: its remote MACs stay with OVS.
 */
import { CommandRunner } from './command-runner';

/** The commands run from a helper process (command-runner.ts: forking vnetd itself held its event loop). */
const commands = new CommandRunner();
const run = async (file: string, args: string[], o: { timeout: number }): Promise<{ stdout: string }> => ({ stdout: await commands.run(file, args, o.timeout) });

/** Ends the helper process the underlay commands run from (started again on the next command). */
export function closeUnderlayCommands(): void {
  commands.close();
}

async function ipJson<T>(netns: string | undefined, args: string[]): Promise<T | undefined> {
  const full = [...(netns ? ['-n', netns] : []), '-j', ...args];
  try {
    const { stdout } = await run('ip', full, { timeout: 5000 });
    return stdout.trim() ? (JSON.parse(stdout) as T) : undefined;
  } catch {
    return undefined;
  }
}

/** A command run inside netns (ip netns exec), or in vnetd's own namespace when there is none. */
function inNetns(netns: string | undefined, cmd: string, args: string[]): Promise<{ stdout: string }> {
  return netns ? run('ip', ['netns', 'exec', netns, cmd, ...args], { timeout: 3000 }) : run(cmd, args, { timeout: 3000 });
}

/** MAC of the interface carrying ip, or undefined. */
export async function localMacOf(netns: string | undefined, ip: string): Promise<string | undefined> {
  // Only the interfaces with that address (a hypervisor's namespace has one per VM NIC), then
  // that one's MAC (a filtered `addr show` prints no link address).
  const withIp = await ipJson<Array<{ ifname: string; addr_info?: Array<{ local?: string }> }>>(netns, ['addr', 'show', 'to', ip]);
  const ifname = withIp?.find((l) => l.addr_info?.some((a) => a.local === ip))?.ifname;
  if (!ifname) return undefined;
  const link = await ipJson<Array<{ address?: string }>>(netns, ['link', 'show', 'dev', ifname]);
  return link?.[0]?.address;
}

/** The kernel's current next-hop MAC toward ip (no resolution attempt). */
export async function knownNextHopMac(netns: string | undefined, ip: string): Promise<string | undefined> {
  const route = await ipJson<Array<{ gateway?: string; dev?: string }>>(netns, ['route', 'get', ip]);
  const hop = route?.[0]?.gateway ?? ip;
  const dev = route?.[0]?.dev;
  const neigh = await ipJson<Array<{ lladdr?: string; state?: string[] }>>(netns, ['neigh', 'show', 'to', hop, ...(dev ? ['dev', dev] : [])]);
  const n = neigh?.find((e) => e.lladdr && !e.state?.some((s) => s === 'FAILED' || s === 'INCOMPLETE'));
  return n?.lladdr;
}

/**
 * The interfaces of netns carrying an XDP program (any: iproute2 names a program only when it
 * may open it, and a program attached in two modes has no single one); undefined when that
 * cannot be read.
 */
export async function interfacesWithXdp(netns: string | undefined): Promise<Set<string> | undefined> {
  const links = await ipJson<Array<{ ifname: string; xdp?: unknown }>>(netns, ['link', 'show']);
  if (!links) return undefined;
  return new Set(links.filter((l) => l.xdp !== undefined).map((l) => l.ifname));
}

/** Next-hop MAC toward a remote VTEP; asks the kernel to resolve it once when unknown. */
export async function nextHopMac(netns: string | undefined, ip: string): Promise<string | undefined> {
  const known = await knownNextHopMac(netns, ip);
  if (known) return known;
  await inNetns(netns, 'ping', ['-c', '1', '-W', '1', ip]).catch(() => undefined);
  return knownNextHopMac(netns, ip);
}

/**
 * Whether the kernel may answer ARP for the tunnel IP on the underlay NIC with the NIC's own
 * MAC ("ARP flux": arp_ignore 0 on the NIC, the default, while the IP is on the bridge the
 * NIC is a port of). Peers that learn that MAC send their tunnel frames to it, which OVS's
 * tunnel endpoint (the bridge's MAC) does not take: frames a peer's fast path encapsulates
 * toward this node's OVS are lost until the peer's neighbour entry changes (seen on the test
 * bed, 2026-11-30). undefined when it cannot be read.
 */
export async function arpFluxRisk(netns: string | undefined, ifname: string): Promise<boolean | undefined> {
  const read = async (key: string): Promise<number | undefined> => {
    try {
      const { stdout } = await inNetns(netns, 'sysctl', ['-n', key]);
      const n = Number(stdout.trim());
      return Number.isInteger(n) ? n : undefined;
    } catch {
      return undefined;
    }
  };
  const [all, nic] = await Promise.all([read('net.ipv4.conf.all.arp_ignore'), read(`net.ipv4.conf.${ifname.replace(/\./g, '/')}.arp_ignore`)]);
  if (all === undefined || nic === undefined) return undefined;
  return Math.max(all, nic) === 0;
}
