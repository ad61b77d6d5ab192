/**
 * How full a node's connection-tracking table is (OVS's userspace datapath keeps its own, 3
 * million entries by default). Load-balancer connections are committed to it; at the limit
 * ovs-vswitchd commits no new entry, and a new connection to a VIP is dropped, with nothing in
 * OpenFlow or OVSDB saying why (QA-126 H4). Read over ovs-vswitchd's unixctl socket, so only
 * for a switch on the host vnetd (or its agent) runs on. The Node's condition is
 * ConntrackPressure (node-status.ts), True while the table is (nearly) full, as a Node's
 * MemoryPressure.
 */
import type { ConditionView } from './node-status';
import { unixctl } from './unixctl';

export interface ConntrackUsage {
  entries: number;
  max: number;
  /** The most one network (one conntrack zone) may hold of them (a namespace's networks split its share); 0: no per-network limit (or none set yet). */
  networkLimit: number;
}

/** Percent of the table one network may hold when its Node's spec.conntrack.networkShare is absent. */
export const DEFAULT_NETWORK_SHARE = 50;

/**
 * Each network zone's limit (dpctl/ct-set-limits zone=Z,limit=N) for a table of `max` entries of which a
 * network may hold `share` percent: 0 (no limit) for 100%, else at least 1.
 */
export function networkLimitFor(max: number, share: number): number {
  return share >= 100 ? 0 : Math.max(1, Math.floor((max * share) / 100));
}

/** Percent of the table the networks of one namespace may hold together when its Node's spec.conntrack.namespaceShare is absent. */
export const DEFAULT_NAMESPACE_SHARE = 50;

/**
 * Each network zone's limit: its network's share (networkLimitFor), and no more than an even
 * split of its namespace's share among the namespace's networks, so that a tenant with two
 * networks does not hold twice a network's share (QA-151 F2: two networks of one tenant held
 * the whole table, and another tenant's new VIP connections timed out). Zones left out have
 * no limit (both shares 100). networks: zone to "namespace/name", as networkZones gives them.
 */
export function zoneLimitsFor(max: number, shares: { network: number; namespace: number }, networks: ReadonlyMap<number, string>): Map<number, number> {
  const perNetwork = networkLimitFor(max, shares.network);
  const perNamespace = networkLimitFor(max, shares.namespace);
  const out = new Map<number, number>();
  if (!perNetwork && !perNamespace) return out;
  const networksOf = new Map<string, number>();
  const namespaceOf = (network: string) => network.slice(0, network.indexOf('/'));
  for (const network of networks.values()) networksOf.set(namespaceOf(network), (networksOf.get(namespaceOf(network)) ?? 0) + 1);
  for (const [zone, network] of networks) {
    const split = perNamespace && Math.max(1, Math.floor(perNamespace / networksOf.get(namespaceOf(network))!));
    out.set(zone, perNetwork && split ? Math.min(perNetwork, split) : perNetwork || split);
  }
  return out;
}

export interface ZoneLimit {
  limit: number;
  /** Entries in the zone now. */
  count: number;
}

/** The zones with a limit of their own, that limit and their entries (`dpctl/ct-get-limits`: "zone=Z,limit=L,count=C" lines). */
export async function readZoneLimits(socket: string): Promise<Map<number, ZoneLimit>> {
  const text = await unixctl(socket, 'dpctl/ct-get-limits');
  const out = new Map<number, ZoneLimit>();
  for (const m of text.matchAll(/^zone=(\d+),limit=(\d+),count=(\d+)/gm)) out.set(Number(m[1]), { limit: Number(m[2]), count: Number(m[3]) });
  return out;
}

/** Arguments per unixctl command: a node with thousands of networks sets them in a few. */
const ZONES_PER_COMMAND = 500;

/**
 * Sets each zone's own limit (at least 1: a zone limit of 0 admits nothing in ovs-vswitchd 3.1)
 * and removes the limits of `remove` (those zones are then unlimited). Per zone, not
 * `default=N`: ovs-vswitchd's userspace conntrack (3.1) counts every zone without a limit of
 * its own against one shared default, so one network filling it starved the others.
 */
export async function setZoneLimits(socket: string, set: ReadonlyMap<number, number>, remove: readonly number[]): Promise<void> {
  const sets = [...set].map(([zone, limit]) => `zone=${zone},limit=${limit}`);
  for (let i = 0; i < sets.length; i += ZONES_PER_COMMAND) await unixctl(socket, 'dpctl/ct-set-limits', sets.slice(i, i + ZONES_PER_COMMAND));
  for (let i = 0; i < remove.length; i += ZONES_PER_COMMAND) await unixctl(socket, 'dpctl/ct-del-limits', [`zone=${remove.slice(i, i + ZONES_PER_COMMAND).join(',')}`]);
}

/** From this share of the limit on, the condition is True ... */
const NEARLY_FULL = 0.9;
/** ... and stays so until below this one, so a table hovering at 90% does not flap. */
const RELIEVED = 0.8;

export async function readConntrackUsage(socket: string): Promise<Omit<ConntrackUsage, 'networkLimit'>> {
  const [entries, max] = await Promise.all([unixctl(socket, 'dpctl/ct-get-nconns'), unixctl(socket, 'dpctl/ct-get-maxconns')]);
  return { entries: count(entries, 'dpctl/ct-get-nconns'), max: count(max, 'dpctl/ct-get-maxconns') };
}

function count(text: string, command: string): number {
  const n = Number(text.trim());
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${command} answered ${JSON.stringify(text.trim().slice(0, 80))}, not a count`);
  return n;
}

const REMEDY = 'raise the limit (ovs-appctl dpctl/ct-set-maxconns N) or find what opens so many connections (ovs-appctl dpctl/dump-conntrack)';

/**
 * The condition for a reading. Its message names the limit but not the entry count, which
 * moves with every reading (each change would be a status write and an event); the counts are
 * in /metrics (vnetd_conntrack_entries, vnetd_conntrack_max).
 */
export function conntrackCondition(u: Pick<ConntrackUsage, 'entries' | 'max'>, prev?: Pick<ConditionView, 'status'>): ConditionView {
  if (u.entries >= u.max) {
    return {
      status: 'True',
      reason: 'ConntrackTableFull',
      message: `all ${u.max} connection-tracking entries are in use: new connections to load balancers on this node are dropped until entries expire; ${REMEDY}`,
    };
  }
  const share = u.max > 0 ? u.entries / u.max : 1;
  if (share >= NEARLY_FULL || (prev?.status === 'True' && share >= RELIEVED)) {
    return {
      status: 'True',
      reason: 'ConntrackTableNearlyFull',
      message: `${Math.round(NEARLY_FULL * 100)}% or more of the ${u.max} connection-tracking entries were in use (true until below ${Math.round(RELIEVED * 100)}%): at the limit, new connections to load balancers on this node are dropped; ${REMEDY}`,
    };
  }
  return { status: 'False', reason: 'ConntrackTableHasRoom', message: `under ${Math.round(NEARLY_FULL * 100)}% of the ${u.max} connection-tracking entries in use` };
}
