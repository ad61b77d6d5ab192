import type { AccessToken } from '../../admission/access-token.admission';
import { EndingStore } from '../../reconcile/testing/ending-store';
import { objectKey } from '../../store/keys';
import { ObjectStore } from '../../store/object-store';
import { countReads } from '../../store/testing/counted-reads';
import { SqliteStore } from '../../store/sqlite-store';
import { ACCESS_TOKENS, TokenAuthenticator } from './authenticator';
import { formatToken, hashSecret, mintSecret } from './token';

describe('TokenAuthenticator', () => {
  let kv: SqliteStore;
  let objects: ObjectStore;
  let clock: number;
  let auth: TokenAuthenticator;
  let storeReads: { readonly count: number };

  async function mint(name: string, spec: AccessToken['spec']): Promise<string> {
    const secret = mintSecret();
    await objects.create<AccessToken>(ACCESS_TOKENS, { apiVersion: 'vnet.dev/v1alpha1', kind: 'AccessToken', metadata: { name }, spec, status: { tokenHash: hashSecret(secret) } });
    return `Bearer ${formatToken(name, secret)}`;
  }

  beforeEach(() => {
    kv = SqliteStore.open(':memory:');
    objects = new ObjectStore(kv);
    storeReads = countReads(objects);
    clock = 0;
    auth = new TokenAuthenticator(objects, () => clock);
  });

  afterEach(async () => {
    auth.stop();
    await kv.close();
  });

  it('checks a token once, then answers from memory until the TTL', async () => {
    auth.start();
    const alice = await mint('alice', { namespaces: ['a1'] });
    const p = await auth.authenticate(alice);
    expect(p).toMatchObject({ name: 'token:alice', admin: false });
    expect([...p!.namespaces]).toEqual(['a1']);
    expect(await auth.authenticate(alice)).toBe(p);
    expect(storeReads.count).toBe(1);
    clock += 10_001;
    expect(await auth.authenticate(alice)).toMatchObject({ name: 'token:alice' });
    expect(storeReads.count).toBe(2);
  });

  it('never remembers a wrong secret, a malformed header or an unknown token', async () => {
    auth.start();
    const alice = await mint('alice', { namespaces: ['a1'] });
    const wrong = `${alice.slice(0, -2)}xx`;
    expect(await auth.authenticate(wrong)).toBeUndefined();
    expect(await auth.authenticate(wrong)).toBeUndefined();
    expect(storeReads.count).toBe(2);
    expect(await auth.authenticate('Basic abc')).toBeUndefined();
    expect(await auth.authenticate('Bearer nobody.secret')).toBeUndefined();
    expect(await auth.authenticate(undefined)).toBeUndefined();
  });

  it('forgets every token when any AccessToken changes or is deleted (the store watch)', async () => {
    auth.start();
    const alice = await mint('alice', { namespaces: ['a1'] });
    const bob = await mint('bob', { admin: true });
    expect(await auth.authenticate(alice)).toBeDefined();
    expect(await auth.authenticate(bob)).toBeDefined();
    await objects.modify<AccessToken>(ACCESS_TOKENS, undefined, 'alice', (cur) => ({ ...cur, spec: { namespaces: ['a1', 'a2'] } }));
    expect([...(await auth.authenticate(alice))!.namespaces]).toEqual(['a1', 'a2']);
    await objects.delete(ACCESS_TOKENS, undefined, 'bob');
    expect(await auth.authenticate(bob)).toBeUndefined();
  });

  it('does not remember a token read before a change that landed while it was checked', async () => {
    auth.start();
    const alice = await mint('alice', { namespaces: ['a1'] });
    const pending = auth.authenticate(alice);
    auth.forget(); // the change arrives between the read and the verdict
    expect(await pending).toBeDefined();
    await auth.authenticate(alice);
    expect(storeReads.count).toBe(2);
  });

  it('remembers nothing before start() or after stop()', async () => {
    const alice = await mint('alice', { namespaces: ['a1'] });
    await auth.authenticate(alice);
    await auth.authenticate(alice);
    expect(storeReads.count).toBe(2);
    auth.start();
    await auth.authenticate(alice);
    auth.stop();
    await auth.authenticate(alice);
    expect(storeReads.count).toBe(4);
  });

  it('forgets every token when the store ends its watch (etcd): a token deleted meanwhile is refused', async () => {
    const ending = new EndingStore();
    const onEnding = new ObjectStore(ending);
    const secret = mintSecret();
    await onEnding.create<AccessToken>(ACCESS_TOKENS, { apiVersion: 'vnet.dev/v1alpha1', kind: 'AccessToken', metadata: { name: 'bob' }, spec: { admin: true }, status: { tokenHash: hashSecret(secret) } });
    const bob = `Bearer ${formatToken('bob', secret)}`;
    const tokens = new TokenAuthenticator(onEnding, () => clock);
    tokens.start();
    try {
      expect(await tokens.authenticate(bob)).toMatchObject({ admin: true });
      // Revoked while the watch was gone: without the restart the verified entry would stand for its TTL.
      await ending.endWatches([{ type: 'delete', key: objectKey(ACCESS_TOKENS, undefined, 'bob') }]);
      expect(await tokens.authenticate(bob)).toBeUndefined();
    } finally {
      tokens.stop();
    }
  });

  describe('reports what changed while its watch was lost (onTokenChange: open watches of a revoked token end)', () => {
    let ending: EndingStore;
    let tokens: TokenAuthenticator;
    let changed: Array<string | undefined>;
    const token = (name: string) => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'AccessToken', metadata: { name }, spec: { node: 'hv1' }, status: { tokenHash: hashSecret(mintSecret()) } });

    beforeEach(async () => {
      ending = new EndingStore();
      const onEnding = new ObjectStore(ending);
      await onEnding.create<AccessToken>(ACCESS_TOKENS, token('a'));
      tokens = new TokenAuthenticator(onEnding, () => clock);
      changed = [];
      tokens.onTokenChange((name) => changed.push(name));
      tokens.start();
      await onEnding.create<AccessToken>(ACCESS_TOKENS, token('b'));
      expect(changed).toEqual(['b']);
    });
    afterEach(() => tokens.stop());

    it('by name, resuming after the last change it saw, when the store failed but kept its history', async () => {
      await ending.endWatches([{ type: 'delete', key: objectKey(ACCESS_TOKENS, undefined, 'a') }], false);
      expect(changed).toEqual(['b', 'a']);
    });

    it('as "any token", when the history it needed is gone (compacted): a token deleted meanwhile has no name to report', async () => {
      await ending.endWatches([{ type: 'delete', key: objectKey(ACCESS_TOKENS, undefined, 'a') }]);
      expect(changed).toEqual(['b', undefined]);
      // ... and the new watch reports the next change by name.
      await ending.txn([{ type: 'delete', key: objectKey(ACCESS_TOKENS, undefined, 'b') }]);
      expect(changed).toEqual(['b', undefined, 'b']);
    });
  });
});
