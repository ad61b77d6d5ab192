/**
 * `vnetctl lb status`: one load balancer, described for people: VIP, listeners, each
 * backend with its health as the status reports it, and the conditions.
 */
import type { Backend, BackendStatus, LoadBalancer } from '../../resources/kinds';
import type { Condition } from '../../resources/object';
import { humanAge } from '../../resources/age';
import { renderTable, paint, statusColor, type Cell } from '../output/table';
import type { Terminal } from '../output/terminal';

/** The status entry for a spec backend: by port name, else by address. */
function healthOf(b: Backend, status: BackendStatus[] | undefined): BackendStatus | undefined {
  return status?.find((s) => (b.port !== undefined ? s.name === b.port : s.ip === b.ip || s.name === b.ip));
}

function section(title: string, lines: string[], color: boolean): string[] {
  return [paint(`${title}:`, 'bold', color), ...lines.map((l) => `  ${l}`)];
}

export function renderLbStatus(lb: LoadBalancer, term: Terminal, portIps: ReadonlyMap<string, string[]> = new Map(), now = new Date()): string {
  const spec = lb.spec!;
  const st = lb.status ?? {};
  const width = term.columns !== undefined ? term.columns - 2 : undefined;
  const field = (k: string, v: string) => `${paint(`${k}:`, 'bold', term.color)}${' '.repeat(Math.max(1, 18 - k.length))}${v}`;
  const out: string[] = [
    field('Name', lb.metadata.name),
    field('Namespace', lb.metadata.namespace ?? ''),
    field('Network', spec.network),
    field('VIP', st.vip ?? spec.vip ?? '<pending>'),
    field('Algorithm', spec.algorithm ?? 'maglev'),
    field('Session affinity', spec.sessionAffinity ?? 'None'),
  ];
  const listeners: Cell[][] = spec.listeners.map((l) => [{ text: l.protocol ?? 'TCP' }, { text: String(l.port) }, { text: String(l.targetPort ?? l.port) }]);
  out.push(...section('Listeners', renderTable(['PROTOCOL', 'PORT', 'TARGET-PORT'], listeners, { maxWidth: width, color: term.color }), term.color));
  const backends = spec.backends ?? [];
  if (backends.length === 0) out.push(...section('Backends', ['<none>: add some with vnetctl lb add-backend'], term.color));
  else {
    const rows: Cell[][] = backends.map((b) => {
      const h = healthOf(b, st.backends);
      const health = h === undefined ? 'unknown' : h.healthy ? 'healthy' : 'unhealthy';
      return [{ text: b.port !== undefined ? `port/${b.port}` : `ip/${b.ip}` }, { text: h?.ip ?? b.ip ?? (b.port !== undefined ? portIps.get(b.port)?.join(',') : undefined) ?? '-' }, { text: String(b.weight ?? 1) }, { text: health, color: statusColor(health) }];
    });
    out.push(...section('Backends', renderTable(['BACKEND', 'ADDRESS', 'WEIGHT', 'HEALTH'], rows, { maxWidth: width, color: term.color }), term.color));
    const healthy = backends.filter((b) => healthOf(b, st.backends)?.healthy === true).length;
    const known = backends.filter((b) => healthOf(b, st.backends) !== undefined).length;
    out.push(`  ${known === 0 ? 'health not reported yet (the dataplane reports it once a node programs this VIP)' : `${healthy}/${backends.length} healthy`}`);
  }
  const conds: Condition[] = (st as { conditions?: Condition[] }).conditions ?? [];
  const condRows: Cell[][] = conds.map((c) => [
    { text: c.type },
    { text: c.status, color: statusColor(c.status) },
    { text: c.reason },
    { text: humanAge(c.lastTransitionTime, now) },
    { text: c.message },
  ]);
  out.push(...section('Conditions', conds.length ? renderTable(['TYPE', 'STATUS', 'REASON', 'AGE', 'MESSAGE'], condRows, { maxWidth: width, color: term.color }) : ['<none>'], term.color));
  return `${out.join('\n')}\n`;
}
