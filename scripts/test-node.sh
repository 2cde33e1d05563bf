#!/usr/bin/env bash
# The unit tests on each current LTS line of Node (scripts/node.sh lts), besides the
# machine's own node, which runs the whole suite. Run after an install (npm run demo or
# npm test); arguments go to vitest. Every version runs; the exit status is 1 if any failed.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
failed=()
for version in $(bash scripts/node.sh lts); do
  node_bin=$(bash scripts/node.sh path "$version")
  echo "test-node: the unit tests on Node $version" >&2
  "$node_bin" node_modules/vitest/vitest.mjs run --project unit "$@" || failed+=("$version")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "test-node: the unit tests failed on Node ${failed[*]}" >&2
  exit 1
fi
