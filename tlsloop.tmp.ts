import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { ensureTlsMaterial } from './src/pki/certificates';
let bad = 0;
for (let i = 0; i < 300; i++) {
  const d = mkdtempSync(join(tmpdir(), 'tlsloop-'));
  const m = ensureTlsMaterial(d, ['127.0.0.1']);
  try { tls.createSecureContext({ key: m.keyPem, cert: m.certPem }); tls.createSecureContext({ ca: m.caCertPem }); } catch (e) { bad++; console.log(i, (e as Error).message); require('fs').cpSync(d, `/tmp/tlsbad-${i}`, { recursive: true }); }
  rmSync(d, { recursive: true });
}
console.log('bad', bad);
