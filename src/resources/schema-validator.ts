/**
 * Validates request bodies against the kinds' JSON Schemas and turns Ajv's errors into
 * Kubernetes field causes (`spec.subnets[0].cidr`). Unknown fields are errors under
 * fieldValidation=Strict and are pruned (with a warning) otherwise, as Kubernetes does
 * for custom resources.
 */
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { StatusCause } from './status';
import type { ResourceCatalog, ResourceType } from './catalog';
import type { JsonSchema } from './json-schema';

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

export interface SchemaCheck {
  causes: StatusCause[];
  /** Unknown fields that were dropped (Warn / Ignore). */
  pruned: string[];
}

/** `/spec/subnets/0/cidr` -> `spec.subnets[0].cidr` */
export function toFieldPath(pointer: string, extra?: string): string {
  const parts = pointer.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (extra !== undefined) parts.push(extra);
  let out = '';
  for (const p of parts) {
    if (/^\d+$/.test(p)) out += `[${p}]`;
    else out += out ? `.${p}` : p;
  }
  return out;
}

function describe(e: ErrorObject): StatusCause {
  switch (e.keyword) {
    case 'required': {
      const missing = (e.params as { missingProperty: string }).missingProperty;
      return { reason: 'FieldValueRequired', field: toFieldPath(e.instancePath, missing), message: 'Required value' };
    }
    case 'additionalProperties': {
      const extra = (e.params as { additionalProperty: string }).additionalProperty;
      return { reason: 'FieldValueInvalid', field: toFieldPath(e.instancePath, extra), message: `unknown field "${toFieldPath(e.instancePath, extra)}"` };
    }
    case 'enum': {
      const allowed = (e.params as { allowedValues: unknown[] }).allowedValues;
      return {
        reason: 'FieldValueNotSupported',
        field: toFieldPath(e.instancePath),
        message: `Unsupported value: ${JSON.stringify(e.data)}: supported values: ${allowed.map((a) => JSON.stringify(a)).join(', ')}`,
      };
    }
    case 'type':
      return {
        reason: 'FieldValueTypeInvalid',
        field: toFieldPath(e.instancePath),
        message: `Invalid value: ${JSON.stringify(e.data)}: must be of type ${(e.params as { type: string }).type}`,
      };
    case 'maxLength':
      return { reason: 'FieldValueTooLong', field: toFieldPath(e.instancePath), message: `Too long: may not be longer than ${(e.params as { limit: number }).limit}` };
    case 'minimum':
    case 'maximum':
      return {
        reason: 'FieldValueInvalid',
        field: toFieldPath(e.instancePath),
        message: `Invalid value: ${JSON.stringify(e.data)}: ${e.message ?? 'out of range'}`,
      };
    default:
      return { reason: 'FieldValueInvalid', field: toFieldPath(e.instancePath), message: `Invalid value: ${JSON.stringify(e.data)}: ${e.message ?? e.keyword}` };
  }
}

export class SchemaValidator {
  private readonly strict = new Map<string, ValidateFunction>();
  private readonly lenient = new Map<string, ValidateFunction>();
  private readonly known = new Map<string, ValidateFunction>();

  constructor(catalog: ResourceCatalog) {
    const make = (removeAdditional: boolean) => {
      const ajv = new Ajv({ allErrors: true, strict: false, removeAdditional, useDefaults: false });
      addFormats(ajv);
      // Address formats are declared for documentation and CRDs; the kind validators
      // check them with precise messages (e.g. "host bits set; did you mean 10.0.0.0/24").
      for (const f of ['cidr', 'mac', 'ip']) ajv.addFormat(f, true);
      return ajv;
    };
    const strictAjv = make(false);
    const lenientAjv = make(true);
    for (const t of catalog.types) {
      const schema = catalog.objectSchema(t);
      this.strict.set(t.plural, strictAjv.compile(schema));
      this.lenient.set(t.plural, lenientAjv.compile(schema));
      this.known.set(t.plural, strictAjv.compile(stripRequired(schema)));
    }
  }

  /** Validates `body` in place (pruning mutates it outside Strict mode). */
  validate(type: ResourceType, body: unknown, mode: FieldValidation): SchemaCheck {
    const strictFn = this.strict.get(type.plural)!;
    if (mode === 'Strict') {
      return { causes: strictFn(body) ? [] : dedupe((strictFn.errors ?? []).map(describe)), pruned: [] };
    }
    // Find unknown fields first (to report them as warnings), then prune and validate.
    const knownFn = this.known.get(type.plural)!;
    const pruned = knownFn(body)
      ? []
      : (knownFn.errors ?? [])
          .filter((e) => e.keyword === 'additionalProperties')
          .map((e) => toFieldPath(e.instancePath, (e.params as { additionalProperty: string }).additionalProperty));
    const lenientFn = this.lenient.get(type.plural)!;
    return { causes: lenientFn(body) ? [] : dedupe((lenientFn.errors ?? []).map(describe)), pruned };
  }
}

function stripRequired(schema: JsonSchema): JsonSchema {
  return JSON.parse(JSON.stringify(schema), (k: string, v: unknown) => (k === 'required' || k === 'minItems' ? undefined : v)) as JsonSchema;
}

function dedupe(causes: StatusCause[]): StatusCause[] {
  const seen = new Set<string>();
  return causes.filter((c) => {
    const k = `${c.field}|${c.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
