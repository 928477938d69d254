#!/usr/bin/env bash
# testnet.sh [--local] COMMAND: a four-validator swingchain testnet on this machine.
# Each validator is a `swingchain` node plus its own `swingsetd` sidecar; val0 is the proposer
# (the sequencer orders txs into blocks: ordering, not BFT consensus). Everything listens on
# 127.0.0.1 only: node i on BASE_PORT+i (tx and peer service), its sidecar on BASE_PORT+10+i.
#
#   up                 start the testnet (creates its genesis on first use)
#   down [--volumes]   stop it; --volumes also deletes its state and genesis (a fresh chain next up)
#   status             each node's `swingchain query status`
#   logs [NAME]        the logs (NAME: val0..val3, sidecar0..sidecar3)
# Docker only:
#   image              build the image (also done by up when missing)
# --local only (plain processes; pids and logs in the run dir):
#   start NAME | stop NAME | kill NAME   one process (kill = SIGKILL)
#
# Without --local it runs docker-compose (deploy/docker-compose.yml, project `swingset`, host
# networking, named volumes). When no Docker daemon answers (DOCKER_HOST or the default socket)
# it starts its own (deploy/dockerd.sh, data root build/docker: images are kept across runs)
# and `down` stops it. The base image debian:12 is pulled or else built with debootstrap
# (deploy/base-image.sh). The image is built from the binaries already in BUILD_DIR when they
# are there (target `prebuilt`), otherwise from source (IMAGE_FROM=source forces that).
#
# Environment: BUILD_DIR (default build), RUN_DIR (default BUILD_DIR/testnet or
# BUILD_DIR/testnet-local), BASE_PORT (default 26700), NODES (--local only, 1..4, default 4),
# BLOCK_INTERVAL (default 1s), IMAGE (default swingsetd:local), SIDECAR_FLAGS and NODE_FLAGS
# (extra flags, --local only), DOCKER (default /usr/bin/docker), NODE_GOMAXPROCS (default 1).
#
# NODE_GOMAXPROCS is each node's GOMAXPROCS. The testnet runs four nodes and four sidecars on one
# machine, usually with fewer cores than processes; a Go runtime allowed one thread per core
# spins looking for work whenever its goroutines block on gRPC, and those spinning threads take
# the cores the sidecars need (measured: 4 validators on 2 cores, the nodes used 40 CPU-s per
# 60,000 txs with the default and 23 with 1). A node alone on its machine should leave it unset
# (empty: the Go default).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

local_mode=0
if [ "${1:-}" = "--local" ]; then local_mode=1; shift; fi
cmd=${1:-}
shift || true

BUILD_DIR=${BUILD_DIR:-build}
BUILD_DIR=$(mkdir -p "$BUILD_DIR" && cd "$BUILD_DIR" && pwd)
BASE_PORT=${BASE_PORT:-26700}
BLOCK_INTERVAL=${BLOCK_INTERVAL:-1s}
IMAGE=${IMAGE:-swingsetd:local}
NODE_GOMAXPROCS=${NODE_GOMAXPROCS-1}
export NODE_GOMAXPROCS
DOCKER=${DOCKER:-/usr/bin/docker}
export DOCKER
if [ $local_mode = 1 ]; then
  RUN_DIR=${RUN_DIR:-$BUILD_DIR/testnet-local}
  NODES=${NODES:-4}
else
  RUN_DIR=${RUN_DIR:-$BUILD_DIR/testnet}
  NODES=4
fi
case "$NODES" in 1|2|3|4) ;; *) echo "testnet: NODES must be 1..4 (got $NODES)" >&2; exit 64 ;; esac
mkdir -p "$RUN_DIR"
RUN_DIR=$(cd "$RUN_DIR" && pwd)

SWINGSETD=${SWINGSETD:-$BUILD_DIR/server/swingsetd}
SWINGCHAIN=${SWINGCHAIN:-$BUILD_DIR/go/bin/swingchain}

die() { echo "testnet: $*" >&2; exit 1; }
node_port() { echo $((BASE_PORT + $1)); }
sidecar_port() { echo $((BASE_PORT + 10 + $1)); }
validators() {
  local v="" i
  for ((i = 0; i < NODES; i++)); do v="$v${v:+,}val$i=127.0.0.1:$(node_port $i)"; done
  echo "$v"
}

usage() {
  sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 64
}

# ---------------------------------------------------------------------------- local processes
pidfile() { echo "$RUN_DIR/pids/$1.pid"; }
alive() { local f; f=$(pidfile "$1"); [ -s "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null; }
check_name() {
  case "$1" in
    val[0-3]|sidecar[0-3]) [ "${1: -1}" -lt "$NODES" ] || die "no $1 with NODES=$NODES" ;;
    *) die "unknown process '$1' (val0..val$((NODES-1)), sidecar0..sidecar$((NODES-1)))" ;;
  esac
}

local_genesis() {
  if [ ! -s "$RUN_DIR/genesis.json" ]; then
    [ -x "$SWINGCHAIN" ] || die "$SWINGCHAIN not built (bash deploy/build.sh build)"
    # The genesis names the vats by paths relative to itself: keep a copy of them beside it.
    rm -rf "$RUN_DIR/demo_vats"
    cp -r "$repo/deploy/demo_vats" "$RUN_DIR/demo_vats"
    (cd "$RUN_DIR" && "$SWINGCHAIN" init-genesis --vats demo_vats --validators "$(validators)" \
       > genesis.json.tmp) || die "init-genesis failed"
    mv "$RUN_DIR/genesis.json.tmp" "$RUN_DIR/genesis.json"
  fi
}

local_start() {
  local name=$1 i=${1: -1} log
  check_name "$name"
  if alive "$name"; then echo "testnet: $name already running (pid $(cat "$(pidfile "$name")"))"; return 0; fi
  mkdir -p "$RUN_DIR/pids" "$RUN_DIR/logs"
  log="$RUN_DIR/logs/$name.log"
  local port
  case "$name" in sidecar*) port=$(sidecar_port "$i") ;; *) port=$(node_port "$i") ;; esac
  # Something already answering on the port (another testnet, a process still stopping) would
  # take this one's traffic: refuse rather than start a process that cannot listen.
  for _ in $(seq 1 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || break
    sleep 0.2
  done
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    die "127.0.0.1:$port ($name) is in use by another process"
  fi
  case "$name" in
    sidecar*)
      [ -x "$SWINGSETD" ] || die "$SWINGSETD not built (bash deploy/build.sh build)"
      # shellcheck disable=SC2086
      setsid "$SWINGSETD" --listen "127.0.0.1:$(sidecar_port "$i")" --data-dir "$RUN_DIR/sidecar$i" \
        --log-level warn ${SIDECAR_FLAGS:-} >>"$log" 2>&1 </dev/null &
      ;;
    val*)
      [ -x "$SWINGCHAIN" ] || die "$SWINGCHAIN not built (bash deploy/build.sh build)"
      local_genesis
      # shellcheck disable=SC2086
      GOMAXPROCS=$NODE_GOMAXPROCS setsid "$SWINGCHAIN" start --home "$RUN_DIR/val$i" --id "val$i" \
        --listen "127.0.0.1:$(node_port "$i")" --sidecar "127.0.0.1:$(sidecar_port "$i")" \
        --genesis "$RUN_DIR/genesis.json" --block-interval "$BLOCK_INTERVAL" ${NODE_FLAGS:-} \
        >>"$log" 2>&1 </dev/null &
      ;;
  esac
  echo $! > "$(pidfile "$name")"
  echo "testnet: $name started (pid $!, log $log)"
}

local_stop() {
  local name=$1 sig=${2:-TERM} pid
  check_name "$name"
  if ! alive "$name"; then rm -f "$(pidfile "$name")"; return 0; fi
  pid=$(cat "$(pidfile "$name")")
  kill "-$sig" "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "testnet: $name (pid $pid) did not stop in 10 s; SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.2
  fi
  rm -f "$(pidfile "$name")"
  echo "testnet: $name stopped ($sig)"
}

status_of() {  # ADDR: one node's status, or why not
  "$@" 2>&1 || true
}

local_main() {
  local i
  case "$cmd" in
    up)
      local_genesis
      for ((i = 0; i < NODES; i++)); do local_start "sidecar$i"; done
      for ((i = 0; i < NODES; i++)); do local_start "val$i"; done
      echo "testnet: $NODES validators up; run dir $RUN_DIR"
      ;;
    down)
      for ((i = NODES - 1; i >= 0; i--)); do local_stop "val$i"; done
      for ((i = NODES - 1; i >= 0; i--)); do local_stop "sidecar$i"; done
      if [ "${1:-}" = "--volumes" ]; then
        rm -rf "$RUN_DIR"
        echo "testnet: removed $RUN_DIR"
      fi
      ;;
    start) [ $# = 1 ] || usage; local_start "$1" ;;
    stop) [ $# = 1 ] || usage; local_stop "$1" TERM ;;
    kill) [ $# = 1 ] || usage; local_stop "$1" KILL ;;
    status)
      for ((i = 0; i < NODES; i++)); do
        if alive "val$i"; then s=up; else s=down; fi
        if alive "sidecar$i"; then c=up; else c=down; fi
        echo "== val$i ($s, 127.0.0.1:$(node_port "$i")), sidecar$i ($c, 127.0.0.1:$(sidecar_port "$i"))"
        if [ "$s" = up ]; then status_of "$SWINGCHAIN" query status --node "127.0.0.1:$(node_port "$i")"; fi
      done
      ;;
    logs)
      if [ $# -ge 1 ]; then check_name "$1"; tail -n 200 "$RUN_DIR/logs/$1.log"
      else for f in "$RUN_DIR"/logs/*.log; do echo "== $f"; tail -n 20 "$f"; done; fi
      ;;
    *) usage ;;
  esac
}

# ---------------------------------------------------------------------------- docker-compose
docker_dir="$BUILD_DIR/docker"
compose() {
  local i
  for ((i = 0; i < 4; i++)); do
    export "VAL${i}_PORT=$(node_port "$i")" "SIDECAR${i}_PORT=$(sidecar_port "$i")"
  done
  SWINGSET_IMAGE="$IMAGE" SWINGSET_GENESIS="$RUN_DIR/genesis.json" \
    BLOCK_INTERVAL="$BLOCK_INTERVAL" \
    docker-compose -p swingset -f "$repo/deploy/docker-compose.yml" "$@"
}
ensure_daemon() {
  if "$DOCKER" info >/dev/null 2>&1; then return 0; fi
  echo "testnet: no Docker daemon answers; starting one (data root $docker_dir/root)"
  bash "$repo/deploy/dockerd.sh" start "$docker_dir"
  touch "$RUN_DIR/own-dockerd"
  export DOCKER_HOST="unix://$docker_dir/docker.sock"
}
use_own_daemon_if_running() {
  if [ -z "${DOCKER_HOST:-}" ] && [ -f "$RUN_DIR/own-dockerd" ] && [ -S "$docker_dir/docker.sock" ]; then
    export DOCKER_HOST="unix://$docker_dir/docker.sock"
  fi
}
build_image() {
  bash "$repo/deploy/base-image.sh" "$BUILD_DIR/docker-cache"
  if [ "${IMAGE_FROM:-}" != source ] && [ -x "$SWINGSETD" ] && [ -x "$SWINGCHAIN" ] &&
     [ -x "$BUILD_DIR/go/bin/swinghealth" ]; then
    local ctx="$BUILD_DIR/docker-context"
    rm -rf "$ctx"
    mkdir -p "$ctx/bin"
    cp "$SWINGSETD" "$SWINGCHAIN" "$BUILD_DIR/go/bin/swinghealth" "$ctx/bin/"
    strip "$ctx/bin/swingsetd" 2>/dev/null || true
    cp -r "$repo/deploy/demo_vats" "$ctx/demo_vats"
    echo "testnet: building $IMAGE from the binaries in $BUILD_DIR (target prebuilt)"
    "$DOCKER" build -q --network host -f "$repo/deploy/Dockerfile" --target prebuilt -t "$IMAGE" "$ctx"
  else
    echo "testnet: building $IMAGE from source (target runtime)"
    DOCKER_BUILDKIT=1 "$DOCKER" build --network host -f "$repo/deploy/Dockerfile" -t "$IMAGE" "$repo"
  fi
}
docker_genesis() {
  if [ ! -s "$RUN_DIR/genesis.json" ]; then
    # Made inside the image, where the vats are: /opt/swingset/demo_vats beside the genesis
    # (the compose file mounts it at /opt/swingset/genesis.json).
    "$DOCKER" run --rm --network host -w /opt/swingset "$IMAGE" \
      swingchain init-genesis --vats demo_vats --validators "$(validators)" > "$RUN_DIR/genesis.json.tmp" ||
      die "init-genesis failed"
    mv "$RUN_DIR/genesis.json.tmp" "$RUN_DIR/genesis.json"
  fi
}

docker_main() {
  command -v docker-compose >/dev/null || die "docker-compose not installed (bash deploy/setup.sh)"
  use_own_daemon_if_running
  case "$cmd" in
    image)
      ensure_daemon
      build_image
      ;;
    up)
      ensure_daemon
      if [ "${REBUILD_IMAGE:-1}" = 1 ] || ! "$DOCKER" image inspect "$IMAGE" >/dev/null 2>&1; then
        build_image
      fi
      docker_genesis
      compose up -d
      echo "testnet: 4 validators up (docker-compose project swingset); genesis $RUN_DIR/genesis.json"
      ;;
    down)
      if "$DOCKER" info >/dev/null 2>&1; then
        if [ "${1:-}" = "--volumes" ]; then compose down --volumes; rm -f "$RUN_DIR/genesis.json"
        else compose down; fi
      fi
      if [ -f "$RUN_DIR/own-dockerd" ]; then
        bash "$repo/deploy/dockerd.sh" stop "$docker_dir"
        rm -f "$RUN_DIR/own-dockerd"
      fi
      ;;
    status)
      compose ps
      for ((i = 0; i < NODES; i++)); do
        echo "== val$i (127.0.0.1:$(node_port "$i"))"
        status_of compose exec -T "val$i" swingchain query status --node "127.0.0.1:$(node_port "$i")"
      done
      ;;
    logs) compose logs --no-color --tail=200 "$@" ;;
    *) usage ;;
  esac
}

[ -n "$cmd" ] || usage
if [ $local_mode = 1 ]; then local_main "$@"; else docker_main "$@"; fi
