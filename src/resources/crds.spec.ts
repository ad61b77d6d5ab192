import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { ResourceCatalog } from './catalog';
import { renderCrds } from './crds';

const dir = resolve(__dirname, '..', '..', 'deploy', 'crds');
const catalog = ResourceCatalog.load();

/** Kubernetes' structural schema rules that our generator must honour. */
function structuralProblems(node: Record<string, unknown>, path: string, out: string[]): void {
  if (!('type' in node) && !('x-kubernetes-preserve-unknown-fields' in node)) out.push(`${path}: no type`);
  if ('properties' in node && 'additionalProperties' in node) out.push(`${path}: properties with additionalProperties`);
  for (const k of ['$ref', 'allOf', 'oneOf', 'anyOf']) if (k in node) out.push(`${path}: ${k} not allowed`);
  for (const [name, child] of Object.entries((node.properties ?? {}) as Record<string, Record<string, unknown>>)) structuralProblems(child, `${path}.${name}`, out);
  if (node.items) structuralProblems(node.items as Record<string, unknown>, `${path}[]`, out);
}

describe('generated CRDs', () => {
  it('are up to date with schemas/ (run `npm run schemas:gen` after changing a schema)', () => {
    const files = renderCrds(catalog);
    expect(readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort()).toEqual([...files.keys()].sort());
    for (const [name, text] of files) expect(readFileSync(join(dir, name), 'utf8')).toBe(text);
  });

  it.each([...renderCrds(catalog).entries()])('%s is a structural v1 CRD with status and printer columns', (_name, text) => {
    const crd = parse(text) as { apiVersion: string; spec: { names: { shortNames?: string[] }; versions: { schema: { openAPIV3Schema: Record<string, unknown> }; subresources: object; additionalPrinterColumns: unknown[] }[] } };
    expect(crd.apiVersion).toBe('apiextensions.k8s.io/v1');
    const v = crd.spec.versions[0]!;
    expect(v.subresources).toEqual({ status: {} });
    expect(v.additionalPrinterColumns.length).toBeGreaterThan(1);
    expect(crd.spec.names.shortNames?.length).toBeGreaterThan(0);
    const problems: string[] = [];
    structuralProblems(v.schema.openAPIV3Schema, 'openAPIV3Schema', problems);
    expect(problems).toEqual([]);
  });
});
