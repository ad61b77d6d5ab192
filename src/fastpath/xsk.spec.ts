/**
 * AF_XDP end to end on a veth pair: a namespace sends ICMP toward a "VM" MAC, our XDP
 * program redirects the frames to an AF_XDP socket, libvnetfp classifies them (local
 * port 1 = the same veth) and transmits them back; the namespace's veth counts them.
 * Needs root, iproute2 and ping; skips, saying why, without them.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { openFastPath } from './fastpath';
import { mac } from './reference';
import { openXskPort, NO_PORT, XdpMode } from './xsk';

const id = `${process.pid % 100000}`;
const NS = `vfpt${id}`, A = `vfpa${id}`, B = `vfpb${id}`;
const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });

function unavailable(): string | null {
  if (process.getuid?.() !== 0) return 'not root';
  for (const tool of ['ip', 'ping']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} not installed`;
  }
  return null;
}

const why = unavailable();
if (why) console.warn(`skipping AF_XDP test: ${why}`);
const maybe = why ? describe.skip : describe;

function rxPackets(): number {
  const out = execFileSync('ip', ['-n', NS, '-s', '-j', 'link', 'show', B], { encoding: 'utf8' });
  return (JSON.parse(out) as { stats64: { rx: { packets: number } } }[])[0].stats64.rx.packets;
}

maybe('AF_XDP port on a veth', () => {
  beforeAll(() => {
    ip('link', 'add', A, 'type', 'veth', 'peer', 'name', B);
    ip('netns', 'add', NS);
    ip('link', 'set', B, 'netns', NS);
    ip('link', 'set', A, 'up');
    ip('-n', NS, 'link', 'set', B, 'address', '02:00:00:00:00:0b', 'up');
    ip('-n', NS, 'addr', 'add', '10.99.0.1/24', 'dev', B);
    ip('-n', NS, 'neigh', 'add', '10.99.0.2', 'lladdr', '02:00:00:00:00:01', 'dev', B);
  });
  afterAll(() => {
    spawnSync('ip', ['netns', 'del', NS]);
    spawnSync('ip', ['link', 'del', A]);
  });

  it('frames take the fast path: XDP -> AF_XDP -> classify -> TX back out', () => {
    const { fastPath: fp } = openFastPath();
    expect(fp).not.toBeNull();
    const b = fp!.builder().port(1, 7).localMac(7, mac('02:00:00:00:00:01'), 1);
    fp!.commit(b);
    b.free();
    const c = fp!.classifier(0);
    const { status, port } = openXskPort(fp!, A, { mode: XdpMode.AllOurs, skbMode: true });
    if (!port) throw new Error(`AF_XDP did not start as root: ${JSON.stringify(status)}`);
    try {
      const before = rxPackets();
      // No replies come (the frames are delivered back to the sender's MAC-less side): exit 1 is expected.
      spawnSync('ip', ['netns', 'exec', NS, 'ping', '-c', '5', '-i', '0.05', '-W', '1', '10.99.0.2'], { timeout: 10_000 });
      let rx = 0;
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline && port.stats().tx < 5n) {
        rx += port.pump(c, 1, [null, port], NO_PORT, NO_PORT, 256);
      }
      const st = port.stats(), ic = c.ifaceCounters(1);
      console.log(`AF_XDP: pumped ${rx}, stats ${JSON.stringify(st, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v))}`);
      expect(st.rx).toBeGreaterThanOrEqual(5n);
      expect(ic.fast).toBeGreaterThanOrEqual(5n);
      expect(st.tx).toBeGreaterThanOrEqual(5n);
      // The transmitted frames arrive in the namespace (a little later: poll).
      const until = Date.now() + 3000;
      while (rxPackets() - before < 5 && Date.now() < until) port.pump(c, 1, [null, port]);
      expect(rxPackets() - before).toBeGreaterThanOrEqual(5);
    } finally {
      port.close();
      c.free();
    }
  }, 30_000);
});
