/**
 * The agent's HTTPS client for the controller's API: server, CA and bearer token from a
 * kubeconfig (the one the controller writes), one keep-alive connection pool, JSON
 * requests, and newline-delimited watch streams.
 */
import { readFileSync } from 'node:fs';
import { Agent, request, type RequestOptions } from 'node:https';
import { parse } from 'yaml';

export interface ApiResult {
  status: number;
  // The API's answers are Kubernetes objects, lists and Status of many shapes.
  body: Record<string, unknown> | undefined;
  text: string;
}

export interface WatchStream {
  stop(): void;
}

interface KubeconfigShape {
  clusters?: Array<{ cluster?: { server?: string; 'certificate-authority-data'?: string; 'certificate-authority'?: string } }>;
  users?: Array<{ user?: { token?: string } }>;
}

export class ApiClient {
  /** Requests: keep-alive connections, at most 16 in flight. */
  private readonly agent: Agent;
  /**
   * Watches, each holding its connection for as long as it runs (3 per network a node
   * needs): in the requests' pool, a node with ports of five networks took all 16 sockets
   * and its status writes waited for a watch to end, up to 5 minutes.
   */
  private readonly watchAgent: Agent;

  constructor(
    readonly server: string,
    caPem: string,
    private readonly token: string,
    private readonly requestTimeoutMs = 15_000,
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets: 16, ca: caPem });
    // No socket limit; a watch that ended cleanly (its timeout) leaves its connection to the next.
    this.watchAgent = new Agent({ keepAlive: true, ca: caPem });
  }

  static fromKubeconfig(path: string): ApiClient {
    let cfg: KubeconfigShape;
    try {
      cfg = parse(readFileSync(path, 'utf8')) as KubeconfigShape;
    } catch (err) {
      throw new Error(`cannot read kubeconfig ${path}: ${(err as Error).message}`);
    }
    const cluster = cfg.clusters?.[0]?.cluster;
    const token = cfg.users?.[0]?.user?.token;
    if (!cluster?.server || !token) throw new Error(`kubeconfig ${path} has no server or token (expected the one vnetd controller writes)`);
    const ca = cluster['certificate-authority-data']
      ? Buffer.from(cluster['certificate-authority-data'], 'base64').toString()
      : cluster['certificate-authority']
        ? readFileSync(cluster['certificate-authority'], 'utf8')
        : undefined;
    if (!ca) throw new Error(`kubeconfig ${path} names no certificate authority for ${cluster.server}`);
    return new ApiClient(cluster.server, ca, token);
  }

  private options(method: string, extra: Record<string, string> = {}, agent = this.agent): RequestOptions {
    return { method, agent, headers: { authorization: `Bearer ${this.token}`, accept: 'application/json', ...extra } };
  }

  call(method: string, path: string, body?: unknown): Promise<ApiResult> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(new URL(path, this.server), this.options(method, payload ? { 'content-type': 'application/json' } : {}), (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: Record<string, unknown> | undefined;
          try {
            parsed = JSON.parse(text) as Record<string, unknown>;
          } catch {
            parsed = undefined;
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, text });
        });
      });
      req.setTimeout(this.requestTimeoutMs, () => req.destroy(new Error(`${method} ${path}: no answer within ${this.requestTimeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  /**
   * Streams a watch: onEvent for each JSON line, onEnd once when the stream ends for any
   * reason (server timeout, connection lost, HTTP error before the stream: with its status).
   */
  watch(path: string, onEvent: (ev: { type: string; object: Record<string, unknown> }) => void, onEnd: (why: { status?: number; error?: Error; text?: string }) => void): WatchStream {
    let ended = false;
    const end = (why: { status?: number; error?: Error; text?: string }) => {
      if (ended) return;
      ended = true;
      onEnd(why);
    };
    const req = request(new URL(path, this.server), this.options('GET', {}, this.watchAgent), (res) => {
      if (res.statusCode !== 200) {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => end({ status: res.statusCode, text }));
        return;
      }
      let buf = '';
      res.on('data', (c: Buffer) => {
        buf += c.toString('utf8');
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (!line) continue;
          try {
            onEvent(JSON.parse(line) as { type: string; object: Record<string, unknown> });
          } catch (error) {
            req.destroy();
            end({ error: error as Error });
            return;
          }
        }
      });
      res.on('end', () => end({}));
      res.on('error', (error) => end({ error }));
      res.on('close', () => end({}));
    });
    req.on('error', (error) => end({ error }));
    req.end();
    return {
      stop: () => {
        ended = true;
        req.destroy();
      },
    };
  }

  close(): void {
    this.agent.destroy();
    this.watchAgent.destroy();
  }
}
