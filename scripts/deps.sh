#!/usr/bin/env bash
# Installs the Debian packages ustack needs to build, test and run its demo.
# A no-op when everything is already present. Usage: scripts/deps.sh [build|test|demo|fuzz]
set -euo pipefail

build_pkgs="build-essential cmake pkg-config libcmocka-dev libpcap-dev"
run_pkgs="valgrind clang libclang-rt-14-dev iproute2 tcpdump iputils-ping netcat-openbsd python3-scapy procps iperf3 redis-server redis-tools nginx wrk curl socat"

case "${1:-test}" in
  build) want="$build_pkgs" ;;
  test|demo) want="$build_pkgs $run_pkgs" ;;
  fuzz) want="$build_pkgs clang libclang-rt-14-dev" ;;
  *) echo "usage: $0 [build|test|demo|fuzz]" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
  echo "ustack: missing packages:$missing (run as root, or install them yourself)" >&2
  exit 1
fi
echo "ustack: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends $missing >/dev/null
