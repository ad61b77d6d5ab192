import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describeError } from '../describe-error';
import { TransportError } from '../errors';
import { ApiClient, warningsOf } from './client';

describe('warningsOf', () => {
  it('reads each Warning header the API sends (299 - "text"), unescaping quotes and backslashes', () => {
    const res = { headersDistinct: { warning: ['299 - "unknown field \\"spec.x\\""', '299 - "a \\\\ b"', 'not a warning'] } };
    expect(warningsOf(res)).toEqual(['unknown field "spec.x"', 'a \\ b']);
    expect(warningsOf({ headersDistinct: {} })).toEqual([]);
  });
});

const conn = (server: string) => ({ server, insecure: false, contextName: 'test', source: 'test' });

describe('ApiClient: a request with no answer', () => {
  let server: Server;
  let url: string;
  beforeAll(async () => {
    // Reads every request and never answers.
    server = createServer((req) => req.resume());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('a write sent in full that times out may have been done (QA: "cannot reach vnetd" for a load balancer it created); a read, or nothing sent, is unreachable', async () => {
    const client = new ApiClient(conn(url), 150);
    const failure = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as TransportError);
    const post = await failure(client.call({ method: 'POST', path: '/apis/vnet.dev/v1alpha1/namespaces/t/loadbalancers', body: { kind: 'LoadBalancer' } }));
    expect(post).toBeInstanceOf(TransportError);
    expect({ code: post!.code, unknown: post!.outcomeUnknown }).toEqual({ code: 'ETIMEDOUT', unknown: true });
    expect(describeError(post, { action: 'create loadbalancer "web"', listCommand: 'vnetctl lb list' })).toBe(`cannot create loadbalancer "web": no answer from vnetd at ${url} (no answer within 0.15s): it may have been done; look before running it again (vnetctl lb list)`);
    const get = await failure(client.call({ method: 'GET', path: '/version' }));
    expect({ code: get!.code, unknown: get!.outcomeUnknown }).toEqual({ code: 'ETIMEDOUT', unknown: false });
    const closed = await failure(new ApiClient(conn('http://127.0.0.1:9'), 150).call({ method: 'POST', path: '/x', body: {} }));
    expect({ code: closed!.code, unknown: closed!.outcomeUnknown }).toEqual({ code: 'ECONNREFUSED', unknown: false });
  });
});
