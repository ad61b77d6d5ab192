import type { Command } from 'commander';
import { buildProgram } from './program';

const term = { isTTY: false, stderrIsTTY: false, color: false };
const quiet = () => buildProgram({ term, io: { out: () => undefined, err: () => undefined }, onUsageError: () => undefined });

function commandPaths(): string[][] {
  const out: string[][] = [[]];
  const walk = (c: Command, p: string[]) => {
    for (const s of c.commands) {
      out.push([...p, s.name()]);
      walk(s, [...p, s.name()]);
    }
  };
  walk(quiet(), []);
  return out;
}

async function helpOf(path: string[]): Promise<string> {
  let text = '';
  const program = buildProgram({ term, io: { out: (s) => (text += s), err: (s) => (text += s) }, onUsageError: () => undefined });
  await program.parseAsync([...path, '--help'], { from: 'user' }).catch(() => undefined);
  return text;
}

describe('vnetctl --help', () => {
  it('every command shows examples and the global -o with all five formats', async () => {
    const paths = commandPaths();
    expect(paths.length).toBeGreaterThan(30);
    for (const p of paths) {
      const help = await helpOf(p);
      expect({ command: p.join(' '), examples: /\nExamples:\n {2}[^\n]*vnetctl /.test(help) }).toEqual({ command: p.join(' '), examples: true });
      expect(help.replace(/\s+/g, ' ')).toMatch(/-o, --output <format> output format \(choices: "table", "wide", "json", "yaml", "name"/);
    }
  });
});
