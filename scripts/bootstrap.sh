#!/usr/bin/env bash
# Everything a fresh machine with only Node 20 and npm needs before toka runs:
# the pinned pnpm (from the npm registry, into a git-ignored cache), the workspace's
# dependencies, and a build of the packages. Sourced by demo.sh and test.sh.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
pnpm_version=$(node -p "require('$root/package.json').packageManager.split('@')[1]")
pnpm_home="$root/.cache/pnpm/$pnpm_version"
if [ ! -x "$pnpm_home/node_modules/.bin/pnpm" ]; then
  echo "bootstrap: installing pnpm $pnpm_version" >&2
  npm install --silent --no-audit --no-fund --prefix "$pnpm_home" "pnpm@$pnpm_version" >&2
fi
export PATH="$pnpm_home/node_modules/.bin:$root/node_modules/.bin:$PATH"
cd "$root"
if [ -n "${CI:-}" ]; then pnpm install --frozen-lockfile --reporter=append-only >&2
else pnpm install --reporter=append-only >&2; fi
pnpm run --silent build >&2
