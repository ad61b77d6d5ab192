import type { KubeObject } from '../../resources/object';
import { findKind } from '../kinds';
import { EventPrinter } from './watch';

describe('vnetctl watch: the table', () => {
  it('keeps every column where the first row put it when a MODIFIED follows an ADDED', () => {
    let out = '';
    const rt = { output: 'table' as const, io: { out: (t: string) => (out += t), err: () => undefined }, term: { isTTY: false, stderrIsTTY: false, color: false } };
    const printer = new EventPrinter(rt, findKind('vnet')!, false);
    const net = { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualNetwork', metadata: { name: 'blue', namespace: 't1' }, spec: { vni: 7, subnets: [{ cidr: '10.0.0.0/24' }] } } as unknown as KubeObject;
    for (const type of ['ADDED', 'MODIFIED', 'DELETED']) printer.print(type, net);
    const lines = out.trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    const nameAt = lines.map((l) => l.indexOf('blue', 1));
    expect(lines[0]!.indexOf('NAME')).toBe(nameAt[1]);
    expect(new Set(nameAt.slice(1)).size).toBe(1);
  });
});
