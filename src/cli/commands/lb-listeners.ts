/**
 * A load balancer's listeners as vnetctl names and edits them: a listener is its port and
 * protocol (what the API keeps unique among them); its target port is what may change in
 * place (`lb set-listener`). The edits here are pure: lb.ts sends them under its
 * generation-guarded patch.
 */
import type { Listener, LoadBalancer } from '../../resources/kinds';
import { CliError } from '../errors';
import { listenerLabel } from '../kinds';
import type { JsonPatchOp } from '../ops';

const protocolText = (l: Pick<Listener, 'protocol'>): string => (l.protocol ?? 'TCP').toLowerCase();

/** A listener's port and protocol as --listen writes them: 443/tcp. */
export function portProto(l: Pick<Listener, 'port' | 'protocol'>): string {
  return `${l.port}/${protocolText(l)}`;
}

/** One port and protocol of the VIP: what the API keeps unique among listeners. */
export function sameListener(a: Pick<Listener, 'port' | 'protocol'>, b: Pick<Listener, 'port' | 'protocol'>): boolean {
  return a.port === b.port && (a.protocol ?? 'TCP') === (b.protocol ?? 'TCP');
}

const targetOf = (l: Listener): number => l.targetPort ?? l.port;

/** ` -n NS` for a hint's command, the namespace being the load balancer's. */
const nsFlag = (lb: LoadBalancer): string => (lb.metadata.namespace ? ` -n ${lb.metadata.namespace}` : '');

/**
 * What add-listener says of a port and protocol the load balancer already listens on: nothing
 * to add, or the command that changes its target port in place. In place rather than remove
 * and add: an edit keeps the listener and vnetd moves its running UDP flows to the new port,
 * where a new listener leaves them on the old one until they go idle (QA-128 F5). It printed
 * a kubectl JSON patch to copy (QA: "needed kubectl or hand-written JSON patches").
 */
export function targetPortHint(lb: LoadBalancer, at: number, wanted: Listener): string {
  const had = lb.spec!.listeners[at]!;
  if (targetOf(had) === targetOf(wanted)) return ': nothing to add';
  const udp = (had.protocol ?? 'TCP') === 'UDP' ? ' (its running UDP flows follow it)' : '';
  return `; to change its target port in place${udp}: vnetctl lb set-listener ${lb.metadata.name} --listen ${had.port}:${targetOf(wanted)}/${protocolText(had)}${nsFlag(lb)}`;
}

/**
 * The patch that gives existing listeners the target ports `wanted` asks for (each found by
 * port and protocol). Refused, nothing written, for a listener the load balancer does not
 * have (its listeners named, and how to add one) or one whose target port is already that.
 */
export function setTargetPortOps(lb: LoadBalancer, wanted: readonly Listener[]): JsonPatchOp[] {
  const listeners = lb.spec?.listeners ?? [];
  const name = lb.metadata.name;
  return wanted.map((l) => {
    const at = listeners.findIndex((x) => sameListener(x, l));
    if (at < 0) {
      throw new CliError(
        `cannot set listener ${portProto(l)} of loadbalancer "${name}": it does not listen there (it listens on ${listeners.map(listenerLabel).join(', ') || 'nothing'}); to add it: vnetctl lb add-listener ${name} --listen ${listenerLabel(l)}${nsFlag(lb)}`,
      );
    }
    const had = listeners[at]!;
    if (targetOf(had) === targetOf(l)) throw new CliError(`cannot set listener ${portProto(l)} of loadbalancer "${name}": its target port is already ${targetOf(had)} (${listenerLabel(had)}): nothing to change`);
    // "add" sets a member whether or not it is there: a listener stored without targetPort has none to replace.
    return { op: 'add' as const, path: `/spec/listeners/${at}/targetPort`, value: targetOf(l) };
  });
}
