/** Spec and status shapes of the vnet.dev/v1alpha1 kinds. schemas/*.schema.json is the source of truth; these types mirror it. */
import type { KubeObject, ObjectStatusBase } from './object';

export const GROUP = 'vnet.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

export type Encapsulation = 'vxlan' | 'geneve';

export interface IpRange {
  start: string;
  end: string;
}

export interface Subnet {
  cidr: string;
  /** Defaults to the first usable address of the CIDR; always reserved. */
  gateway?: string;
  excludeRanges?: IpRange[];
}

export interface VirtualNetworkSpec {
  subnets: Subnet[];
  /** Allocated when absent (1..16777215). */
  vni?: number;
  encapsulation?: Encapsulation;
  mtu?: number;
}

export interface SubnetUsage {
  cidr: string;
  /** Addresses of the allocatable pool in use: one claimed explicitly inside an excluded range is outside the pool, not counted (free = pool - allocated). */
  allocated: number;
  free: string; // decimal string: an IPv6 /64 does not fit a JSON number
}

export interface VirtualNetworkStatus extends ObjectStatusBase {
  vni?: number;
  subnets?: SubnetUsage[];
}

export interface AllowedAddressPair {
  ip: string;
  mac?: string;
}

export interface VirtualPortSpec {
  network: string;
  /** Allocated when absent: unicast, locally administered. */
  mac?: string;
  /** Allocated when absent: one address per subnet family of the network. */
  ips?: string[];
  /** The hypervisor (Node name) the NIC lives on. */
  node?: string;
  /** What the hypervisor sets as external_ids:iface-id on the OVS Interface; defaults to the port's uid. */
  interfaceId?: string;
  portSecurity?: boolean;
  allowedAddressPairs?: AllowedAddressPair[];
}

export interface VirtualPortStatus extends ObjectStatusBase {
  mac?: string;
  ips?: string[];
  node?: string;
  ofport?: number;
  realized?: boolean;
}

export type L4Protocol = 'TCP' | 'UDP' | 'SCTP';

export interface Listener {
  protocol: L4Protocol;
  port: number;
  targetPort?: number;
}

export interface Backend {
  /** A VirtualPort name in the same namespace ... */
  port?: string;
  /** ... or an IP address inside the network. */
  ip?: string;
  weight?: number;
}

export interface HealthCheck {
  /**
   * TCP (the default when absent, as before UDP checks existed): a SYN from the VIP; UDP: a
   * datagram from the VIP, failing on an ICMP port unreachable (lb-health.ts).
   */
  protocol?: 'TCP' | 'UDP';
  /** The port checked instead of the listeners' target ports of `protocol` (Octavia's monitor_port). */
  port?: number;
  /** UDP checks only: what the probe carries and whether it must be answered (keepalived's DNS_CHECK, F5's UDP send/receive). */
  udp?: UdpHealthCheck;
  intervalSeconds?: number;
  timeoutSeconds?: number;
  unhealthyThreshold?: number;
  healthyThreshold?: number;
}

export interface UdpHealthCheck {
  /** The probe datagram's payload, base64 (at most UDP_HEALTH_PAYLOAD_MAX bytes decoded); absent: empty, as OVN's probe. */
  payload?: string;
  /**
   * True: only a datagram back from the checked address and port to the VIP and the probe's
   * source port within the timeout passes; silence fails too (a stopped server sends no ICMP).
   * False or absent: an ICMP port unreachable fails and silence passes.
   */
  expectReply?: boolean;
}

/** The largest payload a UDP probe carries (bytes, decoded): a DNS query fits many times, and it stays one unfragmented frame. */
export const UDP_HEALTH_PAYLOAD_MAX = 512;

/**
 * What one prober (the controller, or an agent for its node) sends at most, a second
 * (reconcile/kinds/lb-health.ts): admission refuses a load balancer whose checks alone would
 * ask for more (QA-151 F1: 6,400 a second from one tenant's load balancer starved vnetd).
 */
export const HEALTH_PROBES_PER_SECOND = 1000;

/**
 * What vnetd uses for a HealthCheck field left out (close to OVN's service monitor), in
 * one place so the probes, admission and vnetctl's descriptions cannot disagree. The
 * timeout is further capped at the interval.
 */
export const HEALTH_CHECK_DEFAULTS = { intervalSeconds: 5, timeoutSeconds: 2, healthyThreshold: 2, unhealthyThreshold: 3 } as const;

/**
 * A HealthCheck with every default filled in (`port` has none: absent, the listeners' target
 * ports are checked; `udp` is kept only for a UDP check, as given).
 */
export type EffectiveHealthCheck = Required<Omit<HealthCheck, 'port' | 'udp'>> & Pick<HealthCheck, 'port' | 'udp'>;

/** The settings vnetd probes with: the defaults filled in and the timeout capped at the interval. */
export function effectiveHealthCheck(hc: HealthCheck): EffectiveHealthCheck {
  const d = HEALTH_CHECK_DEFAULTS;
  const intervalSeconds = hc.intervalSeconds ?? d.intervalSeconds;
  return {
    protocol: hc.protocol ?? 'TCP',
    ...(hc.port !== undefined ? { port: hc.port } : {}),
    ...(hc.udp !== undefined && hc.protocol === 'UDP' ? { udp: hc.udp } : {}),
    intervalSeconds,
    timeoutSeconds: Math.min(hc.timeoutSeconds ?? d.timeoutSeconds, intervalSeconds),
    healthyThreshold: hc.healthyThreshold ?? d.healthyThreshold,
    unhealthyThreshold: hc.unhealthyThreshold ?? d.unhealthyThreshold,
  };
}

export interface LoadBalancerSpec {
  network: string;
  /** Allocated from the network when absent. */
  vip?: string;
  /** The VIP's MAC; derived from namespace, network and VIP when absent (lbVipMac). */
  mac?: string;
  listeners: Listener[];
  backends?: Backend[];
  algorithm?: 'maglev';
  sessionAffinity?: 'None' | 'ClientIP';
  healthCheck?: HealthCheck;
}

export interface BackendStatus {
  /** VirtualPort name, or the IP of an address backend. */
  name: string;
  /** Resolved address ("" while it does not resolve). */
  ip: string;
  /** Node its port is bound to ("" when not bound). */
  node: string;
  /** Its port is bound and, with spec.healthCheck, it passes the checks (with weight 0 it still gets no new connections). */
  healthy: boolean;
  /** Drained because its node is cordoned (Node spec.unschedulable): no new connections, as with weight 0. Absent otherwise. */
  nodeCordoned?: boolean;
  /**
   * Connections dispatched to it (first packets through its DNAT flows, all nodes). Absent
   * where agents program the nodes: the controller sees no flow counters.
   */
  connections?: number;
  /**
   * vnetd's own bookkeeping, not for reading: per node, what the backend's DNAT flow counters
   * held when `connections` was written, so that a restarted vnetd adds what they counted
   * while it was down (and tells a switch whose counters started again). Absent where agents
   * program the nodes, and in a status written before this field.
   */
  switchCounters?: Record<string, number>;
}

export interface LoadBalancerStatus extends ObjectStatusBase {
  vip?: string;
  /** Its slot table's size (LbSlot flows): recorded so that removing backends never shrinks it. */
  slots?: number;
  /** Backends that get new connections (healthy, weight above 0, their node's switch answering; an unchecked one whose NIC's link is down counts, as it is dealt them) of those declared ("2/3"). */
  healthyBackends?: string;
  backends?: BackendStatus[];
}

export interface NodeSpec {
  tunnelIP: string;
  ovsdb?: string;
  datapath?: 'netdev' | 'system';
  /**
   * Cordoned, as a Kubernetes Node (vnetctl node cordon): load balancer backends bound here
   * are drained (no new connections while a backend elsewhere takes them; established ones go
   * on), before the hypervisor's maintenance. Ports and their traffic are left alone.
   */
  unschedulable?: boolean;
  fastPathInterfaces?: string[];
  /** How its networks share the node's connection-tracking table. */
  conntrack?: { networkShare?: number; namespaceShare?: number };
  fastPath?: NodeFastPathSpec;
}

export interface NodeFastPathSpec {
  /** Run the AF_XDP fast path on this node (default: VNETD_FASTPATH=1). */
  enabled?: boolean;
  /** Network namespace (name under /run/netns) holding the node's interfaces; absent: vnetd's own. */
  netns?: string;
  /** The underlay NIC; absent: the NIC plugged into br-phy. */
  underlay?: string;
  /**
   * Carry load-balancer VIP connections too (default on; false leaves every network with
   * load balancers to OVS). The fast path deals a new connection exactly as OVS's slot
   * table does, and its connections survive a restart of vnetd.
   */
  loadBalancers?: boolean;
}

export interface NodeFastPathStatus {
  state: 'Running' | 'Idle' | 'Unavailable' | 'Disabled';
  reason?: string;
  /** AF_XDP ports open (VM NICs + underlay). */
  interfaces?: number;
  counters?: {
    /** Lookups per table (portHit, portMiss, macHit, ...), parse errors, packets, batches. */
    tables: Record<string, number>;
    /**
     * The underlay NIC's, and the VM NICs' summed (count: how many): rx, rxBytes, fast, slow,
     * drops, errors (classifier) and tx, txFull, xskDrops (socket). Each VM NIC's own are in
     * /metrics: a Node listing them grew by 150 bytes per NIC, rewritten every interval to
     * every watcher of Nodes.
     */
    underlay?: { name: string; [counter: string]: number | string };
    vmNics?: { count: number; [counter: string]: number };
  };
  /**
   * What the fast path last read from the node's kernel: the MAC of the device holding the
   * tunnel IP, and the next-hop MAC toward each remote VTEP (up to 128: reconcile/kinds/fastpath.nodes.ts).
   * A restarted vnetd starts its first apply from them, so it takes over the connections its
   * predecessor left without waiting on iproute2 first, and reads them again at once.
   */
  underlayFacts?: { tunnelIP: string; tunnelMac: string; nextHops?: Record<string, string> };
}

export interface NodeStatus extends ObjectStatusBase {
  fastpath?: NodeFastPathStatus;
  connected?: boolean;
  ovsVersion?: string;
  datapathTypes?: string[];
  boundPorts?: number;
  flows?: number;
  /** Interfaces on br-int with an iface-id no VirtualPort this node may bind claims (at most UNCLAIMED_SHOWN, by name). */
  unclaimedInterfaces?: Array<{ name: string; interfaceId: string }>;
  unclaimedInterfaceCount?: number;
  /**
   * Peers none of whose tunnel probes came back from this node in the last two rounds
   * (TunnelsUp; at most 64, by name). The controllers' leader marks a node whose agent misses
   * a heartbeat and that every other live node lists here Ready=Unknown at once, rather than
   * after the whole agent timeout: a crashed hypervisor.
   */
  unansweredPeers?: string[];
  /**
   * What an agent of an earlier release reported installed (object uid -> version); agents
   * now report in the NodeRealization of the same name. Read while an upgrade is under way.
   */
  realized?: Record<string, string>;
  /**
   * Load balancer backends bound to this node that fail their health checks, probed from
   * here (written by `vnetd agent`; every other agent and the controller take them out of
   * the slot tables they compile).
   */
  unhealthyBackends?: UnhealthyBackend[];
}

/** A backend one node's health probes found failing. */
export interface UnhealthyBackend {
  /** The LoadBalancer's uid. */
  loadBalancer: string;
  ip: string;
  /** The last failure that counted: 'RST' or 'no answer' (TCP), UDP_PORT_UNREACHABLE (UDP). */
  reason: string;
  /** When it went unhealthy (RFC 3339). */
  since: string;
}

export type VirtualNetwork = KubeObject<VirtualNetworkSpec, VirtualNetworkStatus>;
export type VirtualPort = KubeObject<VirtualPortSpec, VirtualPortStatus>;
export type LoadBalancer = KubeObject<LoadBalancerSpec, LoadBalancerStatus>;
export type HypervisorNode = KubeObject<NodeSpec, NodeStatus>;

/**
 * What one node's agent has installed, apart from the Node (which every agent watches), so
 * agents do not receive each other's reports: the leader creates it for each Node while
 * agents program the nodes; the agent writes its status.
 */
export interface NodeRealizationStatus {
  /** The agent programming the node, as it claimed it (node-claim.ts). */
  /** renewTime: the heartbeat of an agent of an earlier release (agents now renew their NodeLease). */
  /** switch: the Open_vSwitch row uuid of the switch it programs (node-claim.ts: a live agent of another switch is not displaced). */
  agent?: { holder?: string; claimTime?: string; generation?: string; renewTime?: string; switch?: string };
  /** Object uid -> the version the pipeline compiled and the node installed. */
  realized?: Record<string, string>;
  /** How many entries realized has (a printer column). */
  objects?: number;
  /** When the agent last wrote the report (RFC 3339). */
  reportTime?: string;
  /** Connections this node's load balancing dispatched, "vni/vip/backend" -> count (summed by the controller). */
  dispatched?: Record<string, number>;
  /**
   * The agent's own bookkeeping: its switch's LbDnat counters behind `dispatched` when it was
   * written, same keys, so that a restarted agent counts what the switch dispatched while no
   * agent ran. Absent in a report written before this field.
   */
  dispatchedOnSwitch?: Record<string, number>;
  /** The agent's latest reports of port security drops (newest last, at most 20): the controller records them as events. */
  portSecurityDrops?: PortSecurityDropReport[];
  nodeEvents?: NodeEventReport[];
}

/** A repair on the agent's node (an event the leader records on the Node), as its agent reports it. */
export interface NodeEventReport {
  time: string;
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/** A VM whose frames port security dropped, as its node's agent reports it. */
export interface PortSecurityDropReport {
  /** namespace/name */
  port: string;
  uid?: string;
  time: string;
  message: string;
}
export type NodeRealization = KubeObject<Record<string, never>, NodeRealizationStatus>;

/** An agent's heartbeat: the fields of coordination.k8s.io/v1 Lease's spec (schemas/nodelease.schema.json). */
export interface NodeLeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}
export type NodeLease = KubeObject<NodeLeaseSpec, never>;

/** core/v1 ResourceQuota, as far as vnetd serves it (resources/catalog.ts RESOURCE_QUOTA_TYPE; quota/resources.ts). */
export interface ResourceQuotaSpec {
  /** Resource name (quota/resources.ts QUOTA_RESOURCE_NAMES) -> the most the namespace may use. */
  hard?: Record<string, string | number>;
}

export interface ResourceQuotaStatus {
  hard?: Record<string, string>;
  used?: Record<string, string>;
}

export type ResourceQuota = KubeObject<ResourceQuotaSpec, ResourceQuotaStatus>;
