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

beforeAll(async () => {
  v = await startTestVnetd();
  cli = await cliRunner({ KUBECONFIG: v.kubeconfigPath });
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
