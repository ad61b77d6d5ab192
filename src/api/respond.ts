/** Writes objects and lists the way the client asked: plain JSON, YAML, or a server-side Table. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { stringify as toYaml } from 'yaml';
import type { ResourceType } from '../resources/catalog';
import type { KubeObject } from '../resources/object';
import { toTable } from './table';
import { limitWarnings } from './warning-limits';

export function wantsTable(req: FastifyRequest): boolean {
  return /as=Table/.test(String(req.headers.accept ?? ''));
}

export function includeObjectOf(req: FastifyRequest): 'None' | 'Metadata' | 'Object' {
  const v = (req.query as Record<string, string | undefined>).includeObject;
  return v === 'None' || v === 'Object' ? v : 'Metadata';
}

/** YAML when the client's Accept names it first; JSON otherwise (errors are negotiated the same way). */
export function wantsYaml(req: FastifyRequest): boolean {
  const accept = String(req.headers.accept ?? '');
  return accept.startsWith('application/yaml');
}

export function send(req: FastifyRequest, reply: FastifyReply, code: number, body: unknown, warnings: string[] = []): void {
  // One header line per warning, as Kubernetes sends them (a header set once per warning kept only the last).
  if (warnings.length > 0) void reply.header('warning', limitWarnings(warnings).map((w) => `299 - "${w.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`));
  if (wantsYaml(req)) {
    void reply.code(code).header('content-type', 'application/yaml').send(toYaml(body));
    return;
  }
  void reply.code(code).header('content-type', 'application/json').send(body);
}

export function sendObject(req: FastifyRequest, reply: FastifyReply, type: ResourceType, code: number, obj: KubeObject, warnings: string[] = []): void {
  if (wantsTable(req)) {
    send(req, reply, code, toTable(type, [obj], { resourceVersion: obj.metadata.resourceVersion }, includeObjectOf(req)), warnings);
    return;
  }
  send(req, reply, code, obj, warnings);
}

export function sendList(
  req: FastifyRequest,
  reply: FastifyReply,
  type: ResourceType,
  list: { items: KubeObject[]; resourceVersion: string; continue?: string },
): void {
  const meta = { resourceVersion: list.resourceVersion, ...(list.continue ? { continue: list.continue } : {}) };
  if (wantsTable(req)) {
    send(req, reply, 200, toTable(type, list.items, meta, includeObjectOf(req)));
    return;
  }
  send(req, reply, 200, { apiVersion: type.apiVersion, kind: type.listKind, metadata: meta, items: list.items });
}
