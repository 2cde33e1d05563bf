#!/usr/bin/env bash
# A real Apache Kafka broker without Docker: fetched from Maven Central, run on the JVM.
#
#   scripts/kafka.sh start [single|cluster|secure]   start (harmless when already running);
#                                             formats fresh data directories unless every node runs
#   scripts/kafka.sh stop [single|cluster|secure]    stop by saved PID
#   scripts/kafka.sh status [single|cluster|secure]  exit 0 when running
#   scripts/kafka.sh brokers [single|cluster|secure] print the broker list (host:port,...)
#   scripts/kafka.sh fetch                    fetch the jars only (docker.sh builds its image from them)
#   scripts/kafka.sh lib                      print the directory of the fetched jars
#   scripts/kafka.sh kill-node <id> [cluster|single]     SIGKILL one node by its saved PID
#                                             (a crash: no controlled shutdown)
#   scripts/kafka.sh restart-node <id> [cluster|single]  start one node again on its existing
#                                             data directory (stopping it first if it runs) and
#                                             wait until it answers; the node rejoins with its log
#
# Node commands default to the cluster (nodes 1-3); the others to the single node.
#
# The secure mode is one node whose client listener is SASL_SSL: a CA and the broker's
# certificate (for 127.0.0.1 and localhost) are made with openssl and keytool into
# <cache>/run/secure/tls (clients trust ca.pem there), and the authorizer is on. Users:
#   admin / admin-secret    super user; PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
#   denied / denied-secret  no ACLs, so every topic or group operation is denied
# OAUTHBEARER takes Kafka's unsecured tokens (alg "none"; the subject is the user): a
# test setup, never a production one.
#
# Environment: TOKA_KAFKA_PORT (single node, default 19092; its controller uses +1),
# TOKA_KAFKA_CLUSTER_PORT (cluster, default 29092; brokers use +0..+2, controllers
# +100..+102), TOKA_KAFKA_SECURE_PORT (secure node, default 19192; its controller uses
# +1), TOKA_KAFKA_CACHE (default <repo>/.cache/kafka), TOKA_KAFKA_START_TIMEOUT
# (seconds, default 120), TOKA_KAFKA_HEAP (default 512m per node).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
kafka_version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$root/scripts/kafka/pom.xml")
cache=${TOKA_KAFKA_CACHE:-$root/.cache/kafka}
lib="$cache/$kafka_version/lib"
single_port=${TOKA_KAFKA_PORT:-19092}
cluster_port=${TOKA_KAFKA_CLUSTER_PORT:-29092}
secure_port=${TOKA_KAFKA_SECURE_PORT:-19192}
start_timeout=${TOKA_KAFKA_START_TIMEOUT:-120}
heap=${TOKA_KAFKA_HEAP:-512m}
# Guards only throwaway test certificates in the cache.
tls_password=toka-test

die() { echo "kafka.sh: $*" >&2; exit 1; }
log() { echo "kafka.sh: $*" >&2; }

command=${1:-}
node_id=""
case "$command" in
  kill-node|restart-node)
    [ $# -ge 2 ] || die "usage: scripts/kafka.sh $command <node id> [cluster|single]"
    node_id=$2
    mode=cluster
    [ $# -ge 3 ] && mode=$3
    ;;
  *)
    mode=single
    [ $# -ge 2 ] && mode=$2
    ;;
esac
case "$mode" in single|cluster|secure) ;; *) die "unknown mode '$mode': use single, cluster or secure" ;; esac
run_dir="$cache/run/$mode"
tls_dir="$run_dir/tls"

node_ids() { if [ "$mode" = cluster ]; then echo 1 2 3; else echo 1; fi; }
broker_port() {
  case "$mode" in
    single) echo "$single_port" ;;
    secure) echo "$secure_port" ;;
    cluster) echo $((cluster_port + $1 - 1)) ;;
  esac
}
controller_port() {
  case "$mode" in
    single) echo $((single_port + 1)) ;;
    secure) echo $((secure_port + 1)) ;;
    cluster) echo $((cluster_port + 99 + $1)) ;;
  esac
}
brokers() { local out=() id; for id in $(node_ids); do out+=("127.0.0.1:$(broker_port "$id")"); done; (IFS=,; echo "${out[*]}"); }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
node_pid() { cat "$run_dir/node-$1/pid" 2>/dev/null || true; }
node_alive() { local pid; pid=$(node_pid "$1"); [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; }

fetch_jars() {
  [ -f "$lib/.complete" ] && return 0
  command -v mvn >/dev/null || die "Maven (mvn) is needed to fetch the Kafka $kafka_version jars from Maven Central"
  command -v java >/dev/null || die "Java 17+ is needed to run the Kafka broker"
  log "fetching Apache Kafka $kafka_version from Maven Central into $lib"
  rm -rf "$lib" && mkdir -p "$lib"
  mvn -q -B -f "$root/scripts/kafka/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$lib" >&2 || die "Maven could not fetch the Kafka jars"
  touch "$lib/.complete"
}

write_config() {
  local id=$1 dir=$2 voters="" rf=1 isr=1
  if [ "$mode" = cluster ]; then
    local v
    for v in $(node_ids); do voters+="${voters:+,}$v@127.0.0.1:$(controller_port "$v")"; done
    rf=3 isr=2
  fi
  {
    echo "process.roles=broker,controller"
    echo "node.id=$id"
    if [ "$mode" = cluster ]; then
      # Static quorum: every node knows the three voters up front.
      echo "controller.quorum.voters=$voters"
    else
      # Dynamic quorum of one, bootstrapped by 'format --standalone'.
      echo "controller.quorum.bootstrap.servers=127.0.0.1:$(controller_port "$id")"
    fi
    if [ "$mode" = secure ]; then
      write_secure_listeners "$id"
    else
      echo "listeners=PLAINTEXT://127.0.0.1:$(broker_port "$id"),CONTROLLER://127.0.0.1:$(controller_port "$id")"
      echo "advertised.listeners=PLAINTEXT://127.0.0.1:$(broker_port "$id")"
      echo "inter.broker.listener.name=PLAINTEXT"
      echo "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
    fi
    echo "controller.listener.names=CONTROLLER"
    echo "log.dirs=$dir/data"
    echo "num.partitions=1"
    echo "default.replication.factor=$rf"
    echo "min.insync.replicas=$isr"
    # Internal topics must fit the node count, or group commits and transactions hang.
    echo "offsets.topic.replication.factor=$rf"
    echo "transaction.state.log.replication.factor=$rf"
    echo "transaction.state.log.min.isr=$isr"
    echo "share.coordinator.state.topic.replication.factor=$rf"
    echo "share.coordinator.state.topic.min.isr=$isr"
    # Tests start and stop consumers constantly: do not wait for more members to join.
    echo "group.initial.rebalance.delay.ms=0"
    # Lets the failover benchmark use session timeouts below the default minimum (6 s).
    echo "group.min.session.timeout.ms=1000"
    echo "auto.create.topics.enable=false"
    echo "log.segment.bytes=16777216"
    echo "log.cleaner.dedupe.buffer.size=16777216"
  } > "$dir/server.properties"
}

# The secure node's listeners: SASL_SSL for clients and for the broker's own requests to
# itself (PLAIN as admin), PLAINTEXT for the controller on 127.0.0.1 only. The
# controller's principal is then User:ANONYMOUS, which KRaft's StandardAuthorizer must
# let through as a super user, or the broker cannot register with its controller.
write_secure_listeners() {
  local id=$1 sasl=listener.name.sasl_ssl
  echo "listeners=SASL_SSL://127.0.0.1:$(broker_port "$id"),CONTROLLER://127.0.0.1:$(controller_port "$id")"
  echo "advertised.listeners=SASL_SSL://127.0.0.1:$(broker_port "$id")"
  echo "inter.broker.listener.name=SASL_SSL"
  echo "listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT"
  echo "ssl.keystore.type=PKCS12"
  echo "ssl.keystore.location=$tls_dir/broker.p12"
  echo "ssl.keystore.password=$tls_password"
  echo "ssl.truststore.type=PKCS12"
  echo "ssl.truststore.location=$tls_dir/truststore.p12"
  echo "ssl.truststore.password=$tls_password"
  echo "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER"
  echo "sasl.mechanism.inter.broker.protocol=PLAIN"
  echo "$sasl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"admin\" password=\"admin-secret\" user_admin=\"admin-secret\" user_denied=\"denied-secret\";"
  echo "$sasl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;"
  echo "$sasl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;"
  # Without a validator class the broker accepts unsecured (unsigned) tokens.
  echo "$sasl.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub=\"admin\";"
  echo "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer"
  echo "super.users=User:admin;User:ANONYMOUS"
}

# The secure node's CA, its certificate signed by that CA (a PKCS12 keystore) and a
# truststore with the CA, so that clients verify the broker against ca.pem.
make_certificates() {
  command -v openssl >/dev/null || die "openssl is needed to make the secure node's certificates"
  command -v keytool >/dev/null || die "keytool (from the JDK) is needed to make the secure node's truststore"
  rm -rf "$tls_dir" && mkdir -p "$tls_dir"
  (
    cd "$tls_dir"
    openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=toka test CA" \
      -keyout ca-key.pem -out ca.pem
    openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout broker-key.pem -out broker.csr
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > broker.ext
    openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 365 \
      -extfile broker.ext -out broker.pem
    openssl pkcs12 -export -in broker.pem -inkey broker-key.pem -certfile ca.pem -name broker \
      -passout "pass:$tls_password" -out broker.p12
    keytool -importcert -noprompt -alias ca -file ca.pem -storetype PKCS12 \
      -keystore truststore.p12 -storepass "$tls_password"
  ) > "$run_dir/certificates.log" 2>&1 || { cat "$run_dir/certificates.log" >&2; die "making the secure node's certificates failed"; }
  # What the script's own readiness check (an admin client) connects with.
  {
    echo "security.protocol=SASL_SSL"
    echo "sasl.mechanism=PLAIN"
    echo "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"admin\" password=\"admin-secret\";"
    echo "ssl.truststore.type=PEM"
    echo "ssl.truststore.location=$tls_dir/ca.pem"
  } > "$tls_dir/admin-client.properties"
}

start_node() {
  local id=$1 dir="$run_dir/node-$1" cluster_id=$2
  rm -rf "$dir" && mkdir -p "$dir/logs"
  write_config "$id" "$dir"
  local format_args=(format -t "$cluster_id" -c "$dir/server.properties")
  [ "$mode" = cluster ] || format_args+=(--standalone)
  if [ "$mode" = secure ]; then
    # SCRAM credentials live in the cluster metadata, so they are written at format time.
    local user
    for user in admin denied; do
      format_args+=(--add-scram "SCRAM-SHA-256=[name=$user,password=$user-secret]")
      format_args+=(--add-scram "SCRAM-SHA-512=[name=$user,password=$user-secret]")
    done
  fi
  java -cp "$lib/*" -Dkafka.logs.dir="$dir/logs" \
    -Dlog4j2.configurationFile="$root/scripts/kafka/log4j2.properties" \
    kafka.tools.StorageTool "${format_args[@]}" > "$dir/logs/format.log" 2>&1 \
    || { cat "$dir/logs/format.log" >&2; die "formatting node $id failed"; }
  launch_node "$id"
}

# Runs a formatted node on its data directory in the background, saving its PID.
launch_node() {
  local id=$1 dir="$run_dir/node-$1"
  nohup java -Xms"$heap" -Xmx"$heap" -XX:+UseG1GC -Djava.awt.headless=true \
    -Dkafka.logs.dir="$dir/logs" \
    -Dlog4j2.configurationFile="$root/scripts/kafka/log4j2.properties" \
    -cp "$lib/*" kafka.Kafka "$dir/server.properties" > "$dir/logs/stdout.log" 2>&1 < /dev/null &
  echo $! > "$dir/pid"
}

fail_start() {
  local id=$1 why=$2 dir="$run_dir/node-$1"
  log "$why"
  for f in "$dir/logs/stdout.log" "$dir/logs/server.log"; do
    [ -s "$f" ] && { echo "---- tail of $f" >&2; tail -n 40 "$f" >&2; }
  done
  stop_all
  exit 1
}

# Waits until a node answers a client; on failure calls $2 (fail_start or fail_node).
wait_node() {
  local id=$1 fail=$2 deadline=$3 client_config=()
  [ "$mode" = secure ] && client_config=(--config "$tls_dir/admin-client.properties")
  while :; do
    node_alive "$id" || "$fail" "$id" "broker node $id exited during start-up"
    if port_open "$(broker_port "$id")" && timeout 30 java -cp "$lib/*" \
        -Dlog4j2.configurationFile="$root/scripts/kafka/log4j2.properties" -Dkafka.logs.dir="$run_dir/node-$id/logs" \
        org.apache.kafka.tools.ClusterTool cluster-id --bootstrap-server "127.0.0.1:$(broker_port "$id")" \
        "${client_config[@]}" > /dev/null 2>&1; then
      return 0
    fi
    [ $SECONDS -lt "$deadline" ] || "$fail" "$id" "broker node $id did not answer within ${start_timeout}s"
    sleep 1
  done
}

wait_ready() {
  local id deadline=$((SECONDS + start_timeout))
  for id in $(node_ids); do wait_node "$id" fail_start "$deadline"; done
}

# Like fail_start, for one node: the other nodes keep running.
fail_node() {
  local id=$1 why=$2 dir="$run_dir/node-$1"
  log "$why"
  for f in "$dir/logs/stdout.log" "$dir/logs/server.log"; do
    [ -s "$f" ] && { echo "---- tail of $f" >&2; tail -n 40 "$f" >&2; }
  done
  stop_node "$id"
  exit 1
}

check_node_id() {
  local id
  for id in $(node_ids); do [ "$id" = "$node_id" ] && return 0; done
  die "no node '$node_id' in the $mode setup: use one of $(node_ids | tr '\n' ' ')"
}

# Waits up to $2 tenths of a second for process $1 to exit; fails if it is still there.
wait_exit() {
  local pid=$1 tenths=$2
  for _ in $(seq 1 "$tenths"); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  ! kill -0 "$pid" 2>/dev/null
}

# Ends a node's process whose SIGTERM was sent: waits for the controlled shutdown, then
# SIGKILLs it and waits until it is gone, so that its ports are free when this returns.
finish_node() {
  local id=$1 pid=$2 grace_tenths=$3
  wait_exit "$pid" "$grace_tenths" || kill -9 "$pid" 2>/dev/null || true
  wait_exit "$pid" 100 || die "node $id (pid $pid) survived SIGKILL"
  rm -f "$run_dir/node-$id/pid"
}

# Stops one node: SIGTERM (a controlled shutdown), SIGKILL after 30 s.
stop_node() {
  local id=$1 pid
  pid=$(node_pid "$id")
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || true
  finish_node "$id" "$pid" 300
}

kill_node() {
  check_node_id
  local pid
  pid=$(node_pid "$node_id")
  node_alive "$node_id" || die "node $node_id is not running"
  kill -9 "$pid"
  finish_node "$node_id" "$pid" 0
  log "killed node $node_id (pid $pid) at 127.0.0.1:$(broker_port "$node_id")"
}

restart_node() {
  check_node_id
  local dir="$run_dir/node-$node_id"
  [ -f "$dir/server.properties" ] && [ -d "$dir/data" ] \
    || die "node $node_id has no data directory in $dir; start the $mode setup first"
  node_alive "$node_id" && stop_node "$node_id"
  for port in "$(broker_port "$node_id")" "$(controller_port "$node_id")"; do
    port_open "$port" && die "port $port on 127.0.0.1 is still taken; node $node_id cannot restart"
  done
  log "restarting node $node_id on its data directory at 127.0.0.1:$(broker_port "$node_id")"
  launch_node "$node_id"
  wait_node "$node_id" fail_node $((SECONDS + start_timeout))
  log "node $node_id is back at 127.0.0.1:$(broker_port "$node_id")"
  brokers
}

start_all() {
  local id running=0 total=0
  for id in $(node_ids); do total=$((total + 1)); node_alive "$id" && running=$((running + 1)); done
  if [ $running -eq $total ]; then log "already running ($mode) at $(brokers)"; brokers; return 0; fi
  [ $running -gt 0 ] && stop_all
  for id in $(node_ids); do
    for port in "$(broker_port "$id")" "$(controller_port "$id")"; do
      port_open "$port" && die "port $port on 127.0.0.1 is already taken by another process; free it or choose other ports with TOKA_KAFKA_PORT / TOKA_KAFKA_CLUSTER_PORT / TOKA_KAFKA_SECURE_PORT"
    done
  done
  fetch_jars
  local cluster_id
  cluster_id=$(java -cp "$lib/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)
  [ -n "$cluster_id" ] || die "could not generate a cluster id with kafka.tools.StorageTool"
  [ "$mode" = secure ] && make_certificates
  log "starting Kafka $kafka_version ($mode) at $(brokers)"
  for id in $(node_ids); do start_node "$id" "$cluster_id"; done
  wait_ready
  log "ready at $(brokers)"
  brokers
}

stop_all() {
  local id pid
  for id in $(node_ids); do
    pid=$(node_pid "$id")
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
  for id in $(node_ids); do
    pid=$(node_pid "$id")
    [ -n "$pid" ] || continue
    # A controlled shutdown takes a few seconds. The last node of a cluster stopped
    # together loses its quorum and cannot finish one; after 15 s it is killed.
    finish_node "$id" "$pid" 150
  done
}

status() {
  local id ok=0
  for id in $(node_ids); do
    if node_alive "$id"; then echo "node $id: running (pid $(node_pid "$id")) at 127.0.0.1:$(broker_port "$id")"
    else echo "node $id: stopped"; ok=1; fi
  done
  return $ok
}

case "$command" in
  start) start_all ;;
  stop) stop_all ;;
  status) status ;;
  brokers) brokers ;;
  fetch) fetch_jars ;;
  lib) echo "$lib" ;;
  kill-node) kill_node ;;
  restart-node) restart_node ;;
  *) die "usage: scripts/kafka.sh start|stop|status|brokers [single|cluster|secure], fetch, lib, or kill-node|restart-node <id> [cluster|single]" ;;
esac
