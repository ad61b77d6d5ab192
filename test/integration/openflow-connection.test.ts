/**
 * The OpenFlow library against a real ovs-vswitchd (userspace datapath): handshake,
 * bundles (all-or-nothing), flow stats multipart, barrier, error surfacing, groups,
 * meters, echo keepalive and reconnect, cross-checked with ovs-ofctl.
 */
import {
  OFPP,
  OpenFlowBundleError,
  OpenFlowRequestError,
  createConnection,
  flowMod,
  formatFlow,
  type FlowModMessage,
  type FlowStats,
  type OpenFlowConnection,
} from '../../src/openflow';
import { ovsAvailability, runPrefix, startOvs, type OvsInstance } from '../harness/ovs';

const avail = ovsAvailability();
if (!avail.ok) {
  // eslint-disable-next-line no-console
  console.warn(`skipping OpenFlow integration tests: ${avail.reason}`);
}
const describeOvs = avail.ok ? describe : describe.skip;

const COOKIE = 0x00ab000000000000n;

function flow(tableId: number, priority: number, reg0: number, out: number): FlowModMessage {
  return flowMod({
    command: 'add',
    tableId,
    priority,
    cookie: COOKIE | BigInt(reg0),
    match: [
      { field: 'reg0', value: reg0 },
      { field: 'eth_type', value: 0x0800 },
      { field: 'ipv4_dst', value: `10.0.0.${reg0}` },
    ],
    instructions: [
      {
        type: 'apply_actions',
        actions: [
          { type: 'set_field', field: 'eth_dst', value: '02:00:00:00:00:01' },
          { type: 'reg_load', dst: { field: 'reg1', ofs: 0, nbits: 8 }, value: 5n },
          { type: 'output', port: out, maxLen: 0 },
        ],
      },
      { type: 'goto_table', tableId: tableId + 1 },
    ],
  });
}

/** The flow lines of `ovs-ofctl dump-flows`, without counters and durations. */
async function ofctlFlows(ovs: OvsInstance): Promise<string[]> {
  const out = await ovs.ofctl(['-O', 'OpenFlow13', 'dump-flows', 'br0']);
  return out
    .split('\n')
    .filter((l) => l.startsWith(' cookie='))
    .map((l) => l.replace(/ duration=[^,]+,| n_packets=\d+,| n_bytes=\d+,/g, '').trim())
    .sort();
}

describeOvs('OpenFlow connection against ovs-vswitchd', () => {
  let ovs: OvsInstance;
  let conn: OpenFlowConnection;

  beforeAll(async () => {
    // Its own netns: the netdev datapath's ovs-netdev tap is per network namespace.
    ovs = await startOvs({ name: 'of-conn', netns: `${runPrefix()}-ofc` });
    await ovs.vsctl(['add-br', 'br0', '--', 'set', 'bridge', 'br0', 'datapath_type=netdev', 'protocols=OpenFlow13', 'fail_mode=secure']);
    for (const p of ['p1', 'p2']) {
      await ovs.vsctl(['add-port', 'br0', p, '--', 'set', 'interface', p, 'type=internal', `ofport_request=${p.slice(1)}`]);
    }
    conn = createConnection(`unix:${ovs.bridgeMgmtSocket('br0')}`, { echoIntervalMs: 1000, reconnect: { initialDelayMs: 50 } });
    await conn.ready();
  }, 60_000);

  afterAll(async () => {
    await conn?.close();
    await ovs?.stop();
  });

  it('negotiates OpenFlow 1.3 and reads the datapath id', async () => {
    const f = await conn.ready();
    expect(f.nTables).toBeGreaterThan(0);
    expect(conn.datapathId).toBe(f.datapathId);
    const desc = await conn.multipart({ kind: 'desc' });
    expect(desc.kind === 'desc' && desc.desc.swDesc).toMatch(/^3\./);
  });

  it('installs flows through a bundle and reads them back two ways', async () => {
    const flows = [flow(0, 100, 1, 1), flow(0, 100, 2, 2), flow(3, 50, 3, OFPP.IN_PORT)];
    await conn.bundle(flows);

    const stats = await conn.dumpFlows({ cookie: COOKIE, cookieMask: 0xffff000000000000n });
    expect(stats).toHaveLength(3);
    // OVS returns match fields in its own order: compare with fields sorted by name.
    const text1 = (f: Pick<FlowStats, 'tableId' | 'priority' | 'cookie' | 'match' | 'instructions'>): string =>
      formatFlow({ ...f, match: [...f.match].sort((a, b) => a.field.localeCompare(b.field)) });
    expect(stats.map(text1).sort()).toEqual(flows.map(text1).sort());
    expect(text1(stats.find((s) => s.cookie === (COOKIE | 1n))!)).toBe(
      'table=0, priority=100, cookie=0xab000000000001, ip,nw_dst=10.0.0.1,reg0=0x1 actions=set_field:02:00:00:00:00:01->eth_dst,load:0x5->NXM_NX_REG1[0..7],output:1,goto_table:1',
    );

    const text = await ofctlFlows(ovs);
    expect(text).toHaveLength(3);
    expect(text[0]).toBe(
      'cookie=0xab000000000001, table=0, priority=100,ip,reg0=0x1,nw_dst=10.0.0.1 actions=set_field:02:00:00:00:00:01->eth_dst,load:0x5->NXM_NX_REG1[0..7],output:1,goto_table:1',
    );
    expect(text[2]).toContain('table=3, priority=50,ip,reg0=0x3,nw_dst=10.0.0.3 actions=');
    expect(text[2]).toContain('IN_PORT,goto_table:4');
  });

  it('rejects a bundle with one bad flow as a whole and leaves the table unchanged', async () => {
    const before = await ofctlFlows(ovs);
    const bad = flowMod({
      command: 'add',
      tableId: 0,
      priority: 10,
      match: [{ field: 'reg0', value: 9 }],
      // Group 77 does not exist: OVS refuses the flow (OFPBAC_BAD_OUT_GROUP).
      instructions: [{ type: 'apply_actions', actions: [{ type: 'group', groupId: 77 }] }],
    });
    const err = await conn.bundle([flow(1, 10, 7, 1), bad, flow(1, 10, 8, 2)]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(OpenFlowBundleError);
    const be = err as OpenFlowBundleError;
    expect(be.error.name).toBe('OFPBFC_MSG_FAILED');
    expect(be.failures).toHaveLength(1);
    expect(be.failures[0]?.error.name).toBe('OFPBAC_BAD_OUT_GROUP');
    expect(be.failures[0]?.request).toMatchObject({ type: 'flow_mod', priority: 10, match: [{ field: 'reg0', value: 9 }] });
    expect(be.message).toContain('OFPBAC_BAD_OUT_GROUP');
    expect(await ofctlFlows(ovs)).toEqual(before);
  });

  it('surfaces an error with the request that caused it', async () => {
    const bad = flowMod({ command: 'add', tableId: 255, priority: 1 });
    const err = await conn.transact([flow(5, 1, 4, 1), bad]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(OpenFlowRequestError);
    const re = err as OpenFlowRequestError;
    expect(re.error.name).toBe('OFPFMFC_BAD_TABLE_ID');
    expect(re.request).toMatchObject({ type: 'flow_mod', tableId: 255 });
    expect(re.failedMessage).toMatchObject({ type: 'flow_mod', tableId: 255 });
    // The good flow before it was applied (no bundle here).
    expect(await conn.dumpFlows({ tableId: 5 })).toHaveLength(1);
  });

  it('deletes by cookie mask, strict delete, barrier', async () => {
    await conn.transact([flowMod({ command: 'delete_strict', tableId: 5, priority: 1, match: flow(5, 1, 4, 1).match })]);
    expect(await conn.dumpFlows({ tableId: 5 })).toHaveLength(0);
    await conn.transact([flowMod({ command: 'delete', cookie: COOKIE, cookieMask: 0xffff000000000000n })]);
    await conn.barrier();
    expect(await ofctlFlows(ovs)).toEqual([]);
  });

  it('programs select and fast-failover groups and meters, dumps them', async () => {
    await conn.transact([
      {
        type: 'group_mod',
        command: 'add',
        groupType: 'select',
        groupId: 1,
        buckets: [
          { weight: 10, watchPort: OFPP.ANY, watchGroup: 0xffffffff, actions: [{ type: 'output', port: 1, maxLen: 0 }] },
          { weight: 20, watchPort: OFPP.ANY, watchGroup: 0xffffffff, actions: [{ type: 'output', port: 2, maxLen: 0 }] },
        ],
      },
      {
        type: 'group_mod',
        command: 'add',
        groupType: 'ff',
        groupId: 2,
        buckets: [{ weight: 0, watchPort: 1, watchGroup: 0xffffffff, actions: [{ type: 'output', port: 1, maxLen: 0 }] }],
      },
      { type: 'meter_mod', command: 'add', flags: 1 | 8, meterId: 1, bands: [{ type: 'drop', rate: 1000, burstSize: 0 }] },
    ]);
    const groups = await conn.multipart({ kind: 'group_desc' });
    expect(groups.kind === 'group_desc' && groups.groups.map((g) => [g.groupId, g.groupType, g.buckets.length]).sort()).toEqual([
      [1, 'select', 2],
      [2, 'ff', 1],
    ]);
    const text = await ovs.ofctl(['-O', 'OpenFlow13', 'dump-groups', 'br0']);
    expect(text).toContain('group_id=1,type=select,bucket=weight:10,actions=output:1,bucket=weight:20,actions=output:2');
    const meters = await conn.multipart({ kind: 'meter_config', meterId: 0xffffffff });
    expect(meters.kind === 'meter_config' && meters.meters.map((m) => m.meterId)).toEqual([1]);
  });

  it('assembles a multipart reply that spans several messages', async () => {
    // ~70 KB of flow stats cannot fit in one 64 KB message.
    const many = Array.from({ length: 600 }, (_, i) => flow(7, 100, i + 1, 1)).map((f) => ({ ...f, match: [{ field: 'reg0' as const, value: i0(f) }] }));
    await conn.bundle(many);
    const flows = await conn.dumpFlows({ tableId: 7 });
    expect(flows).toHaveLength(600);
    await conn.transact([flowMod({ command: 'delete', tableId: 7 })]);
  });

  it('answers echo and reconnects after the switch restarts', async () => {
    const disconnected = new Promise((r) => conn.once('disconnected', r));
    const reconnected = new Promise((r) => conn.once('connected', r));
    await ovs.restartVswitchd();
    await disconnected;
    await reconnected;
    expect(conn.connected).toBe(true);
    await conn.barrier();
  }, 60_000);
});

function i0(f: FlowModMessage): number {
  const r = f.match.find((m) => m.field === 'reg0');
  return r && r.field === 'reg0' ? r.value : 0;
}
