/**
 * Whether an OVSDB endpoint is the hypervisor's own Open vSwitch, the one ovs-vsctl and libvirt
 * use when told none: any tcp:/ssl: endpoint (a remote hypervisor's), and the usual sockets
 * (Debian's /var/run is /run; a source build's /usr/local/var/run). Another unix: socket is a
 * private OVS (npm start's), which libvirt cannot plug into.
 */
export function isSystemOvsdb(ovsdb: string | undefined): boolean {
  if (ovsdb === undefined || ovsdb === '' || !ovsdb.startsWith('unix:')) return true;
  return ['unix:/var/run/openvswitch/db.sock', 'unix:/run/openvswitch/db.sock', 'unix:/usr/local/var/run/openvswitch/db.sock'].includes(ovsdb);
}

/**
 * `ovs-vsctl` as a hint must run it against the node's switch: with --db when that is not the
 * system's (QA-98, QA-132: a command printed without it changed the host's Open vSwitch).
 */
export function ovsVsctlFor(ovsdb: string | undefined): string {
  return isSystemOvsdb(ovsdb) ? 'ovs-vsctl' : `ovs-vsctl --db='${ovsdb!.replace(/'/g, `'\\''`)}'`;
}
