#!/usr/bin/env bash
# The second README command: installs what is missing, checks lint and types, and runs
# every test (unit, then integration against a real Kafka: KAFKA_BROKERS, Docker, or the
# local JVM broker of scripts/kafka.sh).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/scripts/bootstrap.sh"
cd "$root"
biome ci --error-on-warnings .
tsc -p tsconfig.check.json
vitest run "$@"
