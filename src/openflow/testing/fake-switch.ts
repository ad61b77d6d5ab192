import { AddressInfo, Server, Socket, createServer } from 'node:net';
import { OFPTT_ALL } from '../constants';
import { MessageFramer } from '../framing';
import { OfMessage, decodeMessage, encodeMessage } from '../message';
import { errorFromName } from '../messages/error';
import { FlowModMessage } from '../messages/flow-mod';
import { GroupDesc, FlowStats } from '../messages/multipart-reply';
import { GroupModMessage } from '../messages/group';
import { RoleMessage } from '../messages/simple';
import { flowKey } from '../sync/flow-key';

/**
 * An in-process OpenFlow 1.3 switch with just enough of a flow table for sync
 * tests: flow_mod (add, modify_strict, delete, delete_strict with cookie
 * masks), group_mod, atomic bundles that OVS-like reject as a whole, flow and
 * group dumps split into several replies, and controller roles as OVS has them (a
 * master generation that only rises, one master, slaves' writes refused). It records
 * every committed bundle so tests can assert what was sent and in which order.
 */
export interface FakeSwitch {
  readonly target: string;
  /** Flows by canonical key. */
  readonly flows: Map<string, FlowStats>;
  readonly groups: Map<number, GroupDesc>;
  /** Inner messages of every committed bundle, in order. */
  readonly committed: OfMessage[][];
  /** Messages sent outside bundles (other than handshake and echo). */
  readonly received: OfMessage[];
  /** Closes every session, like ovs-vswitchd exiting; `wipe` also empties the tables. */
  restart(opts?: { wipe?: boolean }): void;
  /**
   * Rejects, from now on, every message `reject` names an OpenFlow error for (e.g.
   * 'OFPGMFC_UNKNOWN_GROUP'), inside bundles or not, whatever the table holds: for
   * failures OVS itself would not produce here.
   */
  failWhen(reject: ((m: OfMessage) => string | undefined) | undefined): void;
  /** The highest master generation claimed so far (undefined before any claim). */
  readonly generationId: bigint | undefined;
  /** Every connection back to the equal role, unannounced: what a reconnect's new session has. */
  forgetRoles(): void;
  /** Adds a flow directly, like ovs-ofctl add-flow would. */
  install(f: Partial<FlowStats> & Pick<FlowStats, 'tableId' | 'priority' | 'match' | 'instructions'>): void;
  close(): Promise<void>;
}

class Rejection extends Error {
  constructor(readonly errorName: string) {
    super(errorName);
  }
}

function stats(m: FlowModMessage): FlowStats {
  return {
    tableId: m.tableId,
    durationSec: 0,
    durationNsec: 0,
    priority: m.priority,
    idleTimeout: m.idleTimeout,
    hardTimeout: m.hardTimeout,
    flags: m.flags,
    cookie: m.cookie,
    packetCount: 0n,
    byteCount: 0n,
    match: m.match,
    instructions: m.instructions,
  };
}

function cookieMatches(f: FlowStats, cookie: bigint, mask: bigint): boolean {
  return (f.cookie & mask) === (cookie & mask);
}

function usesMissingGroup(m: FlowModMessage, groups: Map<number, GroupDesc>): boolean {
  return m.instructions.some(
    (i) => (i.type === 'apply_actions' || i.type === 'write_actions') && i.actions.some((a) => a.type === 'group' && !groups.has(a.groupId)),
  );
}

function applyFlowMod(m: FlowModMessage, flows: Map<string, FlowStats>, groups: Map<number, GroupDesc>): void {
  const key = flowKey(m.tableId, m.priority, m.match);
  switch (m.command) {
    case 'add':
      if (m.tableId >= OFPTT_ALL) throw new Rejection('OFPFMFC_BAD_TABLE_ID');
      if (usesMissingGroup(m, groups)) throw new Rejection('OFPBAC_BAD_OUT_GROUP');
      flows.set(key, stats(m));
      return;
    case 'modify_strict': {
      const f = flows.get(key);
      if (f && cookieMatches(f, m.cookie, m.cookieMask)) flows.set(key, { ...f, instructions: m.instructions, idleTimeout: m.idleTimeout, hardTimeout: m.hardTimeout, flags: m.flags });
      return;
    }
    case 'delete_strict': {
      const f = flows.get(key);
      if (f && cookieMatches(f, m.cookie, m.cookieMask)) flows.delete(key);
      return;
    }
    case 'delete': {
      // Only what sync uses: empty match, any table or one table.
      for (const [k, f] of flows) {
        if ((m.tableId === OFPTT_ALL || f.tableId === m.tableId) && cookieMatches(f, m.cookie, m.cookieMask) && m.match.length === 0) flows.delete(k);
      }
      return;
    }
    default:
      throw new Rejection('OFPFMFC_BAD_COMMAND');
  }
}

function applyGroupMod(m: GroupModMessage, groups: Map<number, GroupDesc>): void {
  const exists = groups.has(m.groupId);
  if (m.command === 'add' && exists) throw new Rejection('OFPGMFC_GROUP_EXISTS');
  if (m.command === 'modify' && !exists) throw new Rejection('OFPGMFC_UNKNOWN_GROUP');
  if (m.command === 'delete') groups.delete(m.groupId);
  else groups.set(m.groupId, { groupId: m.groupId, groupType: m.groupType, buckets: m.buckets });
}

export interface FakeSwitchOptions {
  /**
   * Tell a demoted master at once (ONFT_ROLE_STATUS), as OVS does; default true. False is a
   * switch that does not, or a role status still on its way: the old master learns of its
   * demotion only when it asks or is refused.
   */
  roleStatus?: boolean;
}

export async function startFakeSwitch(opts: FakeSwitchOptions = {}): Promise<FakeSwitch> {
  let flows = new Map<string, FlowStats>();
  let groups = new Map<number, GroupDesc>();
  const committed: OfMessage[][] = [];
  const received: OfMessage[] = [];
  let fault: ((m: OfMessage) => string | undefined) | undefined;
  let generationId: bigint | undefined;
  type Role = 'equal' | 'master' | 'slave';
  type Session = { role: Role; send: (m: OfMessage) => void };
  /** Every open connection, with its controller role. */
  const sessions = new Map<Socket, Session>();
  const injected = (m: OfMessage): void => {
    const name = fault?.(m);
    if (name) throw new Rejection(name);
  };

  /** OVS's handle_role_request: a stale generation is refused, a new master demotes the old one. */
  const onRole = (m: RoleMessage, session: Session): void => {
    if (m.role !== 'nochange') {
      if (m.role !== 'equal') {
        if (generationId !== undefined && BigInt.asIntN(64, m.generationId - generationId) < 0n) {
          session.send(errorFromName('OFPRRFC_STALE', m.xid, encodeMessage(m)));
          return;
        }
        generationId = m.generationId;
      }
      if (m.role === 'master' && session.role !== 'master') {
        for (const other of sessions.values()) {
          if (other.role !== 'master') continue;
          other.role = 'slave';
          if (opts.roleStatus !== false) other.send({ type: 'role_status', xid: 0, role: 'slave', reason: 'master_request', generationId: generationId ?? 0n });
        }
      }
      session.role = m.role;
    }
    session.send({ type: 'role_reply', xid: m.xid, role: session.role, generationId: generationId ?? 0n });
  };

  const onMessage = (m: OfMessage, bundles: Map<number, OfMessage[]>, session: Session): void => {
    const send = session.send;
    if ((m.type === 'flow_mod' || m.type === 'group_mod' || m.type === 'bundle_control' || m.type === 'bundle_add') && session.role === 'slave') {
      send(errorFromName('OFPBRC_IS_SECONDARY', m.xid, encodeMessage(m)));
      return;
    }
    switch (m.type) {
      case 'role_request':
        received.push(m);
        onRole(m, session);
        return;
      case 'features_request':
        send({ type: 'features_reply', xid: m.xid, datapathId: 7n, nBuffers: 0, nTables: 254, auxiliaryId: 0, capabilities: 0 });
        return;
      case 'barrier_request':
        send({ type: 'barrier_reply', xid: m.xid });
        return;
      case 'bundle_control': {
        const reply = (controlType: 'open_reply' | 'commit_reply' | 'discard_reply'): void =>
          send({ type: 'bundle_control', xid: m.xid, bundleId: m.bundleId, controlType, flags: m.flags, properties: Buffer.alloc(0) });
        if (m.controlType === 'open_request') {
          bundles.set(m.bundleId, []);
          reply('open_reply');
        } else if (m.controlType === 'discard_request') {
          bundles.delete(m.bundleId);
          reply('discard_reply');
        } else if (m.controlType === 'commit_request') {
          const adds = bundles.get(m.bundleId) ?? [];
          bundles.delete(m.bundleId);
          // Work on copies: a failed commit leaves the tables exactly as they were.
          const f2 = new Map(flows);
          const g2 = new Map(groups);
          for (const a of adds) {
            if (a.type !== 'bundle_add') continue;
            try {
              injected(a.message);
              if (a.message.type === 'flow_mod') applyFlowMod(a.message, f2, g2);
              else if (a.message.type === 'group_mod') applyGroupMod(a.message, g2);
            } catch (e) {
              if (!(e instanceof Rejection)) throw e;
              send(errorFromName(e.errorName, a.xid, encodeMessage(a.message)));
              send(errorFromName('OFPBFC_MSG_FAILED', m.xid));
              return;
            }
          }
          flows = f2;
          groups = g2;
          committed.push(adds.map((a) => (a.type === 'bundle_add' ? a.message : a)));
          reply('commit_reply');
        }
        return;
      }
      case 'bundle_add':
        bundles.get(m.bundleId)?.push(m);
        return;
      case 'multipart_request': {
        received.push(m);
        const b = m.body;
        if (b.kind === 'flow') {
          const list = [...flows.values()].filter((f) => (b.tableId === OFPTT_ALL || f.tableId === b.tableId) && cookieMatches(f, b.cookie, b.cookieMask));
          // Several replies, as OVS splits large dumps.
          for (let i = 0; i === 0 || i < list.length; i += 100) {
            const more = i + 100 < list.length ? 1 : 0;
            send({ type: 'multipart_reply', xid: m.xid, flags: more, body: { kind: 'flow', flows: list.slice(i, i + 100) } });
          }
        } else if (b.kind === 'group_desc') {
          send({ type: 'multipart_reply', xid: m.xid, flags: 0, body: { kind: 'group_desc', groups: [...groups.values()] } });
        }
        return;
      }
      case 'flow_mod':
      case 'group_mod':
        received.push(m);
        try {
          injected(m);
          if (m.type === 'flow_mod') applyFlowMod(m, flows, groups);
          else applyGroupMod(m, groups);
        } catch (e) {
          if (e instanceof Rejection) send(errorFromName(e.errorName, m.xid, encodeMessage(m)));
        }
        return;
      default:
        received.push(m);
    }
  };

  const server: Server = createServer((s) => {
    const framer = new MessageFramer();
    const bundles = new Map<number, OfMessage[]>();
    const send = (m: OfMessage): void => {
      if (!s.destroyed) s.write(encodeMessage(m));
    };
    const session: Session = { role: 'equal', send };
    sessions.set(s, session);
    send({ type: 'hello', xid: 1, versions: [4] });
    s.on('data', (d) => {
      for (const f of framer.push(d)) {
        const m = decodeMessage(f);
        if (m.type === 'echo_request') send({ type: 'echo_reply', xid: m.xid, data: m.data });
        else if (m.type !== 'hello') onMessage(m, bundles, session);
      }
    });
    s.on('close', () => {
      sessions.delete(s);
    });
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));

  return {
    target: `tcp:127.0.0.1:${(server.address() as AddressInfo).port}`,
    get flows() {
      return flows;
    },
    get groups() {
      return groups;
    },
    get generationId() {
      return generationId;
    },
    forgetRoles() {
      for (const session of sessions.values()) session.role = 'equal';
    },
    committed,
    received,
    restart(opts = {}) {
      for (const s of sessions.keys()) s.destroy();
      if (opts.wipe) {
        flows = new Map();
        groups = new Map();
      }
    },
    failWhen(reject) {
      fault = reject;
    },
    install(f) {
      const full: FlowStats = { durationSec: 0, durationNsec: 0, idleTimeout: 0, hardTimeout: 0, flags: 0, cookie: 0n, packetCount: 0n, byteCount: 0n, ...f };
      flows.set(flowKey(f.tableId, f.priority, f.match), full);
    },
    close: async () => {
      for (const s of sessions.keys()) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
