import { connect, createServer, Server, Socket } from 'node:net';
import { OpenFlowConnectionError } from './connection-errors';

/** "unix:/path/br0.mgmt" or "tcp:127.0.0.1:6653" (the ovs-ofctl spelling). */
export type Target = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

export function parseTarget(target: string): Target {
  if (target.startsWith('unix:')) return { kind: 'unix', path: target.slice(5) };
  const m = /^tcp:(\[[^\]]+\]|[^:]+):(\d+)$/.exec(target);
  if (m) return { kind: 'tcp', host: (m[1] as string).replace(/^\[|\]$/g, ''), port: Number(m[2]) };
  throw new OpenFlowConnectionError(`bad OpenFlow target "${target}" (want unix:PATH or tcp:HOST:PORT)`);
}

/** Opens a socket and resolves once it is connected. */
export function openSocket(t: Target, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = t.kind === 'unix' ? connect(t.path) : connect(t.port, t.host);
    const timer = setTimeout(() => {
      s.destroy();
      reject(new OpenFlowConnectionError(`connect timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      s.removeAllListeners('error');
      s.setNoDelay(true);
      resolve(s);
    });
    s.once('error', (e) => {
      clearTimeout(timer);
      reject(new OpenFlowConnectionError(`connect to ${describe(t)} failed: ${e.message}`));
    });
  });
}

export function listenOn(t: Target, onSocket: (s: Socket) => void): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer(onSocket);
    server.once('error', reject);
    const done = (): void => {
      server.removeListener('error', reject);
      resolve(server);
    };
    if (t.kind === 'unix') server.listen(t.path, done);
    else server.listen(t.port, t.host, done);
  });
}

export function describe(t: Target): string {
  return t.kind === 'unix' ? `unix:${t.path}` : `tcp:${t.host}:${t.port}`;
}
