/**
 * Where a flow's counters in a full dump are counted from, when vnetd reports what happened
 * between two dumps (port-security-drops.ts, unknown-unicast-drops.ts).
 *
 * From the previous dump's counters when that dump had them and none went down since. From
 * zero when the flow is younger than the time since the previous dump: installed since, so
 * every packet it counted is new. Otherwise from nowhere (this dump is the baseline): the
 * first dump of a process may show an earlier vnetd's flows, whose dumps may have told of
 * their packets, and a flow re-added over one keeps its counters while its age starts again
 * (OVS forwards the counts of a replaced flow unless the add asks it to reset them).
 */
export function countedFrom<C>(
  had: C | undefined,
  wentDown: boolean,
  flowAgeMs: number,
  sinceLastDumpMs: number | undefined,
  zero: C,
): C | undefined {
  if (had !== undefined && !wentDown) return had;
  return sinceLastDumpMs !== undefined && flowAgeMs < sinceLastDumpMs ? zero : undefined;
}

/** How long a dumped flow has been on the switch, in ms. */
export function flowAgeMs(f: { durationSec: number; durationNsec: number }): number {
  return f.durationSec * 1000 + f.durationNsec / 1e6;
}
