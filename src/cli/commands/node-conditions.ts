/** What a Node reports against traffic through it, in the words trace and lb status print. */
import type { HypervisorNode } from '../../resources/kinds';

/** "TunnelsUp=False NoProbeAnswered: no tunnel probe ..." when the node's condition of that type is False; undefined otherwise. */
export function falseCondition(node: HypervisorNode | undefined, type: string): string | undefined {
  const c = node?.status?.conditions?.find((x) => x.type === type);
  return c?.status === 'False' ? `${type}=False ${c.reason ?? ''}${c.message ? `: ${c.message}` : ''}` : undefined;
}

/** "ConntrackPressure=True ConntrackTableFull: ..." when the node's condition of that type (one whose True is the trouble) is True; undefined otherwise. */
export function troubleWhenTrue(node: HypervisorNode | undefined, type: string): string | undefined {
  const c = node?.status?.conditions?.find((x) => x.type === type);
  return c?.status === 'True' ? `${type}=True ${c.reason ?? ''}${c.message ? `: ${c.message}` : ''}` : undefined;
}
