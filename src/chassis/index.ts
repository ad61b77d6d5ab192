/** Hypervisor management: per-Node OVSDB sessions, the OVS layout, VM NIC binding, the embedded local OVS. */
export { ChassisManager, type ChassisManagerOptions } from './chassis-manager';
export { NodeSession, controllerTargetFor, type NodeSessionOptions, type SessionChange } from './node-session';
export * from './layout';
export { planLayout, type LayoutAction, type LayoutPlan, type OvsSnapshot } from './layout-plan';
export { layoutOperations } from './layout-ops';
export { bindingStatus, interfaceIdOf, BOUND, IFACE_ID, type NodeView } from './binding';
export { nodeStatus, CONNECTED, READY, type LayoutOutcome, type SessionView } from './node-status';
export { OWNER_KEY, DEFAULT_OWNER, isOwned } from './owner';
export { startLocalOvs, registerLocalNode, localOvsUnavailable, LOCAL_NODE, type LocalOvs, type LocalOvsOptions } from './local-ovs';
export { NODES, PORTS as VIRTUAL_PORTS } from '../store/kinds';
