#!/usr/bin/env bash
# Part of the integration suite on a Kafka container: toka's image (scripts/docker.sh image)
# run by Testcontainers through kafkaForTests, on the project's own dockerd (started and
# stopped here unless it already ran, or on the engine of a DOCKER_HOST set by the caller).
#
#   scripts/test-containers.sh [test files...]   default: the files below
#
# When Docker cannot be made to work here (no root to install or start it, dockerd failing,
# the image not buildable), the step is skipped with the reason on stderr and exits 0, so
# the rest of the suite still runs on the JVM broker; TOKA_REQUIRE_DOCKER=1 makes that an
# error. Once the engine and image are there, a broker from anywhere but Testcontainers
# fails the step (TOKA_EXPECT_TESTCONTAINERS, see test/setup/with-kafka.ts).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# Run on its own on a fresh clone, it installs and builds first, as npm test does.
if [ -x node_modules/.bin/tsx ]; then export PATH="$root/node_modules/.bin:$PATH"
else source scripts/bootstrap.sh; fi
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(test/processor-counting.test.ts test/view.test.ts test/processor-errors.test.ts)

skip() {
  echo "test-containers: SKIPPED, the integration tests did not run on a container: $*" >&2
  [ "${TOKA_REQUIRE_DOCKER:-}" = 1 ] && exit 1
  exit 0
}
# Runs a docker.sh command, prints its output on stderr and its last stdout line on stdout;
# a failure skips the step, with the last line docker.sh wrote to stderr as the reason.
docker_sh() {
  local log out
  log=$(mktemp)
  if out=$(bash scripts/docker.sh "$@" 2>"$log"); then
    cat "$log" >&2
    rm -f "$log"
    echo "$out" | tail -n 1
    return 0
  fi
  cat "$log" >&2
  local why
  why=$(grep -v '^[[:space:]]*$' "$log" | tail -n 1)
  rm -f "$log"
  echo "skip: 'scripts/docker.sh $*' failed: ${why:-no message}"
}

started_here=false
DOCKER_HOST=$(bash scripts/docker.sh host) docker info >/dev/null 2>&1 || started_here=true
DOCKER_HOST=$(docker_sh start)
case "$DOCKER_HOST" in skip:*) skip "${DOCKER_HOST#skip: }" ;; esac
export DOCKER_HOST
if $started_here; then trap 'bash scripts/docker.sh stop' EXIT; fi
image=$(docker_sh image)
case "$image" in skip:*) skip "${image#skip: }" ;; esac

# Testcontainers' Ryuk reaper is an image from Docker Hub, which these machines cannot
# pull; with-kafka stops the container itself (and stopping dockerd removes any left).
export TESTCONTAINERS_RYUK_DISABLED=true TOKA_KAFKA_IMAGE=$image TOKA_EXPECT_TESTCONTAINERS=1
unset KAFKA_BROKERS
tsx test/setup/with-kafka.ts vitest run --project integration "${files[@]}"
