import type { KubeObject } from '../../resources/object';
import { findKind } from '../kinds';
import { EventPrinter, StreamedObjects } from './watch';

describe('vnetctl watch: the table', () => {
  it('keeps every column where the first row put it when a MODIFIED follows an ADDED', () => {
    let out = '';
    const rt = { output: 'table' as const, io: { out: (t: string) => (out += t), err: () => undefined }, term: { isTTY: false, stderrIsTTY: false, color: false } };
    const printer = new EventPrinter(rt, findKind('vnet')!, false);
    const net = { apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualNetwork', metadata: { name: 'blue', namespace: 't1' }, spec: { vni: 7, subnets: [{ cidr: '10.0.0.0/24' }] } } as unknown as KubeObject;
    const renamed = { ...net, spec: { vni: 8, subnets: [{ cidr: '10.0.0.0/24' }] } } as unknown as KubeObject;
    for (const [type, o] of [['ADDED', net], ['MODIFIED', renamed], ['DELETED', renamed]] as const) printer.print(type, o);
    const lines = out.trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    const nameAt = lines.map((l) => l.indexOf('blue', 1));
    expect(lines[0]!.indexOf('NAME')).toBe(nameAt[1]);
    expect(new Set(nameAt.slice(1)).size).toBe(1);
  });

  it('does not print a MODIFIED whose row reads as the last one of the object (a status write of what the table does not show), in a table only (QA-152 F9)', () => {
    const run = (output: 'table' | 'json') => {
      let out = '';
      const rt = { output, io: { out: (t: string) => (out += t), err: () => undefined }, term: { isTTY: false, stderrIsTTY: false, color: false } };
      const printer = new EventPrinter(rt, findKind('vnet')!, false);
      // Its AGE moves on between events (rv 3 reads as 2m, the others 60s): no change either.
      const made = new Date(Date.now() - 60_000).toISOString();
      const net = (vni: number, rv: string) => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualNetwork', metadata: { name: 'blue', namespace: 't1', resourceVersion: rv, creationTimestamp: rv === '3' ? new Date(Date.now() - 120_000).toISOString() : made }, spec: { vni, subnets: [{ cidr: '10.0.0.0/24' }] }, status: { counted: rv } }) as unknown as KubeObject;
      printer.print('ADDED', net(7, '1'));
      printer.print('MODIFIED', net(7, '2'));
      printer.print('MODIFIED', net(7, '3'));
      printer.print('MODIFIED', net(9, '4'));
      printer.print('DELETED', net(9, '5'));
      printer.print('ADDED', net(9, '6'));
      return out.trimEnd().split('\n');
    };
    expect(run('table').map((l) => l.split(/ +/).slice(0, 3).join(' '))).toEqual(['EVENT NAME VNI', 'ADDED blue 7', 'MODIFIED blue 9', 'DELETED blue 9', 'ADDED blue 9']);
    expect(run('json')).toHaveLength(6);
  });
});

const obj = (name: string, rv: string, namespace = 't'): KubeObject => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name, namespace, resourceVersion: rv } });
const said = (events: Array<[string, KubeObject]>) => events.map(([type, o]) => `${type} ${o.metadata.namespace}/${o.metadata.name}@${o.metadata.resourceVersion}`);

describe('StreamedObjects: a watch listed again after 410 Expired', () => {
  it('says only what changed while it was away: new objects ADDED, changed ones MODIFIED, gone ones DELETED; unchanged ones nothing', () => {
    const s = new StreamedObjects();
    expect(said(s.listed([obj('a', '1'), obj('b', '2'), obj('c', '3')], true))).toEqual(['ADDED t/a@1', 'ADDED t/b@2', 'ADDED t/c@3']);
    // Events seen on the watch before it expired.
    s.saw('MODIFIED', obj('a', '5'));
    s.saw('ADDED', obj('d', '6'));
    s.saw('DELETED', obj('b', '7'));
    // The gap: c deleted, d relabelled, e created; a unchanged since its event.
    expect(said(s.listed([obj('a', '5'), obj('d', '9'), obj('e', '10')], false))).toEqual(['MODIFIED t/d@9', 'ADDED t/e@10', 'DELETED t/c@3']);
    // Another relist with nothing changed says nothing.
    expect(said(s.listed([obj('a', '5'), obj('d', '9'), obj('e', '10')], false))).toEqual([]);
  });

  it('tells objects of the same name in two namespaces apart', () => {
    const s = new StreamedObjects();
    s.listed([obj('a', '1', 't1'), obj('a', '2', 't2')], true);
    expect(said(s.listed([obj('a', '1', 't1')], false))).toEqual(['DELETED t2/a@2']);
  });
});
