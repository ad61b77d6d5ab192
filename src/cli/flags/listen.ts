/** --listen PORT[:TARGET][/PROTO] (e.g. 80:8080/tcp), as ovn-nbctl lb-add and docker -p write it. */
import type { L4Protocol, Listener } from '../../resources/kinds';

const PROTOCOLS: Record<string, L4Protocol> = { tcp: 'TCP', udp: 'UDP', sctp: 'SCTP' };

function portNumber(text: string, what: string, spec: string): number {
  if (!/^\d{1,5}$/.test(text)) throw new Error(`"${spec}": ${what} "${text}" is not a number`);
  const n = Number(text);
  if (n < 1 || n > 65535) throw new Error(`"${spec}": ${what} ${n} is outside 1-65535`);
  return n;
}

export function parseListen(spec: string): Listener {
  const m = /^([^:/]+)(?::([^/]+))?(?:\/(.+))?$/.exec(spec.trim());
  if (!m) throw new Error(`"${spec}" is not PORT[:TARGET_PORT][/tcp|udp|sctp], e.g. 80:8080/tcp`);
  const port = portNumber(m[1]!, 'port', spec);
  const targetPort = m[2] !== undefined ? portNumber(m[2], 'target port', spec) : port;
  const proto = (m[3] ?? 'tcp').toLowerCase();
  const protocol = PROTOCOLS[proto];
  if (!protocol) throw new Error(`"${spec}": protocol "${m[3]}" is not one of tcp, udp, sctp`);
  return { protocol, port, targetPort };
}
