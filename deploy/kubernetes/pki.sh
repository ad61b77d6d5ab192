#!/usr/bin/env bash
# Makes the CA and server certificate all vnetd controller replicas share (the vnetd-pki
# Secret), so that a client trusting the CA can reach any replica behind the Service.
#
#   deploy/kubernetes/pki.sh OUT_DIR [EXTRA_SAN ...]      (EXTRA_SAN: DNS:name or IP:addr)
#   kubectl -n vnetd-system create secret generic vnetd-pki --from-file=OUT_DIR
#
# The server certificate covers the vnetd-api Service names, localhost, 127.0.0.1 and
# 0.0.0.0 (the pods listen on 0.0.0.0:8443; vnetd keeps a certificate only if it covers
# its listen address, and signs a new one with the same CA otherwise).
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: $0 OUT_DIR [DNS:name|IP:addr ...]" >&2
  exit 2
fi
out=$1
shift
namespace=${VNETD_NAMESPACE:-vnetd-system}
service=${VNETD_SERVICE:-vnetd-api}
for san in "$@"; do
  case "$san" in
    DNS:?*|IP:?*) ;;
    *) echo "$0: extra SAN must be DNS:name or IP:address, got \"$san\"" >&2; exit 2 ;;
  esac
done
if [ -e "$out/ca.key" ]; then
  echo "$0: $out/ca.key exists; refusing to replace a CA (remove $out first)" >&2
  exit 1
fi
command -v openssl >/dev/null || { echo "$0: openssl is needed" >&2; exit 1; }
mkdir -p "$out"
chmod 700 "$out"

sans="DNS:localhost,DNS:$service,DNS:$service.$namespace,DNS:$service.$namespace.svc,DNS:$service.$namespace.svc.cluster.local,IP:127.0.0.1,IP:0.0.0.0"
for san in "$@"; do sans="$sans,$san"; done

ext=$(mktemp)
trap 'rm -f "$ext" "$out/server.csr"' EXIT
printf '%s\n' \
  'basicConstraints = critical, CA:FALSE' \
  'keyUsage = critical, digitalSignature, keyEncipherment' \
  'extendedKeyUsage = serverAuth' \
  "subjectAltName = $sans" > "$ext"

(umask 077
 openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$out/ca.key" 2>/dev/null
 openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$out/server.key" 2>/dev/null)
openssl req -x509 -new -key "$out/ca.key" -subj /CN=vnetd-ca -days 3650 -sha256 \
  -addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature' \
  -out "$out/ca.crt"
openssl req -new -key "$out/server.key" -subj /CN=vnetd -out "$out/server.csr"
openssl x509 -req -in "$out/server.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" -CAcreateserial \
  -days 730 -sha256 -extfile "$ext" -out "$out/server.crt" 2>/dev/null
rm -f "$out/ca.srl"
chmod 644 "$out/ca.crt" "$out/server.crt"
echo "wrote $out/{ca.crt,ca.key,server.crt,server.key}; next:" >&2
echo "  kubectl -n $namespace create secret generic vnetd-pki --from-file=$out" >&2
