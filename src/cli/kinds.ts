/**
 * The kinds vnetctl knows: names to type on the command line, URL paths, and the table
 * columns. Kept static (not read from schemas/ at run time) so the CLI starts fast and
 * works from any directory against a remote vnetd; kinds.spec.ts checks it against the
 * schema catalog so the two cannot drift apart.
 */
import type { HypervisorNode, LoadBalancer, NodeLeaseSpec, NodeRealizationStatus, ResourceQuota, ResourceQuotaStatus, VirtualNetwork, VirtualPort } from '../resources/kinds';
import { quotaResourcesAtLimit, quotaUsageText } from '../quota/usage-text';
import { API_VERSION, GROUP } from '../resources/kinds';
import type { KubeObject } from '../resources/object';
import { involvedObjectText, lastSeenOrder, type KubeEvent } from '../resources/event';
import { humanAge } from '../resources/age';

export interface Column {
  header: string;
  value: (o: KubeObject) => string;
  /** Only with -o wide. */
  wide?: boolean;
  /** Tells rows apart (a MAC, an address): never cut to fit the terminal. */
  identifies?: boolean;
}

export interface KindInfo {
  kind: string;
  listKind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  group: string;
  apiVersion: string;
  namespaced: boolean;
  /** The vnetctl command group that manages it, for hints ("vnetctl network list"). */
  command?: string;
  columns: Column[];
  /** Written by vnetd alone (events): never deleted by vnetctl, nor counted as a user's objects. */
  readOnly?: true;
  /** NAME only with -o wide, as the last column (events: their names are a hex time nobody reads). */
  nameWide?: true;
  /** The order lists are printed in (events: by time); the server's (by name) when absent. */
  order?: (a: KubeObject, b: KubeObject) => number;
}

export function readyOf(o: KubeObject): string {
  const conds = (o.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions;
  return conds?.find((c) => c.type === 'Ready')?.status ?? '-';
}

const dash = (v: unknown): string => (v === undefined || v === null || v === '' ? '-' : String(v));
const list = (v: readonly unknown[] | undefined): string => (v && v.length > 0 ? v.join(',') : '-');

const net = (o: KubeObject) => o as VirtualNetwork;
const port = (o: KubeObject) => o as VirtualPort;
const lb = (o: KubeObject) => o as LoadBalancer;
const node = (o: KubeObject) => o as HypervisorNode;
const event = (o: KubeObject) => o as KubeEvent;

/** Free counts of IPv6 subnets are 20-digit numbers: show them as 1.8e19. */
export function abbreviate(decimal: string): string {
  return decimal.length <= 7 ? decimal : Number(decimal).toExponential(1).replace('+', '');
}

export function backendLabel(b: { port?: string; ip?: string; weight?: number }): string {
  const id = b.port ?? b.ip ?? '?';
  return b.weight !== undefined && b.weight !== 1 ? `${id}=${b.weight}` : id;
}

export function listenerLabel(l: { protocol?: string; port: number; targetPort?: number }): string {
  return `${l.port}${l.targetPort !== undefined && l.targetPort !== l.port ? `:${l.targetPort}` : ''}/${(l.protocol ?? 'TCP').toLowerCase()}`;
}

const AGE: Column = { header: 'AGE', value: (o) => humanAge(o.metadata.creationTimestamp) };
const READY: Column = { header: 'READY', value: readyOf };

/** Why it is (not) Ready, as kubectl's -o wide REASON; Terminating while being deleted (its finalizers still at work). */
export function reasonOf(o: KubeObject): string {
  if (o.metadata.deletionTimestamp) return 'Terminating';
  const conds = (o.status as { conditions?: { type: string; reason?: string }[] } | undefined)?.conditions;
  return conds?.find((c) => c.type === 'Ready')?.reason || '-';
}

const REASON: Column = { header: 'REASON', value: reasonOf, wide: true };

const VNET_API = { group: GROUP, apiVersion: API_VERSION };

export const KINDS: readonly KindInfo[] = [
  {
    kind: 'VirtualNetwork',
    listKind: 'VirtualNetworkList',
    plural: 'virtualnetworks',
    singular: 'virtualnetwork',
    // vnetctl's own nouns too: `vnetctl network create` then `vnetctl get network` (QA-132 F6).
    shortNames: ['vnet', 'vnets', 'network', 'networks', 'net'],
    ...VNET_API,
    namespaced: true,
    command: 'network',
    columns: [
      { header: 'VNI', value: (o) => dash(net(o).status?.vni ?? net(o).spec?.vni) },
      { header: 'ENCAP', value: (o) => dash(net(o).spec?.encapsulation) },
      { header: 'SUBNETS', value: (o) => list(net(o).spec?.subnets.map((s) => s.cidr)) },
      { header: 'MTU', value: (o) => dash(net(o).spec?.mtu), wide: true },
      { header: 'ADDRESSES', value: (o) => list(net(o).status?.subnets?.map((s) => `${s.allocated} used/${abbreviate(s.free)} free`)), wide: true },
      READY,
      REASON,
      AGE,
    ],
  },
  {
    kind: 'VirtualPort',
    listKind: 'VirtualPortList',
    plural: 'virtualports',
    singular: 'virtualport',
    shortNames: ['vport', 'vports', 'port', 'ports'],
    ...VNET_API,
    namespaced: true,
    command: 'port',
    columns: [
      { header: 'NETWORK', value: (o) => dash(port(o).spec?.network) },
      { header: 'MAC', value: (o) => dash(port(o).spec?.mac), identifies: true },
      { header: 'IPS', value: (o) => list(port(o).spec?.ips), identifies: true },
      { header: 'NODE', value: (o) => dash(port(o).spec?.node) },
      { header: 'INTERFACE-ID', value: (o) => dash(port(o).spec?.interfaceId), wide: true, identifies: true },
      { header: 'OFPORT', value: (o) => dash(port(o).status?.ofport), wide: true },
      { header: 'BOUND', value: (o) => dash(port(o).status?.node), wide: true },
      READY,
      REASON,
      AGE,
    ],
  },
  {
    kind: 'LoadBalancer',
    listKind: 'LoadBalancerList',
    plural: 'loadbalancers',
    singular: 'loadbalancer',
    shortNames: ['vlb', 'vlbs', 'lb', 'lbs'],
    ...VNET_API,
    namespaced: true,
    command: 'lb',
    columns: [
      { header: 'NETWORK', value: (o) => dash(lb(o).spec?.network) },
      { header: 'VIP', value: (o) => dash(lb(o).status?.vip ?? lb(o).spec?.vip), identifies: true },
      { header: 'LISTENERS', value: (o) => list(lb(o).spec?.listeners.map(listenerLabel)) },
      // Healthy of declared (2/3), as kubectl shows a Deployment's READY; the count alone until status says.
      // Before the controller's first status write (a create's answer), as a new Deployment's READY: none yet of N.
      { header: 'BACKENDS', value: (o) => lb(o).status?.healthyBackends ?? `0/${lb(o).spec?.backends?.length ?? 0}` },
      { header: 'BACKEND-LIST', value: (o) => list(lb(o).spec?.backends?.map(backendLabel)), wide: true },
      { header: 'AFFINITY', value: (o) => dash(lb(o).spec?.sessionAffinity), wide: true },
      READY,
      REASON,
      AGE,
    ],
  },
  {
    kind: 'Node',
    listKind: 'NodeList',
    plural: 'nodes',
    singular: 'node',
    shortNames: ['vnode', 'vnodes', 'node', 'nodes'],
    ...VNET_API,
    namespaced: false,
    command: 'node',
    columns: [
      { header: 'TUNNEL-IP', value: (o) => dash(node(o).spec?.tunnelIP) },
      { header: 'CONNECTED', value: (o) => dash(node(o).status?.connected) },
      { header: 'PORTS', value: (o) => dash(node(o).status?.boundPorts) },
      { header: 'OVSDB', value: (o) => dash(node(o).spec?.ovsdb), wide: true },
      { header: 'DATAPATH', value: (o) => dash(node(o).spec?.datapath ?? node(o).status?.datapathTypes?.join(',')), wide: true },
      { header: 'OVS', value: (o) => dash(node(o).status?.ovsVersion), wide: true },
      { header: 'FLOWS', value: (o) => dash(node(o).status?.flows), wide: true },
      // Unavailable here sends the operator to status.fastpath.reason (QA-93: only -o yaml showed it).
      { header: 'FASTPATH', value: (o) => dash(node(o).status?.fastpath?.state), wide: true },
      // Whether its tunnel probes come back from every peer (the TunnelsUp condition).
      { header: 'TUNNELS', value: (o) => dash(node(o).status?.conditions?.find((c) => c.type === 'TunnelsUp')?.status) },
      // Cordoned: its load balancer backends drained (spec.unschedulable), as kubectl's SchedulingDisabled.
      { header: 'CORDONED', value: (o) => (node(o).spec?.unschedulable ? 'true' : '-') },
      READY,
      AGE,
    ],
  },
  {
    kind: 'NodeRealization',
    listKind: 'NodeRealizationList',
    plural: 'noderealizations',
    singular: 'noderealization',
    shortNames: ['vnoderz'],
    ...VNET_API,
    namespaced: false,
    columns: [
      { header: 'AGENT', value: (o) => dash((o.status as NodeRealizationStatus | undefined)?.agent?.holder) },
      { header: 'GENERATION', value: (o) => dash((o.status as NodeRealizationStatus | undefined)?.agent?.generation), wide: true },
      { header: 'OBJECTS', value: (o) => dash((o.status as NodeRealizationStatus | undefined)?.objects) },
      { header: 'REPORTED', value: (o) => { const t = (o.status as NodeRealizationStatus | undefined)?.reportTime; return t ? `${humanAge(t)} ago` : '-'; } },
      AGE,
    ],
  },
  {
    kind: 'NodeLease',
    listKind: 'NodeLeaseList',
    plural: 'nodeleases',
    singular: 'nodelease',
    shortNames: ['vnodelease'],
    ...VNET_API,
    namespaced: false,
    columns: [
      { header: 'HOLDER', value: (o) => dash((o.spec as NodeLeaseSpec | undefined)?.holderIdentity) },
      { header: 'RENEWED', value: (o) => { const t = (o.spec as NodeLeaseSpec | undefined)?.renewTime; return t ? `${humanAge(t)} ago` : '-'; } },
      AGE,
    ],
  },
  {
    kind: 'AccessToken',
    listKind: 'AccessTokenList',
    plural: 'accesstokens',
    singular: 'accesstoken',
    shortNames: ['vtoken'],
    ...VNET_API,
    namespaced: false,
    columns: [
      { header: 'ADMIN', value: (o) => dash((o.spec as { admin?: boolean } | undefined)?.admin) },
      { header: 'NAMESPACES', value: (o) => list((o.spec as { namespaces?: string[] } | undefined)?.namespaces) },
      { header: 'NODE', value: (o) => dash((o.spec as { node?: string } | undefined)?.node) },
      AGE,
    ],
  },
  {
    kind: 'ResourceQuota',
    listKind: 'ResourceQuotaList',
    plural: 'resourcequotas',
    singular: 'resourcequota',
    shortNames: ['quota'],
    group: '',
    apiVersion: 'v1',
    namespaced: true,
    command: 'quota',
    columns: [
      // What refuses the next write asking for more: said first, not left to reading used/hard.
      { header: 'AT LIMIT', value: (o) => list(quotaResourcesAtLimit(o as ResourceQuota)) },
      { header: 'USED/HARD', value: (o) => quotaUsageText(o.status as ResourceQuotaStatus | undefined) },
      AGE,
    ],
  },
  {
    // kubectl get events' columns (LAST SEEN, TYPE, REASON, OBJECT, MESSAGE; -o wide adds the rest).
    kind: 'Event',
    listKind: 'EventList',
    plural: 'events',
    singular: 'event',
    shortNames: ['ev'],
    group: '',
    apiVersion: 'v1',
    namespaced: true,
    readOnly: true,
    nameWide: true,
    order: (a, b) => lastSeenOrder(event(a), event(b)),
    columns: [
      { header: 'LAST SEEN', value: (o) => humanAge(event(o).lastTimestamp) },
      { header: 'TYPE', value: (o) => dash(event(o).type) },
      { header: 'REASON', value: (o) => dash(event(o).reason) },
      { header: 'OBJECT', value: (o) => involvedObjectText(event(o).involvedObject), identifies: true },
      { header: 'SOURCE', value: (o) => dash(event(o).source?.component), wide: true },
      { header: 'MESSAGE', value: (o) => dash(event(o).message) },
      { header: 'FIRST SEEN', value: (o) => humanAge(event(o).firstTimestamp), wide: true },
      { header: 'COUNT', value: (o) => dash(event(o).count), wide: true },
    ],
  },
  {
    kind: 'Namespace',
    listKind: 'NamespaceList',
    plural: 'namespaces',
    singular: 'namespace',
    shortNames: ['ns'],
    group: '',
    apiVersion: 'v1',
    namespaced: false,
    command: 'namespace',
    columns: [{ header: 'STATUS', value: (o) => dash((o.status as { phase?: string } | undefined)?.phase) }, AGE],
  },
];

/** Finds a kind by anything a user may type: plural, singular, short name, Kind, or plural.group. */
export function findKind(name: string): KindInfo | undefined {
  const n = name.toLowerCase().replace(/\.vnet\.dev$/, '');
  return KINDS.find((k) => k.plural === n || k.singular === n || k.kind.toLowerCase() === n || k.shortNames.includes(n));
}

/** Finds the kind of a manifest from its apiVersion and kind. */
export function kindOfManifest(apiVersion: string, kind: string | undefined): KindInfo | undefined {
  return KINDS.find((k) => k.kind === kind && k.apiVersion === apiVersion);
}

export function kindByPlural(plural: string): KindInfo {
  const k = KINDS.find((x) => x.plural === plural);
  if (!k) throw new Error(`vnetctl has no kind ${plural}`);
  return k;
}

/** REST path of a collection (name undefined) or an object. */
export function resourcePath(k: KindInfo, namespace: string | undefined, name?: string): string {
  const base = k.group === '' ? '/api/v1' : `/apis/${k.apiVersion}`;
  const coll = k.namespaced && namespace !== undefined ? `${base}/namespaces/${encodeURIComponent(namespace)}/${k.plural}` : `${base}/${k.plural}`;
  return name === undefined ? coll : `${coll}/${encodeURIComponent(name)}`;
}

/** kubectl's -o name form: virtualnetwork.vnet.dev/blue. */
export function qualifiedName(k: KindInfo, name: string): string {
  return `${k.singular}${k.group ? `.${k.group}` : ''}/${name}`;
}

/** How messages name an object: virtualnetwork "blue" in namespace "t1". */
export function describeObject(k: KindInfo, name: string, namespace: string | undefined): string {
  return `${k.singular} "${name}"${k.namespaced && namespace ? ` in namespace "${namespace}"` : ''}`;
}
