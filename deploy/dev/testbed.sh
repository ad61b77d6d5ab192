#!/usr/bin/env bash
# A small test bed of simulated hypervisors, by hand (see test/harness/testbed.ts).
#
#   deploy/dev/testbed.sh up [--hypervisors N] [--vms-per-hv M] [--bridges vnetd|testbed] [--manifest FILE]
#       Runs in the foreground: each hypervisor is a netns with its own ovsdb-server and
#       ovs-vswitchd, joined by an underlay bridge in another netns. Writes Node manifests
#       to apply to a running vnetd; once vnetd has built br-phy/br-int it attaches the
#       underlay and plugs in the VMs (iface-id = VM name). Ctrl-C tears everything down.
#       --bridges testbed creates plain bridges itself, for use without vnetd.
#   deploy/dev/testbed.sh down PREFIX
#       Removes network namespaces left by a bed whose run prefix (printed by `up`) is
#       PREFIX, e.g. after a kill -9. Only names starting with PREFIX- are touched.
#   deploy/dev/testbed.sh list
#       Lists test bed namespaces (names of the form v?????N-...).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "testbed.sh: needs root (network namespaces, ovs-vswitchd)" >&2; exit 1; }

case "${1:-}" in
  up)
    shift
    exec npx tsx test/harness/testbed-cli.ts "$@"
    ;;
  down)
    prefix="${2:?usage: testbed.sh down PREFIX}"
    [[ "$prefix" =~ ^v[0-9a-z]{5}[0-9a-z]$ ]] || { echo "testbed.sh: PREFIX looks like v1a2b3c (run prefix + bed index)" >&2; exit 2; }
    ip netns list | awk '{print $1}' | grep -E "^${prefix}-" | while read -r ns; do
      echo "deleting netns $ns"
      ip netns del "$ns"
    done
    ;;
  list)
    ip netns list | awk '{print $1}' | grep -E '^v[0-9a-z]{6}-' || true
    ;;
  *)
    sed -n '2,18p' "$0"
    exit 2
    ;;
esac
