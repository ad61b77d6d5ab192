/**
 * Turns layout actions into one OVSDB transaction. A new bridge is inserted together
 * with its ports, interfaces and controller, so ovs-vswitchd first sees br-int with
 * its controller already set: adding a controller later would take the bridge from
 * zero to one controller, which flushes its flow table.
 */
import { cond, mutation, namedUuid, type Operation, type OperationBuilder } from '../ovsdb';
import type { OpenVSwitchModel } from '../ovsdb/models/open_vswitch';
import type { DesiredController, DesiredPort } from './layout';
import type { LayoutAction } from './layout-plan';
import { ownerIds } from './owner';

type Ops = OperationBuilder<OpenVSwitchModel>;

class Namer {
  private n = 0;
  next(kind: string): string {
    return `${kind}${this.n++}`;
  }
}

function insertPort(ops: Ops, out: Operation[], names: Namer, port: DesiredPort, owner: string): string {
  const iface = names.next('iface');
  const p = names.next('port');
  out.push(ops.insert('Interface', { name: port.name, type: port.type, options: port.options, external_ids: ownerIds(owner) }, { uuidName: iface }));
  out.push(ops.insert('Port', { name: port.name, interfaces: [namedUuid(iface)], external_ids: ownerIds(owner) }, { uuidName: p }));
  return p;
}

function insertController(ops: Ops, out: Operation[], names: Namer, c: DesiredController, owner: string): string {
  const name = names.next('ctl');
  out.push(ops.insert('Controller', { target: c.target, connection_mode: c.connectionMode, external_ids: ownerIds(owner) }, { uuidName: name }));
  return name;
}

const byUuid = (uuid: string) => [cond('_uuid', '==', uuid)];

/**
 * Operations for the actions, or [] when there is nothing to do. next_cfg is bumped so
 * callers can tell when ovs-vswitchd has applied the change (cur_cfg catches up).
 */
export function layoutOperations(ops: Ops, ovsUuid: string, actions: readonly LayoutAction[], owner: string, comment: string): Operation[] {
  if (!actions.length) return [];
  const out: Operation[] = [];
  const names = new Namer();
  for (const a of actions) {
    switch (a.kind) {
      case 'createBridge': {
        const b = a.bridge;
        const ports = b.ports.map((p) => namedUuid(insertPort(ops, out, names, p, owner)));
        const ctl = b.controller ? [namedUuid(insertController(ops, out, names, b.controller, owner))] : [];
        const br = names.next('br');
        out.push(
          ops.insert(
            'Bridge',
            {
              name: b.name,
              datapath_type: b.datapathType,
              fail_mode: b.failMode,
              controller: ctl,
              ports,
              other_config: b.otherConfig,
              external_ids: ownerIds(owner),
            },
            { uuidName: br },
          ),
        );
        out.push(ops.mutate('Open_vSwitch', byUuid(ovsUuid), [mutation('bridges', 'insert', [namedUuid(br)])]));
        break;
      }
      case 'updateBridge':
        out.push(ops.update('Bridge', byUuid(a.uuid), a.set));
        break;
      case 'addController': {
        const ctl = insertController(ops, out, names, a.controller, owner);
        out.push(ops.mutate('Bridge', byUuid(a.bridgeUuid), [mutation('controller', 'insert', [namedUuid(ctl)])]));
        break;
      }
      case 'updateController':
        out.push(ops.update('Controller', byUuid(a.uuid), a.set));
        break;
      case 'removeController':
        // Controller is not a root table: dropping the reference garbage-collects the row.
        out.push(ops.mutate('Bridge', byUuid(a.bridgeUuid), [mutation('controller', 'delete', [a.uuid])]));
        break;
      case 'addPort': {
        const p = insertPort(ops, out, names, a.port, owner);
        out.push(ops.mutate('Bridge', byUuid(a.bridgeUuid), [mutation('ports', 'insert', [namedUuid(p)])]));
        break;
      }
      case 'updateInterface':
        out.push(ops.update('Interface', byUuid(a.uuid), a.set));
        break;
      case 'removePort':
        out.push(ops.mutate('Bridge', byUuid(a.bridgeUuid), [mutation('ports', 'delete', [a.portUuid])]));
        break;
    }
  }
  out.push(ops.mutate('Open_vSwitch', byUuid(ovsUuid), [mutation('next_cfg', '+=', 1)]));
  out.push(ops.comment(comment));
  return out;
}
