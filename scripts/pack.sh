#!/usr/bin/env bash
# Packs every @toka/* package (packages/*) into one folder as it would be published:
# `pnpm pack` replaces `workspace:*` by the packages' own versions and adds the root
# LICENSE to each tarball. Installs and builds first (bootstrap.sh).
#
#   scripts/pack.sh [dir]   default dir: .cache/pack; prints the tarballs' paths
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:-$root/.cache/pack}
source "$root/scripts/bootstrap.sh"
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -f "$out"/*.tgz
pnpm -r --filter "./packages/*" pack --pack-destination "$out" --json |
  node -e 'for (const p of JSON.parse(require("fs").readFileSync(0, "utf8"))) console.log(p.filename)'
