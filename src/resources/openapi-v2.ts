/**
 * The OpenAPI v2 (Swagger 2.0) document, made from the OpenAPI v3 documents vnetd serves (so
 * from schemas/ too): one document for every group, as kube-apiserver's /openapi/v2. kubectl
 * reads it for `explain --output=plaintext-openapiv2` and for validating a kind the v3 documents
 * lack, and so do tools that still take their schemas from discovery's OpenAPISchema() (client-go's
 * GVK parser, which Argo CD diffs with). It was a document without definitions, and
 * explain said "couldn't find resource" (QA-134 F9).
 *
 * What v2 cannot say is said as kube-apiserver says it for a custom resource: a reference with
 * siblings (v3's `allOf: [$ref]`, which carries a description) is a `$ref` with them; `nullable`
 * is dropped.
 */
import type { JsonSchema } from './json-schema';

const V3_REF = '#/components/schemas/';
const V2_REF = '#/definitions/';

/**
 * The schemas of the v3 documents (components.schemas) as one v2 document's definitions; a
 * schema named in several is taken once. No paths: kubectl reads v2's paths only to learn
 * whether a kind it found in neither document takes fieldValidation or dryRun, and finding
 * them (a Namespace's PATCH takes it) it asks apiextensions.k8s.io whether the kind is a CRD,
 * which vnetd does not serve: `kubectl apply` of a typo in kind or apiVersion said "failed to
 * check CRD: failed to list CRDs" instead of kube-apiserver's `no matches for kind`. What reads
 * schemas from v2 (explain, client-go's GVK parser) reads definitions.
 */
export function swaggerDocument(v3: readonly JsonSchema[], info: { title: string; version: string }): JsonSchema {
  const definitions: Record<string, JsonSchema> = {};
  for (const doc of v3) {
    const schemas = ((doc.components as JsonSchema | undefined)?.schemas ?? {}) as Record<string, JsonSchema>;
    for (const [name, s] of Object.entries(schemas)) definitions[name] ??= schemaV2(s);
  }
  return { swagger: '2.0', info, paths: {}, definitions };
}

/** A v3 schema (the subset schemas/ and openapi.ts use) in v2's terms. */
export function schemaV2(s: JsonSchema): JsonSchema {
  const out: JsonSchema = {};
  const allOf = s.allOf as JsonSchema[] | undefined;
  // kube-openapi takes a $ref with a description beside it; a default there is not v2's.
  if (allOf?.length === 1 && typeof allOf[0]!.$ref === 'string') {
    out.$ref = refV2(allOf[0]!.$ref);
    if (s.description !== undefined) out.description = s.description;
    return out;
  }
  for (const [k, v] of Object.entries(s)) {
    if (k === 'nullable' || k === 'allOf') continue;
    if (k === '$ref') out.$ref = refV2(v as string);
    else if (k === 'properties') out.properties = Object.fromEntries(Object.entries(v as Record<string, JsonSchema>).map(([p, ps]) => [p, schemaV2(ps)]));
    else if (k === 'items') out.items = schemaV2(v as JsonSchema);
    else if (k === 'additionalProperties') out.additionalProperties = typeof v === 'boolean' ? v : schemaV2(v as JsonSchema);
    else out[k] = v;
  }
  return out;
}

function refV2(ref: string): string {
  return ref.startsWith(V3_REF) ? `${V2_REF}${ref.slice(V3_REF.length)}` : ref;
}
