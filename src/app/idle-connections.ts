/**
 * Closes API connections that carry no request, as Go's http.Server IdleTimeout does for
 * kube-apiserver. Of Node's and Fastify's own limits, none applied to an HTTP/1.1 connection
 * once its request was answered (an HTTP/2 server that allows HTTP/1.1 has no keep-alive
 * timeout), so a client could keep any number of them open for good (QA-102); the others are
 * shorter than this one and stay: Fastify's GOAWAY to an HTTP/2 session without frames for
 * 72 s, Node's 408 to a request whose headers have not come in 60 s (checked every 30 s). A
 * connection with a request in flight, a watch among them, is never idle, however quiet.
 */
import type { Http2Session, ServerHttp2Stream } from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';

/** Longer than client-go keeps an idle connection (90 s), so that clients close theirs first. */
export const IDLE_CONNECTION_MS = 120_000;
/** A TLS handshake's limit (Node's own: 120 s). */
export const HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * Runs `onIdle` once nothing has been in flight for idleMs; `busy`/`done` bracket each request.
 * After `stop` (the connection closed) it never arms again: a response's 'close', which comes
 * after its socket's, re-armed a timer that held the closed socket for idleMs (QA-104: 9.4 KB a
 * connection, 440 MB for 20,000 connections opened and closed within the 120 s).
 */
export function idleTimer(idleMs: number, onIdle: () => void): { busy(): void; done(): void; stop(): void } {
  let inFlight = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    if (stopped) return;
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
      stopped = true;
      clearTimeout(timer);
      timer = undefined;
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
