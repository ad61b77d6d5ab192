import type { JsonSchema } from './json-schema';

const stringMap: JsonSchema = { type: 'object', additionalProperties: { type: 'string' } };

/** metav1.ObjectMeta as a schema: what clients may send in metadata. */
export const objectMetaSchema: JsonSchema = {
  type: 'object',
  description: 'Standard object metadata.',
  additionalProperties: false,
  properties: {
    name: { type: 'string', maxLength: 253 },
    generateName: { type: 'string', maxLength: 248 },
    namespace: { type: 'string', maxLength: 63 },
    uid: { type: 'string' },
    resourceVersion: { type: 'string' },
    generation: { type: 'integer' },
    // nullable, not type: ['string', 'null']: OpenAPI v3 allows one type, and kubectl explain
    // fails on a list of them.
    creationTimestamp: { type: 'string', nullable: true },
    deletionTimestamp: { type: 'string', nullable: true },
    deletionGracePeriodSeconds: { type: 'integer' },
    selfLink: { type: 'string' },
    labels: stringMap,
    annotations: stringMap,
    finalizers: { type: 'array', items: { type: 'string' } },
    ownerReferences: {
      type: 'array',
      items: {
        type: 'object',
        required: ['apiVersion', 'kind', 'name', 'uid'],
        properties: {
          apiVersion: { type: 'string' },
          kind: { type: 'string' },
          name: { type: 'string' },
          uid: { type: 'string' },
          controller: { type: 'boolean' },
          blockOwnerDeletion: { type: 'boolean' },
        },
      },
    },
    managedFields: { type: 'array', items: { type: 'object' } },
  },
};
