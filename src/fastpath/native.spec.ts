/**
 * Native C tests (`make -C native test`): the RCU stress with two reader threads and
 * 300 commits, under ThreadSanitizer and under AddressSanitizer. Skips, saying why,
 * when clang cannot build sanitized binaries.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const NATIVE = join(__dirname, '..', '..', 'native');
const probe = spawnSync('sh', ['-c', 'echo "int main(void){return 0;}" | clang -x c -fsanitize=thread - -o /dev/null'], { encoding: 'utf8' });
const why = probe.error ? `clang not runnable: ${probe.error.message}` : probe.status !== 0 ? `clang cannot build with -fsanitize=thread: ${probe.stderr.trim().split('\n')[0]}` : null;
if (why) console.warn(`skipping native tests: ${why}`);
const maybe = why ? it.skip : it;

describe('native C tests', () => {
  maybe('RCU table swaps under TSan and ASan', () => {
    const r = spawnSync('make', ['-s', '-C', NATIVE, 'test'], { encoding: 'utf8', timeout: 240_000 });
    const out = `${r.stdout}\n${r.stderr}`;
    if (r.status !== 0) throw new Error(`make -C native test failed (status ${r.status}):\n${out.split('\n').slice(-40).join('\n')}`);
    expect(out.match(/^ok:/gm)?.length).toBe(2);
  }, 300_000);
});
