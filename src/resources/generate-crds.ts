/** Writes deploy/crds/ from schemas/: `npm run schemas:gen`. */
import { mkdirSync, readdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ResourceCatalog } from './catalog';
import { renderCrds } from './crds';

const out = resolve(__dirname, '..', '..', 'deploy', 'crds');
mkdirSync(out, { recursive: true });
const files = renderCrds(ResourceCatalog.load());
for (const f of readdirSync(out)) if (f.endsWith('.yaml') && !files.has(f)) unlinkSync(join(out, f));
for (const [name, text] of files) writeFileSync(join(out, name), text);
process.stdout.write(`wrote ${files.size} CRDs to ${out}\n`);
