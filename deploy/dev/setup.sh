#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian machine of the project's kind (root, Node and build
# tools present). `npm start`, `npm test` and `npm run bench:*` call it first; when
# everything is already there it does nothing but check, in well under a second.
set -euo pipefail
cd "$(dirname "$0")/../.."

log() { echo "[setup] $*" >&2; }

# Debian packages: OVS (userspace datapath), OVN (benchmark peer), the BPF/AF_XDP
# toolchain for native/, etcd for the distributed store, and the tools tests drive.
APT_PACKAGES=(
  openvswitch-switch openvswitch-common ovn-central ovn-host
  clang llvm libbpf-dev libxdp-dev xdp-tools
  ethtool iproute2 iputils-ping iperf3 socat openssl tcpdump netcat-openbsd procps coreutils
  etcd-server python3 make g++
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    log "missing Debian packages: ${missing[*]} (run this script as root to install them)"
    exit 1
  fi
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# clang's sanitizer and libFuzzer runtimes, which the native tests and the fuzz target link:
# Debian ships them apart from clang, one package per clang version, and clang does not
# depend on it (without it those tests can only skip).
rt="libclang-rt-$(clang -dumpversion | cut -d. -f1)-dev"
if ! dpkg-query -W -f='${Status}' "$rt" 2>/dev/null | grep -q 'install ok installed'; then
  if [ "$(id -u)" -ne 0 ]; then
    log "missing Debian package: $rt (run this script as root to install it)"
    exit 1
  fi
  log "installing Debian package: $rt"
  export DEBIAN_FRONTEND=noninteractive
  [ ${#missing[@]} -gt 0 ] || apt-get update -qq
  apt-get install -y -qq --no-install-recommends "$rt" >/dev/null
fi

# npm dependencies: reinstall when node_modules is absent or older than the lock file.
stamp=node_modules/.vnetd-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  log "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi

# Native fast path (native/Makefile builds only what changed), and the 64-byte UDP/TCP
# generators the fast-path back-pressure test and bench:fastpath send with.
if [ -f native/Makefile ]; then
  make -s -C native all tools
fi
