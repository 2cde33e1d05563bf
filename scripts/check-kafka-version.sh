#!/usr/bin/env bash
# Fails when a place that names the Kafka version disagrees with scripts/kafka/pom.xml, the
# version scripts/kafka.sh runs and scripts/docker.sh builds: the compose files' image, the
# Testcontainers default of @toka/testing, and the README's image names.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$root/scripts/kafka/pom.xml")
status=0
check() {
  local file=$1 pattern=$2 found
  found=$(grep -oE "$pattern" "$root/$file" | sort -u || true)
  if [ -z "$found" ]; then echo "check-kafka-version: $file names no Kafka version ($pattern)" >&2; status=1; return; fi
  local v
  while read -r v; do
    case "$v" in *"$version"*) ;; *) echo "check-kafka-version: $file has '$v', scripts/kafka/pom.xml has $version" >&2; status=1 ;; esac
  done <<< "$found"
}
check docker/compose.yml 'toka/kafka:[0-9.]+'
check docker/compose.cluster.yml 'toka/kafka:[0-9.]+'
check packages/testing/src/kafka-brokers.ts 'KAFKA_VERSION = "[0-9.]+"'
check README.md '(toka|apache)/kafka:[0-9.]+'
check packages/testing/README.md '(toka|apache)/kafka:[0-9.]+'
exit $status
