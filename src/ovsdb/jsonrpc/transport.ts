/**
 * Endpoint strings in OVS syntax ("unix:PATH", "tcp:HOST:PORT", "ssl:HOST:PORT") and
 * dialing them with node:net / node:tls. Returns a connected Duplex; framing and RPC
 * live elsewhere so they can be tested over any stream.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { OvsdbError } from '../errors';

export type Endpoint =
  | { kind: 'unix'; path: string }
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'ssl'; host: string; port: number };

export interface TlsOptions {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  /** Server name to verify; OVS certificates often lack SANs, so callers may pass checkServerIdentity. */
  servername?: string;
  rejectUnauthorized?: boolean;
  checkServerIdentity?: tls.ConnectionOptions['checkServerIdentity'];
}

export function parseEndpoint(s: string): Endpoint {
  const colon = s.indexOf(':');
  const kind = s.slice(0, colon);
  const rest = s.slice(colon + 1);
  if (kind === 'unix' && rest) return { kind, path: rest };
  if (kind === 'tcp' || kind === 'ssl') {
    // IPv6 literals are written [addr]:port as in OVS.
    const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(rest);
    if (m) return { kind, host: m[1] ?? m[2]!, port: Number(m[3]) };
  }
  throw new OvsdbError(`bad OVSDB endpoint "${s}" (want unix:PATH, tcp:HOST:PORT or ssl:HOST:PORT)`);
}

export function formatEndpoint(e: Endpoint): string {
  return e.kind === 'unix' ? `unix:${e.path}` : `${e.kind}:${e.host.includes(':') ? `[${e.host}]` : e.host}:${e.port}`;
}

/** Dials and resolves once connected (TLS: once the handshake completed). */
export function dial(e: Endpoint, opts: { tls?: TlsOptions; timeoutMs?: number } = {}): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    let sock: net.Socket;
    const readyEvent = e.kind === 'ssl' ? 'secureConnect' : 'connect';
    if (e.kind === 'unix') sock = net.connect({ path: e.path });
    else if (e.kind === 'tcp') sock = net.connect({ host: e.host, port: e.port });
    else sock = tls.connect({ host: e.host, port: e.port, ...opts.tls });
    const timer = opts.timeoutMs
      ? setTimeout(() => fail(new OvsdbError(`connect to ${formatEndpoint(e)} timed out`)), opts.timeoutMs)
      : undefined;
    const fail = (err: Error): void => {
      if (timer) clearTimeout(timer);
      sock.destroy();
      reject(err);
    };
    sock.once('error', fail);
    sock.once(readyEvent, () => {
      if (timer) clearTimeout(timer);
      sock.off('error', fail);
      sock.setNoDelay?.(true);
      resolve(sock);
    });
  });
}
