import { OFPP } from '../openflow';
import { ACTIVATION_METER } from './meters';
import { RARP_PACKET_IN_BYTES, RARP_WATCH_PRIORITY, parseRarpAnnouncement, rarpWatchFlow } from './rarp';
import { TABLES } from './tables';

const MAC = '52:54:00:12:34:56';
const mac = (m: string) => Buffer.from(m.replace(/:/g, ''), 'hex');

/** What qemu's announce_self sends (net/announce.c announce_self_create), padded to 60 bytes. */
function announcement(opts: { src?: string; sha?: string; op?: number; vlan?: number } = {}): Buffer {
  const src = mac(opts.src ?? MAC);
  const sha = mac(opts.sha ?? opts.src ?? MAC);
  const tag = opts.vlan === undefined ? Buffer.alloc(0) : Buffer.from([0x81, 0x00, 0, opts.vlan]);
  const body = Buffer.concat([Buffer.from([0x80, 0x35, 0, 1, 8, 0, 6, 4, 0, opts.op ?? 3]), sha, Buffer.alloc(4), sha, Buffer.alloc(4)]);
  return Buffer.concat([Buffer.alloc(6, 0xff), src, tag, body, Buffer.alloc(18)]);
}

describe('parseRarpAnnouncement', () => {
  it("accepts qemu's announcement and gives the VM's MAC, lower-case", () => {
    expect(parseRarpAnnouncement(announcement())).toEqual({ ok: true, mac: MAC });
    expect(parseRarpAnnouncement(announcement({ src: 'AA:BB:CC:DD:EE:01' }))).toEqual({ ok: true, mac: 'aa:bb:cc:dd:ee:01' });
    // The packet-in's bytes (maxLen) cover it: 42 bytes is all it reads.
    expect(parseRarpAnnouncement(announcement().subarray(0, 42))).toMatchObject({ ok: true });
  });

  it('refuses a truncated frame, another opcode (a RARP reply, 4; an ARP request, 1), a sender hardware address that is not the source MAC, a tagged frame', () => {
    expect(parseRarpAnnouncement(announcement().subarray(0, 41))).toEqual({ ok: false, why: 'truncated (41 bytes, a RARP frame has 42)' });
    expect(parseRarpAnnouncement(announcement({ op: 4 }))).toEqual({ ok: false, why: 'opcode 4, not 3 (request reverse)' });
    expect(parseRarpAnnouncement(announcement({ op: 1 }))).toMatchObject({ ok: false });
    expect(parseRarpAnnouncement(announcement({ sha: '52:54:00:00:00:99' }))).toEqual({ ok: false, why: `sender hardware address 52:54:00:00:00:99 is not the source MAC ${MAC}` });
    // 802.1Q: refused (the watch flow matches untagged frames only; qemu sends them untagged).
    expect(parseRarpAnnouncement(announcement({ vlan: 5 }))).toEqual({ ok: false, why: 'EtherType 0x8100 is not RARP' });
    const ipv6Ptype = announcement();
    ipv6Ptype.writeUInt16BE(0x86dd, 16);
    expect(parseRarpAnnouncement(ipv6Ptype)).toEqual({ ok: false, why: 'not Ethernet/IPv4 RARP' });
  });
});

describe('rarpWatchFlow', () => {
  it("a standby NIC's one flow: from its in_port, untagged RARP from the port's MAC, metered to the controller, above a bound port's classification", () => {
    const f = rarpWatchFlow(7, MAC.toUpperCase());
    expect(f).toEqual({
      tableId: TABLES.Classifier.id,
      priority: RARP_WATCH_PRIORITY,
      match: [
        { field: 'in_port', value: 7 },
        { field: 'vlan_vid', value: 0 },
        { field: 'eth_src', value: MAC },
        { field: 'eth_type', value: 0x8035 },
      ],
      instructions: [
        { type: 'meter', meterId: ACTIVATION_METER.meterId },
        { type: 'apply_actions', actions: [{ type: 'output', port: OFPP.CONTROLLER, maxLen: RARP_PACKET_IN_BYTES }] },
      ],
    });
    expect(RARP_PACKET_IN_BYTES).toBeLessThanOrEqual(64);
  });
});
