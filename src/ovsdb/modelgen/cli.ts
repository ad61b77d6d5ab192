/**
 * Usage: npx tsx src/ovsdb/modelgen/cli.ts SCHEMA.ovsschema OUT.ts
 * Writes typed row interfaces for every table of the schema (see generate.ts).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseSchema } from '../schema/schema';
import type { Json } from '../wire/json';
import { generateModels } from './generate';

function main(argv: string[]): number {
  const [schemaPath, outPath] = argv;
  if (!schemaPath || !outPath) {
    process.stderr.write('usage: modelgen SCHEMA.ovsschema OUT.ts\n');
    return 2;
  }
  const schema = parseSchema(JSON.parse(readFileSync(schemaPath, 'utf8')) as Json);
  const command = `npx tsx src/ovsdb/modelgen/cli.ts ${schemaPath} ${outPath}`;
  writeFileSync(outPath, generateModels(schema, command));
  return 0;
}

process.exitCode = main(process.argv.slice(2));
