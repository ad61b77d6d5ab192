/** A JSON Schema document as plain data: we only pass schemas around, Ajv interprets them. */
export type JsonSchema = { [keyword: string]: unknown };
