import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { codeCacheName, privateDir, protectedLike, readAppSource, replaceCache } from './code-cache';

describe('code caches of the bundle', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'vnetd-code-cache-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('are named for the exact source: two builds of one length never share a cache', () => {
    const a = codeCacheName('module.exports = 1;');
    expect(a).toMatch(/^vnetd-app-[0-9a-f]{32}\.bin$/);
    expect(codeCacheName('module.exports = 1;')).toBe(a);
    expect(codeCacheName('module.exports = 2;')).not.toBe(a);
  });

  it('compile the bundle without its #! line', () => {
    writeFileSync(join(dir, 'app.js'), '#!/usr/bin/env node\nmodule.exports = 1;\n');
    expect(readAppSource(join(dir, 'app.js'))).toBe('\nmodule.exports = 1;\n');
  });

  it('live in the data dir only while it is this user\'s and nobody else may write it', () => {
    chmodSync(dir, 0o700);
    expect(privateDir(dir)).toBe(true);
    chmodSync(dir, 0o750);
    expect(privateDir(dir)).toBe(true);
    for (const mode of [0o770, 0o707, 0o777]) {
      chmodSync(dir, mode);
      expect({ mode: mode.toString(8), private: privateDir(dir) }).toEqual({ mode: mode.toString(8), private: false });
    }
    expect(privateDir(join(dir, 'missing'))).toBe(false);
    writeFileSync(join(dir, 'file'), '');
    expect(privateDir(join(dir, 'file'))).toBe(false);
  });

  it('beside the bundle are read only as protected as it: a file, its owner\'s, writable by nobody else', () => {
    const code = join(dir, 'vnetd-app.js');
    const cache = join(dir, 'cache.bin');
    writeFileSync(code, '');
    writeFileSync(cache, 'x', { mode: 0o644 });
    expect(protectedLike(cache, code)).toBe(true);
    chmodSync(cache, 0o664);
    expect(protectedLike(cache, code)).toBe(false);
    chmodSync(cache, 0o646);
    expect(protectedLike(cache, code)).toBe(false);
    expect(protectedLike(join(dir, 'missing.bin'), code)).toBe(false);
    mkdirSync(join(dir, 'dir.bin'), { mode: 0o755 });
    expect(protectedLike(join(dir, 'dir.bin'), code)).toBe(false);
  });

  it('replace the earlier builds\' caches whole, and leave everything else beside them', () => {
    const old = `vnetd-app-${'a'.repeat(32)}.bin`;
    writeFileSync(join(dir, old), 'an earlier build');
    writeFileSync(join(dir, 'vnetd-app.js'), '');
    symlinkSync('vnetd-app.js', join(dir, 'vnetd-app-notes.bin'));
    const name = codeCacheName('x');
    replaceCache(join(dir, name), Buffer.from('bytecode'), 0o640);
    expect(readdirSync(dir).sort()).toEqual([name, 'vnetd-app-notes.bin', 'vnetd-app.js'].sort());
    expect(readFileSync(join(dir, name), 'utf8')).toBe('bytecode');
    expect(statSync(join(dir, name)).mode & 0o777).toBe(0o640);
    replaceCache(join(dir, name), Buffer.from('newer'), 0o640);
    expect(readFileSync(join(dir, name), 'utf8')).toBe('newer');
  });
});
