/**
 * A stand-in for vnetd's API on loopback, for warming a bench's own HTTPS clients before it
 * measures: every request gets a VirtualPort-sized answer, a list an empty one, and a watch
 * `events` events of a Ready port. The bench then runs its real client code (requests,
 * JSON answers, watch-line parsing) against it, so a freshly started vnetd's burst is not
 * also slowed by V8 compiling the bench's side on the same two cores. vnetd sees none of it.
 * HTTP/2 and HTTP/1.1, as vnetd serves.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createSecureServer, type Http2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureTlsMaterial } from '../../src/pki/certificates';

export interface StandInApi {
  server: string;
  ca: string;
  close(): Promise<void>;
}

/** A port as vnetd answers it once Ready (the shape and size the bench parses). */
function readyPort(i: number): Record<string, unknown> {
  const name = `p${i}`;
  return {
    apiVersion: 'vnet.dev/v1alpha1',
    kind: 'VirtualPort',
    metadata: { name, namespace: 'bench', uid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, resourceVersion: String(1000 + i), generation: 1, creationTimestamp: '2026-11-29T00:00:00Z', finalizers: ['vnet.dev/port'] },
    spec: { network: 'net', node: i % 2 ? 'hv2' : 'hv1', interfaceId: `stand-in-p${i}`, mac: '02:00:00:00:00:01', ips: ['10.100.0.2'], portSecurity: true },
    status: {
      observedGeneration: 1,
      mac: '02:00:00:00:00:01',
      ips: ['10.100.0.2'],
      node: i % 2 ? 'hv2' : 'hv1',
      ofport: 7,
      conditions: [
        { type: 'AddressesAllocated', status: 'True', reason: 'Allocated', message: '', lastTransitionTime: '2026-11-29T00:00:00Z', observedGeneration: 1 },
        { type: 'Bound', status: 'True', reason: 'InterfaceFound', message: '', lastTransitionTime: '2026-11-29T00:00:00Z', observedGeneration: 1 },
        { type: 'Ready', status: 'True', reason: 'FlowsInstalled', message: 'flows installed on node(s) hv1, hv2', lastTransitionTime: '2026-11-29T00:00:00Z', observedGeneration: 1 },
      ],
    },
  };
}

export async function startStandInApi(events: number): Promise<StandInApi> {
  const dir = mkdtempSync(join(tmpdir(), 'vnetd-stand-in-'));
  const tls = ensureTlsMaterial(dir, ['127.0.0.1']);
  const one = JSON.stringify(readyPort(0));
  const sessions = new Set<Http2Session>();
  const srv = createSecureServer({ cert: tls.certPem, key: tls.keyPem, allowHTTP1: true }, (req, res) => {
    req.resume();
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'https://stand-in');
      if (url.searchParams.get('watch')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        let i = 0;
        const more = () => {
          let chunk = '';
          for (let k = 0; k < 64 && i < events; k++, i++) chunk += `${JSON.stringify({ type: 'MODIFIED', object: readyPort(i) })}\n`;
          if (i >= events) res.end(chunk);
          else res.write(chunk, more);
        };
        more();
        return;
      }
      const body = req.method === 'GET' && url.pathname.endsWith('s') ? JSON.stringify({ kind: 'List', metadata: { resourceVersion: '1' }, items: [] }) : one;
      res.writeHead(req.method === 'POST' ? 201 : 200, { 'content-type': 'application/json' });
      res.end(body);
    });
  });
  srv.on('session', (s: Http2Session) => {
    sessions.add(s);
    s.once('close', () => sessions.delete(s));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  return {
    server: `https://127.0.0.1:${port}`,
    ca: tls.caCertPem,
    close: async () => {
      for (const s of sessions) s.destroy();
      await new Promise<void>((r) => srv.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
