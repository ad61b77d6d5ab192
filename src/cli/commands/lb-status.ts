/**
 * `vnetctl lb status`: one load balancer, described for people: VIP, health check (with
 * the server's defaults filled in, as it probes), listeners, each backend with its
 * address, node, health and connections as the status reports them, the nodes that
 * realized it, and the conditions. Fields the status does not carry (yet) show as "-".
 */
import { isIPv6 } from 'node:net';
import type { Backend, BackendStatus, HypervisorNode, LoadBalancer } from '../../resources/kinds';
import { TUNNELS_UP } from '../../chassis/node-status';
import { falseCondition } from './node-conditions';
import type { Condition } from '../../resources/object';
import { lastSeenOrder, type KubeEvent } from '../../resources/event';
import { humanAge } from '../../resources/age';
import { renderTable, paint, statusColor, type Cell } from '../output/table';
import type { Terminal } from '../output/terminal';
import { lbTableSize } from '../../pipeline/load-balancer';
import { describeHealthCheck } from './lb-health-check';

/** A backend as the dataplane reports it; node and connections are newer fields, absent on older servers. */
export type BackendReport = BackendStatus & { node?: string; connections?: number };

/** What the CLI knows about a port backend from the port itself (its addresses and node). */
export interface PortFacts {
  ips: string[];
  node?: string;
}

/** The status entry for a spec backend: by port name, else by address. */
function reportOf(b: Backend, status: BackendReport[] | undefined): BackendReport | undefined {
  return status?.find((s) => (b.port !== undefined ? s.name === b.port : s.ip === b.ip || s.name === b.ip));
}

/**
 * Why a backend gets no connections, when it gets none. The controller writes "" for the
 * address of a port backend that does not resolve (no such port in the network, or none of
 * its addresses of the VIP's family) and for the node of a backend on no bound port.
 */
function healthOf(b: Backend, r: BackendReport | undefined): string {
  if (r?.healthy === undefined) return '-';
  if (r.healthy) return 'healthy';
  if (r.ip === '') return 'unresolved';
  if (r.node === '') return 'unbound';
  return 'unhealthy';
}

/** The port's addresses a load balancer on this VIP can use (those of its family; all when the VIP is not known yet). */
function usableIps(port: PortFacts | undefined, vip: string | undefined): string[] {
  if (!port) return [];
  return vip === undefined ? port.ips : port.ips.filter((ip) => isIPv6(ip) === isIPv6(vip));
}

function section(title: string, lines: string[], color: boolean): string[] {
  return [paint(`${title}:`, 'bold', color), ...lines.map((l) => `  ${l}`)];
}

/**
 * The nodes that installed the load balancer's flows, from the Ready condition the
 * pipeline sets ("flows installed on node(s) a, b" / "flows not yet installed on node(s)
 * b (of a, b)"); undefined when it says neither.
 */
export function realizedNodes(conds: Condition[]): { done: string[]; pending: string[] } | undefined {
  const ready = conds.find((c) => c.type === 'Ready');
  if (!ready) return undefined;
  const list = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);
  const done = /flows installed on node\(s\) (.+)$/.exec(ready.message);
  if (done) return { done: list(done[1]!), pending: [] };
  // Possibly followed by why: "; the switch of node(s) b does not answer".
  const lag = /flows not yet installed on node\(s\) (.+?) \(of ([^)]+)\)(?:;|$)/.exec(ready.message);
  if (lag) {
    const pending = list(lag[1]!);
    return { done: list(lag[2]!).filter((n) => !pending.includes(n)), pending };
  }
  if (/no node needs flows/.test(ready.message)) return { done: [], pending: [] };
  return undefined;
}

function nodesLine(conds: Condition[]): string {
  const r = realizedNodes(conds);
  if (!r) return conds.find((c) => c.type === 'Ready')?.message || 'not reported yet';
  if (r.done.length === 0 && r.pending.length === 0) return 'none needed yet (no bound ports on its network)';
  return `${r.done.length ? r.done.join(', ') : 'none yet'}${r.pending.length ? `; pending: ${r.pending.join(', ')}` : ''}`;
}

/** How many of a load balancer's events lb status shows: the latest. */
export const SHOWN_EVENTS = 10;

/**
 * Its events, oldest first, as kubectl describe's Events: what went wrong and when, also after
 * it recovered (the conditions only say how it is now). undefined: the server has none to give
 * (one older than Events), and the section is left out.
 */
function eventLines(lb: LoadBalancer, events: readonly KubeEvent[] | undefined, term: Terminal, width: number | undefined, now: Date): string[] | undefined {
  if (events === undefined) return undefined;
  if (events.length === 0) return ['<none>'];
  const latest = [...events].sort(lastSeenOrder).slice(-SHOWN_EVENTS);
  const rows: Cell[][] = latest.map((e) => [
    { text: e.type, color: e.type === 'Warning' ? 'yellow' : undefined },
    { text: e.reason },
    { text: e.count > 1 ? `${humanAge(e.lastTimestamp, now)} (x${e.count} over ${humanAge(e.firstTimestamp, now)})` : humanAge(e.lastTimestamp, now) },
    { text: e.message },
  ]);
  const more = events.length > latest.length ? [`(and ${events.length - latest.length} older: vnetctl get events -n ${lb.metadata.namespace} --for vlb/${lb.metadata.name})`] : [];
  return [...renderTable(['TYPE', 'REASON', 'AGE', 'MESSAGE'], rows, { maxWidth: width, color: term.color }), ...more];
}

/**
 * What the backends' nodes report against reaching them: a switch not answering (Ready=False)
 * or tunnels whose probes nobody answers (TunnelsUp=False: connections from clients on
 * other nodes do not get there). Health checks run on each backend's own node, so a cut
 * underlay left every backend "healthy" while remote clients' connections to them failed
 * (QA-126 H3).
 */
export function backendNodeTrouble(backendsByNode: ReadonlyMap<string, readonly string[]>, nodes: readonly HypervisorNode[]): string[] {
  const out: string[] = [];
  for (const [name, backends] of backendsByNode) {
    const node = nodes.find((n) => n.metadata.name === name);
    for (const type of ['Ready', TUNNELS_UP]) {
      const c = falseCondition(node, type);
      if (!c) continue;
      const what = type === 'Ready' ? 'its switch is not programmed or not answering' : 'connections from clients on other nodes do not reach them';
      out.push(`node ${name} (${backends.join(', ')}): ${c}: ${what}`);
    }
  }
  return out;
}

export function renderLbStatus(lb: LoadBalancer, term: Terminal, ports: ReadonlyMap<string, PortFacts> = new Map(), now = new Date(), events?: readonly KubeEvent[], nodes?: readonly HypervisorNode[]): string {
  const spec = lb.spec!;
  const st = lb.status ?? {};
  const reports = st.backends as BackendReport[] | undefined;
  const conds: Condition[] = (st as { conditions?: Condition[] }).conditions ?? [];
  const width = term.columns !== undefined ? term.columns - 2 : undefined;
  const field = (k: string, v: string) => `${paint(`${k}:`, 'bold', term.color)}${' '.repeat(Math.max(1, 18 - k.length))}${v}`;
  const out: string[] = [
    field('Name', lb.metadata.name),
    field('Namespace', lb.metadata.namespace ?? ''),
    field('Network', spec.network),
    field('VIP', st.vip ?? spec.vip ?? '<pending>'),
    // spec.algorithm only ever held "maglev" (kept for compatibility): say what deals the connections.
    field('Algorithm', `weighted rendezvous hashing over ${lbTableSize(spec.backends?.length ?? 0, st.slots)} slots (OVS and the fast path alike)`),
    field('Session affinity', spec.sessionAffinity ?? 'None'),
    field('Health check', describeHealthCheck(spec.healthCheck)),
    field('Nodes realized', nodesLine(conds)),
  ];
  const listeners: Cell[][] = spec.listeners.map((l) => [{ text: l.protocol ?? 'TCP' }, { text: String(l.port) }, { text: String(l.targetPort ?? l.port) }]);
  out.push(...section('Listeners', renderTable(['PROTOCOL', 'PORT', 'TARGET-PORT'], listeners, { maxWidth: width, color: term.color }), term.color));
  const backends = spec.backends ?? [];
  if (backends.length === 0) out.push(...section('Backends', ['<none>: add some with vnetctl lb add-backend'], term.color));
  else {
    const byNode = new Map<string, string[]>();
    const rows: Cell[][] = backends.map((b) => {
      const r = reportOf(b, reports);
      const port = b.port !== undefined ? ports.get(b.port) : undefined;
      const health = healthOf(b, r);
      const ips = usableIps(port, st.vip ?? spec.vip);
      const name = b.port !== undefined ? `port/${b.port}` : `ip/${b.ip}`;
      // A backend the status says is on no node shows none, whatever node its port names.
      const node = r?.node || (r?.node === '' ? undefined : port?.node);
      if (node) byNode.set(node, [...(byNode.get(node) ?? []), name]);
      return [
        { text: name },
        { text: r?.ip || b.ip || (ips.length ? ips.join(',') : undefined) || '-' },
        { text: node || '-' },
        { text: String(b.weight ?? 1) },
        { text: health, color: statusColor(health) },
        { text: typeof r?.connections === 'number' ? String(r.connections) : '-' },
      ];
    });
    out.push(...section('Backends', renderTable(['BACKEND', 'ADDRESS', 'NODE', 'WEIGHT', 'HEALTH', 'DISPATCHED'], rows, { maxWidth: width, color: term.color }), term.color));
    const known = backends.map((b) => reportOf(b, reports)).filter((r) => r?.healthy !== undefined);
    const healthy = known.filter((r) => r!.healthy).length;
    const conns = backends.map((b) => reportOf(b, reports)?.connections).filter((c): c is number => typeof c === 'number');
    const total = conns.length ? `; ${conns.reduce((a, c) => a + c, 0)} connection(s) dispatched` : '';
    // What lb list and kubectl's BACKENDS column say (QA: a drained backend made this 2/2 where they said 1/2).
    const getting = st.healthyBackends ? `${st.healthyBackends} get new connections, ` : '';
    out.push(`  ${known.length === 0 ? 'health: not reported yet (nodes report it once they program the VIP)' : `${getting}${healthy}/${backends.length} healthy${total}`}`);
    const trouble = nodes ? backendNodeTrouble(byNode, nodes) : [];
    if (trouble.length) out.push(...section("Trouble on the backends' nodes", trouble.map((t) => paint(t, 'red', term.color)), term.color));
  }
  const condRows: Cell[][] = conds.map((c) => [
    { text: c.type },
    { text: c.status, color: statusColor(c.status) },
    { text: c.reason },
    { text: humanAge(c.lastTransitionTime, now) },
    { text: c.message },
  ]);
  out.push(...section('Conditions', conds.length ? renderTable(['TYPE', 'STATUS', 'REASON', 'AGE', 'MESSAGE'], condRows, { maxWidth: width, color: term.color }) : ['<none>'], term.color));
  const shown = eventLines(lb, events, term, width, now);
  if (shown) out.push(...section('Events', shown, term.color));
  return `${out.join('\n')}\n`;
}
