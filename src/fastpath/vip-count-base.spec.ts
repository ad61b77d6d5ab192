import type { VipConnections } from './fastpath';
import { VipCountBase, listenerKey } from './vip-count-base';

const TCP = 6;
const conn = (backend: string, connections: number, port = 80): VipConnections => ({ network: 7, vip: '10.0.0.100', port, proto: TCP, backend, connections });
const L80 = listenerKey(7, '10.0.0.100', 80, TCP);
const L81 = listenerKey(7, '10.0.0.100', 81, TCP);

describe('VipCountBase: a listener\'s connection counts are its load balancer\'s own', () => {
  it('a load balancer made again on the same VIP, listener and backends starts from 0, whether the listener was gone meanwhile or not', () => {
    let native = [conn('10.0.0.5', 40), conn('10.0.0.6', 7)];
    const base = new VipCountBase();
    base.applied(new Map([[L80, 'lb1']]), () => native);
    expect(base.own(native).map((c) => c.connections)).toEqual([40, 7]);
    // lb1 deleted: its listener leaves the tables, its counts stay in the native context.
    base.applied(new Map(), () => native);
    // lb2 on the same VIP and listener.
    base.applied(new Map([[L80, 'lb2']]), () => native);
    expect(base.own(native).map((c) => c.connections)).toEqual([0, 0]);
    native = [conn('10.0.0.5', 43), conn('10.0.0.6', 7)];
    expect(base.own(native).map((c) => c.connections)).toEqual([3, 0]);
    // lb3 takes it straight from lb2 (no apply in between).
    base.applied(new Map([[L80, 'lb3']]), () => native);
    expect(base.own(native).map((c) => c.connections)).toEqual([0, 0]);
  });

  it('the same load balancer applied again keeps its counts, and other listeners are not touched', () => {
    const native = [conn('10.0.0.5', 40), conn('10.0.0.5', 9, 81)];
    const base = new VipCountBase();
    let reads = 0;
    const read = () => (reads++, native);
    base.applied(new Map([[L80, 'lb1'], [L81, 'lbB']]), read);
    base.applied(new Map([[L80, 'lb1']]), read);
    base.applied(new Map([[L80, 'lb1'], [L81, 'lbB']]), read);
    expect(reads).toBe(0); // nothing changed hands: the native counts are not even read
    base.applied(new Map([[L80, 'lb2'], [L81, 'lbB']]), read);
    expect(base.own(native).map((c) => c.connections)).toEqual([0, 9]);
  });
});
