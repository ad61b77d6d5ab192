/** What the pipeline needs from the chassis layer (ChassisManager implements it). */
import type { ActivationOutcome } from '../../chassis/activations';
import type { OvsSnapshot } from '../../chassis/layout-plan';
import type { VirtualPort, VirtualPortStatus } from '../../resources/kinds';
import type { TunnelsOutcome } from './tunnel-probes';

export interface ChassisAccess {
  session(node: string):
    | {
        readonly ready: boolean;
        /** The node's database records this leader's generation (always true unfenced). */
        readonly generationRecorded: boolean;
        readonly controller: { dial: string };
        snapshot(): OvsSnapshot;
        /** The ofport of the node's Interface with this name. */
        interfaceOfport(name: string): number | null | undefined;
        /** The node's OVS Interfaces carrying this external_ids:iface-id (its live OVSDB replica). */
        interfacesWithIfaceId(id: string): ReadonlyArray<{ name?: string; ofport: number | null; error?: string | null; link_state?: string | null; type?: string; external_ids?: Record<string, string> }>;
        /** Every iface-id on the node's Interfaces (undefined until synced): standby NICs on a full compile (standby-nics.ts). */
        ifaceIds?(): Set<string> | undefined;
      }
    | undefined;
  /** interfaceIds: only Interfaces with these iface-ids changed; undefined: anything may have. */
  onNodeChange(listener: (node: string, interfaceIds?: readonly string[]) => void): () => void;
  /**
   * The port's status with its binding (Bound, node, ofport) as the chassis layer decides
   * it. Given, a port's status write here carries its binding, so a new port's binding and
   * Ready are one store revision (the chassis leaves a new binding to it: boundWithReadyMs).
   */
  bindingStatusOf?(port: VirtualPort, resourceVersion?: string | number): VirtualPortStatus;
  /**
   * The node's switch has not answered on its OpenFlow connection for a while (problem, in
   * words), or answers again (undefined): the Node's Ready says so.
   */
  /** reason: SwitchUnreachable (default) or FlowsRefused (it answers but every full sync fails). */
  reportSwitch?(node: string, problem: string | undefined, reason?: 'SwitchUnreachable' | 'FlowsRefused'): void;
  /** How many flows vnetd keeps on the node's br-int, once its table is in sync (the Node's status.flows). */
  reportFlows?(node: string, flows: number): void;
  /** Whether the node's tunnel probes come back from its peers (the Node's TunnelsUp condition; tunnel-probes.ts). */
  reportTunnels?(node: string, outcome: TunnelsOutcome): void;
  /** Agent mode: the node of another live agent that holds this unpinned port's binding (see ChassisManager.boundElsewhere). */
  boundElsewhere?(port: VirtualPort): string | undefined;
  /** When a VM announced itself (RARP) on this NIC of the node, if it did (ChassisManager.activatedAt). */
  activatedAt?(node: string, iface: { name?: string; ofport: number | null; external_ids?: Record<string, string> }): number | undefined;
  /** A RARP announcement of `mac` from `ofport` of the node's br-int (ChassisManager.activate). */
  activate?(node: string, ofport: number, mac: string): ActivationOutcome;
}
