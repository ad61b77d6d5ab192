/**
 * Back-pressure in the AF_XDP forwarding loop (native/src/xsk.c): a frame whose output's TX
 * ring is full is held (no new RX is taken) instead of dropped, but only for a bounded
 * number of calls, so an output that never drains cannot stall every other destination
 * of the same input.
 *
 * Three veth pairs: "in" (its peer in a netns sends), "dead" and "live" (peers in the
 * netns count what arrives). `dead` is set down after its socket is open, which unbinds
 * the socket: its TX ring can never drain again. A flood toward dead's MAC fills that
 * ring and makes the input hold frames; pings toward live's MAC sent after the flood must
 * still arrive, and the frames given up on are counted as drops.
 * Needs root, iproute2, ping and native/build/udpgen; skips, saying why, without them.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { openFastPath } from '../../src/fastpath/fastpath';
import { mac } from '../../src/fastpath/reference';
import { openXskPort, NO_PORT, XdpMode, type XskPort } from '../../src/fastpath/xsk';
import { runPrefix } from '../harness/ovs';
import { addNetns, delNetns } from '../harness/netns-cleanup';

const UDPGEN = join(__dirname, '..', '..', 'native', 'build', 'udpgen');
const P = `${runPrefix()}bp`;
const NS = `${P}-ns`;
const [IN, DEAD, LIVE] = ['i', 'd', 'l'].map((x) => `${P}${x}0`);
const PEER = (ifc: string) => `${ifc.slice(0, -1)}1`;
const DEAD_MAC = '02:00:00:00:0d:01', LIVE_MAC = '02:00:00:00:0e:01';
const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });

function unavailable(): string | null {
  if (process.getuid?.() !== 0) return 'not root';
  for (const tool of ['ip', 'ping']) if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} not installed`;
  if (!existsSync(UDPGEN)) return 'native/build/udpgen not built (make -C native tools)';
  return null;
}

const why = unavailable();
if (why) console.warn(`skipping fast-path back-pressure test: ${why}`);
const maybe = why ? describe.skip : describe;

const rxPackets = (ifc: string): number =>
  (JSON.parse(execFileSync('ip', ['-n', NS, '-s', '-j', 'link', 'show', ifc], { encoding: 'utf8' })) as { stats64: { rx: { packets: number } } }[])[0]!.stats64.rx.packets;

maybe('fast path back-pressure on a full output', () => {
  beforeAll(() => {
    addNetns(NS);
    for (const ifc of [IN, DEAD, LIVE]) {
      // Created inside the netns and the near end moved out: deleting the netns removes both.
      ip('-n', NS, 'link', 'add', PEER(ifc), 'type', 'veth', 'peer', 'name', ifc);
      ip('-n', NS, 'link', 'set', ifc, 'netns', '1');
      ip('link', 'set', ifc, 'up');
      ip('-n', NS, 'link', 'set', PEER(ifc), 'up');
    }
    ip('-n', NS, 'addr', 'add', '10.98.0.1/24', 'dev', PEER(IN));
    ip('-n', NS, 'neigh', 'add', '10.98.0.13', 'lladdr', DEAD_MAC, 'dev', PEER(IN));
    ip('-n', NS, 'neigh', 'add', '10.98.0.14', 'lladdr', LIVE_MAC, 'dev', PEER(IN));
  });
  afterAll(() => {
    delNetns(NS);
  });

  it('holds frames for a full output, then gives up on one that never drains; other destinations keep flowing', async () => {
    const { fastPath: fp } = openFastPath();
    expect(fp).not.toBeNull();
    const b = fp!.builder().port(1, 7).port(2, 7).port(3, 7).localMac(7, mac(DEAD_MAC), 2).localMac(7, mac(LIVE_MAC), 3);
    fp!.commit(b);
    b.free();
    const c = fp!.classifier(0);
    const ports: XskPort[] = [];
    try {
      for (const ifc of [IN, DEAD, LIVE]) {
        const { status, port } = openXskPort(fp!, ifc, { mode: XdpMode.AllOurs, skbMode: true });
        if (!port) throw new Error(`AF_XDP did not start as root: ${JSON.stringify(status)}`);
        ports.push(port);
      }
      const [inPort, dead, live] = ports as [XskPort, XskPort, XskPort];
      const outs = [null, inPort, dead, live];
      ip('link', 'set', DEAD, 'down'); // unbinds dead's socket: its TX ring never drains again
      const pumpFor = (ms: number) => {
        const until = Date.now() + ms;
        while (Date.now() < until) inPort.pump(c, 1, outs, NO_PORT, NO_PORT, 256);
      };

      // Flood toward dead while pumping, so far more frames than its TX ring holds arrive.
      const flood = spawn('ip', ['netns', 'exec', NS, UDPGEN, '10.98.0.13', '9', '1'], { stdio: 'ignore' });
      const flooded = new Promise<void>((r) => flood.on('exit', () => r()));
      const until = Date.now() + 5000;
      while (inPort.stats().rx < 6000n && Date.now() < until) {
        pumpFor(20);
        await new Promise((r) => setImmediate(r));
      }
      await flooded;
      expect(inPort.stats().rx).toBeGreaterThan(4096n + 64n); // dead's TX ring (4096 chunks) is full: frames were held
      expect(dead.stats().txFull).toBeGreaterThan(0n);

      // Held frames for dead are given up on after a bounded number of calls, so the input
      // drains what the flood left in its RX ring (forever stuck without the bound)...
      let last = -1n;
      const drainBy = Date.now() + 20_000;
      while (inPort.stats().rx !== last && Date.now() < drainBy) {
        last = inPort.stats().rx;
        pumpFor(300);
      }
      // ...and then carries pings toward live.
      const before = rxPackets(PEER(LIVE));
      spawnSync('ip', ['netns', 'exec', NS, 'ping', '-c', '5', '-i', '0.05', '-W', '1', '10.98.0.14'], { timeout: 10_000 });
      const deadline = Date.now() + 10_000;
      while (rxPackets(PEER(LIVE)) - before < 5 && Date.now() < deadline) pumpFor(50);
      const st = inPort.stats();
      console.log(`back-pressure: in ${JSON.stringify(st, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v))}, dead txFull ${dead.stats().txFull}, live got ${rxPackets(PEER(LIVE)) - before}`);
      expect(rxPackets(PEER(LIVE)) - before).toBeGreaterThanOrEqual(5);
      expect(st.drops).toBeGreaterThan(0n); // what dead could never take was given up on, counted
      expect(live.stats().tx).toBeGreaterThanOrEqual(5n);
    } finally {
      for (const p of ports) p.close();
      c.free();
    }
  }, 90_000);
});
