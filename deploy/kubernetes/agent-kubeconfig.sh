#!/usr/bin/env bash
# Writes the kubeconfig agents use to reach vnetd's API: creates an agent's AccessToken
# (spec.node; its secret is shown once, in the create response) and a kubeconfig holding it
# and the CA. Needs kubectl and an admin kubeconfig for vnetd (see README, "Deploying").
#
#   deploy/kubernetes/agent-kubeconfig.sh ADMIN_KUBECONFIG SERVER_URL CA_FILE OUT [TOKEN_NAME [NODE]]
#   kubectl -n vnetd-system create secret generic vnetd-agent-kubeconfig --from-file=kubeconfig=OUT
#
# SERVER_URL as agents reach it, e.g. https://vnetd-api.vnetd-system.svc:8443 in the
# cluster; TOKEN_NAME defaults to vnetd-agents. NODE is the one Node the token's agent may
# act for (a host's own kubeconfig, the narrowest); it defaults to "*", every node's agents,
# for a DaemonSet's one Secret. Either way the token reads the topology and writes only what
# an agent reports (README, "Deploying"), never what tenants or admins declare.
set -euo pipefail
if [ $# -lt 4 ] || [ $# -gt 6 ]; then
  echo "usage: $0 ADMIN_KUBECONFIG SERVER_URL CA_FILE OUT [TOKEN_NAME [NODE]]" >&2
  exit 2
fi
admin=$1 server=$2 ca=$3 out=$4 name=${5:-vnetd-agents} node=${6:-*}
case "$node" in '*') ;; *[!a-z0-9.-]*|'') echo "$0: NODE must be a Node's name (lowercase letters, digits, '-' and '.') or '*', got \"$node\"" >&2; exit 2 ;; esac
[ -r "$admin" ] || { echo "$0: cannot read admin kubeconfig $admin" >&2; exit 1; }
[ -r "$ca" ] || { echo "$0: cannot read CA file $ca" >&2; exit 1; }
case "$server" in https://?*) ;; *) echo "$0: SERVER_URL must be https://host:port, got \"$server\"" >&2; exit 2 ;; esac
[ -e "$out" ] && { echo "$0: $out exists; refusing to overwrite it" >&2; exit 1; }

token=$(kubectl --kubeconfig "$admin" create -o 'jsonpath={.status.token}' -f - <<YAML
apiVersion: vnet.dev/v1alpha1
kind: AccessToken
metadata:
  name: $name
spec:
  node: "$node"
YAML
) || { echo "$0: could not create AccessToken $name (if it exists, its secret is gone: kubectl delete vtoken $name, then rerun)" >&2; exit 1; }
[ -n "$token" ] || { echo "$0: the create response of AccessToken $name held no token" >&2; exit 1; }

(umask 077
 kubectl config --kubeconfig "$out" set-cluster vnetd --server "$server" --certificate-authority "$ca" --embed-certs >/dev/null
 kubectl config --kubeconfig "$out" set-credentials "$name" --token "$token" >/dev/null
 kubectl config --kubeconfig "$out" set-context vnetd --cluster vnetd --user "$name" >/dev/null
 kubectl config --kubeconfig "$out" use-context vnetd >/dev/null)
echo "wrote $out; next:" >&2
echo "  kubectl -n vnetd-system create secret generic vnetd-agent-kubeconfig --from-file=kubeconfig=$out" >&2
