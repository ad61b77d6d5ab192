import { stringify } from 'yaml';
import { loadKubeconfig, resolveKubeconfigPaths, selectContext } from './kubeconfig';

const fsWith = (files: Record<string, string>) => ({
  exists: (p: string) => p in files,
  read: (p: string) => {
    if (!(p in files)) throw new Error(`ENOENT ${p}`);
    return files[p]!;
  },
});

describe('kubeconfig resolution', () => {
  const all = { '/flag.kc': '', '/a.kc': '', '/b.kc': '', '/data/admin.kubeconfig': '', '/cwd/.vnetd/admin.kubeconfig': '', '/home/u/.kube/config': '' };

  it('prefers --kubeconfig, then KUBECONFIG, then VNETD_DATA_DIR, ./.vnetd, ~/.kube/config', () => {
    const fs = fsWith(all);
    const env = { KUBECONFIG: '/a.kc:/missing.kc:/b.kc', VNETD_DATA_DIR: '/data', HOME: '/home/u' };
    expect(resolveKubeconfigPaths('/flag.kc', env, '/cwd', fs)).toEqual(['/flag.kc']);
    expect(resolveKubeconfigPaths(undefined, env, '/cwd', fs)).toEqual(['/a.kc', '/b.kc']);
    expect(resolveKubeconfigPaths(undefined, { VNETD_DATA_DIR: '/data', HOME: '/home/u' }, '/cwd', fs)).toEqual(['/data/admin.kubeconfig']);
    expect(resolveKubeconfigPaths(undefined, { HOME: '/home/u' }, '/cwd', fs)).toEqual(['/cwd/.vnetd/admin.kubeconfig']);
    expect(resolveKubeconfigPaths(undefined, { HOME: '/home/u' }, '/elsewhere', fs)).toEqual(['/home/u/.kube/config']);
  });

  it('says where it looked when nothing exists', () => {
    const fs = fsWith({});
    expect(() => resolveKubeconfigPaths('x.kc', {}, '/cwd', fs)).toThrow(/\/cwd\/x\.kc \(from --kubeconfig\) does not exist/);
    expect(() => resolveKubeconfigPaths(undefined, { KUBECONFIG: '/nope' }, '/cwd', fs)).toThrow(/none of the files in KUBECONFIG exist/);
    expect(() => resolveKubeconfigPaths(undefined, { HOME: '/h' }, '/cwd', fs)).toThrow(/looked for \/cwd\/.vnetd\/admin.kubeconfig, \/h\/.kube\/config/);
  });
});

describe('kubeconfig contexts', () => {
  const first = stringify({
    clusters: [{ name: 'vnetd', cluster: { server: 'https://127.0.0.1:8443/', 'certificate-authority-data': Buffer.from('PEM').toString('base64') } }],
    users: [{ name: 'admin', user: { token: 'admin.secret' } }, { name: 'filetok', user: { tokenFile: 'tok' } }],
    contexts: [{ name: 'admin@vnetd', context: { cluster: 'vnetd', user: 'admin', namespace: 'default' } }],
    'current-context': 'admin@vnetd',
  });
  const second = stringify({
    clusters: [{ name: 'vnetd', cluster: { server: 'https://shadowed' } }, { name: 'remote', cluster: { server: 'https://remote:6443', 'certificate-authority': 'ca.pem' } }],
    contexts: [{ name: 'tenant', context: { cluster: 'remote', user: 'filetok', namespace: 't1' } }],
    'current-context': 'tenant',
  });
  const fs = fsWith({ '/k/1': first, '/k/2': second, '/k/ca.pem': 'REMOTE-CA', '/k/tok': 'tenant.secret\n' });

  it('merges files first-wins and resolves the current context', () => {
    const conn = selectContext(loadKubeconfig(['/k/1', '/k/2'], fs), undefined, fs);
    expect(conn).toMatchObject({ server: 'https://127.0.0.1:8443', ca: 'PEM', token: 'admin.secret', namespace: 'default', contextName: 'admin@vnetd' });
  });

  it('resolves --context with file-relative CA and token files', () => {
    const conn = selectContext(loadKubeconfig(['/k/1', '/k/2'], fs), 'tenant', fs);
    expect(conn).toMatchObject({ server: 'https://remote:6443', ca: 'REMOTE-CA', token: 'tenant.secret', namespace: 't1' });
  });

  it('names the contexts that exist when one is missing', () => {
    expect(() => selectContext(loadKubeconfig(['/k/1'], fs), 'nope', fs)).toThrow(/cannot use context "nope".*pick one of: admin@vnetd/);
    expect(() => loadKubeconfig(['/k/bad'], fsWith({ '/k/bad': 'a: [' }))).toThrow(/cannot load kubeconfig \/k\/bad/);
  });
});

describe('kubeconfig exec credential plugins (QA-134 F11: ignored, every request a 401)', () => {
  // A real plugin on disk: vnetctl runs it as kubectl does.
  const { mkdtempSync, writeFileSync, readFileSync: readReal, rmSync } = jest.requireActual<typeof import('node:fs')>('node:fs');
  const { tmpdir } = jest.requireActual<typeof import('node:os')>('node:os');
  const { join } = jest.requireActual<typeof import('node:path')>('node:path');
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'vnetctl-exec-'));
    // Prints a token built from its argument, its env and the cluster it was told of (KUBERNETES_EXEC_INFO).
    writeFileSync(join(dir, 'plugin.sh'), `#!/bin/sh\nserver=$(printf '%s' "$KUBERNETES_EXEC_INFO" | sed -n 's/.*"server":"\\([^"]*\\)".*/\\1/p')\nprintf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s.%s.%s"}}' "$1" "$TEAM" "$server"\n`, { mode: 0o755 });
    writeFileSync(join(dir, 'fails.sh'), '#!/bin/sh\necho "login expired: run sso-login" >&2\nexit 3\n', { mode: 0o755 });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const kc = (exec: Record<string, unknown>) => {
    const file = join(dir, 'config');
    writeFileSync(file, stringify({ clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:8443' } }], users: [{ name: 'u', user: { exec } }], contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }], 'current-context': 'x' }));
    const real = { read: (p: string) => readReal(p, 'utf8') };
    return () => selectContext(loadKubeconfig([file], real), undefined, real);
  };

  it('runs the plugin (relative to the kubeconfig, with its args, env and the cluster when asked) and uses its token', () => {
    const conn = kc({ apiVersion: 'client.authentication.k8s.io/v1', command: './plugin.sh', args: ['tenant'], env: [{ name: 'TEAM', value: 'blue' }], provideClusterInfo: true })();
    expect(conn.token).toBe('tenant.blue.https://127.0.0.1:8443');
  });

  it('says in one line what went wrong: the plugin failed (its stderr is the user\'s, as with kubectl), is not there (the install hint), or printed no credential', () => {
    expect(kc({ apiVersion: 'client.authentication.k8s.io/v1beta1', command: './fails.sh' })).toThrow(/exec credential plugin ".\/fails.sh" named in .*config failed \(exit 3; what it said is above\)$/);
    expect(kc({ apiVersion: 'client.authentication.k8s.io/v1', command: 'no-such-plugin-vnetctl', installHint: 'install it with: apt install no-such' })).toThrow(/"no-such-plugin-vnetctl" named in .* not found; install it with: apt install no-such$/);
    expect(kc({ apiVersion: 'client.authentication.k8s.io/v1', command: 'true' })).toThrow(/printed no ExecCredential JSON/);
    expect(kc({ apiVersion: 'client.authentication.k8s.io/v1alpha1', command: 'true' })).toThrow(/apiVersion "client.authentication.k8s.io\/v1alpha1" is not/);
  });
});
