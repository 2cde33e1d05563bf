#!/usr/bin/env bash
# A Docker engine of the project's own and toka's Kafka image, for the Testcontainers
# tests on machines where no image registry is reachable.
#
#   scripts/docker.sh start   installs Debian's docker.io when dockerd is missing (as root),
#                             starts a dockerd of its own unless it already answers, and
#                             prints the DOCKER_HOST to use
#   scripts/docker.sh image   makes sure the image toka/kafka:<version> is loaded: from the
#                             cached tarball, else built from a Debian root filesystem
#                             (debootstrap + a headless JRE) and the Maven Central jars of
#                             scripts/kafka.sh; prints the image name
#   scripts/docker.sh stop    stops the dockerd that 'start' started (and its containers)
#   scripts/docker.sh host    prints the DOCKER_HOST these commands use
#
# Everything lives under <repo>/.cache/docker: the engine's data root, exec root, socket and
# log (so it never meets a system dockerd), the root filesystem and the image tarballs, keyed
# by the Kafka version of scripts/kafka/pom.xml. Each step prints how long it took.
#
# Environment: TOKA_DOCKER_START_TIMEOUT (seconds to wait for the engine, default 60),
# TOKA_DEBIAN_MIRROR (default: the first Debian mirror of the host's apt sources).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
kafka_version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$root/scripts/kafka/pom.xml")
cache="$root/.cache/docker"
engine="$cache/engine"
socket="$engine/docker.sock"
image="toka/kafka:$kafka_version"
# The base image is the Debian release and JRE: it changes only when those do.
debian_release=bookworm
jre_package=openjdk-17-jre-headless
base_image="toka/kafka-base:$debian_release-jre17"
start_timeout=${TOKA_DOCKER_START_TIMEOUT:-60}

die() { echo "docker.sh: $*" >&2; exit 1; }
log() { echo "docker.sh: $*" >&2; }
timed() {
  local what=$1 t=$SECONDS
  shift
  "$@"
  log "$what took $((SECONDS - t)) s"
}

# A DOCKER_HOST set by the caller names the engine to use; otherwise the project's own.
export DOCKER_HOST=${DOCKER_HOST:-unix://$socket}
# Docker's legacy builder: BuildKit needs the buildx plugin, which Debian's docker.io lacks.
export DOCKER_BUILDKIT=0

engine_answers() { docker info >/dev/null 2>&1; }

install_docker() {
  command -v dockerd >/dev/null && command -v docker >/dev/null && return 0
  [ "$(id -u)" -eq 0 ] || die "dockerd is missing and only root can install it: apt-get install docker.io"
  command -v apt-get >/dev/null || die "dockerd is missing and this machine has no apt-get to install Debian's docker.io"
  log "installing Debian's docker.io"
  local t=$SECONDS
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends docker.io >&2 || die "apt-get install docker.io failed"
  log "installing docker.io took $((SECONDS - t)) s"
}

start_engine() {
  if engine_answers; then log "dockerd already answers at $DOCKER_HOST"; echo "$DOCKER_HOST"; return 0; fi
  install_docker
  [ "$DOCKER_HOST" = "unix://$socket" ] || die "no Docker engine answers at DOCKER_HOST=$DOCKER_HOST"
  [ "$(id -u)" -eq 0 ] || die "dockerd needs root to run"
  mkdir -p "$engine"
  rm -f "$socket"
  # --iptables=false: left to itself dockerd rewrites the host's firewall (its DOCKER chains
  # and a MASQUERADE rule in FORWARD and nat), which the other processes of a shared machine
  # did not ask for. Without those rules a published port still reaches its container
  # through docker-proxy when the host routes to the bridge; whether it does is for the
  # caller to check (kafkaForTests falls back to host networking). The data and exec roots
  # are the project's own, so a system dockerd or another checkout's engine is never touched.
  ip link show docker0 >/dev/null 2>&1 || touch "$engine/created-docker0"
  local t=$SECONDS
  # The default bridge stays (Testcontainers refuses an engine without one), but the Kafka
  # container runs on the host's network (kafkaForTests): no container is attached to the
  # bridge, so nothing is sent to its private-range addresses.
  nohup dockerd --iptables=false --ip-masq=false \
    --host "$DOCKER_HOST" \
    --data-root "$engine/data" \
    --exec-root "$engine/exec" \
    --pidfile "$engine/dockerd.pid" \
    > "$engine/dockerd.log" 2>&1 < /dev/null &
  echo $! > "$engine/started-by-docker.sh"
  local pid
  pid=$(cat "$engine/started-by-docker.sh")
  while ! engine_answers; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 30 "$engine/dockerd.log" >&2
      rm -f "$engine/started-by-docker.sh"
      # Its last error is the reason, e.g. a storage driver or network the kernel refuses.
      local why
      why=$(grep -E 'level=(fatal|error)' "$engine/dockerd.log" | tail -n 1 | sed 's/.*msg="\([^"]*\)".*/\1/')
      die "dockerd exited during start-up: ${why:-see .cache/docker/engine/dockerd.log}"
    fi
    if [ $((SECONDS - t)) -ge "$start_timeout" ]; then
      tail -n 30 "$engine/dockerd.log" >&2
      stop_engine
      die "dockerd did not answer within ${start_timeout}s"
    fi
    sleep 0.5
  done
  log "dockerd answers at $DOCKER_HOST (storage driver $(docker info --format '{{.Driver}}')); starting it took $((SECONDS - t)) s"
  echo "$DOCKER_HOST"
}

stop_engine() {
  local pid target
  pid=$(cat "$engine/started-by-docker.sh" 2>/dev/null || true)
  [ -n "$pid" ] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    # SIGTERM: dockerd stops its containers and its containerd before it exits.
    kill "$pid"
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  fi
  rm -f "$engine/started-by-docker.sh"
  # dockerd 20.10 leaves the mount of its network namespace (exec/netns/default) behind,
  # which makes .cache undeletable; nothing else may hold mounts under the engine directory.
  local mounted
  mounted=$(awk -v dir="$engine/" 'index($2, dir) == 1 { print $2 }' /proc/mounts | sort -r)
  for target in $mounted; do umount "$target" 2>/dev/null || umount -l "$target" 2>/dev/null || true; done
  # dockerd leaves its bridge behind; remove it when this engine made it.
  if [ -f "$engine/created-docker0" ]; then
    ip link delete docker0 2>/dev/null || true
    rm -f "$engine/created-docker0"
  fi
  log "stopped dockerd (pid $pid)"
}

# The mirror the host's apt already uses, so debootstrap needs no other network access.
debian_mirror() {
  if [ -n "${TOKA_DEBIAN_MIRROR:-}" ]; then echo "$TOKA_DEBIAN_MIRROR"; return; fi
  local mirror
  mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
    grep -oE 'https?://[^ ]+/debian/?( |$)' | grep -v security | head -n 1 | tr -d ' ' || true)
  echo "${mirror:-http://deb.debian.org/debian}"
}

# A minimal Debian with a headless JRE, as a tarball: the base image's only content.
build_rootfs() {
  local tarball=$1 dir="$cache/rootfs"
  command -v debootstrap >/dev/null || {
    [ "$(id -u)" -eq 0 ] || die "debootstrap is missing and only root can install it: apt-get install debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >&2 ||
      die "apt-get install debootstrap failed"
  }
  rm -rf "$dir"
  log "building a $debian_release root filesystem with $jre_package from $(debian_mirror)"
  debootstrap --variant=minbase --include="$jre_package" "$debian_release" "$dir" "$(debian_mirror)" \
    > "$cache/debootstrap.log" 2>&1 || { tail -n 30 "$cache/debootstrap.log" >&2; die "debootstrap failed (log: .cache/docker/debootstrap.log)"; }
  # The package caches and lists are half of the tree and no use in an image.
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
  tar -C "$dir" -cf "$tarball.partial" . && mv "$tarball.partial" "$tarball"
  rm -rf "$dir"
}

load_base_image() {
  docker image inspect "$base_image" >/dev/null 2>&1 && return 0
  local tarball="$cache/rootfs-$debian_release-jre17.tar"
  [ -f "$tarball" ] || timed "building the root filesystem" build_rootfs "$tarball"
  timed "importing the root filesystem as $base_image" docker import "$tarball" "$base_image" >/dev/null
}

build_image() {
  local tarball="$cache/images/toka-kafka-$kafka_version.tar"
  if docker image inspect "$image" >/dev/null 2>&1; then log "$image is loaded"; echo "$image"; return 0; fi
  if [ -f "$tarball" ]; then
    timed "loading $image from the cache" docker load -i "$tarball" >&2
    echo "$image"
    return 0
  fi
  timed "fetching the Kafka $kafka_version jars" bash "$root/scripts/kafka.sh" fetch
  load_base_image
  # The build context: the Dockerfile, the start script and the jars (hard links, no copy).
  local context="$cache/context"
  rm -rf "$context" && mkdir -p "$context"
  cp "$root"/docker/kafka/{Dockerfile,start-kafka.sh,kafka-ready.sh,log4j2.properties} "$context/"
  cp -al "$(bash "$root/scripts/kafka.sh" lib)" "$context/lib"
  timed "building $image" docker build -q --build-arg "BASE=$base_image" \
    --label "org.apache.kafka.version=$kafka_version" -t "$image" "$context" >&2
  rm -rf "$context"
  mkdir -p "$cache/images"
  timed "saving $image to .cache/docker/images" docker save -o "$tarball.partial" "$image"
  mv "$tarball.partial" "$tarball"
  echo "$image"
}

case "${1:-}" in
  start) start_engine ;;
  stop) stop_engine ;;
  host) echo "$DOCKER_HOST" ;;
  image)
    engine_answers || die "no Docker engine answers at $DOCKER_HOST: run scripts/docker.sh start first"
    build_image
    ;;
  *) die "usage: scripts/docker.sh start|image|stop|host" ;;
esac
