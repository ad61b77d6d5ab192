/**
 * deploy/: what operators install. The kustomization is built with the real kubectl
 * (kustomize inside it) and every object is checked against the Kubernetes API types of
 * @kubernetes/client-node (no unknown field, no wrong type), the CRDs against the API
 * server's structural-schema rules, the workloads against vnetd's command-line contract
 * (`vnetd controller`, `vnetd agent --node NAME --kubeconfig PATH`), RBAC by evaluating
 * what each ServiceAccount may do. The shared-PKI and agent-kubeconfig scripts run against
 * a real vnetd. The systemd units go through `systemd-analyze verify`.
 */
import * as k8s from '@kubernetes/client-node';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { ensureTlsMaterial } from '../../src/pki/certificates';
import { crdProblems } from '../../src/resources/structural-schema';
import { startTestVnetd, type TestVnetd } from '../support/vnetd';

const ROOT = resolve(__dirname, '..', '..');
const DEPLOY = join(ROOT, 'deploy');
const SYSTEMD = join(DEPLOY, 'systemd');
const NAMESPACE = 'vnetd-system';
const AGENT_CAPABILITIES = ['NET_ADMIN', 'NET_RAW', 'SYS_ADMIN', 'BPF', 'IPC_LOCK', 'SYS_RESOURCE'];
const STORE_CONTRACT = /^(sqlite|etcd:\/\/[^,\s:/]+:\d{1,5}(,[^,\s:/]+:\d{1,5})*)$/;

const has = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: 'utf8' }).status === 0;
const kubectlPresent = has('kubectl', ['version', '--client']);
const opensslPresent = has('openssl', ['version']);
const systemdAnalyzePresent = has('systemd-analyze', ['--version']);
// Printed, not silent: CI must not mistake a skip for a pass.
if (!kubectlPresent) process.stdout.write('SKIP deploy manifests (Kubernetes): kubectl is not installed, so `kubectl kustomize deploy/` cannot run\n');
if (kubectlPresent && !opensslPresent) process.stdout.write('SKIP deploy PKI script: openssl is not installed\n');
if (!systemdAnalyzePresent) process.stdout.write('SKIP deploy systemd units: systemd-analyze is not installed\n');

// ---- Kubernetes objects -------------------------------------------------------------

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- manifests are arbitrary YAML
interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
}

const scratch = mkdtempSync(join(tmpdir(), 'vnetd-deploy-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function kubectl(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync('kubectl', args, { encoding: 'utf8', env: { ...process.env, HOME: scratch, ...env }, timeout: 60_000 });
}

function spawnAsync(cmd: string, args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, HOME: scratch }, timeout: 60_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolveRun({ status, stdout, stderr }));
  });
}

/** `kubectl kustomize DIR`, parsed; throws with kubectl's stderr when the build fails. */
function kustomize(dir: string): Obj[] {
  const r = kubectl(['kustomize', dir]);
  if (r.status !== 0 || r.stderr.trim() !== '') throw new Error(`kubectl kustomize ${dir} failed (${r.status}): ${r.stderr}`);
  return parseAllDocuments(r.stdout).map((d) => d.toJS() as Obj);
}

/** An overlay outside deploy/ (kustomize refuses one nested in its base) using components. */
function overlay(name: string, components: string[], extra = ''): string {
  const dir = join(scratch, 'overlays', name);
  mkdirSync(dir, { recursive: true });
  const base = relative(dir, DEPLOY);
  writeFileSync(
    join(dir, 'kustomization.yaml'),
    `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ${base}\ncomponents:\n${components.map((c) => `  - ${base}/components/${c}\n`).join('')}${extra}`,
  );
  return dir;
}

const find = (objs: Obj[], kind: string, name: string): Obj => {
  const o = objs.find((x) => x.kind === kind && x.metadata?.name === name);
  if (!o) throw new Error(`no ${kind} ${name} in the build`);
  return o;
};
const byPrefix = (objs: Obj[], kind: string, prefix: string) => objs.filter((x) => x.kind === kind && String(x.metadata?.name).startsWith(prefix));
const podSpec = (o: Obj): Obj => o.spec.template.spec;
const container = (o: Obj, name: string): Obj => podSpec(o).containers.find((c: Obj) => c.name === name);
const envOf = (c: Obj, name: string): Obj | undefined => (c.env ?? []).find((e: Obj) => e.name === name);
const matches = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels?.[k] === v);

/** The volume behind the mount that holds `path`, with the path inside that volume. */
function volumeAt(o: Obj, c: Obj, path: string): { volume: Obj; sub: string; mount: Obj } {
  const mount = (c.volumeMounts ?? []).filter((m: Obj) => path === m.mountPath || path.startsWith(`${m.mountPath}/`)).sort((a: Obj, b: Obj) => b.mountPath.length - a.mountPath.length)[0];
  if (!mount) throw new Error(`${path} is on no volume mount of container ${c.name}`);
  const volume = podSpec(o).volumes.find((v: Obj) => v.name === mount.name);
  if (!volume) throw new Error(`mount ${mount.name} has no volume`);
  return { volume, mount, sub: path.slice(mount.mountPath.length + 1) };
}

// Every field of every object must exist in the Kubernetes API types, with the right type:
// what `kubectl apply` with strict field validation would refuse fails here, offline.
interface Attr {
  baseName: string;
  type: string;
}
const models = k8s as unknown as Record<string, { getAttributeTypeMap?: () => Attr[] } | undefined>;

function typeProblems(value: unknown, type: string, path: string, out: string[]): void {
  if (value === null || value === undefined || type === 'any') return;
  const scalar: Record<string, (v: unknown) => boolean> = {
    string: (v) => typeof v === 'string',
    Date: (v) => typeof v === 'string',
    number: (v) => typeof v === 'number',
    boolean: (v) => typeof v === 'boolean',
    IntOrString: (v) => typeof v === 'number' || typeof v === 'string',
  };
  if (scalar[type]) {
    if (!scalar[type](value)) out.push(`${path}: ${JSON.stringify(value)} is not a ${type}`);
    return;
  }
  const array = /^Array<(.+)>$/.exec(type);
  if (array) {
    if (!Array.isArray(value)) out.push(`${path}: not a list`);
    else value.forEach((item, i) => typeProblems(item, array[1]!, `${path}[${i}]`, out));
    return;
  }
  const isMap = typeof value === 'object' && !Array.isArray(value);
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    if (!isMap) out.push(`${path}: not a map`);
    else for (const [k, v] of Object.entries(value as Obj)) typeProblems(v, map[1]!, `${path}.${k}`, out);
    return;
  }
  const attrs = models[type]?.getAttributeTypeMap?.();
  if (!attrs) {
    out.push(`${path}: no API type ${type}`);
    return;
  }
  if (!isMap) {
    out.push(`${path}: not an object (${type})`);
    return;
  }
  const fields = new Map(attrs.map((a) => [a.baseName, a.type]));
  for (const [k, v] of Object.entries(value as Obj)) {
    const t = fields.get(k);
    if (t === undefined) out.push(`${path}.${k}: unknown field in ${type}`);
    else typeProblems(v, t, `${path}.${k}`, out);
  }
}

function apiTypeProblems(objs: Obj[]): string[] {
  const out: string[] = [];
  for (const o of objs) {
    const version = String(o.apiVersion).split('/').pop()!;
    typeProblems(o, `${version[0]!.toUpperCase()}${version.slice(1)}${String(o.kind)}`, `${String(o.kind)}/${String(o.metadata?.name)}`, out);
  }
  return out;
}

/** Rules that apply to ServiceAccount vnetd-system/`sa` in `namespace` (undefined: cluster-wide only). */
function rulesOf(objs: Obj[], sa: string, namespace: string | undefined): Rule[] {
  const bound = (b: Obj) => (b.subjects ?? []).some((s: Obj) => s.kind === 'ServiceAccount' && s.name === sa && s.namespace === NAMESPACE);
  const roleRules = (ref: Obj, ns?: string): Rule[] =>
    objs.find((x) => x.kind === ref.kind && x.metadata.name === ref.name && (ref.kind === 'ClusterRole' || x.metadata.namespace === ns))?.rules ?? [];
  const rules: Rule[] = [];
  for (const b of objs.filter((x) => x.kind === 'ClusterRoleBinding' && bound(x))) rules.push(...roleRules(b.roleRef));
  for (const b of objs.filter((x) => x.kind === 'RoleBinding' && bound(x) && x.metadata.namespace === namespace)) rules.push(...roleRules(b.roleRef, namespace));
  return rules;
}

function can(objs: Obj[], sa: string, verb: string, group: string, resource: string, namespace?: string): boolean {
  return rulesOf(objs, sa, namespace).some(
    (r) => !r.resourceNames && (r.apiGroups ?? []).some((g) => g === group || g === '*') && (r.resources ?? []).some((x) => x === resource || x === '*') && r.verbs.some((v) => v === verb || v === '*'),
  );
}

const crdFiles = readdirSync(join(DEPLOY, 'crds')).filter((f) => f.endsWith('.yaml')).sort();
const sourceCrds = crdFiles.map((f) => parse(readFileSync(join(DEPLOY, 'crds', f), 'utf8')) as Obj);
const kustomization = parse(readFileSync(join(DEPLOY, 'kustomization.yaml'), 'utf8')) as Obj;

const describeKube = kubectlPresent ? describe : describe.skip;

describeKube('deploy/ on Kubernetes (kubectl kustomize deploy/)', () => {
  let objs: Obj[];
  beforeAll(() => {
    objs = kustomize(DEPLOY);
  });

  it('builds cleanly into the objects vnetd needs, namespaced ones in vnetd-system', () => {
    const kinds = new Set(objs.map((o) => o.kind));
    for (const k of ['Namespace', 'CustomResourceDefinition', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'ConfigMap', 'Deployment', 'PodDisruptionBudget', 'Service', 'DaemonSet']) expect(kinds).toContain(k);
    expect(find(objs, 'Namespace', NAMESPACE)).toBeDefined();
    const clusterScoped = new Set(['Namespace', 'CustomResourceDefinition', 'ClusterRole', 'ClusterRoleBinding']);
    for (const o of objs) expect([`${o.kind}/${o.metadata.name}`, o.metadata.namespace]).toEqual([`${o.kind}/${o.metadata.name}`, clusterScoped.has(o.kind) ? undefined : NAMESPACE]);
  });

  it('has no field the Kubernetes API types do not know and no value of the wrong type', () => {
    expect(apiTypeProblems(objs)).toEqual([]);
    // The checker itself: a misspelt field and a wrong type are caught.
    const broken = structuredClone(find(objs, 'DaemonSet', 'vnetd-agent'));
    podSpec(broken).containers[0].volumeMounts[1].mountPropogation = 'HostToContainer';
    podSpec(broken).hostNetwork = 'true';
    expect(apiTypeProblems([broken])).toEqual([
      'DaemonSet/vnetd-agent.spec.template.spec.containers[0].volumeMounts[1].mountPropogation: unknown field in V1VolumeMount',
      'DaemonSet/vnetd-agent.spec.template.spec.hostNetwork: "true" is not a boolean',
    ]);
  });

  it('includes every CRD of deploy/crds unchanged: structural, status subresource, printer columns, short names', () => {
    const listed = (kustomization.resources as string[]).filter((r) => r.startsWith('crds/')).map((r) => r.slice('crds/'.length)).sort();
    expect(listed).toEqual(crdFiles); // a new file in deploy/crds must be listed in deploy/kustomization.yaml
    const built = objs.filter((o) => o.kind === 'CustomResourceDefinition');
    expect(built.map((c) => c.metadata.name).sort()).toEqual(sourceCrds.map((c) => c.metadata.name).sort());
    for (const src of sourceCrds) {
      const crd = find(objs, 'CustomResourceDefinition', src.metadata.name);
      expect({ ...crd, metadata: { name: crd.metadata.name } }).toEqual(src); // only the part-of label added
      expect(crdProblems(crd)).toEqual([]);
      expect(crd.spec.names.shortNames.length).toBeGreaterThan(0);
      for (const v of crd.spec.versions) {
        // NodeLease has no status, as coordination.k8s.io Lease.
        expect(v.subresources).toEqual(crd.spec.names.plural === 'nodeleases' ? undefined : { status: {} });
        expect(v.additionalPrinterColumns.filter((c: Obj) => c.name !== 'Age').length).toBeGreaterThan(0);
      }
    }
  });

  it('runs `vnetd controller` replicas on the shared store, probed over HTTPS, spread and protected by a PDB', () => {
    const d = find(objs, 'Deployment', 'vnetd-controller');
    expect(d.spec.replicas).toBeGreaterThanOrEqual(2);
    expect(d.spec.replicas).toBeLessThanOrEqual(3);
    const labels = d.spec.template.metadata.labels;
    expect(matches(d.spec.selector.matchLabels, labels)).toBe(true);
    const c = container(d, 'controller');
    expect(c.command).toEqual(['vnetd', 'controller']);
    expect(c.args).toBeUndefined();
    // VNETD_STORE from the generated ConfigMap, in the contract's syntax.
    const storeRef = envOf(c, 'VNETD_STORE')!.valueFrom.configMapKeyRef;
    const cm = find(objs, 'ConfigMap', storeRef.name);
    expect(cm.data[storeRef.key]).toMatch(STORE_CONTRACT);
    expect(cm.data[storeRef.key]).toMatch(/^etcd:\/\//);
    expect(envOf(c, 'VNETD_LISTEN')?.value).toBe('0.0.0.0:8443');
    const port = c.ports.find((p: Obj) => p.containerPort === 8443);
    expect(port).toBeDefined();
    for (const [probe, path] of [['readinessProbe', '/readyz'], ['livenessProbe', '/livez']] as const) {
      expect(c[probe].httpGet).toMatchObject({ path, scheme: 'HTTPS' });
      expect([port.name, 8443]).toContain(c[probe].httpGet.port);
    }
    // The data directory is writable (read-only root file system) and the PKI Secret is optional.
    expect(volumeAt(d, c, envOf(c, 'VNETD_DATA_DIR')!.value).volume.emptyDir).toBeDefined();
    const pki = podSpec(d).volumes.find((v: Obj) => v.name === 'pki');
    expect(pki.secret).toMatchObject({ secretName: 'vnetd-pki', optional: true });
    const init = podSpec(d).initContainers.find((i: Obj) => i.name === 'pki');
    expect(init.volumeMounts.map((m: Obj) => m.name).sort()).toEqual(['data', 'pki']);
    // Anti-affinity on hosts, selecting these very pods.
    const terms = [...(podSpec(d).affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((t: Obj) => t.podAffinityTerm), ...(podSpec(d).affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution ?? [])];
    expect(terms.some((t: Obj) => t.topologyKey === 'kubernetes.io/hostname' && matches(t.labelSelector.matchLabels, labels))).toBe(true);
    const pdb = find(objs, 'PodDisruptionBudget', 'vnetd-controller');
    expect(matches(pdb.spec.selector.matchLabels, labels)).toBe(true);
    expect(pdb.spec.maxUnavailable ?? d.spec.replicas - pdb.spec.minAvailable).toBeLessThan(d.spec.replicas);
    // The API Service reaches the container port.
    const svc = find(objs, 'Service', 'vnetd-api');
    expect(matches(svc.spec.selector, labels)).toBe(true);
    expect([port.name, 8443]).toContain(svc.spec.ports[0].targetPort);
    expect(podSpec(d).serviceAccountName).toBe('vnetd-controller');
    expect(find(objs, 'ServiceAccount', 'vnetd-controller')).toBeDefined();
  });

  it('runs `vnetd agent --node $(NODE_NAME)` on every node with host networking and the OVS/AF_XDP capabilities', () => {
    const ds = find(objs, 'DaemonSet', 'vnetd-agent');
    expect(matches(ds.spec.selector.matchLabels, ds.spec.template.metadata.labels)).toBe(true);
    const spec = podSpec(ds);
    expect(spec.hostNetwork).toBe(true);
    expect(spec.hostPID).toBe(false);
    expect(spec.dnsPolicy).toBe('ClusterFirstWithHostNet');
    expect(spec.tolerations).toContainEqual({ operator: 'Exists' }); // no key, no effect: every taint
    expect(spec.serviceAccountName).toBe('vnetd-agent');
    const c = container(ds, 'agent');
    expect(c.command.slice(0, 4)).toEqual(['vnetd', 'agent', '--node', '$(NODE_NAME)']);
    expect(c.command[4]).toBe('--kubeconfig');
    expect(c.command).toHaveLength(6);
    expect(envOf(c, 'NODE_NAME')?.valueFrom).toEqual({ fieldRef: { fieldPath: 'spec.nodeName' } });
    // The kubeconfig is the `kubeconfig` key of the vnetd-agent-kubeconfig Secret.
    const kc = volumeAt(ds, c, c.command[5]);
    expect(kc.volume.secret.secretName).toBe('vnetd-agent-kubeconfig');
    expect(kc.sub).toBe('kubeconfig');
    // Capabilities: exactly those, nothing else, not privileged. The API server refuses
    // allowPrivilegeEscalation=false beside SYS_ADMIN.
    const sc = c.securityContext;
    expect(sc.capabilities.drop).toEqual(['ALL']);
    expect([...sc.capabilities.add].sort()).toEqual([...AGENT_CAPABILITIES].sort());
    expect(sc.privileged).not.toBe(true);
    expect(sc.allowPrivilegeEscalation).not.toBe(false);
    // Host paths: OVS's run directory (the OVSDB socket the agent defaults to), bpffs, modules read-only.
    const ovsdb = envOf(c, 'VNETD_OVSDB')?.value as string;
    expect(ovsdb).toBe('unix:/var/run/openvswitch/db.sock');
    const hostMount = (path: string) => {
      const at = volumeAt(ds, c, path);
      expect(at.volume.hostPath.path).toBe(at.mount.mountPath);
      return at.mount;
    };
    expect(hostMount(ovsdb.slice('unix:'.length)).readOnly).not.toBe(true);
    expect(hostMount('/sys/fs/bpf').readOnly).not.toBe(true);
    expect(hostMount('/lib/modules').readOnly).toBe(true);
  });

  it('grants each ServiceAccount what it needs from the Kubernetes API, with no wildcard', () => {
    const rules = objs.filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role').flatMap((r) => r.rules as Rule[]);
    for (const r of rules) {
      expect(r.verbs).not.toContain('*');
      expect(r.resources).not.toContain('*');
      expect(r.apiGroups).not.toContain('*');
      expect(r.resources).not.toContain('secrets'); // Secrets come as volumes, never through the API
    }
    // Every binding points at a role and ServiceAccount that the build contains.
    for (const b of objs.filter((o) => o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding')) {
      expect(find(objs, b.roleRef.kind, b.roleRef.name)).toBeDefined();
      for (const s of b.subjects) expect(objs.some((o) => o.kind === 'ServiceAccount' && o.metadata.name === s.name && o.metadata.namespace === s.namespace)).toBe(true);
    }
    const plurals = sourceCrds.map((c) => c.spec.names.plural as string);
    const ctl = (verb: string, group: string, resource: string, ns?: string) => can(objs, 'vnetd-controller', verb, group, resource, ns);
    const agent = (verb: string, group: string, resource: string, ns?: string) => can(objs, 'vnetd-agent', verb, group, resource, ns);
    for (const verb of ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete']) {
      expect([verb, ctl(verb, 'coordination.k8s.io', 'leases', NAMESPACE)]).toEqual([verb, true]);
      for (const p of plurals) expect([verb, p, ctl(verb, 'vnet.dev', p)]).toEqual([verb, p, true]);
    }
    expect(ctl('get', 'coordination.k8s.io', 'leases')).toBe(false); // leases only in vnetd-system
    for (const p of plurals.filter((x) => x !== 'nodeleases')) for (const verb of ['update', 'patch']) expect([p, verb, ctl(verb, 'vnet.dev', `${p}/status`)]).toEqual([p, verb, true]);
    for (const verb of ['get', 'list', 'watch']) {
      expect(ctl(verb, '', 'nodes')).toBe(true);
      expect(agent(verb, '', 'nodes')).toBe(true);
      for (const p of plurals) expect([p, verb, agent(verb, 'vnet.dev', p)]).toEqual([p, verb, true]);
    }
    expect(ctl('create', '', 'events')).toBe(true);
    expect(agent('create', '', 'events')).toBe(true);
    expect(agent('patch', 'vnet.dev', 'nodes/status')).toBe(true);
    expect(agent('patch', 'vnet.dev', 'virtualports/status')).toBe(true);
    // The agent reads desired state; it never writes it. Its one object is its heartbeat, which it never deletes (the Node owns it).
    for (const p of plurals) for (const verb of ['create', 'update', 'patch', 'delete']) expect([p, verb, agent(verb, 'vnet.dev', p)]).toEqual([p, verb, p === 'nodeleases' && verb !== 'delete']);
    expect(agent('update', '', 'nodes')).toBe(false);
  });

  it('takes every image from the kustomization images: entry, at the package version', () => {
    const entry = (kustomization.images as Obj[]).find((i) => i.name === 'vnetd')!;
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(entry).toEqual({ name: 'vnetd', newName: 'ghcr.io/vnetd/vnetd', newTag: pkg.version });
    const images = objs.filter((o) => o.spec?.template).flatMap((o) => [...(podSpec(o).initContainers ?? []), ...podSpec(o).containers].map((c: Obj) => c.image));
    expect(images.length).toBeGreaterThanOrEqual(3);
    expect(new Set(images)).toEqual(new Set([`ghcr.io/vnetd/vnetd:${pkg.version}`]));
    // The sources name only the placeholder, so no manifest pins an image of its own.
    for (const f of readdirSync(join(DEPLOY, 'kubernetes')).filter((n) => n.endsWith('.yaml'))) {
      for (const m of readFileSync(join(DEPLOY, 'kubernetes', f), 'utf8').matchAll(/^\s*image:\s*(\S+)/gm)) expect([f, m[1]]).toEqual([f, 'vnetd']);
    }
  });

  it('component etcd-tls gives the controllers the etcd client certificate from a Secret', () => {
    const built = kustomize(overlay('etcd-tls', ['etcd-tls']));
    expect(apiTypeProblems(built)).toEqual([]);
    const d = find(built, 'Deployment', 'vnetd-controller');
    const c = container(d, 'controller');
    for (const [env, key] of [['VNETD_ETCD_CA', 'ca.crt'], ['VNETD_ETCD_CERT', 'tls.crt'], ['VNETD_ETCD_KEY', 'tls.key']]) {
      const at = volumeAt(d, c, envOf(c, env!)!.value);
      expect([env, at.volume.secret?.secretName, at.sub]).toEqual([env, 'vnetd-etcd-client', key]);
    }
    expect(envOf(c, 'VNETD_STORE')).toBeDefined(); // merged, not replaced
  });

  it('component sqlite-single runs one controller on SQLite on a PersistentVolumeClaim', () => {
    const built = kustomize(overlay('sqlite-single', ['sqlite-single']));
    expect(apiTypeProblems(built)).toEqual([]);
    const d = find(built, 'Deployment', 'vnetd-controller');
    expect(d.spec.replicas).toBe(1);
    expect(d.spec.strategy).toEqual({ type: 'Recreate' });
    const c = container(d, 'controller');
    const ref = envOf(c, 'VNETD_STORE')!.valueFrom.configMapKeyRef;
    expect(find(built, 'ConfigMap', ref.name).data).toEqual({ VNETD_STORE: 'sqlite', VNETD_LOG_LEVEL: 'info' });
    expect(byPrefix(built, 'ConfigMap', 'vnetd-controller')).toHaveLength(1);
    const data = volumeAt(d, c, envOf(c, 'VNETD_DATA_DIR')!.value).volume;
    expect(data).toEqual({ name: 'data', persistentVolumeClaim: { claimName: 'vnetd-data' } });
    expect(find(built, 'PersistentVolumeClaim', 'vnetd-data').metadata.namespace).toBe(NAMESPACE);
  });

  it('an overlay can point the controllers at its own etcd', () => {
    const built = kustomize(
      overlay('endpoints', [], `configMapGenerator:\n  - name: vnetd-controller\n    namespace: ${NAMESPACE}\n    behavior: merge\n    literals:\n      - VNETD_STORE=etcd://10.0.0.11:2379,10.0.0.12:2379\n`),
    );
    const c = container(find(built, 'Deployment', 'vnetd-controller'), 'controller');
    expect(find(built, 'ConfigMap', envOf(c, 'VNETD_STORE')!.valueFrom.configMapKeyRef.name).data.VNETD_STORE).toBe('etcd://10.0.0.11:2379,10.0.0.12:2379');
  });

  it("the README's overlay builds and does what it says", () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const snippet = /cat > my-vnetd\/kustomization\.yaml <<'YAML'\n([\s\S]*?)\nYAML\n/.exec(readme)?.[1];
    expect(snippet).toBeDefined();
    const dir = join(scratch, 'overlays', 'readme');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'kustomization.yaml'), snippet!.replaceAll('../deploy', relative(dir, DEPLOY)));
    const built = kustomize(dir);
    const d = find(built, 'Deployment', 'vnetd-controller');
    const c = container(d, 'controller');
    expect(find(built, 'ConfigMap', envOf(c, 'VNETD_STORE')!.valueFrom.configMapKeyRef.name).data.VNETD_STORE).toMatch(STORE_CONTRACT);
    expect(envOf(c, 'VNETD_ETCD_CA')).toBeDefined();
    const images = built.filter((o) => o.spec?.template).flatMap((o) => [...(podSpec(o).initContainers ?? []), ...podSpec(o).containers].map((x: Obj) => x.image));
    expect(new Set(images)).toEqual(new Set(['registry.example.com/vnetd:0.1.0']));
  });
});

(kubectlPresent && opensslPresent ? describe : describe.skip)('deploy/kubernetes scripts against a real vnetd', () => {
  let v: TestVnetd | undefined;
  afterAll(async () => v?.stop());
  // Asynchronous: vnetd serves from this process, a synchronous child would starve it.
  const run = (script: string, args: string[]) => spawnAsync('bash', [join(DEPLOY, 'kubernetes', script), ...args]);
  const kubectlAsync = (args: string[]) => spawnAsync('kubectl', args);

  it('pki.sh makes one CA whose server certificate every replica keeps; agent-kubeconfig.sh makes a kubeconfig that works', async () => {
    const pki = join(scratch, 'pki');
    const made = await run('pki.sh', [pki]);
    expect(made.status).toBe(0);
    const files = Object.fromEntries(['ca.crt', 'ca.key', 'server.crt', 'server.key'].map((f) => [f, readFileSync(join(pki, f), 'utf8')]));
    // A replica listening on 0.0.0.0 (the pods) keeps the certificate instead of signing its own.
    const replica = join(scratch, 'replica-pki');
    cpSync(pki, replica, { recursive: true });
    const tls = ensureTlsMaterial(replica, ['0.0.0.0']);
    expect([tls.caCertPem, tls.certPem, tls.keyPem]).toEqual([files['ca.crt'], files['server.crt'], files['server.key']]);
    // A vnetd started on that PKI serves it, and the agent kubeconfig made from it works.
    const dataDir = join(scratch, 'vnetd');
    mkdirSync(join(dataDir, 'pki'), { recursive: true });
    for (const f of Object.keys(files)) copyFileSync(join(pki, f), join(dataDir, 'pki', f));
    v = await startTestVnetd({ dataDir });
    expect(v.caCertPem).toBe(files['ca.crt']);
    const out = join(scratch, 'agent.kubeconfig');
    const r = await run('agent-kubeconfig.sh', [v.kubeconfigPath, v.url, join(pki, 'ca.crt'), out]);
    expect([r.status, r.stderr]).toEqual([0, expect.stringContaining('create secret generic vnetd-agent-kubeconfig')]);
    const get = await kubectlAsync(['--kubeconfig', out, 'get', 'vnodes']);
    expect([get.status, get.stderr]).toEqual([0, 'No resources found\n']);
    // Every node's agents' token (a DaemonSet's one Secret): it reads the topology, and is no admin.
    expect((await kubectlAsync(['--kubeconfig', v.kubeconfigPath, 'get', 'vtoken', 'vnetd-agents', '-o', 'jsonpath={.spec}'])).stdout).toBe('{"admin":false,"node":"*"}');
    const create = await kubectlAsync(['--kubeconfig', out, 'create', 'namespace', 'x']);
    expect([create.status, create.stderr]).toEqual([1, expect.stringContaining("namespaces are not an agent's")]);
    // A host's own: its one node.
    const hv1 = join(scratch, 'hv1.kubeconfig');
    expect((await run('agent-kubeconfig.sh', [v.kubeconfigPath, v.url, join(pki, 'ca.crt'), hv1, 'agent-hv1', 'hv1'])).status).toBe(0);
    expect((await kubectlAsync(['--kubeconfig', v.kubeconfigPath, 'get', 'vtoken', 'agent-hv1', '-o', 'jsonpath={.spec.node}'])).stdout).toBe('hv1');
    expect((await kubectlAsync(['--kubeconfig', hv1, 'auth', 'whoami', '-o', 'jsonpath={.status.userInfo.groups}'])).stdout).toBe('["system:nodes","system:authenticated"]');
    // A second run cannot show the secret again, and says what to do.
    const again = await run('agent-kubeconfig.sh', [v.kubeconfigPath, v.url, join(pki, 'ca.crt'), join(scratch, 'agent2.kubeconfig')]);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain('kubectl delete vtoken vnetd-agents, then rerun');
    expect(existsSync(join(scratch, 'agent2.kubeconfig'))).toBe(false);
  });

  it('refuse bad input with one clear line', async () => {
    const dir = join(scratch, 'bad-input');
    mkdirSync(join(dir, 'pki'), { recursive: true });
    for (const f of ['pki/ca.key', 'pki/ca.crt', 'admin.kubeconfig']) writeFileSync(join(dir, f), '');
    const pki = await run('pki.sh', [join(dir, 'pki')]);
    expect([pki.status, pki.stderr]).toEqual([1, expect.stringContaining('exists; refusing to replace a CA')]);
    const san = await run('pki.sh', [join(dir, 'pki2'), 'example.com']);
    expect([san.status, san.stderr]).toEqual([2, expect.stringContaining('extra SAN must be DNS:name or IP:address, got "example.com"')]);
    expect(existsSync(join(dir, 'pki2'))).toBe(false);
    const url = await run('agent-kubeconfig.sh', [join(dir, 'admin.kubeconfig'), 'http://x:8443', join(dir, 'pki', 'ca.crt'), join(dir, 'k3')]);
    expect([url.status, url.stderr]).toEqual([2, expect.stringContaining('SERVER_URL must be https://host:port, got "http://x:8443"')]);
    const admin = await run('agent-kubeconfig.sh', [join(dir, 'missing.kubeconfig'), 'https://x:8443', join(dir, 'pki', 'ca.crt'), join(dir, 'k3')]);
    expect([admin.status, admin.stderr]).toEqual([1, expect.stringContaining('cannot read admin kubeconfig')]);
    const node = await run('agent-kubeconfig.sh', [join(dir, 'admin.kubeconfig'), 'https://x:8443', join(dir, 'pki', 'ca.crt'), join(dir, 'k4'), 'agent-x', 'HV_1']);
    expect([node.status, node.stderr]).toEqual([2, expect.stringContaining(`NODE must be a Node's name (lowercase letters, digits, '-' and '.') or '*', got "HV_1"`)]);
    expect(existsSync(join(dir, 'k4'))).toBe(false);
    const usage = await run('agent-kubeconfig.sh', []);
    expect([usage.status, usage.stderr]).toEqual([2, expect.stringContaining('usage:')]);
  });
});

// ---- Docker image ---------------------------------------------------------------------

describe('deploy/image/Dockerfile', () => {
  const text = readFileSync(join(DEPLOY, 'image', 'Dockerfile'), 'utf8');

  it('builds dist/ and native/ on node:20-bookworm-slim and runs with production dependencies, vnetd on PATH', () => {
    const froms = [...text.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]);
    expect(new Set(froms)).toEqual(new Set(['node:20-bookworm-slim']));
    expect(text).toMatch(/^RUN npm run build$/m);
    expect(text).toMatch(/^RUN make -s -C native$/m);
    expect(text).toMatch(/^RUN npm ci --omit=dev\b/m);
    expect(text).toMatch(/ln -s \/app\/dist\/bundle\/vnetd\.js \/usr\/local\/bin\/vnetd/);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    expect(pkg.bin.vnetd).toBe('dist/main.js');
    // Every path it copies from the context exists and passes Dockerfile.dockerignore.
    const ignore = readFileSync(join(DEPLOY, 'image', 'Dockerfile.dockerignore'), 'utf8');
    for (const m of text.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const src of m[1]!.split(/\s+/)) {
        expect([src, existsSync(join(ROOT, src))]).toEqual([src, true]);
        expect([src, ignore.includes(`!${src}`)]).toEqual([src, true]);
      }
    }
  });
});

// ---- systemd ------------------------------------------------------------------------

/** [section] key=value pairs of a unit, values of repeated keys in order. */
function unitFile(path: string): Map<string, string[]> {
  const keys = new Map<string, string[]>();
  let section = '';
  for (const raw of readFileSync(path, 'utf8').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const s = /^\[(.+)\]$/.exec(line);
    if (s) section = s[1]!;
    else {
      const i = line.indexOf('=');
      const k = `${section}.${line.slice(0, i)}`;
      keys.set(k, [...(keys.get(k) ?? []), line.slice(i + 1)]);
    }
  }
  return keys;
}
const one = (u: Map<string, string[]>, key: string) => (u.get(key) ?? []).join(' ');
const envFile = (name: string) =>
  Object.fromEntries(
    readFileSync(join(SYSTEMD, name), 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );

describe('deploy/systemd units', () => {
  const controller = unitFile(join(SYSTEMD, 'vnetd-controller.service'));
  const agent = unitFile(join(SYSTEMD, 'vnetd-agent@.service'));

  it('start vnetd as the command-line contract says', () => {
    expect(one(controller, 'Service.ExecStart')).toBe('/usr/bin/node /opt/vnetd/dist/bundle/vnetd.js controller');
    expect(one(agent, 'Service.ExecStart')).toBe('/usr/bin/node /opt/vnetd/dist/bundle/vnetd.js agent --node %I --kubeconfig /etc/vnetd/agent.kubeconfig');
    expect(one(agent, 'Service.Environment')).toContain('VNETD_NODE_NAME=%I');
    for (const [u, env] of [[controller, 'controller.env'], [agent, 'agent.env']] as const) {
      expect(one(u, 'Service.EnvironmentFile')).toBe(`/etc/vnetd/${env}`);
      expect(existsSync(join(SYSTEMD, env))).toBe(true); // the example to copy there
      expect(one(u, 'Service.Restart')).toBe('on-failure');
      expect(one(u, 'Service.NoNewPrivileges')).toBe('yes');
      expect(one(u, 'Service.ProtectSystem')).toBe('strict');
    }
    const c = envFile('controller.env');
    expect(c.VNETD_STORE).toMatch(STORE_CONTRACT);
    expect(c.VNETD_LISTEN).toBe('0.0.0.0:8443');
    expect(envFile('agent.env').VNETD_OVSDB).toBe('unix:/var/run/openvswitch/db.sock');
    for (const k of [...Object.keys(c), ...Object.keys(envFile('agent.env'))]) expect(k).toMatch(/^VNETD_[A-Z_]+$/);
  });

  it('order after etcd and Open vSwitch; the agent keeps exactly the OVS/AF_XDP capabilities, the controller none', () => {
    expect(one(controller, 'Unit.After').split(' ')).toContain('etcd.service');
    expect(one(agent, 'Unit.After').split(' ')).toEqual(expect.arrayContaining(['ovsdb-server.service', 'openvswitch-switch.service']));
    const caps = AGENT_CAPABILITIES.map((c) => `CAP_${c}`).sort();
    expect(one(agent, 'Service.CapabilityBoundingSet').split(' ').sort()).toEqual(caps);
    expect(one(agent, 'Service.AmbientCapabilities').split(' ').sort()).toEqual(caps);
    expect(one(agent, 'Service.RestrictAddressFamilies').split(' ')).toEqual(expect.arrayContaining(['AF_XDP', 'AF_NETLINK', 'AF_UNIX']));
    expect(one(agent, 'Service.PrivateNetwork')).toBe('');
    expect(one(controller, 'Service.CapabilityBoundingSet')).toBe('');
    expect(controller.has('Service.CapabilityBoundingSet')).toBe(true);
  });

  (systemdAnalyzePresent ? it : it.skip)('pass systemd-analyze verify, without a warning', () => {
    const dir = join(scratch, 'units');
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(SYSTEMD, 'vnetd-controller.service'), join(dir, 'vnetd-controller.service'));
    copyFileSync(join(SYSTEMD, 'vnetd-agent@.service'), join(dir, 'vnetd-agent@hv-test.service'));
    const verify = (...units: string[]) => spawnSync('systemd-analyze', ['verify', ...units], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    const r = verify('vnetd-controller.service', 'vnetd-agent@hv-test.service');
    expect([r.status, r.stderr + r.stdout]).toEqual([0, '']);
    // verify is strict enough to matter: a misspelt key is reported.
    writeFileSync(join(dir, 'broken.service'), readFileSync(join(dir, 'vnetd-controller.service'), 'utf8').replace('RestartSec=', 'RestartSecs='));
    expect(verify('broken.service').stderr).toContain("Unknown key 'RestartSecs'");
    // Exposure as systemd scores it (lower is better): printed, and held below a ceiling.
    for (const [unit, ceiling] of [['vnetd-controller.service', 3], ['vnetd-agent@hv-test.service', 6.5]] as const) {
      const s = spawnSync('systemd-analyze', ['security', '--offline=yes', unit], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
      const score = /Overall exposure level for \S+: ([\d.]+)/.exec(s.stdout)?.[1];
      if (score === undefined) {
        process.stdout.write(`systemd-analyze security --offline=yes gave no score for ${unit}: ${s.stderr.trim()}\n`);
        continue;
      }
      process.stdout.write(`systemd-analyze security ${unit}: exposure ${score}\n`);
      expect(Number(score)).toBeLessThan(ceiling);
    }
  });
});
