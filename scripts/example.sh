#!/usr/bin/env bash
# Runs a script of an example's package.json without a global pnpm:
#
#   npm run example <name> [script] [args...]   e.g. npm run example 2-clicks
#                                                    npm run example 3-messaging loadgen
#
# <name> is a folder of examples/; the script defaults to `start`. Installs and builds
# what is missing first (bootstrap.sh), as the demo does.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
name=${1:-}
if [ -z "$name" ] || [ ! -f "$root/examples/$name/package.json" ]; then
  echo "usage: npm run example <name> [script] [args...]; names: $(ls "$root/examples" | xargs)" >&2
  exit 2
fi
script=${2:-start}
shift $(($# < 2 ? $# : 2))
source "$root/scripts/bootstrap.sh"
cd "$root/examples/$name"
command=$(node -e 'const s = require("./package.json").scripts?.[process.argv[1]]; if (s) console.log(s)' "$script")
if [ -z "$command" ]; then
  echo "example.sh: examples/$name has no script '$script'" >&2
  exit 2
fi
# The script's command replaces this shell rather than running under `pnpm run`: pnpm
# passes Ctrl-C on to it once more, and a second SIGINT ends an example in the middle of
# its graceful shutdown.
export PATH="$PWD/node_modules/.bin:$PATH"
exec bash -c "$command \"\$@\"" "$script" "$@"
