#!/usr/bin/env bash
# Exit 0 when the broker at $1 (default 127.0.0.1:9092) answers a client, as the health
# check of the compose files: the cluster id is the cheapest request a client can make.
set -euo pipefail
exec java -cp '/opt/kafka/lib/*' -Dlog4j2.configurationFile=/opt/kafka/log4j2.properties \
  org.apache.kafka.tools.ClusterTool cluster-id --bootstrap-server "${1:-127.0.0.1:9092}" >/dev/null
