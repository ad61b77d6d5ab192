/**
 * Judging a `ping -c` run by icmp_seq. PING_TAIL more pings are sent than are judged, so
 * that the last judged one has its reply waited for: once it has had an answer, iputils
 * ping waits only two of its longest RTTs after the last packet it sends, so a last reply a
 * little slower than that (a busy machine) read as lost although the network delivered it
 * (chaos (c) lost exactly its 600th of 600 once).
 */
export const PING_TAIL = 20;

/** ping's arguments for `count` judged pings every `intervalS` seconds (the tail included). */
export function pingArgs(target: string, count: number, intervalS = 0.01): string[] {
  return ['ping', '-i', String(intervalS), '-c', String(count + PING_TAIL), '-W', '2', target];
}

/** The first `count` pings of ping's output: how many went out, how many were answered, which were not. */
export function judgePings(out: string, count: number): { sent: number; received: number; missing: number[] } {
  const sent = Math.min(count, Number(/(\d+) packets transmitted/.exec(out)?.[1] ?? 0));
  // Replies only: "From x icmp_seq=N Destination Host Unreachable" is a loss too.
  const answered = new Set([...out.matchAll(/bytes from [^:]+: icmp_seq=(\d+)/g)].map((m) => Number(m[1])).filter((seq) => seq <= count));
  return { sent, received: answered.size, missing: Array.from({ length: sent }, (_, i) => i + 1).filter((s) => !answered.has(s)) };
}

/**
 * `ping -D` output's replies: epoch ms of each (ping's own stamp), by icmp_seq. The longest
 * stretch without a reply between two that came is an outage as the VM's peer sees it.
 */
export function replyTimes(out: string): Array<{ seq: number; at: number }> {
  return [...out.matchAll(/^\[(\d+\.\d+)\] \d+ bytes from [^:]+: icmp_seq=(\d+)/gm)].map((m) => ({ seq: Number(m[2]), at: Number(m[1]) * 1000 }));
}

/** The longest time between two consecutive replies (ms), and when it began (epoch ms); none for fewer than two replies. */
export function longestReplyGap(out: string): { ms: number; from: number } | undefined {
  const r = replyTimes(out);
  let worst: { ms: number; from: number } | undefined;
  for (let i = 1; i < r.length; i++) {
    const ms = r[i]!.at - r[i - 1]!.at;
    if (!worst || ms > worst.ms) worst = { ms, from: r[i - 1]!.at };
  }
  return worst;
}
