#!/usr/bin/env bash
# The first README command: installs what is missing, finds a broker (KAFKA_BROKERS, or
# starts the local JVM broker) and runs the reference example end to end.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/scripts/bootstrap.sh"
cd "$root"
if [ -z "${KAFKA_BROKERS:-}" ]; then
  KAFKA_BROKERS=$(bash scripts/kafka.sh start | tail -n 1)
  echo "demo: using the local broker at $KAFKA_BROKERS (stop it with: npm run kafka stop)" >&2
fi
export KAFKA_BROKERS
cd examples/1-simplest
exec tsx src/main.ts "$@"
