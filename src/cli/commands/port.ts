/** vnetctl port create|list|get|delete|libvirt */
import { isIP } from 'node:net';
import { Command } from 'commander';
import type { HypervisorNode, VirtualNetwork, VirtualPort } from '../../resources/kinds';
import { attempt } from '../attempt';
import { ApiStatusError, CliError, UsageError } from '../errors';
import { kindByPlural } from '../kinds';
import { isSystemOvsdb, libvirtInterfaceXml, libvirtTakesInterfaceId, ovsVsctlPlug } from '../libvirt';
import { MERGE_PATCH, createObject, getObject, listObjects, patchObject } from '../ops';
import type { Runtime } from '../runtime';
import { addReadDelete, examples, parser, printWritten, repeatable, type RuntimeOf } from './shared';

const PORTS = kindByPlural('virtualports');
const NETWORKS = kindByPlural('virtualnetworks');
const NODES = kindByPlural('nodes');
const FLAGS = [
  ['metadata.name', 'NAME'],
  ['spec.network', '--network'],
  ['spec.ips', '--ip'],
  ['spec.mac', '--mac'],
  ['spec.node', '--node'],
  ['spec.interfaceId', '--interface-id'],
] as const;

function parseIp(text: string): string {
  if (!isIP(text)) throw new Error(`"${text}" is not an IPv4 or IPv6 address`);
  return text;
}

function parseMac(text: string): string {
  if (!/^[0-9a-f]{2}([:-][0-9a-f]{2}){5}$/i.test(text)) throw new Error(`"${text}" is not a MAC address like 0a:58:0a:00:00:05`);
  return text.toLowerCase().replace(/-/g, ':');
}

function macAndId(port: VirtualPort): { mac: string; id: string } {
  const mac = port.spec?.mac ?? port.status?.mac;
  const id = port.spec?.interfaceId ?? port.metadata.uid;
  if (!mac || !id) throw new CliError(`cannot render the libvirt <interface> for port "${port.metadata.name}": the server returned no MAC or interfaceId`);
  return { mac, id };
}

function snippet(port: VirtualPort, mtu: number | undefined, ovsdb: string | undefined): string {
  const { mac, id } = macAndId(port);
  if (!libvirtTakesInterfaceId(id)) {
    throw new CliError(`port "${port.metadata.name}" has interface id "${id}", not a UUID, which libvirt's <virtualport> requires; plug its NIC in with: ${ovsVsctlPlug(id, mac, undefined, ovsdb)}`);
  }
  return libvirtInterfaceXml(id, mac, undefined, mtu);
}

/** The plug command for a node whose OVSDB endpoint the caller could not read: named as NODE_OVSDB. */
const plugWithUnknownDb = (port: VirtualPort) => {
  const { id, mac } = macAndId(port);
  return ovsVsctlPlug(id, mac).replace(/^ovs-vsctl /, 'ovs-vsctl --db=NODE_OVSDB ');
};

/**
 * The OVSDB of the port's node (spec.ovsdb), when the port is pinned and the caller may read
 * Nodes (an admin; a tenant's token may not: then the system's is assumed). When that could not
 * be checked, a warning says so (QA-132 F3: the libvirt XML, printed silently, cannot work on a
 * node with its own Open vSwitch, as npm start's node local): for a pinned port whose Node cannot
 * be read, and for a port on no node yet when some Node (or one the caller cannot see) has one.
 */
async function nodeOvsdb(rt: Runtime, port: VirtualPort): Promise<string | undefined> {
  const name = port.spec?.node;
  const hint = `plug the NIC in with ${plugWithUnknownDb(port)}, NODE_OVSDB the Node's spec.ovsdb`;
  if (!name) {
    const nodes = await listObjects<HypervisorNode>(rt, NODES, undefined).then((l) => l.items, () => undefined);
    const own = nodes?.filter((n) => !isSystemOvsdb(n.spec?.ovsdb)).map((n) => n.metadata.name);
    if (!nodes) rt.io.err(`Warning: the port is on no node yet (no spec.node) and Nodes could not be read: what follows is for a node whose Open vSwitch is the system's; on one with its own (npm start's node local), ${hint} (an admin can read it)\n`);
    else if (own?.length) rt.io.err(`Warning: the port is on no node yet (no spec.node): what follows is for a node whose Open vSwitch is the system's; on node ${own.join(', ')}, which has its own, ${hint}\n`);
    return undefined;
  }
  try {
    return (await getObject<HypervisorNode>(rt, NODES, undefined, name)).spec?.ovsdb;
  } catch (err) {
    // A Node that does not exist was warned of when the port was written.
    if (err instanceof ApiStatusError && err.httpStatus === 404) return undefined;
    rt.io.err(`Warning: Node ${name} could not be read (${(err as Error).message.split('\n')[0]}), so whether its Open vSwitch is the system's was not checked: if it is not (npm start's node local), ${hint} (an admin can read it)\n`);
    return undefined;
  }
}

/** What a VM plugged by hand must set itself: libvirt sets the tap's MTU from the XML, ovs-vsctl sets nothing (QA-132 F9). */
const mtuLine = (mtu: number | undefined) => (mtu ? `# and set the VM NIC's MTU to the network's, ${mtu} (ip link set DEV mtu ${mtu} in the VM), or full-size frames between hypervisors are lost\n` : '');

/** Why libvirt cannot plug into the node's Open vSwitch (its <virtualport> uses the system's), after "node X" / "Node X". */
const notTheSystems = (ovsdb: string | undefined) => `'s Open vSwitch is not the system's (its OVSDB is ${ovsdb}), and libvirt plugs NICs into the system's only`;

/** libvirt's <virtualport> plugs into the system's Open vSwitch only: said when the node's is another one. */
function privateOvsNote(port: VirtualPort, ovsdb: string | undefined): string | undefined {
  if (isSystemOvsdb(ovsdb)) return undefined;
  const { mac, id } = macAndId(port);
  return `node ${port.spec?.node}${notTheSystems(ovsdb)}; plug the VM's NIC (TAP) in with: ${ovsVsctlPlug(id, mac, undefined, ovsdb)}`;
}

/** The MTU of the port's network (what the guest should use), or undefined when it cannot be read. */
async function networkMtu(rt: Runtime, port: VirtualPort): Promise<number | undefined> {
  const net = await getObject<VirtualNetwork>(rt, NETWORKS, port.metadata.namespace ?? rt.namespace(), port.spec!.network).catch(() => undefined);
  return net?.spec?.mtu;
}

async function printSnippet(rt: Runtime, port: VirtualPort): Promise<void> {
  const node = port.spec?.node ?? '<whichever node runs the VM>';
  const { mac, id } = macAndId(port);
  const ovsdb = await nodeOvsdb(rt, port);
  const mtu = await networkMtu(rt, port);
  if (!libvirtTakesInterfaceId(id)) {
    rt.io.out(`\n# libvirt takes only a UUID as <virtualport> interfaceid, and "${id}" is not one. On node ${node}, plug the VM's NIC (TAP) in with:\n${ovsVsctlPlug(id, mac, undefined, ovsdb)}\n${mtuLine(mtu)}`);
    return;
  }
  if (!isSystemOvsdb(ovsdb)) {
    rt.io.out(`\n# Node ${node}${notTheSystems(ovsdb)}. On node ${node}, plug the VM's NIC (TAP) in with:\n${ovsVsctlPlug(id, mac, undefined, ovsdb)}\n${mtuLine(mtu)}`);
    return;
  }
  rt.io.out(`\n# libvirt: add to the VM's domain XML (virsh edit VM) on node ${node}:\n${libvirtInterfaceXml(id, mac, undefined, mtu)}\n`);
}

export function portCommand(runtimeOf: RuntimeOf): Command {
  const group = new Command('port').description('virtual ports (VirtualPort): VM NICs attached to a network on a node');
  examples(
    group
      .command('create')
      .description("create a port and print the libvirt <interface> that binds a VM's NIC to it")
      .argument('<name>', 'port name (DNS label)')
      .requiredOption('--network <net>', 'the VirtualNetwork (same namespace)')
      .option('--node <node>', 'the hypervisor (Node) the VM runs on; left out, the port binds wherever its NIC shows up (and follows a live migration)')
      .option('--ip <ip>', 'fixed address (repeat for IPv4 + IPv6; allocated when omitted)', repeatable(parseIp))
      .option('--mac <mac>', 'fixed MAC (allocated when omitted)', parser(parseMac))
      .option('--interface-id <id>', "OVS iface-id / libvirt interfaceid (defaults to the port's uid)")
      .action(async (name: string, o: { network: string; node?: string; ip?: string[]; mac?: string; interfaceId?: string }, cmd: Command) => {
        if (o.interfaceId !== undefined && o.interfaceId.trim() === '') throw new UsageError("--interface-id needs an id (leave the flag out to use the port's uid)");
        if (o.node !== undefined && o.node.trim() === '') throw new UsageError('--node needs a node name (leave the flag out for a port bound wherever its NIC shows up)');
        if (o.network.trim() === '') throw new UsageError('--network needs the name of a VirtualNetwork in the namespace');
        const rt = runtimeOf(cmd);
        const body: VirtualPort = {
          apiVersion: PORTS.apiVersion,
          kind: PORTS.kind,
          metadata: { name },
          spec: { network: o.network, ...(o.node ? { node: o.node } : {}), ...(o.ip ? { ips: o.ip } : {}), ...(o.mac ? { mac: o.mac } : {}), ...(o.interfaceId ? { interfaceId: o.interfaceId } : {}) },
        };
        const created = await attempt(rt, { verb: 'create', kind: PORTS, name, flags: FLAGS }, () => createObject<VirtualPort>(rt, PORTS, rt.namespace(), body));
        printWritten(rt, PORTS, created, 'created');
        // json/yaml/name stay machine-readable; the snippet is for people (and `port libvirt`).
        // A dry run's uid (the default interface id) names no port: no snippet to plug a VM with.
        if ((rt.output === 'table' || rt.output === 'wide') && !rt.dryRun) await printSnippet(rt, created);
      }),
    [
      'vnetctl port create vm1-eth0 --network blue --node hv1',
      'vnetctl port create vm2-eth0 --network blue --node hv1 --ip 10.0.0.20 --mac 0a:58:0a:00:00:14',
      'vnetctl port create vm3-eth0 --network blue --node hv2 --interface-id 6f1c0c7e-vm3-nic0',
      'vnetctl port create vm4-eth0 --network blue   # unpinned: bound where its NIC is plugged in',
    ],
  );
  examples(
    group
      .command('set')
      .description("change a port in place: its addresses, MAC or node (as Neutron's port set --fixed-ip); its VM must follow (its addresses; a new MAC on its NIC)")
      .argument('<name>', 'port name')
      .option('--ip <ip>', "the port's addresses from now on, replacing its others (repeat for IPv4 + IPv6)", repeatable(parseIp))
      .option('--mac <mac>', "the port's MAC from now on", parser(parseMac))
      .option('--node <node>', 'pin the port to this hypervisor (Node)')
      .option('--unpin', 'unpin the port: bound wherever its NIC shows up')
      .action(async (name: string, o: { ip?: string[]; mac?: string; node?: string; unpin?: boolean }, cmd: Command) => {
        if (o.node !== undefined && o.node.trim() === '') throw new UsageError('--node needs a node name (--unpin for a port bound wherever its NIC shows up)');
        if (o.node !== undefined && o.unpin) throw new UsageError('--node and --unpin contradict each other: pin to a node, or unpin');
        if (!o.ip && !o.mac && o.node === undefined && !o.unpin) throw new UsageError('port set needs what to change: --ip, --mac, --node or --unpin');
        const rt = runtimeOf(cmd);
        const spec = { ...(o.ip ? { ips: o.ip } : {}), ...(o.mac ? { mac: o.mac } : {}), ...(o.node !== undefined ? { node: o.node } : {}), ...(o.unpin ? { node: null } : {}) };
        const updated = await attempt(rt, { verb: 'update', kind: PORTS, name, flags: FLAGS }, () => patchObject<VirtualPort>(rt, PORTS, rt.namespace(), name, MERGE_PATCH, { spec }));
        printWritten(rt, PORTS, updated, 'configured');
      }),
    [
      'vnetctl port set vm1-eth0 --ip 10.0.0.50',
      'vnetctl port set vm1-eth0 --ip 10.0.0.50 --ip fd00::50',
      'vnetctl port set vm1-eth0 --mac 0a:58:0a:00:00:32',
      'vnetctl port set vm1-eth0 --node hv2',
    ],
  );
  addReadDelete(group, PORTS, runtimeOf, { delete: true });
  examples(
    group
      .command('libvirt')
      .description('print the libvirt <interface> XML for an existing port')
      .argument('<name>', 'port name')
      .action(async (name: string, _o: unknown, cmd: Command) => {
        const rt = runtimeOf(cmd);
        // It prints XML, nothing else (QA-96: -o json was ignored).
        if (rt.output !== 'table') throw new UsageError(`port libvirt prints the libvirt <interface> XML only; -o ${rt.output} does not apply (the port itself: vnetctl port get ${name} -o ${rt.output})`);
        const port = await attempt(rt, { verb: 'get', kind: PORTS, name }, () => getObject<VirtualPort>(rt, PORTS, rt.namespace(), name));
        const ovsdb = await nodeOvsdb(rt, port);
        rt.io.out(`${snippet(port, await networkMtu(rt, port), ovsdb)}\n`);
        // The XML stays what was asked for (a file is being written); what it cannot do goes to stderr.
        const note = privateOvsNote(port, ovsdb);
        if (note) rt.io.err(`Warning: ${note}\n`);
      }),
    ['vnetctl port libvirt vm1-eth0 > vm1-nic.xml && virsh attach-device vm1 vm1-nic.xml --config'],
  );
  return examples(group, ['vnetctl port create vm1-eth0 --network blue --node hv1', 'vnetctl port libvirt vm1-eth0 >> vm1-nic.xml', 'vnetctl port list -o wide']);
}
