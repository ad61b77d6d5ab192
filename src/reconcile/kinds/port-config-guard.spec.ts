import { EventEmitter } from 'node:events';
import pino from 'pino';
import { OFPPC, type OpenFlowConnection, type PortDesc } from '../../openflow';
import { PortConfigGuard } from './port-config-guard';

const port = (portNo: number, name: string, config: number): PortDesc => ({ portNo, hwAddr: '0a:00:00:00:00:01', name, config, state: 0, curr: 0, advertised: 0, supported: 0, peer: 0, currSpeed: 0, maxSpeed: 0 });

/** A switch's connection as the guard uses it: port descriptions, port mods (refused while `refuse`), port statuses. */
class FakeSwitch extends EventEmitter {
  connected = true;
  ports: PortDesc[] = [];
  mods: Array<{ portNo: number; config: number; mask: number }> = [];
  refuse = false;
  async multipart() {
    return { kind: 'port_desc' as const, ports: this.ports };
  }
  async transact(msgs: Array<{ type: string; portNo: number; config: number; mask: number }>) {
    await new Promise((r) => setImmediate(r));
    if (this.refuse) throw new Error('OFPPMFC_EPERM');
    for (const m of msgs) this.mods.push({ portNo: m.portNo, config: m.config, mask: m.mask });
  }
}

function setup(ports: PortDesc[] = []) {
  const sw = new FakeSwitch();
  sw.ports = ports;
  const lines: Array<{ event?: string }> = [];
  const repaired: string[] = [];
  const guard = new PortConfigGuard(sw as unknown as OpenFlowConnection, pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as { event?: string }) }), 0, (m) => void repaired.push(m));
  guard.start();
  return { sw, guard, lines, repaired, said: (event: string) => lines.filter((l) => l.event === event).length };
}

describe('PortConfigGuard', () => {
  it('clears no-receive, no-forward and no-packet-in (only those bits), once per port even when a port status and a read race (review)', async () => {
    // Started: its first read is under way when the port status comes.
    const { sw, guard, repaired, said } = setup([port(5, 'tap1', OFPPC.NO_FWD | OFPPC.PORT_DOWN), port(6, 'vxlan0', OFPPC.NO_RECV | OFPPC.NO_PACKET_IN), port(7, 'tap2', 0)]);
    sw.emit('message', { type: 'port_status', xid: 0, reason: 'modify', port: sw.ports[0] });
    const read = guard.check();
    await read;
    await new Promise((r) => setImmediate(r));
    expect(sw.mods.sort((a, b) => a.portNo - b.portNo)).toEqual([
      { portNo: 5, config: 0, mask: OFPPC.NO_FWD },
      { portNo: 6, config: 0, mask: OFPPC.NO_RECV | OFPPC.NO_PACKET_IN },
    ]);
    expect(said('openflow.port_config_repaired')).toBe(2);
    expect(repaired[0]).toBe('port tap1 of br-int had no-forward set outside vnetd (ovs-ofctl mod-port), which silenced its traffic; cleared');
    guard.stop();
  });

  it('says a switch that refuses to clear a port once, however often it reads it', async () => {
    const { sw, guard, said } = setup();
    await guard.check();
    sw.ports = [port(5, 'tap1', OFPPC.NO_FWD)];
    sw.refuse = true;
    await guard.check();
    await guard.check();
    expect(said('openflow.port_config_failed')).toBe(1);
    sw.refuse = false;
    await guard.check();
    expect(said('openflow.port_config_repaired')).toBe(1);
    guard.stop();
  });
});
