import type { KubeObject } from '../resources/object';
import { ApiStatusError, TransportError } from './errors';
import type { Query, WatchEvent } from './http/client';
import { lastErrorText, resumableWatch, retryable, type WatchClient } from './resumable-watch';

type Ev = WatchEvent<KubeObject>;
/** One scripted watch: the events it sends, then how it ends (a thrown error, or the server ending it). */
type Script = { events?: Ev[]; end: 'ended' | Error } | { hang: true };

const obj = (name: string, rv: string): KubeObject => ({ apiVersion: 'v1', kind: 'X', metadata: { name, resourceVersion: rv } }) as KubeObject;
const refused = () => new TransportError('https://vnetd:6443', 'ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:6443');
const tooLarge = () =>
  new ApiStatusError(504, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', code: 504, reason: 'Timeout', message: 'Timeout: Too large resource version: 39, current: 10', details: { causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }] } });
const storeTimeout = () => new ApiStatusError(504, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', code: 504, reason: 'Timeout', message: 'Timeout: the store did not answer in time' });
const gone = () => new ApiStatusError(410, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', code: 410, reason: 'Expired', message: 'too old resource version' });

/** A client that plays the scripts in order and records each watch's resourceVersion. */
function fakeClient(scripts: Script[], answered = true): WatchClient & { from: (string | undefined)[] } {
  const from: (string | undefined)[] = [];
  return {
    from,
    answered,
    server: 'https://vnetd:6443',
    watch<T>(_path: string, query: Query, onEvent: (ev: WatchEvent<T>) => boolean | void, onOpen?: () => void) {
      from.push(query.resourceVersion as string | undefined);
      const script = scripts.shift() ?? { hang: true };
      let stop: (how: 'stopped') => void = () => undefined;
      const done = new Promise<'ended' | 'stopped' | 'satisfied'>((resolve, reject) => {
        stop = resolve;
        if ('hang' in script) return;
        setImmediate(() => {
          // A refused connection never opens; one reset after events did.
          if (script.events !== undefined || script.end === 'ended') onOpen?.();
          for (const ev of script.events ?? []) if (onEvent(ev as WatchEvent<T>) === true) return resolve('satisfied');
          if (script.end instanceof Error) reject(script.end);
          else resolve('ended');
        });
      });
      return { done, stop: () => stop('stopped') };
    },
  };
}

describe('resumableWatch', () => {
  it('resumes from the last resourceVersion after a reset connection and a refused one, so no event is seen twice', async () => {
    const client = fakeClient([{ events: [{ type: 'ADDED', object: obj('a', '5') }], end: new TransportError('https://vnetd:6443', 'ECONNRESET', 'aborted') }, { end: refused() }, { events: [{ type: 'BOOKMARK', object: obj('', '7') }], end: 'ended' }, { events: [{ type: 'MODIFIED', object: obj('a', '9') }], end: 'ended' }]);
    const seen: string[] = [];
    const r = await resumableWatch(client, { path: '/x', query: {}, deadline: Date.now() + 10_000, relist: async () => ({ resourceVersion: '3' }), onEvent: (ev) => (seen.push(`${ev.type} ${ev.object.metadata.resourceVersion}`), ev.type === 'MODIFIED') });
    expect(r).toEqual({ how: 'satisfied' });
    expect(seen).toEqual(['ADDED 5', 'MODIFIED 9']);
    expect(client.from).toEqual(['3', '5', '5', '7']);
  });

  it('lists again after 410 Gone, as a watch error or as an ERROR event', async () => {
    const client = fakeClient([{ end: gone() }, { events: [{ type: 'ERROR', object: obj('', '') }], end: 'ended' }, { hang: true }]);
    let lists = 0;
    const r = await resumableWatch(client, { path: '/x', query: {}, deadline: Date.now() + 1500, relist: async () => ({ resourceVersion: String(++lists * 10) }), onEvent: () => false });
    expect(r).toEqual({ how: 'timeout', lastError: undefined });
    expect(client.from).toEqual(['10', '20', '30']);
  });

  it('lists again after 504 Too large resource version (a store restored from a backup), where a plain 504 is retried from the same revision', async () => {
    const client = fakeClient([{ events: [{ type: 'ADDED', object: obj('a', '39') }], end: 'ended' }, { end: storeTimeout() }, { end: tooLarge() }, { hang: true }]);
    let lists = 0;
    const r = await resumableWatch(client, { path: '/x', query: {}, deadline: Date.now() + 2000, relist: async () => ({ resourceVersion: String(++lists * 10) }), onEvent: () => false });
    expect(r).toEqual({ how: 'timeout', lastError: undefined });
    // Before: '10', '39', '39', '39', ... until the store's revision passed 39, and what the restore changed was never seen.
    expect(client.from).toEqual(['10', '39', '39', '20']);
  });

  it('backs off when each relist is answered 410 again (a revision the list cannot get past), instead of a request loop', async () => {
    const client = fakeClient(Array.from({ length: 1000 }, () => ({ end: gone() })));
    let lists = 0;
    const r = await resumableWatch(client, { path: '/x', query: {}, deadline: Date.now() + 1000, relist: async () => ({ resourceVersion: String(++lists) }), onEvent: () => false });
    expect(r.how).toBe('timeout');
    // 0.2 s doubling: a handful in a second, where it was hundreds.
    expect(lists).toBeLessThan(8);
  });

  it('gives up a stream that sends nothing (no event, no bookmark) for idleMs and opens it again from where it was', async () => {
    const client = fakeClient([{ events: [{ type: 'ADDED', object: obj('a', '5') }], end: new TransportError('https://vnetd:6443', 'ECONNRESET', 'aborted') }, { hang: true }, { events: [{ type: 'MODIFIED', object: obj('a', '8') }], end: 'ended' }]);
    const r = await resumableWatch(client, { path: '/x', query: {}, deadline: Date.now() + 5_000, relist: async () => ({ resourceVersion: '3' }), onEvent: (ev) => ev.type === 'MODIFIED' }, 100);
    expect(r).toEqual({ how: 'satisfied' });
    expect(client.from).toEqual(['3', '5', '5']);
  });

  it('times out with the last error while vnetd stays unreachable', async () => {
    const client = fakeClient(Array.from({ length: 50 }, () => ({ end: refused() })));
    const t0 = Date.now();
    const r = await resumableWatch(client, { path: '/x', query: {}, deadline: t0 + 1200, relist: async () => ({ resourceVersion: '1' }), onEvent: () => false });
    expect(r.how).toBe('timeout');
    expect(lastErrorText(r.lastError)).toBe('cannot reach vnetd at https://vnetd:6443 (connect ECONNREFUSED 127.0.0.1:6443)');
    expect(Date.now() - t0).toBeLessThan(2500);
    // A backoff, not a tight loop: 100-200 ms, then 200-400 ms, ... within 1.2 s.
    expect(client.from.length).toBeGreaterThan(2);
    expect(client.from.length).toBeLessThan(8);
  });

  it('gives up at once on what retrying cannot mend', async () => {
    const unauthorized = new ApiStatusError(401, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', code: 401, reason: 'Unauthorized', message: 'Unauthorized' });
    await expect(resumableWatch(fakeClient([{ end: unauthorized }]), { path: '/x', query: {}, relist: async () => ({}), onEvent: () => false })).rejects.toBe(unauthorized);
    // A server that never answered is a wrong kubeconfig or a stopped vnetd, not a failover.
    const never = refused();
    await expect(resumableWatch(fakeClient([], false), { path: '/x', query: {}, relist: () => Promise.reject(never), onEvent: () => false })).rejects.toBe(never);
  });

  it('stops when its signal aborts, also during a backoff', async () => {
    const ctl = new AbortController();
    const pending = resumableWatch(fakeClient(Array.from({ length: 50 }, () => ({ end: refused() }))), { path: '/x', query: {}, signal: ctl.signal, relist: async () => ({}), onEvent: () => false });
    setTimeout(() => ctl.abort(), 300);
    expect(await pending).toEqual({ how: 'stopped' });
  });
});

describe('retryable', () => {
  it('retries refused and reset connections to a server that answered, and 429/502/503/504', () => {
    expect(retryable(refused(), true)).toBe(true);
    expect(retryable(refused(), false)).toBe(false);
    expect(retryable(new TransportError('s', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed'), true)).toBe(false);
    for (const code of [429, 502, 503, 504]) expect(retryable(new ApiStatusError(code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', code, message: 'x' }), true)).toBe(true);
    for (const code of [400, 401, 403, 404, 500]) expect(retryable(new ApiStatusError(code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', code, message: 'x' }), true)).toBe(false);
  });
});
