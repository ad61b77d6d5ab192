/**
 * The real kubectl 1.32 (installed on these machines) against vnetd with the admin
 * kubeconfig vnetd writes: discovery, OpenAPI, apply, get, watch, wait, explain, delete.
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { renderKubeconfig } from '../../src/app/kubeconfig';
import { startTestVnetd, type TestVnetd } from '../support/vnetd';

const run = promisify(execFile);
const kubectlPresent = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;
if (!kubectlPresent) process.stdout.write('SKIP kubectl e2e: kubectl is not installed on this machine\n');
const describeIf = kubectlPresent ? describe : describe.skip;

let v: TestVnetd;
let dir: string;

async function kubectl(args: string[], kubeconfig?: string): Promise<{ code: number; out: string; err: string }> {
  try {
    const { stdout, stderr } = await run('kubectl', ['--kubeconfig', kubeconfig ?? v.kubeconfigPath, '--cache-dir', join(dir, 'cache'), ...args], {
      env: { ...process.env, HOME: dir },
      timeout: 60_000,
    });
    return { code: 0, out: stdout, err: stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : 1, out: err.stdout ?? '', err: err.stderr ?? '' };
  }
}

function manifest(name: string, body: string): string {
  const p = join(dir, name);
  writeFileSync(p, body);
  return p;
}

describeIf('kubectl against vnetd', () => {
  beforeAll(async () => {
    v = await startTestVnetd({ bookmarkIntervalMs: 500 });
    dir = mkdtempSync(join(tmpdir(), 'vnetd-kubectl-'));
  });
  afterAll(async () => {
    await v?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('creates a namespace (protobuf body) and lists namespaces', async () => {
    const r = await kubectl(['create', 'namespace', 'demo']);
    expect(r.err).toBe('');
    expect(r.out.trim()).toBe('namespace/demo created');
    const g = await kubectl(['get', 'ns']);
    expect(g.out).toMatch(/^NAME\s+STATUS\s+AGE\n/);
    expect(g.out).toMatch(/\ndemo\s+Active\s+\d+s\n/);
  });

  it('applies, labels and patches a namespace (kubectl sends strategic merge patches for built-in kinds)', async () => {
    const file = manifest('ns.yaml', `apiVersion: v1
kind: Namespace
metadata:
  name: nsapply
  labels:
    team: a
`);
    expect((await kubectl(['apply', '-f', file])).out.trim()).toBe('namespace/nsapply created');
    writeFileSync(file, readFileSync(file, 'utf8').replace('team: a', 'team: b'));
    const changed = await kubectl(['apply', '-f', file]);
    expect([changed.err, changed.out.trim()]).toEqual(['', 'namespace/nsapply configured']);
    expect((await kubectl(['label', 'ns', 'nsapply', 'tier=web'])).out.trim()).toBe('namespace/nsapply labeled');
    expect((await kubectl(['patch', 'ns', 'nsapply', '-p', '{"metadata":{"annotations":{"owner":"qa"}}}'])).out.trim()).toBe('namespace/nsapply patched');
    expect((await kubectl(['get', 'ns', 'nsapply', '-o', 'jsonpath={.metadata.labels.team} {.metadata.labels.tier} {.metadata.annotations.owner}'])).out).toBe('b web qa');
    expect((await kubectl(['delete', 'ns', 'nsapply'])).err).toBe('');
  });

  it('applies a manifest, then applies a change to it', async () => {
    const file = manifest('net.yaml', `apiVersion: vnet.dev/v1alpha1
kind: VirtualNetwork
metadata:
  name: net1
  namespace: demo
spec:
  subnets:
  - cidr: 10.0.0.0/24
  encapsulation: geneve
---
apiVersion: vnet.dev/v1alpha1
kind: VirtualPort
metadata:
  name: vm1
  namespace: demo
spec:
  network: net1
  node: hv1
`);
    const created = await kubectl(['apply', '-f', file]);
    // kubectl prints the server's warning: no Node hv1 here (the port would bind once there is).
    expect(created.err).toBe('Warning: spec.node: Node "hv1" does not exist (yet); the port binds only once it does\n');
    expect(created.out).toContain('virtualnetwork.vnet.dev/net1 created');
    expect(created.out).toContain('virtualport.vnet.dev/vm1 created');
    writeFileSync(file, require('node:fs').readFileSync(file, 'utf8').replace('encapsulation: geneve', 'encapsulation: geneve\n  mtu: 1400'));
    const changed = await kubectl(['apply', '-f', file]);
    expect(changed.out).toContain('virtualnetwork.vnet.dev/net1 configured');
    expect(changed.out).toContain('virtualport.vnet.dev/vm1 unchanged');
    const yaml = await kubectl(['get', 'vnets', '-n', 'demo', '-o', 'yaml']);
    expect(yaml.out).toContain('kind: List');
    expect(yaml.out).toContain('mtu: 1400');
    expect(yaml.out).toMatch(/vni: \d+/);
  });

  it('uses short names and server-side tables', async () => {
    const g = await kubectl(['get', 'vport', '-n', 'demo']);
    expect(g.out).toMatch(/^NAME\s+NETWORK\s+MAC\s+IPS\s+NODE\s+READY\s+AGE\n/);
    expect(g.out).toMatch(/\nvm1\s+net1\s+0a:58(:[0-9a-f]{2}){4}\s+10\.0\.0\.2\s+hv1\s+(True|False)\s+\d+s\n/);
    // -o wide adds the columns the schema marks priority 1 (Kubernetes' convention), the Ready reason among them.
    const wide = await kubectl(['get', 'vport', '-n', 'demo', '-o', 'wide']);
    expect(wide.out).toMatch(/^NAME\s+NETWORK\s+MAC\s+IPS\s+NODE\s+READY\s+BOUND-TO\s+OFPORT\s+INTERFACE-ID\s+REASON\s+AGE\n/);
    expect(wide.out).toMatch(/\nvm1\s+net1\s+\S+\s+10\.0\.0\.2\s+hv1\s+(True|False)\s+.*\s+[A-Z][A-Za-z]+\s+\d+s\n/);
    expect((await kubectl(['get', 'vnet', '-n', 'demo', '-o', 'wide'])).out).toMatch(/^NAME\s+VNI\s+ENCAP\s+SUBNETS\s+READY\s+MTU\s+REASON\s+AGE\n/);
    const one = await kubectl(['get', 'vnet', 'net1', '-n', 'demo', '-o', 'jsonpath={.spec.encapsulation}']);
    expect(one.out).toBe('geneve');
    expect((await kubectl(['get', 'vlb', '-A'])).err).toContain('No resources found');
    // Listeners as a Service's PORT(S), with their protocols (QA-96: DNS over UDP and TCP read 53,53).
    expect((await v.call('POST', '/apis/vnet.dev/v1alpha1/namespaces/demo/loadbalancers', { metadata: { name: 'dns' }, spec: { network: 'net1', listeners: [{ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }] } })).status).toBe(201);
    expect((await kubectl(['get', 'vlb', '-n', 'demo'])).out).toMatch(/^NAME\s+NETWORK\s+VIP\s+PORTS\s+BACKENDS\s+READY\s+AGE\ndns\s+net1\s+10\.0\.0\.\d+\s+53\/UDP,53\/TCP\s/);
    expect((await v.call('DELETE', '/apis/vnet.dev/v1alpha1/namespaces/demo/loadbalancers/dns')).status).toBe(200);
  });

  it('server-side apply creates then updates; patch and label work', async () => {
    const file = manifest('ssa.yaml', `apiVersion: vnet.dev/v1alpha1
kind: VirtualNetwork
metadata:
  name: ssa
  namespace: demo
spec:
  subnets:
  - cidr: 10.7.0.0/24
`);
    const created = await kubectl(['apply', '--server-side', '-f', file]);
    expect(created.err).toBe('');
    expect(created.out.trim()).toBe('virtualnetwork.vnet.dev/ssa serverside-applied');
    writeFileSync(file, require('node:fs').readFileSync(file, 'utf8') + '  mtu: 1300\n');
    expect((await kubectl(['apply', '--server-side', '-f', file])).out.trim()).toBe('virtualnetwork.vnet.dev/ssa serverside-applied');
    expect((await kubectl(['get', 'vnet', 'ssa', '-n', 'demo', '-o', 'jsonpath={.spec.mtu}'])).out).toBe('1300');
    const p = await kubectl(['patch', 'vnet', 'ssa', '-n', 'demo', '--type=merge', '-p', '{"spec":{"mtu":1280}}']);
    expect(p.out.trim()).toBe('virtualnetwork.vnet.dev/ssa patched');
    expect((await kubectl(['label', 'vnet', 'ssa', '-n', 'demo', 'tier=web'])).out.trim()).toBe('virtualnetwork.vnet.dev/ssa labeled');
    expect((await kubectl(['get', 'vnet', '-n', 'demo', '-l', 'tier=web', '-o', 'name'])).out.trim()).toBe('virtualnetwork.vnet.dev/ssa');
    expect((await kubectl(['delete', '-f', file])).out.trim()).toBe('virtualnetwork.vnet.dev "ssa" deleted');
  });

  it('server-side apply tracks field managers: conflicts, --force-conflicts, and removal of what a manager stops applying', async () => {
    const doc = (labels: string, mtu: number) => `apiVersion: vnet.dev/v1alpha1
kind: VirtualNetwork
metadata:
  name: owned
  namespace: demo
  labels: {${labels}}
spec:
  subnets:
  - cidr: 10.8.0.0/24
  mtu: ${mtu}
`;
    const mine = manifest('owned.yaml', doc('a: "1", b: "2"', 1400));
    expect((await kubectl(['apply', '--server-side', '-f', mine])).err).toBe('');
    const theirs = manifest('owned-other.yaml', `apiVersion: vnet.dev/v1alpha1
kind: VirtualNetwork
metadata:
  name: owned
  namespace: demo
spec:
  mtu: 1300
`);
    const clash = await kubectl(['apply', '--server-side', '--field-manager=other', '-f', theirs]);
    expect(clash.code).not.toBe(0);
    expect(clash.err).toContain('conflict with "kubectl"');
    expect(clash.err).toContain('.spec.mtu');
    expect((await kubectl(['get', 'vnet', 'owned', '-n', 'demo', '-o', 'jsonpath={.spec.mtu}'])).out).toBe('1400');
    expect((await kubectl(['apply', '--server-side', '--field-manager=other', '--force-conflicts', '-f', theirs])).err).toBe('');
    // The first manager drops label b and mtu (now other's): b goes, mtu stays other's 1300.
    writeFileSync(mine, doc('a: "1"', 1300).replace('  mtu: 1300\n', ''));
    expect((await kubectl(['apply', '--server-side', '-f', mine])).err).toBe('');
    const got = JSON.parse((await kubectl(['get', 'vnet', 'owned', '-n', 'demo', '-o', 'json', '--show-managed-fields'])).out) as { metadata: { labels: Record<string, string>; managedFields: Array<{ manager: string; operation: string }> }; spec: { mtu: number } };
    expect(got.metadata.labels).toEqual({ a: '1' });
    expect(got.spec.mtu).toBe(1300);
    expect(got.metadata.managedFields.map((m) => `${m.manager}/${m.operation}`).sort()).toEqual(['kubectl/Apply', 'other/Apply']);
    expect((await kubectl(['delete', '-f', mine])).code).toBe(0);
  });

  it('waits for a condition', async () => {
    const w = await kubectl(['wait', '--for=condition=Ready', 'vnet/net1', '-n', 'demo', '--timeout=30s']);
    expect(w.out.trim()).toBe('virtualnetwork.vnet.dev/net1 condition met');
  });

  it('lists the events vnetd records (a load balancer\'s missing backend, then its recovery) and describe shows them; events are not writable', async () => {
    const lb = manifest('evlb.yaml', `apiVersion: vnet.dev/v1alpha1
kind: LoadBalancer
metadata: {name: evlb, namespace: demo}
spec:
  network: net1
  listeners: [{port: 80, protocol: TCP}]
  backends: [{port: evvm}]
`);
    expect((await kubectl(['apply', '-f', lb])).code).toBe(0);
    const until = async (args: string[], re: RegExp): Promise<string> => {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const r = await kubectl(args);
        if (re.test(r.out)) return r.out;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${re} in kubectl ${args.join(' ')}:\n${r.out}${r.err}`);
        await new Promise((res) => setTimeout(res, 200));
      }
    };
    const warnings = await until(['get', 'events', '-n', 'demo', '--field-selector', 'type=Warning,involvedObject.name=evlb'], /BackendNotFound/);
    expect(warnings).toMatch(/^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE\n/);
    expect(warnings).toMatch(/\d+s\s+Warning\s+BackendNotFound\s+loadbalancer\/evlb\s+ResolvedRefs: no address in network "net1" to balance to for VirtualPort "evvm"/);
    const described = await kubectl(['describe', 'vlb', 'evlb', '-n', 'demo']);
    expect(described.out).toMatch(/Events:\n\s+Type\s+Reason\s+Age\s+From\s+Message\n/);
    expect(described.out).toMatch(/Warning\s+BackendNotFound\s+\d+s\s+vnetd\s+ResolvedRefs: /);
    // The backend appears: the recovery is recorded as a Normal event.
    await v.call('POST', '/apis/vnet.dev/v1alpha1/namespaces/demo/virtualports', { metadata: { name: 'evvm' }, spec: { network: 'net1' } });
    await until(['get', 'events', '-n', 'demo', '--field-selector', 'type=Normal,involvedObject.name=evlb', '-o', 'wide'], /Normal\s+ResolvedRefs\s+loadbalancer\/evlb\s+vnetd\s+ResolvedRefs: every backend resolves/);
    // A healthy network records nothing: the steps on its way to Ready are not news.
    const quiet = await kubectl(['get', 'events', '-n', 'demo', '--field-selector', 'involvedObject.name=net1']);
    expect(quiet.err.trim()).toBe('No resources found in demo namespace.');
    const del = await kubectl(['delete', 'events', '--all', '-n', 'demo']);
    expect(del.code).not.toBe(0);
    expect(del.err).toContain('events are recorded by vnetd itself');
    expect((await kubectl(['get', 'ev', '-n', 'demo', '-o', 'name'])).out).toMatch(/^event\/evlb\.[0-9a-f]+$/m);
    const explained = await kubectl(['explain', 'events.involvedObject']);
    expect(explained.out).toContain('KIND:       Event');
    expect(explained.out).toContain('uid\t<string>');
  });

  it('explains a field from the OpenAPI document', async () => {
    const e = await kubectl(['explain', 'virtualnetwork.spec']);
    expect(e.out).toContain('GROUP:      vnet.dev');
    expect(e.out).toContain('subnets');
    expect(e.out).toContain('encapsulation');
    // metadata and --recursive walk the ObjectMeta schema too (a type list in it broke kubectl's template).
    const meta = await kubectl(['explain', 'virtualnetwork.metadata.creationTimestamp']);
    expect(meta.out).toContain('FIELD: creationTimestamp <string>');
    const all = await kubectl(['explain', 'loadbalancer', '--recursive']);
    expect(all.out).toContain('deletionTimestamp');
    expect(all.out).toContain('sessionAffinity');
    // A nested field added to the hand-edited schema reaches kubectl with its description.
    const udp = await kubectl(['explain', 'loadbalancer.spec.healthCheck.udp']);
    expect(udp.out).toMatch(/expectReply\s+<boolean>/);
    expect(udp.out).toMatch(/payload\s+<string>/);
    expect(udp.out).toContain('UDP checks only');
  });

  it('explains from the OpenAPI v2 document too, every kind (QA-134 F9)', async () => {
    // kubectl reads v2 as gnostic protobuf: the document had no definitions ("couldn't find resource").
    const e = await kubectl(['explain', 'vnet.spec.subnets', '--output=plaintext-openapiv2']);
    expect(e.err).toBe('');
    expect(e.out).toContain('VERSION:  vnet.dev/v1alpha1');
    expect(e.out).toMatch(/cidr\t<string> -required-/);
    for (const kind of ['vnet', 'vport', 'vlb', 'vnode', 'vtoken', 'noderealizations', 'nodeleases', 'ns', 'events', 'quota']) {
      const r = await kubectl(['explain', kind, '--recursive', '--output=plaintext-openapiv2']);
      expect([kind, r.code, r.err]).toEqual([kind, 0, '']);
      expect(r.out).toContain('creationTimestamp');
    }
  });

  it('discovers the review groups (QA-134 F9)', async () => {
    const versions = await kubectl(['api-versions']);
    expect(versions.out.trim().split('\n')).toEqual(['authentication.k8s.io/v1', 'authorization.k8s.io/v1', 'v1', 'vnet.dev/v1alpha1']);
    const authz = await kubectl(['api-resources', '--api-group=authorization.k8s.io', '--no-headers']);
    expect(authz.out.trim().split('\n').map((l) => l.split(/\s+/).join(' '))).toEqual([
      'selfsubjectaccessreviews authorization.k8s.io/v1 false SelfSubjectAccessReview',
      'selfsubjectrulesreviews authorization.k8s.io/v1 false SelfSubjectRulesReview',
    ]);
    expect((await kubectl(['api-resources', '--api-group=authentication.k8s.io', '--no-headers'])).out).toMatch(/^selfsubjectreviews\s+authentication\.k8s\.io\/v1\s+false\s+SelfSubjectReview\n$/);
  });

  it('watches changes with get -w', async () => {
    const child = spawn('kubectl', ['--kubeconfig', v.kubeconfigPath, '--cache-dir', join(dir, 'cache'), 'get', 'vnets', '-n', 'demo', '-w', '--output-watch-events'], { env: { ...process.env, HOME: dir } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      const until = async (re: RegExp) => {
        const deadline = Date.now() + 20_000;
        while (!re.test(out)) {
          if (Date.now() > deadline) throw new Error(`timed out waiting for ${re} in:\n${out}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      };
      await until(/ADDED\s+net1/);
      await v.call('POST', '/apis/vnet.dev/v1alpha1/namespaces/demo/virtualnetworks', { metadata: { name: 'net2' }, spec: { subnets: [{ cidr: '10.1.0.0/24' }] } });
      await until(/ADDED\s+net2/);
      await v.call('PATCH', '/apis/vnet.dev/v1alpha1/namespaces/demo/virtualnetworks/net2', { metadata: { labels: { a: 'b' } } }, { contentType: 'application/merge-patch+json' });
      await until(/MODIFIED\s+net2/);
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('prints API errors with their causes', async () => {
    const bad = manifest('bad.yaml', `apiVersion: vnet.dev/v1alpha1
kind: VirtualNetwork
metadata:
  name: bad
  namespace: demo
spec:
  subnets:
  - cidr: 10.0.0.0/33
`);
    const r = await kubectl(['apply', '-f', bad]);
    expect(r.code).not.toBe(0);
    expect(r.err).toContain('The VirtualNetwork "bad" is invalid: spec.subnets[0].cidr: Invalid value: "10.0.0.0/33": prefix length must be an integer from 0 to 32');
    expect(r.err).toContain('spec.subnets[0].cidr');
    const unknown = manifest('unknown.yaml', `apiVersion: vnet.dev/v1alpha1
kind: VirtualNetwork
metadata:
  name: unk
  namespace: demo
spec:
  subnets:
  - cidr: 10.3.0.0/24
  colour: red
`);
    const s = await kubectl(['apply', '-f', unknown]);
    expect(s.code).not.toBe(0);
    expect(s.err).toContain('unknown field "spec.colour"');
    // A typo in kind or apiVersion: what kube-apiserver's kubectl says, not "failed to download openapi" (QA).
    for (const [apiVersion, kind] of [['vnet.dev/v1alpha1', 'VirtualNetwrok'], ['vnet.dev/v1beta1', 'VirtualNetwork']]) {
      const typo = manifest('typo.yaml', `apiVersion: ${apiVersion}\nkind: ${kind}\nmetadata:\n  name: typo\n  namespace: demo\nspec:\n  subnets:\n  - cidr: 10.4.0.0/24\n`);
      const t = await kubectl(['apply', '-f', typo]);
      expect(t.code).not.toBe(0);
      expect(t.err).toContain(`no matches for kind "${kind}" in version "${apiVersion}"`);
      expect(t.err).not.toContain('openapi');
    }
  });

  it('keeps tenants to their namespaces', async () => {
    await kubectl(['create', 'namespace', 'other']);
    const token = await v.tenantToken('alice', ['demo']);
    const cfg = join(dir, 'alice.kubeconfig');
    writeFileSync(cfg, renderKubeconfig(v.url, v.caCertPem, token, 'alice'));
    expect((await kubectl(['get', 'vnets', '-n', 'demo'], cfg)).out).toContain('net1');
    const denied = await kubectl(['get', 'vnets', '-n', 'other'], cfg);
    expect(denied.code).not.toBe(0);
    expect(denied.err).toContain('forbidden');
    const all = await kubectl(['get', 'vnets', '-A', '-o', 'name'], cfg);
    expect(all.out.trim().split('\n').sort()).toEqual(['virtualnetwork.vnet.dev/net1', 'virtualnetwork.vnet.dev/net2']);
    const anon = join(dir, 'anon.kubeconfig');
    writeFileSync(anon, renderKubeconfig(v.url, v.caCertPem, 'admin.wrong', 'anon'));
    const r = await kubectl(['get', 'vnets', '-n', 'demo'], anon);
    expect(r.err).toContain('You must be logged in to the server');
  });

  it('answers kubectl auth can-i (with --list) and auth whoami with the API\'s own decisions', async () => {
    const token = await v.tenantToken('bob', ['demo']);
    const cfg = join(dir, 'bob.kubeconfig');
    writeFileSync(cfg, renderKubeconfig(v.url, v.caCertPem, token, 'bob'));
    const canI = async (args: string[], kubeconfig?: string) => {
      const r = await kubectl(['auth', 'can-i', ...args], kubeconfig);
      return `${r.out.trim() || r.err.trim()}${r.code === 0 ? '' : ` (exit ${r.code})`}`;
    };
    expect(await canI(['create', 'vport', '-n', 'demo'], cfg)).toBe('yes');
    expect(await canI(['delete', 'virtualnetworks.vnet.dev', '-n', 'demo'], cfg)).toBe('yes');
    // "no", with the API's reason (kubectl prints it after the answer).
    expect(await canI(['create', 'vport', '-n', 'other'], cfg)).toBe('no - User "token:bob" cannot create resource "virtualports" in API group "vnet.dev" in the namespace "other": not one of your namespaces (exit 1)');
    // Status is vnetd's to write, Nodes an admin's: as the API answers the writes themselves.
    expect(await canI(['update', 'vport', '--subresource=status', '-n', 'demo'], cfg)).toMatch(/^no - .*: the status subresource is written by vnetd itself \(exit 1\)$/);
    expect(await canI(['create', 'vnodes'], cfg)).toMatch(/^no - .*: Node objects are admin-only \(exit 1\)$/);
    expect(await canI(['get', 'namespace/demo'], cfg)).toBe('yes');
    expect(await canI(['get', 'namespace/other'], cfg)).toMatch(/^no - .*: not one of your namespaces \(exit 1\)$/);
    expect(await canI(['create', 'namespace'], cfg)).toMatch(/^no - .*namespaces are managed by an admin \(exit 1\)$/);
    expect(await canI(['create', 'vnodes'])).toBe('yes');
    // The reason is the API's (kubectl shows it with -v or in --list's absence, through the review's status).
    const review = await v.call('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: { namespace: 'other', verb: 'create', group: 'vnet.dev', resource: 'virtualports' } } }, { token });
    expect(review.status).toBe(201);
    expect(review.json.status).toEqual({ allowed: false, reason: 'User "token:bob" cannot create resource "virtualports" in API group "vnet.dev" in the namespace "other": not one of your namespaces' });
    const bad = await v.call('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', { kind: 'SelfSubjectAccessReview', spec: {} }, { token });
    expect({ status: bad.status, reason: bad.json.reason }).toEqual({ status: 422, reason: 'Invalid' });
    const list = await kubectl(['auth', 'can-i', '--list', '-n', 'demo'], cfg);
    expect(list.code).toBe(0);
    process.stdout.write(`[kubectl] auth can-i --list -n demo as a tenant:\n${list.out}`);
    // Columns: resources, non-resource URLs, resource names, verbs.
    const rows = list.out.split('\n').flatMap((l) => {
      const m = /^(\S+)\s+(\[[^\]]*\])\s+(\[[^\]]*\])\s+(\[[^\]]*\])$/.exec(l.trim());
      return m ? [{ resource: m[1], names: m[3], verbs: m[4] }] : [];
    });
    const verbsOf = (resource: string, names = '[]') => rows.find((r) => r.resource === resource && r.names === names)?.verbs;
    expect(verbsOf('virtualports.vnet.dev')).toBe('[get list watch create update patch delete deletecollection]');
    expect(verbsOf('virtualports.vnet.dev/status')).toBe('[get]');
    expect(verbsOf('namespaces', '[demo]')).toBe('[get]');
    expect(verbsOf('namespaces')).toBe('[list watch]');
    const who = await kubectl(['auth', 'whoami', '-o', 'json'], cfg);
    expect(JSON.parse(who.out).status.userInfo).toEqual({ username: 'token:bob', groups: ['system:authenticated'], extra: { 'vnet.dev/namespaces': ['demo'] } });
  });

  it('deletes and waits for the object to be gone', async () => {
    const d = await kubectl(['delete', 'vport', 'vm1', '-n', 'demo']);
    expect(d.out.trim()).toBe('virtualport.vnet.dev "vm1" deleted');
    expect((await kubectl(['get', 'vport', 'vm1', '-n', 'demo'])).err).toContain('NotFound');
    const ns = await kubectl(['delete', 'namespace', 'demo', '--timeout=30s']);
    expect(ns.out.trim()).toBe('namespace "demo" deleted');
    expect((await kubectl(['get', 'vnets', '-A', '-o', 'name'])).out).not.toContain('net1');
  });
});
