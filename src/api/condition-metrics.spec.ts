import { Registry } from 'prom-client';
import type { KubeObject } from '../resources/object';
import { registerConditionMetrics } from './condition-metrics';

const obj = (name: string, conditions: Array<{ type: string; status: string; reason: string }>, namespace?: string): KubeObject =>
  ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'X', metadata: { name, ...(namespace ? { namespace } : {}) }, status: { conditions } }) as unknown as KubeObject;

describe('condition metrics', () => {
  it('count objects per kind and condition, and name each object that is not Ready, read once per scrape (QA-126 M4)', async () => {
    const registry = new Registry();
    let reads = 0;
    let fail = false;
    registerConditionMetrics(registry, {
      objects: async () => {
        reads++;
        if (fail) throw new Error('store away');
        return [
          { kind: 'VirtualPort', items: [obj('a', [{ type: 'Ready', status: 'True', reason: 'Realized' }, { type: 'Bound', status: 'True', reason: 'InterfaceFound' }], 't'), obj('b', [{ type: 'Ready', status: 'False', reason: 'MacMismatch' }], 't'), obj('c', [{ type: 'Ready', status: 'True', reason: 'Realized' }], 't')] },
          { kind: 'Node', items: [obj('hv1', [{ type: 'TunnelsUp', status: 'False', reason: 'NoProbeAnswered' }])] },
        ];
      },
    });
    const text = await registry.metrics();
    expect(reads).toBe(1);
    for (const line of [
      'vnetd_objects_by_condition{kind="VirtualPort",condition="Ready",status="True",reason="Realized"} 2',
      'vnetd_objects_by_condition{kind="VirtualPort",condition="Ready",status="False",reason="MacMismatch"} 1',
      'vnetd_objects_by_condition{kind="VirtualPort",condition="Bound",status="True",reason="InterfaceFound"} 1',
      'vnetd_objects_by_condition{kind="Node",condition="TunnelsUp",status="False",reason="NoProbeAnswered"} 1',
      'vnetd_object_not_ready{kind="VirtualPort",namespace="t",name="b",reason="MacMismatch"} 1',
      // Per node, as kube-state-metrics' kube_node_status_condition (QA-131 F11).
      'vnetd_node_status_condition{node="hv1",condition="TunnelsUp",status="true"} 0',
      'vnetd_node_status_condition{node="hv1",condition="TunnelsUp",status="false"} 1',
      'vnetd_node_status_condition{node="hv1",condition="TunnelsUp",status="unknown"} 0',
    ]) {
      expect(text).toContain(line);
    }
    expect(text).not.toContain('name="a"');
    expect(text).not.toMatch(/vnetd_node_status_condition\{node="[abc]"/);
    // The store away: the last figures stay, the scrape does not fail.
    fail = true;
    expect(await registry.metrics()).toContain('vnetd_object_not_ready{kind="VirtualPort",namespace="t",name="b",reason="MacMismatch"} 1');
  });
});
