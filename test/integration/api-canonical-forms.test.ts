/**
 * Values stored in their canonical form, not as written (QA-134 F6): the store keeps the
 * canonical form (everything compares it), and each write that sent another spelling hears
 * which, in a Warning header per field, every time it sends it so.
 */
import { replaceOnConflict, startTestVnetd, type ApiResponse, type TestVnetd } from '../support/vnetd';

const G = '/apis/vnet.dev/v1alpha1';
const SSA = { contentType: 'application/apply-patch+yaml' };
const MERGE = { contentType: 'application/merge-patch+json' };
const NS = 'canon';
let v: TestVnetd;

beforeAll(async () => {
  v = await startTestVnetd();
  expect((await v.call('POST', '/api/v1/namespaces', { metadata: { name: NS } })).status).toBe(201);
});
afterAll(async () => v.stop());

/** The warnings of a response, as kubectl prints them (unquoted; Node's client joins the header lines with ", "), in order of their text. */
const warnings = (res: ApiResponse): string[] =>
  [res.headers.warning ?? []]
    .flat()
    .flatMap((h) => [...h.matchAll(/299 - "((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!.replace(/\\(.)/g, '$1')))
    .sort();
const stored = (path: string, form: string) => `${path}: stored as ${form} (its canonical form; write it so in your manifest, or diffs against the live object never settle)`;

describe('a value stored in its canonical form is named in a warning (F6)', () => {
  it('a network: subnet CIDRs and gateways', async () => {
    const res = await v.call('POST', `${G}/namespaces/${NS}/virtualnetworks`, { metadata: { name: 'blue' }, spec: { subnets: [{ cidr: 'FD00:2:0::/64', gateway: 'FD00:2::0:1' }, { cidr: '10.140.0.0/24' }] } });
    expect(res.status).toBe(201);
    // What is stored does not change: the canonical form, which the whole controller compares.
    expect(res.json.spec.subnets).toEqual([{ cidr: 'fd00:2::/64', gateway: 'fd00:2::1' }, { cidr: '10.140.0.0/24', gateway: '10.140.0.1' }]);
    expect(warnings(res)).toEqual([stored('spec.subnets[0].cidr', 'fd00:2::/64'), stored('spec.subnets[0].gateway', 'fd00:2::1')].sort());
  });

  it('a port applied with an upper-case MAC and long IPv6 forms warns on each apply, and a canonical manifest does not', async () => {
    const path = `${G}/namespaces/${NS}/virtualports/v6c`;
    const manifest = (mac: string, ips: string[]) => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'VirtualPort', metadata: { name: 'v6c' }, spec: { network: 'blue', ips, mac } });
    const written = manifest('0A:58:AA:BB:CC:DD', ['FD00:2:0:0:0:0:0:99', '10.140.0.199', 'fd00:2::10.0.0.1']);
    const expected = [stored('spec.mac', '0a:58:aa:bb:cc:dd'), stored('spec.ips[0]', 'fd00:2::99'), stored('spec.ips[2]', 'fd00:2::a00:1')].sort();

    const created = await v.call('PATCH', `${path}?fieldManager=argo`, written, SSA);
    expect(created.status).toBe(201);
    expect(created.json.spec).toMatchObject({ mac: '0a:58:aa:bb:cc:dd', ips: ['fd00:2::99', '10.140.0.199', 'fd00:2::a00:1'] });
    expect(warnings(created)).toEqual(expected);

    // The same manifest again: nothing to change, and the same warnings (the drift a diff tool sees is still there).
    const again = await v.call('PATCH', `${path}?fieldManager=argo`, written, SSA);
    expect(again.status).toBe(200);
    expect(warnings(again)).toEqual(expected);
    // kubectl's client-side apply of a custom resource: a merge patch of what differs from the live object.
    const merged = await v.call('PATCH', path, { spec: { mac: '0A:58:AA:BB:CC:DD' } }, MERGE);
    expect(warnings(merged)).toEqual([stored('spec.mac', '0a:58:aa:bb:cc:dd')]);

    // Written as stored: no warning, from apply, patch or a PUT of what was read.
    const canonical = await v.call('PATCH', `${path}?fieldManager=argo`, manifest('0a:58:aa:bb:cc:dd', ['fd00:2::99', '10.140.0.199', 'fd00:2::a00:1']), SSA);
    expect(canonical.status).toBe(200);
    expect(warnings(canonical)).toEqual([]);
    const labelled = await v.call('PATCH', path, { metadata: { labels: { app: 'a' } } }, MERGE);
    expect(labelled.status).toBe(200);
    expect(warnings(labelled)).toEqual([]);
    const { response: put } = await replaceOnConflict(v, path, (cur) => cur);
    expect(put.status).toBe(200);
    expect(warnings(put)).toEqual([]);
  });

  it("a port's allowed address pair MAC, and a dry run's create", async () => {
    const path = `${G}/namespaces/${NS}/virtualports/v6c`;
    const res = await v.call('PATCH', path, { spec: { allowedAddressPairs: [{ ip: '10.140.0.50', mac: '0A:58:00:00:00:AA' }] } }, MERGE);
    expect(res.status).toBe(200);
    expect(res.json.spec.allowedAddressPairs).toEqual([{ ip: '10.140.0.50', mac: '0a:58:00:00:00:aa' }]);
    expect(warnings(res)).toEqual([stored('spec.allowedAddressPairs[0].mac', '0a:58:00:00:00:aa')]);
    // A pair's address and prefix too (QA-156 F6: stored as typed, alone of all the addresses).
    const v6 = await v.call('PATCH', path, { spec: { allowedAddressPairs: [{ ip: 'FD56:3::ABCD' }, { ip: 'fd56:3:0:0:0:0:0:ab00/120' }] } }, MERGE);
    expect(v6.status).toBe(200);
    expect(v6.json.spec.allowedAddressPairs).toEqual([{ ip: 'fd56:3::abcd' }, { ip: 'fd56:3::ab00/120' }]);
    expect(warnings(v6)).toEqual([stored('spec.allowedAddressPairs[0].ip', 'fd56:3::abcd'), stored('spec.allowedAddressPairs[1].ip', 'fd56:3::ab00/120')]);

    const dry = await v.call('POST', `${G}/namespaces/${NS}/virtualports?dryRun=All`, { metadata: { name: 'dry' }, spec: { network: 'blue', mac: '0A:58:00:00:00:CC' } });
    expect(dry.status).toBe(201);
    expect(warnings(dry)).toEqual([stored('spec.mac', '0a:58:00:00:00:cc')]);
  });

  it("a load balancer's VIP, MAC and backend addresses, on create and on an update that sends the VIP again", async () => {
    const path = `${G}/namespaces/${NS}/loadbalancers/web6`;
    const res = await v.call('POST', `${G}/namespaces/${NS}/loadbalancers`, { metadata: { name: 'web6' }, spec: { network: 'blue', vip: 'FD00:2::0:10', mac: '0A:58:00:00:00:BB', listeners: [{ port: 80 }], backends: [{ ip: 'FD00:2:0:0:0:0:0:99' }] } });
    expect(res.status).toBe(201);
    expect(res.json.spec).toMatchObject({ vip: 'fd00:2::10', mac: '0a:58:00:00:00:bb', backends: [{ ip: 'fd00:2::99', weight: 1 }] });
    expect(warnings(res)).toEqual([stored('spec.vip', 'fd00:2::10'), stored('spec.mac', '0a:58:00:00:00:bb'), stored('spec.backends[0].ip', 'fd00:2::99')].sort());

    const { response: update } = await replaceOnConflict<typeof res.json>(v, path, (cur) => ({ ...cur, spec: { ...cur.spec, vip: 'FD00:2:0::10' } }));
    expect(update.status).toBe(200);
    expect(update.json.spec.vip).toBe('fd00:2::10');
    expect(warnings(update)).toEqual([stored('spec.vip', 'fd00:2::10')]);
  });

  it("a Node's tunnel address: IPv4 has one spelling (an IPv6 one, which had others, is refused since QA-156 F1)", async () => {
    const res = await v.call('POST', `${G}/nodes`, { metadata: { name: 'hv-canon' }, spec: { tunnelIP: '192.0.2.7' } });
    expect(res.status).toBe(201);
    expect(res.json.spec.tunnelIP).toBe('192.0.2.7');
    expect(warnings(res)).toEqual([]);
    expect((await v.call('POST', `${G}/nodes`, { metadata: { name: 'hv-canon6' }, spec: { tunnelIP: '2001:DB8:0::7' } })).status).toBe(422);
  });
});
