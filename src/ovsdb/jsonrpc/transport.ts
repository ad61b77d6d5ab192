/**
 * Endpoint strings in OVS syntax ("unix:PATH", "tcp:HOST:PORT", "ssl:HOST:PORT") and
 * dialing them with node:net / node:tls. Returns a connected Duplex; framing and RPC
 * live elsewhere so they can be tested over any stream.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { OvsdbError, TlsError } from '../errors';

export type Endpoint =
  | { kind: 'unix'; path: string }
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'ssl'; host: string; port: number };

/**
 * TLS settings for ssl: endpoints, as PEM contents (not paths: read them with
 * fs.readFileSync, so a rotated file is picked up by constructing a new client).
 * ovsdb-server's SSL is mutual, so a working setup needs all three of ca, cert and
 * key - the equivalents of ovsdb-server's --ca-cert, --certificate and --private-key.
 */
export interface TlsOptions {
  /** CA certificate(s) the server's certificate must chain to (replaces the system store). */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Our client certificate; the server verifies it against its own --ca-cert. */
  cert?: string | Buffer;
  /** Private key of `cert`. */
  key?: string | Buffer;
  /** Name sent in SNI and checked against the certificate (default: the endpoint's host). */
  servername?: string;
  /**
   * false: verify the server's certificate chain only, not its name - what OVS's own
   * clients do, and needed for certificates made by ovs-pki, whose subject is
   * "ovsclient id:..." with no subjectAltName. Default true (Node's name check).
   */
  checkServerName?: boolean;
  /** false accepts any server certificate (never in production). Default true. */
  rejectUnauthorized?: boolean;
  /** Custom name/pinning check; overrides checkServerName. */
  checkServerIdentity?: tls.ConnectionOptions['checkServerIdentity'];
}

/** Node's X509 verify-error codes (and its name check) for a server certificate we did not accept. */
const SERVER_CERT_CODES =
  /^(UNABLE_TO_|CERT_|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|INVALID_CA$|INVALID_PURPOSE$|PATH_LENGTH_EXCEEDED$|HOSTNAME_MISMATCH$|ERR_TLS_CERT_ALTNAME_INVALID$)/;
/** TLS alerts from the peer about our certificate (OpenSSL names them ..._ALERT_...). */
const CLIENT_CERT_ALERTS = /^ERR_SSL_(SSLV3|TLSV1|TLSV13)_ALERT_(UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_.*|UNSUPPORTED_CERTIFICATE|ACCESS_DENIED)$/;

/**
 * Turns a socket error into a TlsError when it is a TLS failure, so callers can tell a
 * certificate problem (a configuration error, not worth retrying fast) from a network
 * one; returns other errors unchanged.
 */
export function classifyTransportError(err: Error, where = 'ssl'): Error {
  if (err instanceof TlsError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  if (typeof code !== 'string') return err;
  // OpenSSL messages carry a file:line trail; keep the reason ("tlsv1 alert unknown ca").
  const reason = /SSL routines:[^:]*:([^:]+)/.exec(err.message)?.[1] ?? err.message;
  const detail = `${reason.trim()} (${code})`;
  if (CLIENT_CERT_ALERTS.test(code)) {
    return new TlsError(`${where}: the server rejected our client certificate: ${detail}`, 'client-certificate', code, { cause: err });
  }
  if (SERVER_CERT_CODES.test(code)) {
    return new TlsError(`${where}: the server's certificate was not accepted: ${detail}`, 'server-certificate', code, { cause: err });
  }
  if (code.startsWith('ERR_SSL_')) return new TlsError(`${where}: TLS handshake failed: ${detail}`, 'handshake', code, { cause: err });
  return err;
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
    else {
      const { checkServerName, ...t } = opts.tls ?? {};
      sock = tls.connect({
        host: e.host,
        port: e.port,
        ...(checkServerName === false ? { checkServerIdentity: () => undefined } : {}),
        ...t,
      });
    }
    const timer = opts.timeoutMs
      ? setTimeout(() => fail(new OvsdbError(`connect to ${formatEndpoint(e)} timed out`)), opts.timeoutMs)
      : undefined;
    const fail = (err: Error): void => {
      if (timer) clearTimeout(timer);
      sock.destroy();
      reject(err);
    };
    sock.once('error', (err: Error) => fail(e.kind === 'ssl' ? classifyTransportError(err, formatEndpoint(e)) : err));
    sock.once(readyEvent, () => {
      if (timer) clearTimeout(timer);
      sock.off('error', fail);
      sock.setNoDelay?.(true);
      resolve(sock);
    });
  });
}
