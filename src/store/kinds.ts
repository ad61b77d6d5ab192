/** Where each kind lives in the store: one definition for every layer that reads or writes it. */
import type { StoredType } from './keys';

const GROUP = 'vnet.dev';

export const NAMESPACES: StoredType = { group: '', plural: 'namespaces', namespaced: false };
export const NETWORKS: StoredType = { group: GROUP, plural: 'virtualnetworks', namespaced: true };
export const PORTS: StoredType = { group: GROUP, plural: 'virtualports', namespaced: true };
export const LOAD_BALANCERS: StoredType = { group: GROUP, plural: 'loadbalancers', namespaced: true };
export const NODES: StoredType = { group: GROUP, plural: 'nodes', namespaced: false };
export const NODE_REALIZATIONS: StoredType = { group: GROUP, plural: 'noderealizations', namespaced: false };
export const NODE_LEASES: StoredType = { group: GROUP, plural: 'nodeleases', namespaced: false, noStatus: true };
export const ACCESS_TOKENS: StoredType = { group: GROUP, plural: 'accesstokens', namespaced: false };
/** core/v1 Events: their fields are at the top level, no spec or status (resources/event.ts). */
export const EVENTS: StoredType = { group: '', plural: 'events', namespaced: true, noStatus: true };
/** core/v1 ResourceQuotas: what a namespace may use, and how much it does (quota/). */
export const RESOURCE_QUOTAS: StoredType = { group: '', plural: 'resourcequotas', namespaced: true };
