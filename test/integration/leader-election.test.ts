/**
 * Controller leader election on a real etcd: of two candidates exactly one leads and runs
 * its work; stopping it resigns, so the other starts its work at once (not after the
 * lease TTL); each transition is one log line.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { EtcdLeaderElection } from '../../src/app/leader-election';
import { etcdAvailability, startEtcd, type EtcdInstance } from '../harness/etcd';
import { eventually } from '../support/vnetd';

const missing = etcdAvailability();
if (missing) process.stdout.write(`[leader-election] skipping: ${missing}\n`);
const describeEtcd = missing ? describe.skip : describe;

describeEtcd('controller leader election', () => {
  let etcd: EtcdInstance;
  beforeAll(async () => {
    etcd = await startEtcd();
  });
  afterAll(async () => {
    await etcd.stop();
  });

  it('one leader at a time; a stopping leader hands over at once; transitions are logged', async () => {
    const lines: Array<{ event?: string; identity?: string }> = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as { event?: string });
        done();
      },
    });
    const logger = pino({ level: 'info' }, sink);
    const running = new Set<string>();
    const candidate = (id: string) =>
      new EtcdLeaderElection({
        client: { hosts: [etcd.endpoint] },
        identity: id,
        logger,
        ttlSeconds: 2,
        onElected: async () => void running.add(id),
        onDeposed: async () => void running.delete(id),
      });
    const a = candidate('a');
    const b = candidate('b');
    a.start();
    await eventually(async () => a.isLeader, 10_000);
    b.start();
    await new Promise((r) => setTimeout(r, 500));
    expect([a.isLeader, b.isLeader]).toEqual([true, false]);
    expect([...running]).toEqual(['a']);

    const t0 = performance.now();
    await a.stop();
    await eventually(async () => b.isLeader && running.has('b'), 10_000, 10);
    const handoverMs = performance.now() - t0;
    process.stdout.write(`[leader-election] resign of the leader -> standby leading after ${handoverMs.toFixed(0)} ms\n`);
    expect(handoverMs).toBeLessThan(1500); // well under the 2 s lease: resign, not expiry
    expect([...running]).toEqual(['b']);
    await b.stop();
    expect(running.size).toBe(0);
    const events = lines.filter((l) => l.event?.startsWith('leader.')).map((l) => `${l.event} ${l.identity}`);
    expect(events).toEqual(['leader.elected a', 'leader.lost a', 'leader.elected b', 'leader.lost b']);
  }, 60_000);
});
