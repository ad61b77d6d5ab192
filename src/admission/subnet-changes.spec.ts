/**
 * The interleavings a review of the first subnet-change guard found stranding an address,
 * replayed on a real SQLite store with the real admissions (no HTTP, so the order is exact).
 */
import { fsync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ObjectCache } from '../api/object-cache';
import { AllocationRegistry } from '../ipam/allocation-registry';
import type { VirtualNetwork, VirtualPort } from '../resources/kinds';
import { ApiError } from '../resources/status';
import { NETWORKS, PORTS } from '../store/kinds';
import { ObjectStore } from '../store/object-store';
import { SqliteStore } from '../store/sqlite-store';
import { AdmissionError, type AdmissionContext } from './admission';
import { subnetIdentity } from './subnet-changes';
import { VirtualNetworkAdmission } from './virtual-network.admission';
import { VirtualPortAdmission } from './virtual-port.admission';

// A uid of its own per test: admission keeps allocators per network uid and generation.
let uids = 0;
const network = (subnets: string[]): VirtualNetwork => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualNetwork', metadata: { name: 'n', namespace: 't', uid: `net-uid-${++uids}` }, spec: { subnets: subnets.map((cidr) => ({ cidr })) } }) as VirtualNetwork;
const port = (name: string, ips: string[]): VirtualPort => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name, namespace: 't', uid: `uid-${name}` }, spec: { network: 'n', ips } }) as VirtualPort;

describe('a subnet change and address claims in parallel', () => {
  let dir: string;
  let kv: SqliteStore;
  let objects: ObjectStore;
  let ctx: AdmissionContext;
  const nets = new VirtualNetworkAdmission();
  const ports = new VirtualPortAdmission();

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vnetd-subnets-'));
    const path = join(dir, 's.db');
    await SqliteStore.open(path).close();
    // A slow disk: a commit is readable at once, its watchers (the cache) hear of it after the fsync.
    kv = SqliteStore.open(path, { fsync: (fd, cb) => setTimeout(() => fsync(fd, cb), 30) });
    objects = new ObjectStore(kv);
    ctx = { objects, allocations: new AllocationRegistry(kv) };
  });
  afterEach(async () => {
    await kv.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const createNetwork = async (subnets: string[]) => {
    const a = await nets.create(network(subnets), ctx);
    await objects.create(NETWORKS, a.object, a.ops);
    return (await objects.get<VirtualNetwork>(NETWORKS, 't', 'n'))!;
  };
  const claim = async (name: string, ips: string[], c = ctx) => {
    const a = await ports.create(port(name, ips), c);
    return objects.create(PORTS, a.object, a.ops);
  };
  const refusal = (err: unknown) => (err instanceof AdmissionError ? err.causes[0]!.message : err instanceof ApiError ? `${err.code} ${err.message}` : String(err));

  it('a claim whose network comes from a cache lagging the update is checked against the update', async () => {
    const cache = new ObjectCache<VirtualNetwork>(objects, NETWORKS, (o, n) => o.metadata.generation !== n.metadata.generation);
    cache.start();
    try {
      const cur = await createNetwork(['10.0.0.0/24', '10.1.0.0/24']);
      await cache.get('t', 'n');
      const u = await nets.update(cur, { ...cur, spec: { subnets: [{ cidr: '10.0.0.0/24' }] } }, ctx);
      const committed = objects.update(NETWORKS, u.object, { extraOps: u.ops });
      // Committed (readable), not yet on disk: the cache still has both subnets.
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      expect((await cache.get('t', 'n'))!.spec!.subnets).toHaveLength(2);
      const err = await claim('p', ['10.1.0.5'], { ...ctx, networks: cache }).catch((e: unknown) => e);
      await committed;
      expect(refusal(err)).toContain('10.1.0.5 is outside the network');
      expect([...(await ctx.allocations.ips('t', 'n')).keys()]).toEqual([]);
    } finally {
      cache.stop();
    }
  });

  it('one subnet change at a time: a second one meanwhile is a 409, and a claim in the subnet being removed is refused', async () => {
    const cur = await createNetwork(['10.0.0.0/24', '10.1.0.0/24', '10.2.0.0/24']);
    await claim('p', ['10.2.0.9']);
    const seen: string[] = [];
    // U2 removes 10.1.0.0/24; while it reads the allocations, U1 (removing 10.2.0.0/24) and a claim in 10.1.0.0/24 run.
    const during: AdmissionContext = {
      ...ctx,
      allocations: Object.assign(Object.create(ctx.allocations) as AllocationRegistry, {
        ips: async (ns: string, n: string) => {
          const before = await ctx.allocations.ips(ns, n);
          seen.push(refusal(await nets.update(cur, { ...cur, spec: { subnets: [{ cidr: '10.0.0.0/24' }, { cidr: '10.1.0.0/24' }] } }, ctx).catch((e: unknown) => e)));
          seen.push(refusal(await claim('c', ['10.1.0.7']).catch((e: unknown) => e)));
          return before;
        },
      }),
    };
    const u2 = await nets.update(cur, { ...cur, spec: { subnets: [{ cidr: '10.0.0.0/24' }, { cidr: '10.2.0.0/24' }] } }, during);
    await objects.update(NETWORKS, u2.object, { extraOps: u2.ops });
    expect(seen[0]).toMatch(/^409 .*another update of its subnets \(10\.1\.0\.0\/24\) is in progress/);
    expect(seen[1]).toContain('subnet 10.1.0.0/24 of VirtualNetwork "n" is being changed or removed');
    expect([...(await ctx.allocations.ips('t', 'n')).keys()]).toEqual(['10.2.0.9']);
    // The update ended its announcement: claims go on in what is left.
    expect((await claim('d', ['10.0.0.4'])).spec!.ips).toEqual(['10.0.0.4']);
  });

  it('a port whose every address family is being changed is refused, not created without an address', async () => {
    const cur = await createNetwork(['10.0.0.0/24']);
    const outcomes: unknown[] = [];
    const during: AdmissionContext = {
      ...ctx,
      allocations: Object.assign(Object.create(ctx.allocations) as AllocationRegistry, {
        ips: async (ns: string, n: string) => {
          outcomes.push(await ports.create({ ...port('e', []), spec: { network: 'n' } } as VirtualPort, ctx).then((a) => a.object.spec, (e: unknown) => refusal(e)));
          return ctx.allocations.ips(ns, n);
        },
      }),
    };
    const u = await nets.update(cur, { ...cur, spec: { subnets: [{ cidr: '10.0.0.0/24', excludeRanges: [{ start: '10.0.0.200', end: '10.0.0.250' }] }] } }, during);
    await objects.update(NETWORKS, u.object, { extraOps: u.ops });
    expect(outcomes).toEqual(['every IPv4 subnet of VirtualNetwork "n" is being changed or removed; try again in a moment']);
  });

  it('a subnet is the same whatever the order of its keys or its excluded ranges', () => {
    expect(subnetIdentity({ cidr: '10.0.0.0/24', gateway: '10.0.0.1', excludeRanges: ['10.0.0.9', '10.0.0.5'] })).toBe(subnetIdentity({ excludeRanges: ['10.0.0.5', '10.0.0.9'], gateway: '10.0.0.1', cidr: '10.0.0.0/24' }));
    expect(subnetIdentity({ cidr: '10.0.0.0/24', gateway: '10.0.0.1' })).not.toBe(subnetIdentity({ cidr: '10.0.0.0/24', gateway: '10.0.0.254' }));
  });
});
