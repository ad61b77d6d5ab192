/**
 * By-hand entry to the test bed (deploy/dev/testbed.sh): brings a bed up, writes the
 * Node manifests for vnetd, and holds it until Ctrl-C, then tears everything down.
 *
 *   tsx test/harness/testbed-cli.ts [--hypervisors N] [--vms-per-hv M] [--bridges vnetd|testbed] [--manifest FILE]
 */
import { writeFileSync } from 'node:fs';
import { startTestbed } from './testbed';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function main(): Promise<void> {
  const n = Number(arg('hypervisors', '2'));
  const vmsPer = Number(arg('vms-per-hv', '1'));
  const bridges = arg('bridges', 'vnetd') === 'testbed' ? 'testbed' : 'vnetd';
  const manifest = arg('manifest', `/tmp/testbed-nodes-${process.pid}.yaml`);
  const bed = await startTestbed({ hypervisors: n, bridges });
  const docs = bed.hypervisors.map((hv) =>
    [`apiVersion: vnet.dev/v1alpha1`, `kind: Node`, `metadata:`, `  name: ${hv.name}`, `spec:`, `  tunnelIP: ${hv.tunnelIP}`, `  ovsdb: ${hv.nodeSpec().ovsdb}`].join('\n'),
  );
  writeFileSync(manifest, docs.join('\n---\n') + '\n');
  say(`test bed ${bed.prefix} is up (underlay netns ${bed.underlayNetns})`);
  for (const hv of bed.hypervisors) say(`  ${hv.name}: netns ${hv.netns}, tunnel IP ${hv.tunnelIP}, ovsdb ${hv.nodeSpec().ovsdb}`);
  say(`Node manifests: ${manifest}   (kubectl --kubeconfig .vnetd/admin.kubeconfig apply -f ${manifest})`);
  if (bridges === 'vnetd') say('waiting for vnetd to build br-phy/br-int on every hypervisor...');
  await bed.underlayReady(24 * 3600 * 1000);
  say('underlay attached on every hypervisor');
  for (const hv of bed.hypervisors) {
    for (let i = 0; i < vmsPer; i++) {
      const name = `${hv.name}-vm${i + 1}`;
      const vm = await bed.addVm(hv.name, { name, ifaceId: name });
      say(`  VM ${name}: netns ${vm.netns}, iface ${vm.iface} (mac ${vm.mac}), iface-id ${vm.ifaceId}, ofport ${await vm.ofport()}`);
    }
  }
  say('Ctrl-C tears it all down.');
  // Signal listeners do not keep Node alive; this timer does until Ctrl-C.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  clearInterval(keepAlive);
  say('tearing down...');
  await bed.stop();
  say('done');
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`testbed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
