#!/usr/bin/env bash
# Installs the Debian 12 packages shoal needs to build, test and bench.
# Skips everything already present, so `make` stays quick on a ready machine.
set -euo pipefail

packages=(
  cmake g++ make pkg-config
  libuv1-dev libhiredis-dev libssl-dev libjemalloc-dev libxxhash-dev doctest-dev
  # the openssl command-line tool: tests/integration/test_tls.py makes its
  # certificates with it (libssl-dev above links TLS)
  openssl
  redis-server redis-tools python3-redis
  # the fuzz targets (tests/fuzz): clang with libFuzzer and the sanitizer
  # runtimes (compiler-rt), which --no-install-recommends leaves out
  clang libclang-rt-14-dev
  iptables iproute2
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
# Debian's redis-server package starts a system instance on 6379; shoal's
# default port is the same, so stop it (tests and bench start their own).
if command -v systemctl >/dev/null 2>&1; then
  "${sudo_cmd[@]}" systemctl disable --now redis-server >/dev/null 2>&1 || true
fi
if command -v service >/dev/null 2>&1; then
  "${sudo_cmd[@]}" service redis-server stop >/dev/null 2>&1 || true
fi
