import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AccessToken } from '../admission/access-token.admission';
import { ACCESS_TOKENS } from '../api/auth/authenticator';
import { parseToken, statusAccepts } from '../api/auth/token';
import { MemoryStore } from '../reconcile/testing/memory-store';
import { ObjectStore } from '../store/object-store';
import { ensureAdminToken, ensureDefaultNamespace } from './bootstrap-state';
import { NAMESPACE_TYPE } from '../resources/catalog';

describe('ensureAdminToken', () => {
  let dir: string;
  let path: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vnetd-admin-'));
    path = join(dir, 'admin.kubeconfig');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const kubeconfigWith = (token: string) => writeFileSync(path, `users:\n- name: admin\n  user:\n    token: ${token}\n`);
  const accepts = async (objects: ObjectStore, token: string) => {
    const stored = (await objects.get<AccessToken>(ACCESS_TOKENS, undefined, 'admin'))!;
    return statusAccepts(stored.status, parseToken(token)!.secret);
  };

  it('keeps a kubeconfig token that verifies; without one, its own store revokes the old secret', async () => {
    const objects = new ObjectStore(new MemoryStore());
    const first = await ensureAdminToken(objects, path, false);
    expect(first.outcome).toBe('created');
    kubeconfigWith(first.token);
    expect(await ensureAdminToken(objects, path, false)).toEqual({ token: first.token, outcome: 'kept' });
    unlinkSync(path);
    const second = await ensureAdminToken(objects, path, false);
    expect(second.outcome).toBe('replaced');
    expect(await accepts(objects, second.token)).toBe(true);
    expect(await accepts(objects, first.token)).toBe(false);
  });

  it('on a shared store, a replica without the kubeconfig adds a secret and the others keep working (the four newest)', async () => {
    const objects = new ObjectStore(new MemoryStore());
    const tokens = [(await ensureAdminToken(objects, path, true)).token];
    for (let i = 0; i < 5; i++) {
      const next = await ensureAdminToken(objects, path, true);
      expect(next.outcome).toBe('added');
      tokens.push(next.token);
    }
    // Six minted: the newest and the four before it verify; the first is gone.
    expect(await Promise.all(tokens.map((t) => accepts(objects, t)))).toEqual([false, true, true, true, true, true]);
    // A replica whose kubeconfig holds an earlier, still valid secret keeps it.
    kubeconfigWith(tokens[2]!);
    expect((await ensureAdminToken(objects, path, true)).outcome).toBe('kept');
  });
});

describe('ensureDefaultNamespace', () => {
  it('makes default with kube-apiserver\'s name label, and labels namespaces stored before the label existed', async () => {
    const objects = new ObjectStore(new MemoryStore());
    await ensureDefaultNamespace(objects);
    expect((await objects.get(NAMESPACE_TYPE, undefined, 'default'))!.metadata.labels).toEqual({ 'kubernetes.io/metadata.name': 'default' });
    await objects.create(NAMESPACE_TYPE, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'old', labels: { team: 'a' } } });
    await objects.modify(NAMESPACE_TYPE, undefined, 'default', (cur) => ({ ...cur, metadata: { ...cur.metadata, labels: {} } }));
    await ensureDefaultNamespace(objects);
    expect((await objects.get(NAMESPACE_TYPE, undefined, 'old'))!.metadata.labels).toEqual({ team: 'a', 'kubernetes.io/metadata.name': 'old' });
    expect((await objects.get(NAMESPACE_TYPE, undefined, 'default'))!.metadata.labels).toEqual({ 'kubernetes.io/metadata.name': 'default' });
  });
});
