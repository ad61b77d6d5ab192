/**
 * Short libFuzzer run (~10 s) of native/fuzz/fuzz_classify.c: parser, classifier,
 * decap and encap under ASan+UBSan. Skips, saying why, when clang lacks libFuzzer.
 * The long run is `npm run fuzz` (make -C native fuzz-long).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const NATIVE = join(__dirname, '..', '..', 'native');

function libFuzzerMissing(): string | null {
  const dir = mkdtempSync(join(tmpdir(), 'vfp-fuzz-probe-'));
  try {
    writeFileSync(join(dir, 'p.c'), 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }\n');
    const r = spawnSync('clang', ['-fsanitize=fuzzer,address,undefined', join(dir, 'p.c'), '-o', join(dir, 'p')], { encoding: 'utf8' });
    if (r.error) return `clang not runnable: ${r.error.message}`;
    return r.status === 0 ? null : `clang cannot link libFuzzer: ${r.stderr.trim().split('\n')[0]}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const missing = libFuzzerMissing();
if (missing) console.warn(`skipping fuzz-short: ${missing}`);
const maybe = missing ? it.skip : it;

describe('libFuzzer (short run)', () => {
  maybe('parser + classifier survive 10 s of fuzzing under ASan/UBSan', () => {
    const r = spawnSync('make', ['-s', '-C', NATIVE, 'fuzz-short', 'FUZZ_TIME=10'], { encoding: 'utf8', timeout: 150_000 });
    const tail = `${r.stdout}\n${r.stderr}`.split('\n').slice(-25).join('\n');
    if (r.status !== 0) throw new Error(`fuzz-short failed (status ${r.status}):\n${tail}`);
    expect(tail).toMatch(/Done \d+ runs/);
  }, 180_000);
});
