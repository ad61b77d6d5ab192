/**
 * Closes API connections that carry no request, as Go's http.Server IdleTimeout does for
 * kube-apiserver. Node's HTTP/2 server (with HTTP/1.1 allowed) only times out a request's
 * headers (60 s) and a TLS handshake (120 s): a connection that finished its handshake and
 * then sent nothing, an HTTP/2 one without its preface or an HTTP/1.1 one without a request,
 * stayed open for good, so a client could hold any number of them (QA-102). A connection
 * with a request in flight, a watch among them, is never idle, however long it is quiet.
 */
import type { Http2Session, ServerHttp2Stream } from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';

/** Longer than client-go keeps an idle connection (90 s), so that clients close theirs first. */
export const IDLE_CONNECTION_MS = 120_000;
/** A TLS handshake's limit (Node's own: 120 s). */
export const HANDSHAKE_TIMEOUT_MS = 10_000;

/** Runs `onIdle` once nothing has been in flight for idleMs; `busy`/`done` bracket each request. */
function idleTimer(idleMs: number, onIdle: () => void): { busy(): void; done(): void; stop(): void } {
  let inFlight = 0;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    timer = setTimeout(onIdle, idleMs);
    timer.unref();
  };
  arm();
  return {
    busy() {
      inFlight++;
      clearTimeout(timer);
    },
    done() {
      if (--inFlight === 0) arm();
    },
    stop() {
      clearTimeout(timer);
    },
  };
}

/** What this needs of the API's server (an http2 secure server that allows HTTP/1.1). */
export interface ApiServer {
  on(event: 'session', listener: (session: Http2Session) => void): unknown;
  on(event: 'secureConnection', listener: (socket: TLSSocket) => void): unknown;
  on(event: 'request', listener: (req: IncomingMessage, res: ServerResponse) => void): unknown;
}

export function closeIdleConnections(server: ApiServer, idleMs = IDLE_CONNECTION_MS): void {
  server.on('session', (session: Http2Session) => {
    // GOAWAY, then the socket: a client that never sent its preface would not end it itself.
    const idle = idleTimer(idleMs, () => {
      session.close();
      setTimeout(() => session.destroy(), 1_000).unref();
    });
    session.on('stream', (stream: ServerHttp2Stream) => {
      idle.busy();
      stream.once('close', () => idle.done());
    });
    session.once('close', () => idle.stop());
  });

  const http1 = new WeakMap<TLSSocket, ReturnType<typeof idleTimer>>();
  server.on('secureConnection', (socket: TLSSocket) => {
    if (socket.alpnProtocol === 'h2') return;
    const idle = idleTimer(idleMs, () => socket.destroy());
    http1.set(socket, idle);
    socket.once('close', () => idle.stop());
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.httpVersionMajor !== 1) return;
    const idle = http1.get(req.socket as TLSSocket);
    if (!idle) return;
    idle.busy();
    res.once('close', () => idle.done());
  });
}
