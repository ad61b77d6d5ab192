import { existsSync, readFileSync } from 'node:fs';
import { OperationBuilder, parseSchema, type InsertOp, type MutateOp } from '../ovsdb';
import type { OpenVSwitchModel } from '../ovsdb/models/open_vswitch';
import { desiredLayout } from './layout';
import { layoutOperations } from './layout-ops';

const SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema';
const d = existsSync(SCHEMA) ? describe : describe.skip;

d('layoutOperations', () => {
  const ops = new OperationBuilder<OpenVSwitchModel>(parseSchema(JSON.parse(readFileSync(SCHEMA, 'utf8'))));
  const OVS = '11111111-1111-1111-1111-111111111111';

  it('creates br-int with its controller, ports and owner marks in one transaction', () => {
    const r = desiredLayout({ nodeName: 'hv1', spec: { tunnelIP: '192.0.2.1' }, datapathTypes: ['netdev'], ifaceTypes: [], controllerTarget: 'punix:/run/br-int.vnetd' });
    if (!r.ok) throw new Error(r.message);
    const list = layoutOperations(ops, OVS, [{ kind: 'createBridge', bridge: r.layout.bridges[0]! }], 'vnetd', 'test');
    const inserts = list.filter((o): o is InsertOp => o.op === 'insert');
    expect(inserts.map((o) => o.table)).toEqual(['Interface', 'Port', 'Interface', 'Port', 'Interface', 'Port', 'Controller', 'Bridge']);
    const bridge = inserts.find((o) => o.table === 'Bridge')!;
    const ctl = inserts.find((o) => o.table === 'Controller')!;
    // The bridge row references the controller inserted beside it: never zero controllers.
    expect(bridge.row.controller).toEqual(['set', [['named-uuid', ctl['uuid-name']]]]);
    expect(bridge.row.fail_mode).toBe('secure');
    expect(ctl.row).toMatchObject({ target: 'punix:/run/br-int.vnetd', connection_mode: 'out-of-band' });
    for (const o of inserts) expect(o.row.external_ids).toEqual(['map', [['vnetd-owner', 'vnetd']]]);
    const mutates = list.filter((o): o is MutateOp => o.op === 'mutate');
    expect(mutates.map((m) => m.mutations[0]![0])).toEqual(['bridges', 'next_cfg']);
  });

  it('is empty when there is nothing to do', () => {
    expect(layoutOperations(ops, OVS, [], 'vnetd', 'x')).toEqual([]);
  });
});
