/** What a Node reports against traffic through it, in the words trace and lb status print. */
import type { HypervisorNode } from '../../resources/kinds';

/** "TunnelsUp=False NoProbeAnswered: no tunnel probe ..." when the node's condition of that type has that status (False, or True for one whose True is the trouble, as ConntrackPressure); undefined otherwise. */
export function conditionWhen(node: HypervisorNode | undefined, type: string, status: 'True' | 'False'): string | undefined {
  const c = node?.status?.conditions?.find((x) => x.type === type);
  return c?.status === status ? `${type}=${status} ${c.reason ?? ''}${c.message ? `: ${c.message}` : ''}` : undefined;
}

/** The node's condition of that type when it is False (conditionWhen). */
export const falseCondition = (node: HypervisorNode | undefined, type: string): string | undefined => conditionWhen(node, type, 'False');
