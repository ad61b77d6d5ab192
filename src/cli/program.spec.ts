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

describe('vnetctl lb remove-listener --help', () => {
  it('says what new connections to the removed port get: refused, as the pipeline refuses a port of the VIP no listener has (QA-128 F5)', async () => {
    const help = (await helpOf(['lb', 'remove-listener'])).replace(/\s+/g, ' ');
    expect(help).toContain('new connections to that port of the VIP are refused (TCP RST, ICMP port unreachable, SCTP ABORT), as by a listener without backends');
  });
});

describe('the command a usage error points at', () => {
  it('skips option values, which are no commands (QA-98: `-n lb port create` pointed at "vnetctl lb --help", `-n demo trace` at demo\'s)', async () => {
    const { commandPath } = await import('./main');
    const program = quiet();
    expect(commandPath(['-n', 'lb', 'port', 'create', 'p9', '--network', 'n1'], program)).toBe('vnetctl port create');
    expect(commandPath(['-n', 'demo', 'trace', '--from', 'c1', '--to', '10.0.0.3:99999'], program)).toBe('vnetctl trace');
    expect(commandPath(['--namespace=qa', 'lb', 'create', 'x'], program)).toBe('vnetctl lb create');
    expect(commandPath(['-o', 'json', 'lb', 'status', 'web'], program)).toBe('vnetctl lb status');
    // A flag without a value does not swallow the command after it.
    expect(commandPath(['--dry-run', 'network', 'create', 'x'], program)).toBe('vnetctl network create');
    expect(commandPath(['lb', '-n', 'port', 'add-backend'], program)).toBe('vnetctl lb add-backend');
  });
});
