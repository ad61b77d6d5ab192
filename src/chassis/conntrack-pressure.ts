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
}

/** From this share of the limit on, the condition is True ... */
const NEARLY_FULL = 0.9;
/** ... and stays so until below this one, so a table hovering at 90% does not flap. */
const RELIEVED = 0.8;

export async function readConntrackUsage(socket: string): Promise<ConntrackUsage> {
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
export function conntrackCondition(u: ConntrackUsage, prev?: Pick<ConditionView, 'status'>): ConditionView {
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
