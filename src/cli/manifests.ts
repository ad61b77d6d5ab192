/**
 * Reading manifests for get/apply/delete -f: YAML or JSON files, multi-document, `-` for
 * stdin, directories (their *.yaml, *.yml, *.json), and `kind: List` wrappers.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../resources/object';
import { CliError } from './errors';
import { KINDS, kindOfManifest, type KindInfo } from './kinds';

export interface Manifest {
  kind: KindInfo;
  object: KubeObject;
  /** file:document, for messages. */
  source: string;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parses one file's text into manifests (pure: unit-tested). */
export function parseManifests(text: string, file: string): Manifest[] {
  const out: Manifest[] = [];
  const docs = parseAllDocuments(text);
  const list = Array.isArray(docs) ? docs : [docs];
  list.forEach((doc, i) => {
    const where = list.length > 1 ? `${file} (document ${i + 1})` : file;
    // The parser's first line, without the colon that introduces its source excerpt.
    if (doc.errors.length > 0) throw new CliError(`cannot read ${where}: ${doc.errors[0]!.message.split('\n')[0]!.replace(/:$/, '')}; fix the YAML/JSON syntax`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) return; // empty document (e.g. a trailing ---)
    const items = isObject(value) && typeof value.kind === 'string' && value.kind.endsWith('List') && Array.isArray(value.items) ? value.items : [value];
    items.forEach((item: unknown, j: number) => {
      const at = items.length > 1 ? `${where} item ${j + 1}` : where;
      if (!isObject(item)) throw new CliError(`cannot read ${at}: a manifest must be an object with apiVersion, kind and metadata.name`);
      // As kubectl: no apiVersion, no object (it would be stored without one).
      if (typeof item.apiVersion !== 'string' || item.apiVersion === '') {
        const known = typeof item.kind === 'string' ? KINDS.find((k) => k.kind === item.kind) : undefined;
        throw new CliError(`cannot read ${at}: apiVersion is missing${known ? `; a ${known.kind} is apiVersion: ${known.apiVersion}` : ''}`);
      }
      const kind = kindOfManifest(item.apiVersion, typeof item.kind === 'string' ? item.kind : undefined);
      if (!kind) throw new CliError(`cannot read ${at}: vnetd does not serve apiVersion "${String(item.apiVersion)}" kind "${String(item.kind)}"; use vnet.dev/v1alpha1 VirtualNetwork, VirtualPort, LoadBalancer, Node or AccessToken, or v1 Namespace`);
      const meta = item.metadata;
      if (!isObject(meta) || typeof meta.name !== 'string' || meta.name === '') throw new CliError(`cannot read ${at}: metadata.name is missing`);
      out.push({ kind, object: item as unknown as KubeObject, source: at });
    });
  });
  return out;
}

function filesOf(path: string): string[] {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new CliError(`cannot read ${path}: no such file or directory; check the -f path`);
  }
  if (!st.isDirectory()) return [path];
  return readdirSync(path)
    .filter((f) => /\.(ya?ml|json)$/.test(f))
    .sort()
    .map((f) => join(path, f));
}

export function readManifests(paths: string[], stdin: () => string): Manifest[] {
  const out: Manifest[] = [];
  for (const p of paths) {
    if (p === '-') out.push(...parseManifests(stdin(), '<stdin>'));
    else for (const f of filesOf(p)) out.push(...parseManifests(readFileSync(f, 'utf8'), f));
  }
  if (out.length === 0) throw new CliError(`no objects found in ${paths.join(', ')}; the files are empty`);
  return out;
}
