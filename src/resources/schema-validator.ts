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
    // As Kubernetes says them: the count, not the list (QA: 1,025 backends echoed in a 21 KB line).
    case 'maxItems':
      return { reason: 'FieldValueTooMany', field: toFieldPath(e.instancePath), message: `Too many: ${Array.isArray(e.data) ? e.data.length : '?'}: must have at most ${(e.params as { limit: number }).limit} items` };
    case 'minItems':
      return { reason: 'FieldValueInvalid', field: toFieldPath(e.instancePath), message: `Invalid value: ${Array.isArray(e.data) ? e.data.length : '?'} items: must have at least ${(e.params as { limit: number }).limit}` };
    case 'minimum':
    case 'maximum':
      return {
        reason: 'FieldValueInvalid',
        field: toFieldPath(e.instancePath),
        message: `Invalid value: ${JSON.stringify(e.data)}: ${e.message ?? 'out of range'}`,
      };
    default:
      return { reason: 'FieldValueInvalid', field: toFieldPath(e.instancePath), message: `Invalid value: ${quoted(e.data)}: ${e.message ?? e.keyword}` };
  }
}

/** A value in a message: as JSON, cut short when long (a whole list or object). */
function quoted(v: unknown): string {
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 120 ? `${text.slice(0, 100)}...` : text;
}

/** The three compiled validators of one kind (see validate). */
interface KindValidators {
  strict: ValidateFunction;
  lenient: ValidateFunction;
  known: ValidateFunction;
}

/**
 * Compiling a kind's schemas with ajv costs 0.1-0.5 s of CPU (three validators per kind):
 * done at construction it was a third of vnetd's start-up. A kind's validator is compiled on
 * its first use, or earlier by warmUp, which vnetd runs once it is serving.
 */
export class SchemaValidator {
  private readonly compiled = new Map<string, Partial<KindValidators> & { schema?: JsonSchema }>();
  private ajvs?: { strict: Ajv; lenient: Ajv };

  constructor(private readonly catalog: ResourceCatalog) {}

  private validator(type: ResourceType, which: keyof KindValidators): ValidateFunction {
    let v = this.compiled.get(type.plural);
    if (!v) this.compiled.set(type.plural, (v = {}));
    const done = v[which];
    if (done) return done;
    const { strict, lenient } = (this.ajvs ??= { strict: newAjv(false), lenient: newAjv(true) });
    const schema = (v.schema ??= this.catalog.objectSchema(type));
    const fn = which === 'strict' ? strict.compile(schema) : which === 'lenient' ? lenient.compile(schema) : strict.compile(stripRequired(schema));
    v[which] = fn;
    return fn;
  }

  /**
   * Compiles every validator not compiled yet in the background: one (30-200 ms) per
   * event-loop turn, and only on a turn where the loop was idle (its probe timer fired on
   * time). A restart's reprogramming of the switches goes first: compiled a kind per turn
   * right after start-up, it held the loop 0.1-0.5 s at a time while the OpenFlow
   * connections waited for their HELLO, and ovs-vswitchd dropped them after 1 s.
   */
  async warmUp(): Promise<void> {
    for (const t of this.catalog.types) {
      for (const which of ['strict', 'lenient', 'known'] as const) {
        await idleTurn();
        this.validator(t, which);
      }
    }
  }

  /** Validates `body` in place (pruning mutates it outside Strict mode). */
  validate(type: ResourceType, body: unknown, mode: FieldValidation): SchemaCheck {
    const strictFn = this.validator(type, 'strict');
    if (mode === 'Strict') {
      return { causes: strictFn(body) ? [] : dedupe((strictFn.errors ?? []).map(describe)), pruned: [] };
    }
    const knownFn = this.validator(type, 'known');
    const lenientFn = this.validator(type, 'lenient');
    // Find unknown fields first (to report them as warnings), then prune and validate.
    const pruned = knownFn(body)
      ? []
      : (knownFn.errors ?? [])
          .filter((e) => e.keyword === 'additionalProperties')
          .map((e) => toFieldPath(e.instancePath, (e.params as { additionalProperty: string }).additionalProperty));
    return { causes: lenientFn(body) ? [] : dedupe((lenientFn.errors ?? []).map(describe)), pruned };
  }
}

/** A probe timer's period, and how late it may fire for the loop to count as idle. */
const IDLE_PROBE_MS = 20;
const IDLE_SLACK_MS = 5;

/** Resolves on an event-loop turn after one on which nothing held the loop (see warmUp). */
async function idleTurn(): Promise<void> {
  for (;;) {
    const t0 = performance.now();
    // Unref'd: an unfinished warm-up never keeps a stopping process alive.
    await new Promise((resolve) => setTimeout(resolve, IDLE_PROBE_MS).unref());
    if (performance.now() - t0 < IDLE_PROBE_MS + IDLE_SLACK_MS) return;
  }
}

function newAjv(removeAdditional: boolean): Ajv {
  // verbose: errors carry the offending value (e.data), which the messages quote.
  const ajv = new Ajv({ allErrors: true, strict: false, removeAdditional, useDefaults: false, verbose: true });
  addFormats(ajv);
  // Address formats are declared for documentation and CRDs; the kind validators
  // check them with precise messages (e.g. "host bits set; did you mean 10.0.0.0/24"; base64
  // "byte", Kubernetes' []byte, with its decoded length: load-balancer.admission.ts).
  for (const f of ['cidr', 'mac', 'ip', 'byte']) ajv.addFormat(f, true);
  return ajv;
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
