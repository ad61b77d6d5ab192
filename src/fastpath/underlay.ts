/**
 * Underlay facts the fast path needs and OVS does not tell: the MAC of the device that
 * holds the local VTEP address (source of encapsulated frames) and each remote VTEP's
 * next-hop MAC, read from the kernel of the node's network namespace with iproute2.
 * An unknown neighbour is resolved by the kernel (one ping), and reported as missing
 * until then: its remote MACs stay with OVS.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

async function ipJson<T>(netns: string | undefined, args: string[]): Promise<T | undefined> {
  const full = [...(netns ? ['-n', netns] : []), '-j', ...args];
  try {
    const { stdout } = await run('ip', full, { timeout: 5000 });
    return stdout.trim() ? (JSON.parse(stdout) as T) : undefined;
  } catch {
    return undefined;
  }
}

/** MAC of the interface carrying ip, or undefined. */
export async function localMacOf(netns: string | undefined, ip: string): Promise<string | undefined> {
  const links = await ipJson<Array<{ ifname: string; address?: string; addr_info?: Array<{ local?: string }> }>>(netns, ['addr', 'show']);
  return links?.find((l) => l.addr_info?.some((a) => a.local === ip))?.address;
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

/** Next-hop MAC toward a remote VTEP; asks the kernel to resolve it once when unknown. */
export async function nextHopMac(netns: string | undefined, ip: string): Promise<string | undefined> {
  const known = await knownNextHopMac(netns, ip);
  if (known) return known;
  const ping = netns ? ['ip', ['netns', 'exec', netns, 'ping', '-c', '1', '-W', '1', ip]] : ['ping', ['-c', '1', '-W', '1', ip]];
  await run(ping[0] as string, ping[1] as string[], { timeout: 3000 }).catch(() => undefined);
  return knownNextHopMac(netns, ip);
}
