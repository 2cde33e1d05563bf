#!/usr/bin/env bash
# Installs toka as a user would and proves it works there: packs the @toka/* packages
# (scripts/pack.sh), checks the tarballs, then in a scratch project outside the
# workspace (a temp dir) runs plain `npm install <tarballs> zod typescript vitest` and
#   - type-checks scripts/scratch-project under module node16 (library types included),
#     bundler, and a CommonJS .cts under nodenext;
#   - runs the `toka` bin;
#   - on this machine's node and each version of `scripts/node.sh floor lts`: require()s
#     every package from CommonJS, runs the compiled processor end to end against
#     KAFKA_BROKERS, and runs the project's own vitest tests (the in-memory Tester);
#   - reads the processor's table with `toka show`.
#
#   KAFKA_BROKERS=host:port scripts/check-install.sh
#
# npm's cache is reused (--prefer-offline): after the first run only the npm registry's
# metadata is asked for. TOKA_KEEP_SCRATCH=1 keeps the scratch project.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
: "${KAFKA_BROKERS:?check-install.sh: set KAFKA_BROKERS to a running broker (npm run kafka start)}"
export KAFKA_BROKERS

scratch=$(mktemp -d "${TMPDIR:-/tmp}/toka-scratch.XXXXXX")
if [ -n "${TOKA_KEEP_SCRATCH:-}" ]; then echo "check-install: keeping $scratch" >&2
else trap 'rm -rf "$scratch"' EXIT; fi

started=$SECONDS
step() {
  local what=$1 t=$SECONDS
  shift
  echo "check-install: $what" >&2
  "$@"
  echo "check-install:   done in $((SECONDS - t)) s" >&2
}
version() { node -p "require('$1/package.json').version"; }

packed=$(bash "$root/scripts/pack.sh" "$scratch/tarballs")
mapfile -t tarballs <<<"$packed"
step "checking ${#tarballs[@]} tarballs" node "$root/scripts/check-tarballs.mjs" "${tarballs[@]}"

# The tools the workspace uses, at the versions it uses, so npm's cache has them.
deps=(
  "${tarballs[@]}"
  "zod@$(version "$root/packages/codec/node_modules/zod")"
  "typescript@$(version "$root/node_modules/typescript")"
  "vitest@$(version "$root/node_modules/vitest")"
  "@types/node@$(version "$root/node_modules/@types/node")"
)
app="$scratch/app"
cp -r "$root/scripts/scratch-project" "$app"
cd "$app"
echo '{ "name": "toka-scratch", "private": true, "type": "module" }' >package.json
step "npm install of the tarballs in $app" \
  npm install --no-audit --no-fund --prefer-offline --loglevel=error "${deps[@]}"

step "tsc, module node16 (with the packages' .d.ts)" npx --no-install tsc -p tsconfig.json
step "tsc, moduleResolution bundler" npx --no-install tsc -p tsconfig.bundler.json
step "tsc, a CommonJS .cts under nodenext" npx --no-install tsc -p tsconfig.cjs.json
step "the toka bin" npx --no-install toka --help >/dev/null

nodes=(node)
for v in $(bash "$root/scripts/node.sh" floor) $(bash "$root/scripts/node.sh" lts); do
  nodes+=("$(bash "$root/scripts/node.sh" path "$v")")
done
for n in "${nodes[@]}"; do
  v=$("$n" --version)
  step "$v: require() from CommonJS" "$n" src/require.cjs
  step "$v: the processor end to end on $KAFKA_BROKERS" "$n" dist/src/app.js | tee app.json
  step "$v: vitest with the in-memory Tester" "$n" node_modules/vitest/vitest.mjs run --dir test
done

group=$(node -p "JSON.parse(require('fs').readFileSync('app.json', 'utf8')).group")
show() { npx --no-install toka show -t "$group-table" -k alice -f json | tee show.txt && grep -q '"clicks": *3' show.txt; }
step "toka show reads the processor's table" show
echo "check-install: passed in $((SECONDS - started)) s" >&2
