import { SqliteStore } from '../store/sqlite-store';
import { ObjectStore } from '../store/object-store';
import { NODES } from '../store/kinds';
import type { HypervisorNode } from '../resources/kinds';
import { LOCAL_NODE, registerLocalNode } from './local-ovs';

describe('registerLocalNode', () => {
  const spec = async (objects: ObjectStore) => (await objects.get<HypervisorNode>(NODES, undefined, LOCAL_NODE))?.spec;

  it('creates Node local with 127.0.0.1 unless a tunnel address is given, and applies a given one on later starts too (QA-128 F7)', async () => {
    const objects = new ObjectStore(SqliteStore.open(':memory:'));
    expect(await registerLocalNode(objects, 'unix:/a/db.sock')).toBe('created');
    expect(await spec(objects)).toMatchObject({ tunnelIP: '127.0.0.1', ovsdb: 'unix:/a/db.sock' });
    // Unset: the Node keeps what it has (an operator may have changed it through the API).
    await objects.modify<HypervisorNode>(NODES, undefined, LOCAL_NODE, (cur) => ({ ...cur, spec: { ...cur.spec!, tunnelIP: '192.0.2.9' } }));
    expect(await registerLocalNode(objects, 'unix:/a/db.sock')).toBe('unchanged');
    expect((await spec(objects))?.tunnelIP).toBe('192.0.2.9');
    // Given (VNETD_LOCAL_TUNNEL_IP): before, ignored once the Node existed.
    expect(await registerLocalNode(objects, 'unix:/a/db.sock', '192.168.88.1')).toBe('updated');
    expect(await spec(objects)).toMatchObject({ tunnelIP: '192.168.88.1', ovsdb: 'unix:/a/db.sock' });
    expect(await registerLocalNode(objects, 'unix:/a/db.sock', '192.168.88.1')).toBe('unchanged');
    // The data directory moved: the endpoint follows, the address stays.
    expect(await registerLocalNode(objects, 'unix:/b/db.sock')).toBe('updated');
    expect(await spec(objects)).toMatchObject({ tunnelIP: '192.168.88.1', ovsdb: 'unix:/b/db.sock' });
  });

  it('leaves a Node local an operator created alone', async () => {
    const objects = new ObjectStore(SqliteStore.open(':memory:'));
    await objects.create(NODES, { apiVersion: 'vnet.dev/v1alpha1', kind: 'Node', metadata: { name: LOCAL_NODE }, spec: { tunnelIP: '192.0.2.1', ovsdb: 'tcp:192.0.2.1:6640' } } as HypervisorNode);
    expect(await registerLocalNode(objects, 'unix:/a/db.sock', '192.168.88.1')).toBe('unchanged');
    expect(await spec(objects)).toMatchObject({ tunnelIP: '192.0.2.1', ovsdb: 'tcp:192.0.2.1:6640' });
  });
});
