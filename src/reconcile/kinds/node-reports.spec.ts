import type { HypervisorNode, NodeRealization } from '../../resources/kinds';
import { NodeReports, dispatchedIn } from './node-reports';

const node = (realized?: Record<string, string>): HypervisorNode => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'Node', metadata: { name: 'hv1' }, spec: { tunnelIP: '192.0.2.1' }, status: realized ? { realized } : {} });
const rz = (realized?: Record<string, string>): NodeRealization => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'NodeRealization', metadata: { name: 'hv1' }, spec: {}, ...(realized ? { status: { realized } } : {}) });

describe('NodeReports', () => {
  it("reads the NodeRealization's report, and the Node's (an earlier agent's) only until the NodeRealization has one", () => {
    const reports = new NodeReports();
    expect(reports.of(undefined, node())).toBeUndefined();
    // An upgrade under way: the old agent still reports in the Node.
    expect(reports.of(rz(), node({ u1: '1' }))).toEqual(new Map([['u1', '1']]));
    expect(reports.of(undefined, node({ u1: '1' }))).toEqual(new Map([['u1', '1']]));
    // The new agent has reported: the Node's leftover no longer counts.
    expect(reports.of(rz({ u1: '2', u2: '1' }), node({ u1: '1' }))).toEqual(new Map([['u1', '2'], ['u2', '1']]));
    expect(reports.of(rz({}), node({ u1: '1' }))).toEqual(new Map());
  });

  it('builds each stored report into a map once', () => {
    const reports = new NodeReports();
    const r = rz({ u1: '1' });
    expect(reports.of(r, undefined)).toBe(reports.of(r, undefined));
  });
});

describe('dispatchedIn', () => {
  it("sums the agents' counts per backend; undefined while no agent reports any", () => {
    const counted = (name: string, dispatched?: Record<string, number>): NodeRealization => ({ ...rz({}), metadata: { name }, status: { realized: {}, ...(dispatched ? { dispatched } : {}) } });
    expect(dispatchedIn([])).toBeUndefined();
    expect(dispatchedIn([counted('hv1'), counted('hv2')])).toBeUndefined();
    expect(dispatchedIn([counted('hv1', {}), counted('hv2')])).toEqual(new Map());
    const sum = dispatchedIn([counted('hv1', { '7/10.0.0.100/10.0.0.5': 30, '7/10.0.0.100/10.0.0.6': 2 }), counted('hv2', { '7/10.0.0.100/10.0.0.5': 4 }), counted('hv3')]);
    expect(sum).toEqual(new Map([['7/10.0.0.100/10.0.0.5', 34], ['7/10.0.0.100/10.0.0.6', 2]]));
  });
});
