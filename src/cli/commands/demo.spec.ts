import { run } from '../main';
import { EXIT_USAGE, UsageError } from '../errors';
import { buildProgram } from '../program';
import { DEFAULT_DEMO_PREFIX, DEMO_PREFIX_MAX, demoNames, nextSteps, parseDemoPrefix, type DemoNames } from './demo';

const VMS = ['c1', 'c2', 'b1', 'b2'];
/** Every name a demo makes on the host (netns, veth/OVS port) or in vnetd (namespace/object). */
const hostNames = (n: DemoNames) => VMS.flatMap((vm) => [n.netns(vm), n.hostIf(vm)]);
const objectNames = (n: DemoNames) => [n.network, n.lb, ...VMS.map((vm) => n.port(vm))].map((o) => `${n.namespace}/${o}`);

describe('vnetctl demo: names derived from --prefix (QA-132 F12)', () => {
  it('the default prefix keeps the names the README and existing demos use', () => {
    const n = demoNames();
    expect(DEFAULT_DEMO_PREFIX).toBe('demo');
    expect(demoNames(DEFAULT_DEMO_PREFIX)).toEqual(expect.objectContaining({ prefix: 'demo', namespace: 'demo', network: 'vdemo-net', lb: 'vdemo-web', flag: '' }));
    expect(VMS.map((vm) => [n.netns(vm), n.port(vm), n.hostIf(vm), n.serverMarker(vm)])).toEqual([
      ['vdemo-c1', 'vdemo-c1', 'vdemo-c1-h', 'vdemo-server-c1'],
      ['vdemo-c2', 'vdemo-c2', 'vdemo-c2-h', 'vdemo-server-c2'],
      ['vdemo-b1', 'vdemo-b1', 'vdemo-b1-h', 'vdemo-server-b1'],
      ['vdemo-b2', 'vdemo-b2', 'vdemo-b2-h', 'vdemo-server-b2'],
    ]);
    // Where an `up` before prefixes left its servers' PIDs, so that `down` still stops them.
    expect(n.stateFile).toBe('demo/state.json');
  });

  it('a prefix names the namespace, every VM, veth, network, load balancer and state file', () => {
    const n = demoNames('alice');
    expect(n).toEqual(expect.objectContaining({ prefix: 'alice', namespace: 'alice', network: 'valice-net', lb: 'valice-web', stateFile: 'demo/state-alice.json', flag: ' --prefix alice' }));
    expect(VMS.map((vm) => [n.netns(vm), n.port(vm), n.hostIf(vm), n.serverMarker(vm)])).toEqual([
      ['valice-c1', 'valice-c1', 'valice-c1-h', 'valice-server-c1'],
      ['valice-c2', 'valice-c2', 'valice-c2-h', 'valice-server-c2'],
      ['valice-b1', 'valice-b1', 'valice-b1-h', 'valice-server-b1'],
      ['valice-b2', 'valice-b2', 'valice-b2-h', 'valice-server-b2'],
    ]);
  });

  it('the longest prefix still gives interface names the kernel takes (IFNAMSIZ: 15 characters)', () => {
    expect(DEMO_PREFIX_MAX).toBe(9);
    const longest = parseDemoPrefix('a'.repeat(DEMO_PREFIX_MAX));
    for (const name of hostNames(demoNames(longest))) expect(name.length).toBeLessThanOrEqual(15);
  });

  it('two prefixes share no name, also when one starts the other ("a" and "ab"), so down of one leaves the other', () => {
    const prefixes = ['demo', 'a', 'ab', 'b', 'a1', 'demo1', '123456789'].map(parseDemoPrefix);
    const seen = new Map<string, string>();
    for (const p of prefixes) {
      const n = demoNames(p);
      for (const name of [...hostNames(n), ...objectNames(n), n.stateFile, ...VMS.map((vm) => n.serverMarker(vm))]) {
        expect({ name, prefix: seen.get(name) ?? p }).toEqual({ name, prefix: p });
        seen.set(name, p);
      }
    }
  });

  it('refuses a prefix that is not lowercase letters and digits, too long, or vnetd\'s undeletable namespace: a usage error (exit 2) in one line', () => {
    for (const bad of ['', 'Alice', 'a-b', 'a_b', 'a.b', 'a b', '../x', 'ä', 'a\nb', 'abcdefghij', 'default']) {
      let err: unknown;
      try {
        parseDemoPrefix(bad);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(UsageError);
      expect((err as UsageError).exitCode).toBe(EXIT_USAGE);
      expect((err as UsageError).message).not.toContain('\n');
    }
    expect(() => parseDemoPrefix('abcdefghij')).toThrow("A prefix is at most 9 characters: the VMs' host interfaces (here vabcdefghij-b1-h) must fit Linux's 15");
    expect(() => parseDemoPrefix('Alice')).toThrow('lowercase letters and digits only');
    expect(() => parseDemoPrefix('default')).toThrow('pick another prefix');
    for (const ok of ['demo', 'alice', 'a', '7', 'op2', '123456789']) expect(parseDemoPrefix(ok)).toBe(ok);
  });

  it("up's next steps name the prefixed namespace, port and load balancer, and the down that removes this demo", () => {
    expect(nextSteps(demoNames(), '10.99.0.6')).toBe(
      'demo is up: both backends answered through 10.99.0.6. Try: vnetctl -n demo lb status vdemo-web; vnetctl -n demo trace --from vdemo-c1 --to 10.99.0.6:80. Remove it with: vnetctl demo down',
    );
    expect(nextSteps(demoNames('bob'), '10.99.0.6')).toBe(
      'demo is up: both backends answered through 10.99.0.6. Try: vnetctl -n bob lb status vbob-web; vnetctl -n bob trace --from vbob-c1 --to 10.99.0.6:80. Remove it with: vnetctl demo down --prefix bob',
    );
  });
});

describe('vnetctl demo up|down --prefix on the command line', () => {
  const term = { isTTY: false, stderrIsTTY: false, color: false };

  it('a bad prefix exits 2 with one line on stderr, before anything needs root or vnetd', async () => {
    let stderr = '';
    const write = jest.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((stderr += String(s)), true));
    try {
      for (const [verb, bad] of [['up', 'Bob'], ['down', 'toolongname'], ['up', 'default']] as const) {
        stderr = '';
        expect(await run(['demo', verb, '--prefix', bad])).toBe(EXIT_USAGE);
        expect(stderr).toMatch(new RegExp(`^error: option '--prefix <P>' argument '${bad}' is invalid\\. [^\\n]+ \\(see "vnetctl demo ${verb} --help"\\)\\n$`));
      }
    } finally {
      write.mockRestore();
    }
  });

  it('--help of up and down shows --prefix, its default and an example with it', async () => {
    for (const verb of ['up', 'down']) {
      let help = '';
      const program = buildProgram({ term, io: { out: (s) => (help += s), err: (s) => (help += s) }, onUsageError: () => undefined });
      await program.parseAsync(['demo', verb, '--help'], { from: 'user' }).catch(() => undefined);
      const flat = help.replace(/\s+/g, ' ');
      expect(flat).toContain('--prefix <P>');
      expect(flat).toContain('(default: "demo")');
      expect(help).toContain(`\n  sudo vnetctl demo ${verb} --prefix alice\n`);
    }
  });
});
