import { ResourceCatalog } from '../resources/catalog';
import type { KubeObject } from '../resources/object';
import { toTable } from './table';

const lbs = ResourceCatalog.load().byPluralName('loadbalancers')!;

function lb(listeners: Array<{ port: number; protocol?: string; targetPort?: number }>): KubeObject {
  return { apiVersion: 'vnet.dev/v1alpha1', kind: 'LoadBalancer', metadata: { name: 'dns', namespace: 't', creationTimestamp: new Date().toISOString() }, spec: { network: 'n', vip: '10.0.0.53', listeners } } as unknown as KubeObject;
}

describe('server-side Table', () => {
  it("shows a load balancer's listeners as kubectl shows a Service's PORT(S), with their protocols (QA-96: 53 over TCP and UDP read 53,53)", () => {
    const table = toTable(lbs, [lb([{ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }, { port: 80, targetPort: 8080 }])], {}, 'None');
    const at = table.columnDefinitions.findIndex((c) => c.name === 'Ports');
    expect(at).toBeGreaterThan(0);
    expect(table.rows[0]!.cells[at]).toBe('53/UDP,53/TCP,80/TCP');
    expect(toTable(lbs, [lb([])], {}, 'None').rows[0]!.cells[at]).toBe('<none>');
  });
});
