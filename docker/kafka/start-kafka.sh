#!/usr/bin/env bash
# Formats the KRaft storage on the first start and runs one Kafka node in the foreground.
#
# Configuration follows the apache/kafka image: every KAFKA_* variable is a broker setting
# (KAFKA_ dropped, lower case, '_' -> '.', '__' -> '_', '___' -> '-'), so
# KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://127.0.0.1:9092 is advertised.listeners=....
# Unset settings default to one combined broker+controller on port 9092 (controller 9093),
# configured like scripts/kafka.sh's single node. CLUSTER_ID names the cluster (random if
# unset); KAFKA_HEAP_OPTS sets the JVM heap (default -Xms512m -Xmx512m).
set -euo pipefail
home=/opt/kafka
config=$home/server.properties

setting_name() {
  local name=${1#KAFKA_}
  name=${name//___/-}
  name=${name//__/@}
  name=${name//_/.}
  name=${name//@/_}
  echo "${name,,}"
}

{
  echo "process.roles=broker,controller"
  echo "node.id=1"
  echo "listeners=PLAINTEXT://:9092,CONTROLLER://:9093"
  echo "advertised.listeners=PLAINTEXT://127.0.0.1:9092"
  echo "controller.listener.names=CONTROLLER"
  echo "inter.broker.listener.name=PLAINTEXT"
  echo "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
  # A static quorum (controller.quorum.voters) and a dynamic one are exclusive.
  [ -n "${KAFKA_CONTROLLER_QUORUM_VOTERS:-}" ] || echo "controller.quorum.bootstrap.servers=127.0.0.1:9093"
  echo "log.dirs=/var/lib/kafka/data"
  echo "num.partitions=1"
  # One node: internal topics must have replication factor 1 and min ISR 1, or group
  # commits and transactions hang.
  echo "offsets.topic.replication.factor=1"
  echo "transaction.state.log.replication.factor=1"
  echo "transaction.state.log.min.isr=1"
  echo "share.coordinator.state.topic.replication.factor=1"
  echo "share.coordinator.state.topic.min.isr=1"
  echo "group.initial.rebalance.delay.ms=0"
  echo "auto.create.topics.enable=false"
  # Later lines win when java.util.Properties loads the file: the environment overrides.
  while IFS='=' read -r name value; do
    case "$name" in KAFKA_HEAP_OPTS) continue ;; KAFKA_*) echo "$(setting_name "$name")=$value" ;; esac
  done < <(env)
} > "$config"

log_dir=$(sed -n 's/^log.dirs=//p' "$config" | tail -n 1 | cut -d, -f1)
classpath="$home/lib/*"
logging=(-Dlog4j2.configurationFile="$home/log4j2.properties")
if [ ! -f "$log_dir/meta.properties" ]; then
  cluster_id=${CLUSTER_ID:-$(java -cp "$classpath" "${logging[@]}" kafka.tools.StorageTool random-uuid | tail -n 1)}
  format=(format -t "$cluster_id" -c "$config")
  # Without voters the quorum is dynamic: the first controller bootstraps it alone.
  [ -n "${KAFKA_CONTROLLER_QUORUM_VOTERS:-}" ] || format+=(--standalone)
  java -cp "$classpath" "${logging[@]}" kafka.tools.StorageTool "${format[@]}"
fi
# shellcheck disable=SC2086 # the heap options are several words
exec java ${KAFKA_HEAP_OPTS:--Xms512m -Xmx512m} -XX:+UseG1GC -Djava.awt.headless=true \
  "${logging[@]}" -cp "$classpath" kafka.Kafka "$config"
