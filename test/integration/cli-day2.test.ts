/**
 * vnetctl's day-2 steps that needed kubectl or a hand-written JSON patch (QA: an on-call doing
 * VIP work): namespace create/delete, lb set-listener, get events. Against a real vnetd, as a
 * subprocess; good inputs and each bad one (one line, exit code, nothing written).
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { scratchDir } from '../support/scratch';
import { eventually, startTestVnetd, type TestVnetd } from '../support/vnetd';
import { cliFails, cliOk, cliRunner, type CliRunner } from './cli-support';

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

const ok = (...args: string[]) => cliOk(cli, ...args);
/** One line on stderr, the exit code, nothing on stdout. */
const fails = (code: number, ...args: string[]) => cliFails(cli, code, ...args);

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

describe('get events', () => {
  it('lists events as kubectl does, oldest first, one object\'s with --for, in every format; bad --for is one line', async () => {
    // A backend naming a port that is not there: a BackendNotFound Warning on each.
    for (const lb of ['ev1', 'ev2']) await ok('lb', 'create', lb, '--network', 'blue', '--listen', '80', '--backend', 'absent', '--allow-missing', '-n', 'd2');
    const reasons = async (args: string[]) => (await cli.run(['get', 'events', '-n', 'd2', '-o', 'json', ...args])).stdout;
    await eventually(async () => /"name": "ev2"/.test(await reasons([])) && /"name": "ev1"/.test(await reasons([])), 20_000);

    const [table, wide, forOne, json, name, all] = await Promise.all([
      ok('get', 'events', '-n', 'd2'),
      ok('get', 'ev', '-n', 'd2', '-o', 'wide'),
      ok('get', 'events', '-n', 'd2', '--for', 'vlb/ev1'),
      ok('get', 'events', '-n', 'd2', '--for', 'loadbalancer/ev2', '-o', 'json'),
      ok('get', 'events', '-n', 'd2', '--for', 'vlb/ev1', '-o', 'name'),
      ok('get', 'events', '-A'),
    ]);
    const lines = table.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^LAST SEEN +TYPE +REASON +OBJECT +MESSAGE$/);
    expect(lines.slice(1).map((l) => l.split(/ +/).slice(1, 4).join(' '))).toEqual(expect.arrayContaining(['Warning BackendNotFound loadbalancer/ev1', 'Warning BackendNotFound loadbalancer/ev2']));
    expect(wide.split('\n')[0]).toMatch(/^LAST SEEN +TYPE +REASON +OBJECT +SOURCE +MESSAGE +FIRST SEEN +COUNT +NAME$/);
    // Oldest first: by lastTimestamp, whatever the names.
    const items = (JSON.parse(await reasons([])) as { items: Array<{ lastTimestamp: string }> }).items.map((e) => e.lastTimestamp);
    expect(items).toEqual([...items].sort());
    expect(forOne).toMatch(/^LAST SEEN +TYPE +REASON +OBJECT +MESSAGE\n/);
    expect(forOne).toMatch(/\n\S+ +Warning +BackendNotFound +loadbalancer\/ev1 +ResolvedRefs: no address in network "blue"/);
    for (const row of forOne.trimEnd().split('\n').slice(1)) expect(row).toMatch(/^\S+ +\S+ +\S+ +loadbalancer\/ev1 /);
    const listed = JSON.parse(json) as { kind: string; items: Array<{ involvedObject: { name: string } }> };
    expect(listed.kind).toBe('List');
    expect(listed.items.map((e) => e.involvedObject.name)).toEqual(listed.items.map(() => 'ev2'));
    expect(name).toMatch(/^(event\/ev1\.[0-9a-f]+\n)+$/);
    expect(all.split('\n')[0]).toMatch(/^NAMESPACE +LAST SEEN +TYPE/);
    expect(all).toMatch(/\nd2 +\S+ +Warning +BackendNotFound +loadbalancer\/ev1 /);
    // lb status reads them through the same reader.
    expect(await ok('lb', 'status', 'ev1', '-n', 'd2')).toMatch(/\nEvents:\n +TYPE +REASON +AGE +MESSAGE\n +Warning +BackendNotFound /);

    // None about an object: said on stderr, as for any empty list.
    const none = await cli.run(['get', 'events', '-n', 'd2', '--for', 'vport/nothing']);
    expect([none.code, none.stdout, none.stderr]).toEqual([0, '', 'No events found about virtualport/nothing in namespace "d2".\n']);
    // Bad inputs: one line each, exit 2, nothing read.
    expect(await fails(2, 'get', 'events', '-n', 'd2', '--for', 'ev1')).toBe('error: --for "ev1": give the object as KIND/NAME, e.g. --for vlb/web\n');
    expect(await fails(2, 'get', 'events', '-n', 'd2', '--for', 'bogus/ev1')).toMatch(/^error: unknown kind "bogus": use one of /);
    expect(await fails(2, 'get', 'events', '-n', 'd2', '--for', 'ev/x')).toMatch(/^error: --for "ev\/x": events are about networks, ports, load balancers and nodes, not about events/);
    expect(await fails(2, 'get', 'vlb', '-n', 'd2', '--for', 'vlb/ev1')).toMatch(/^error: --for selects events by the object they are about: vnetctl get events --for vlb\/ev1/);
    expect(await fails(2, 'get', 'events', 'x.1', '-n', 'd2', '--for', 'vlb/ev1')).toMatch(/^error: --for lists the events of one object: give it no event names \(x\.1\)/);
    expect(await fails(2, 'get', 'events', '-n', 'd2', '--for', 'vlb/ev1', '-w')).toMatch(/^error: --for cannot be combined with --watch/);
    expect(await fails(2, 'delete', 'events', '--all', '-n', 'd2')).toMatch(/^error: events are recorded by vnetd itself and expire an hour after they were last seen: they cannot be deleted/);
    expect(await reasons(['--for', 'vlb/ev1'])).toContain('BackendNotFound');
  });
});

describe('completion', () => {
  /** What bash completion offers for the words typed, vnetctl on PATH as a user installs it. */
  async function complete(words: string[]): Promise<string[]> {
    const dir = scratchDir('vnetctl-path');
    writeFileSync(join(dir, 'vnetctl'), `#!/bin/sh\nexec ${cli.argv.map((a) => `'${a}'`).join(' ')} "$@"\n`, { mode: 0o755 });
    const line = `source <(vnetctl completion bash); COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _vnetctl; printf '%s\\n' "\${COMPREPLY[@]}"`;
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile('bash', ['-c', line], { env: { PATH: `${dir}:${process.env.PATH}`, HOME: '/nonexistent-home', KUBECONFIG: v.kubeconfigPath }, timeout: 60_000 }, (err, out) => (err ? reject(err) : resolve(out))),
    );
    return stdout.trim().split('\n');
  }

  it('offers the new commands, their objects, a load balancer\'s listeners to set-listener and objects to get events --for', async () => {
    await ok('lb', 'create', 'cw', '--network', 'blue', '--listen', '8080:80', '-n', 'd2');
    await ok('namespace', 'create', 'comp1');
    const [groups, lbSubs, nsSubs, nsNames, lbNames, listeners, forObjects, waitFor] = await Promise.all([
      complete(['vnetctl', '']),
      complete(['vnetctl', 'lb', '']),
      complete(['vnetctl', 'namespace', '']),
      complete(['vnetctl', 'ns', 'delete', '']),
      complete(['vnetctl', '-n', 'd2', 'lb', 'set-listener', '']),
      complete(['vnetctl', '-n', 'd2', 'lb', 'set-listener', 'cw', '--listen', '']),
      complete(['vnetctl', '-n', 'd2', 'get', 'events', '--for', '']),
      complete(['vnetctl', 'wait', 'vlb', 'cw', '--for', '']),
    ]);
    expect(groups).toEqual(expect.arrayContaining(['namespace', 'ns', 'network']));
    expect(lbSubs).toContain('set-listener');
    expect(nsSubs).toEqual(expect.arrayContaining(['create', 'list', 'get', 'delete']));
    expect(nsNames).toEqual(expect.arrayContaining(['comp1', 'default']));
    expect(lbNames).toContain('cw');
    expect(listeners).toEqual(['8080/tcp']);
    expect(forObjects).toEqual(expect.arrayContaining(['vlb/cw', 'vnet/blue']));
    expect(waitFor).toEqual(['condition=Ready', 'delete']);
  });
});
