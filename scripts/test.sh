#!/usr/bin/env bash
# The second README command: installs what is missing, checks lint and types, and runs
# every test: unit, integration against a real Kafka (KAFKA_BROKERS, Docker, or the local
# JVM broker of scripts/kafka.sh), part of the integration tests once more on a Kafka
# container through Testcontainers (scripts/test-containers.sh), the install of the packed packages in a scratch
# project (scripts/check-install.sh), and the unit tests on the other Node LTS lines
# (scripts/test-node.sh). Arguments select vitest tests and skip the last two steps.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/scripts/bootstrap.sh"
cd "$root"
timed() {
  local t=$SECONDS
  "$@"
  echo "test: '$*' took $((SECONDS - t)) s" >&2
}
timed biome ci --error-on-warnings .
# kafka.sh, docker.sh, the compose files and Testcontainers' default run one Kafka version.
timed bash scripts/check-kafka-version.sh
timed tsc -p tsconfig.check.json
# The monitor's browser test drives Debian's chromium (installed when missing).
timed bash scripts/chromium.sh || echo "test: without chromium the monitor's browser test fails" >&2
if [ $# -gt 0 ]; then exec vitest run "$@"; fi
# Part of the integration suite on a Kafka container through Testcontainers (toka's image,
# the project's own dockerd). It skips, saying why, where Docker cannot run; a failure is
# reported at the end so that the steps below still run.
containers=0
timed bash scripts/test-containers.sh || containers=$?
# One broker for the integration tests and the scratch project's processor.
timed tsx test/setup/with-kafka.ts bash -ec 'vitest run; bash scripts/check-install.sh'
timed bash scripts/test-node.sh
if [ "$containers" -ne 0 ]; then
  echo "test: the integration tests on a Kafka container failed (scripts/test-containers.sh)" >&2
  exit "$containers"
fi
