/**
 * What an agent reads of its hypervisor's database once, over a connection of its own,
 * before it claims the node: the generation recorded there (ovsdb-fence.ts) and the
 * iface-ids of the VM NICs already plugged, so that its first view of the API holds their
 * ports and its first compile is whole.
 */
import { createOvsdbClient, rowFromWire, tableSchema, type OvsdbLogger } from '../ovsdb';
import type { Interface, OpenVSwitch, OpenVSwitchModel } from '../ovsdb/models/open_vswitch';
import { IFACE_ID } from './binding';
import { generationIn, nodeIn } from './ovsdb-fence';

export interface NodeDatabaseSnapshot {
  /** The generation a leader recorded (undefined: none). */
  generation: bigint | undefined;
  /** external_ids:iface-id of every Interface. */
  interfaceIds: Set<string>;
  /** The Node name a claim recorded (ovsdb-fence.ts NODE_KEY; undefined: none yet). */
  node: string | undefined;
  /** Which switch this is: its Open_vSwitch row's uuid, unique to the database (undefined: no row). */
  switchId: string | undefined;
}

/** Throws if the database cannot be reached or read. */
export async function readNodeDatabase(endpoint: string, logger: OvsdbLogger, connectTimeoutMs = 3000): Promise<NodeDatabaseSnapshot> {
  const client = createOvsdbClient<OpenVSwitchModel>({ endpoints: endpoint, logger, connectTimeoutMs, requestTimeoutMs: connectTimeoutMs, reconnect: false });
  try {
    await client.connect();
    const [ovs, ifaces] = await client.transact(client.ops.select('Open_vSwitch', [], ['_uuid', 'external_ids']), client.ops.select('Interface', [], ['external_ids']));
    const ovsWire = ovs?.rows?.[0];
    const ovsRow = ovsWire ? rowFromWire(tableSchema(client.schema, 'Open_vSwitch'), '', ovsWire, ['external_ids']) : undefined;
    const interfaceIds = new Set<string>();
    for (const wire of ifaces?.rows ?? []) {
      const row = rowFromWire(tableSchema(client.schema, 'Interface'), '', wire, ['external_ids']);
      const id = (row.external_ids as Interface['external_ids'])[IFACE_ID];
      if (id) interfaceIds.add(id);
    }
    const row = ovsRow && { external_ids: ovsRow.external_ids as OpenVSwitch['external_ids'] };
    const uuid = ovsWire?._uuid;
    return { generation: generationIn(row), interfaceIds, node: nodeIn(row), switchId: Array.isArray(uuid) && uuid[0] === 'uuid' ? String(uuid[1]) : undefined };
  } finally {
    await client.close();
  }
}
