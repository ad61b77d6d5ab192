/**
 * The compiler's input: a plain, store-free view of the logical model (what the
 * reconciler extracts from VirtualNetwork, VirtualPort and Node objects).
 */
import type { Encapsulation } from '../resources/kinds';
import type { SourceMatch } from './source-matches';

export interface NetworkModel {
  /** Stable identity (metadata.uid). */
  uid: string;
  /** namespace/name, for messages. */
  key: string;
  /** Changes whenever the object's realization must be redone (e.g. its generation). */
  version: string;
  vni: number;
  encapsulation: Encapsulation;
}

export interface AddressPair {
  ip: string;
  mac: string;
}

export interface PortModel {
  uid: string;
  key: string;
  version: string;
  /** uid of its network. */
  network: string;
  mac: string;
  ips: readonly string[];
  portSecurity: boolean;
  /** Extra (IP, MAC) pairs port security lets through; mac defaults to the port's. */
  allowedAddressPairs: readonly AddressPair[];
  /** Where the port is bound (status.node/ofport with Bound=True); absent: not bound. */
  binding?: { node: string; ofport: number };
  /**
   * The node the port is declared on (spec.node), bound or not. Other nodes install its
   * remote entries (ARP answer, L2 to that node's VTEP) from creation, so plugging the
   * NIC only has to add the local flows on its own node.
   */
  expectedNode?: string;
}

export interface NodeModel {
  name: string;
  tunnelIP: string;
  /** OpenFlow port numbers of br-int's tunnel ports (only known for connected nodes). */
  tunnelPorts?: Partial<Record<Encapsulation, number>>;
}

export interface LbListenerModel {
  protocol: 'TCP' | 'UDP' | 'SCTP';
  port: number;
  targetPort: number;
}

/** A backend resolved to an address in the network (a VirtualPort's IP and MAC). */
export interface LbBackendModel {
  /** The VirtualPort's name, or the IP for an address backend (status.backends[].name). */
  name: string;
  ip: string;
  mac: string;
  weight: number;
  /** Gets new connections; an unhealthy backend keeps only the ones it has. */
  healthy: boolean;
  /** Node its port is bound to and the port's OpenFlow number there, when bound. */
  node?: string;
  ofport?: number;
  /** Key (namespace/name) of the VirtualPort holding the address: status asks whether its NIC's link is up. */
  port?: string;
  /**
   * The other source addresses of that port of the VIP's family (its own, its allowed pairs:
   * an address or a CIDR, each with the MAC it is sent from): a connection from one of them
   * dealt to this backend is a hairpin too (load-balancer.ts hairpinFlows). Absent: none.
   */
  peers?: readonly SourceMatch[];
}

export interface LoadBalancerModel {
  uid: string;
  key: string;
  version: string;
  /** uid of its network. */
  network: string;
  vip: string;
  /** The locally administered MAC the VIP is answered with (loadBalancerMac: spec.mac, or lbMac(uid) for one stored before it). */
  mac: string;
  listeners: readonly LbListenerModel[];
  backends: readonly LbBackendModel[];
  /** ClientIP: every connection of one client to one backend (hash on the client IP only). */
  sessionAffinity?: 'None' | 'ClientIP';
  /** TCP ports its backends are health-checked on: their answers go to the controller. */
  healthCheckPorts?: readonly number[];
  /** UDP ports its backends are health-checked on: ICMP port unreachables quoting a probe go to the controller, UDP answers are dropped. */
  udpHealthCheckPorts?: readonly number[];
  /** Its UDP checks demand an answer (spec.healthCheck.udp.expectReply): the backends' datagrams from a checked port to the VIP go to the controller instead of being dropped. */
  udpHealthExpectReply?: boolean;
  /** Its slot table's size (load-balancer.ts lbSlotCount of the spec's backends); absent: from `backends`. */
  slots?: number;
}

export interface LogicalModel {
  networks: ReadonlyMap<string, NetworkModel>;
  ports: ReadonlyMap<string, PortModel>;
  nodes: ReadonlyMap<string, NodeModel>;
  /** Absent: no load balancers. */
  loadBalancers?: ReadonlyMap<string, LoadBalancerModel>;
}
