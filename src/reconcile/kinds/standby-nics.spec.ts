import { OwnerCategory, RARP_WATCH_PRIORITY, TABLES, rarpWatchFlow } from '../../pipeline';
import { StandbyNics, type StandbyOfIface } from './standby-nics';

const MAC = '52:54:00:00:00:01';

describe('StandbyNics', () => {
  it("a standby NIC (the port bound elsewhere) gets one RARP watch flow under its own owner; bound to it, or gone, the owner goes; only touched iface-ids are read again", () => {
    const nics = new StandbyNics();
    // What the node has: iface-id -> its standby NICs (ofport -> MAC).
    let now = new Map<string, StandbyOfIface>([['vm1', new Map([[7, MAC]])]]);
    const reads: string[] = [];
    const read = (id: string) => (reads.push(id), now.get(id) ?? new Map<number, string>());
    // First compile (full): every iface-id of the node.
    const first = nics.compile('hv2', read, ['vm1', 'other']);
    expect([...first.keys()]).toEqual([7]);
    const o = first.get(7)!;
    expect(o.owner).toEqual({ category: OwnerCategory.StandbyNic, objectId: 7 });
    expect(o.flows).toEqual([rarpWatchFlow(7, MAC)]);
    expect(o.flows[0]).toMatchObject({ tableId: TABLES.Classifier.id, priority: RARP_WATCH_PRIORITY });
    // Nothing touched: nothing read, nothing changed.
    reads.length = 0;
    expect(nics.compile('hv2', read).size).toBe(0);
    expect(reads).toEqual([]);
    // The NIC activated and bound: not standby any more; its owner goes (one flow_mod).
    now = new Map();
    nics.touch(['vm1'], ['hv2']);
    const bound = nics.compile('hv2', read);
    expect([...bound.entries()]).toEqual([[7, undefined]]);
    expect(reads).toEqual(['vm1']);
    // The binding moved on again (another NIC activated elsewhere): standby again.
    now = new Map([['vm1', new Map([[7, MAC]])]]);
    nics.touch(['vm1']);
    expect(nics.compile('hv2', read).get(7)?.flows).toEqual([rarpWatchFlow(7, MAC)]);
    // Touched, unchanged: no change.
    nics.touch(['vm1']);
    expect(nics.compile('hv2', read).size).toBe(0);
    // A full compile gives every owner the node has (what it covers replaces what was applied).
    expect([...nics.compile('hv2', read, ['vm1']).keys()]).toEqual([7]);
    // The NIC gone (no row): its owner goes.
    now = new Map();
    nics.touch(['vm1']);
    expect([...nics.compile('hv2', read).entries()]).toEqual([[7, undefined]]);
  });
});
