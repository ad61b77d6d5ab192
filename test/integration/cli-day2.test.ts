/**
 * vnetctl's day-2 steps that needed kubectl or a hand-written JSON patch (QA: an on-call doing
 * VIP work): namespace create/delete, lb set-listener, get events. Against a real vnetd, as a
 * subprocess; good inputs and each bad one (one line, exit code, nothing written).
 */
import { parse as parseYaml } from 'yaml';
import { eventually, startTestVnetd, type TestVnetd } from '../support/vnetd';
import { cliRunner, type CliRunner } from './cli-support';

let v: TestVnetd;
let cli: CliRunner;

const LBS = '/apis/vnet.dev/v1alpha1/namespaces/d2/loadbalancers';

beforeAll(async () => {
  v = await startTestVnetd();
  cli = await cliRunner({ KUBECONFIG: v.kubeconfigPath });
  expect((await v.call('POST', '/api/v1/namespaces', { metadata: { name: 'd2' } })).status).toBe(201);
  expect((await v.call('POST', '/apis/vnet.dev/v1alpha1/namespaces/d2/virtualnetworks', { metadata: { name: 'blue' }, spec: { subnets: [{ cidr: '10.0.0.0/24' }] } })).status).toBe(201);
});
afterAll(async () => v.stop());

const ok = async (...args: string[]) => {
  const r = await cli.run(args);
  if (r.code !== 0) throw new Error(`vnetctl ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
};

/** One line on stderr, the exit code, nothing on stdout. */
async function fails(code: number, ...args: string[]) {
  const r = await cli.run(args);
  expect({ code: r.code, stdout: r.stdout }).toEqual({ code, stdout: '' });
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(/^error: /);
  return r.stderr;
}

describe('namespace', () => {
  it('a network in a namespace not there yet points at vnetctl namespace create, which makes it; delete removes it', async () => {
    expect(await fails(1, 'network', 'create', 'web', '--subnet', '10.0.0.0/24', '-n', 'app')).toBe(
      'error: cannot create virtualnetwork "web" in namespace "app": namespaces "app" not found; see the namespaces there are with: vnetctl namespace list, or create it: vnetctl namespace create app\n',
    );
    expect(await ok('namespace', 'create', 'app')).toMatch(/^namespace\/app created\nNAME +STATUS +AGE\napp +Active +\d+s\n$/);
    expect(await ok('network', 'create', 'web', '--subnet', '10.0.0.0/24', '-n', 'app', '-o', 'name')).toBe('virtualnetwork.vnet.dev/web\n');
    const [list, get, yaml, generic] = await Promise.all([ok('namespace', 'list', '-o', 'name'), ok('ns', 'get', 'app'), ok('namespace', 'get', 'app', '-o', 'yaml'), ok('get', 'namespaces', '-o', 'name')]);
    expect(list.split('\n')).toEqual(expect.arrayContaining(['namespace/app', 'namespace/default']));
    expect(generic).toBe(list);
    expect(get).toMatch(/^NAME +STATUS +AGE\napp +Active /);
    expect(parseYaml(yaml)).toMatchObject({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'app' } });

    // Bad inputs: one line each, nothing written.
    expect(await fails(1, 'namespace', 'create', 'app')).toMatch(/^error: cannot create namespace "app": namespaces "app" already exists; pick another name/);
    expect(await fails(1, 'namespace', 'create', 'Bad_Name')).toMatch(/^error: cannot create namespace "Bad_Name": .*metadata\.name \(NAME\)/);
    expect(await fails(2, 'namespace', 'create')).toMatch(/missing required argument 'name'/);
    expect(await fails(1, 'namespace', 'delete', 'default')).toMatch(/^error: cannot delete namespace "default": .*may not be deleted/);
    expect(await fails(1, 'namespace', 'delete', 'nope')).toBe('error: cannot delete namespace "nope": namespaces "nope" not found; see the namespaces there are with: vnetctl namespace list\n');
    expect((await v.call('GET', '/api/v1/namespaces/Bad_Name')).status).toBe(404);

    // Its network goes with it.
    expect(await ok('namespace', 'delete', 'app', '--wait', '--timeout', '20s')).toBe('namespace/app deleted\n');
    expect((await v.call('GET', '/api/v1/namespaces/app')).status).toBe(404);
    expect((await v.call('GET', '/apis/vnet.dev/v1alpha1/namespaces/app/virtualnetworks/web')).status).toBe(404);
  });
});

describe('lb set-listener', () => {
  it("changes listeners' target ports in place, under the generation guard, and refuses what it cannot do with one line and nothing written", async () => {
    await ok('lb', 'create', 'web', '--network', 'blue', '--listen', '80:8080/tcp', '--listen', '53/udp', '--listen', '443', '-n', 'd2');
    const spec = async () => (await v.call('GET', `${LBS}/web`)).json as { metadata: { generation: number }; spec: { listeners: unknown[] } };
    // The add-listener refusal names the command that does it.
    expect(await fails(1, 'lb', 'add-listener', 'web', '--listen', '80:8081/tcp', '-n', 'd2')).toBe(
      'error: cannot add listener 80:8081/tcp to loadbalancer "web": it already listens on 80/tcp (80:8080/tcp); to change its target port in place: vnetctl lb set-listener web --listen 80:8081/tcp -n d2\n',
    );
    expect(await ok('lb', 'set-listener', 'web', '--listen', '80:8081/tcp', '-n', 'd2')).toBe('loadbalancer.vnet.dev/web set 80:8081/tcp; listeners now: 80:8081/tcp, 53/udp, 443/tcp\n');
    // Several at once, any case of protocol, other output formats.
    const json = JSON.parse(await ok('lb', 'set-listener', 'web', '--listen', '53:5353/UDP', '--listen', '443:8443', '-n', 'd2', '-o', 'json'));
    expect(json.spec.listeners).toEqual([
      { protocol: 'TCP', port: 80, targetPort: 8081 },
      { protocol: 'UDP', port: 53, targetPort: 5353 },
      { protocol: 'TCP', port: 443, targetPort: 8443 },
    ]);
    // A dry run writes nothing.
    expect(await ok('lb', 'set-listener', 'web', '--listen', '80', '-n', 'd2', '--dry-run')).toBe('loadbalancer.vnet.dev/web set 80/tcp; listeners now: 80/tcp, 53:5353/udp, 443:8443/tcp (server dry run)\n');
    const before = await spec();
    expect(before.spec.listeners).toEqual(json.spec.listeners);

    // Bad inputs: one line each, nothing written.
    expect(await fails(1, 'lb', 'set-listener', 'web', '--listen', '8080:9090', '-n', 'd2')).toBe(
      'error: cannot set listener 8080/tcp of loadbalancer "web": it does not listen there (it listens on 80:8081/tcp, 53:5353/udp, 443:8443/tcp); to add it: vnetctl lb add-listener web --listen 8080:9090/tcp -n d2\n',
    );
    expect(await fails(1, 'lb', 'set-listener', 'web', '--listen', '80:8081/udp', '-n', 'd2')).toContain('cannot set listener 80/udp of loadbalancer "web": it does not listen there');
    expect(await fails(1, 'lb', 'set-listener', 'web', '--listen', '80:8081', '-n', 'd2')).toBe('error: cannot set listener 80/tcp of loadbalancer "web": its target port is already 8081 (80:8081/tcp): nothing to change\n');
    expect(await fails(1, 'lb', 'set-listener', 'web', '--listen', '80:9000', '--listen', '443:8443', '-n', 'd2')).toContain('cannot set listener 443/tcp of loadbalancer "web": its target port is already 8443');
    expect(await fails(2, 'lb', 'set-listener', 'web', '--listen', '80:70000', '-n', 'd2')).toContain('"80:70000": target port 70000 is outside 1-65535');
    expect(await fails(2, 'lb', 'set-listener', 'web', '--listen', '80:x', '-n', 'd2')).toContain('target port "x" is not a number');
    expect(await fails(2, 'lb', 'set-listener', 'web', '--listen', '80:81/icmp', '-n', 'd2')).toContain('protocol "icmp" is not one of tcp, udp, sctp');
    expect(await fails(2, 'lb', 'set-listener', 'web', '--listen', '80:81', '--listen', '80:82/tcp', '-n', 'd2')).toContain('--listen 80:82/tcp is given twice');
    expect(await fails(2, 'lb', 'set-listener', 'web', '-n', 'd2')).toContain("required option '--listen");
    expect(await fails(1, 'lb', 'set-listener', 'nope', '--listen', '80:81', '-n', 'd2')).toMatch(/^error: cannot set a listener of loadbalancer "nope" in namespace "d2": .*not found; see what exists with: vnetctl lb list -n d2/);
    expect(await spec()).toEqual(before);
  });
});
