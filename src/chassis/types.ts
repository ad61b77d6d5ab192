/** Store types of the kinds the chassis layer reads and writes (chassis/ must not import admission/ or api/). */
import { GROUP } from '../resources/kinds';
import type { StoredType } from '../store/keys';

export const NODES: StoredType = { group: GROUP, plural: 'nodes', namespaced: false };
export const VIRTUAL_PORTS: StoredType = { group: GROUP, plural: 'virtualports', namespaced: true };
