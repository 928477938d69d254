#!/usr/bin/env bash
# tests/testnet/docker_test.sh BUILD_DIR: the same four-validator topology through
# docker-compose (deploy/testnet.sh), from a Docker daemon this test starts itself
# (deploy/dockerd.sh: no bridge, no iptables, its own socket; data root BUILD_DIR/docker-test,
# kept so the debian:12 base image made by debootstrap is reused by the next run) and stops
# after. The image is built from the binaries in BUILD_DIR (target prebuilt). A shorter run: a
# few hundred call_vat txs, every node agrees at every height, every container healthy (gRPC
# health for the sidecars, `swingchain query status` for the nodes).
# CTest: testnet_docker_test, label docker. Exit 77 (skipped) where Docker cannot run here
# (not root, no dockerd/docker-compose/debootstrap); TESTNET_DOCKER_REQUIRED=1 makes that a
# failure instead.
# Environment: TESTNET_DOCKER_BASE_PORT (default 28700), TESTNET_DOCKER_TXS (default 400).
set -euo pipefail
[ $# = 1 ] || { echo "usage: docker_test.sh BUILD_DIR" >&2; exit 64; }
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$1" && pwd)

skip() {
  if [ "${TESTNET_DOCKER_REQUIRED:-}" = 1 ]; then echo "FAIL: $*" >&2; exit 1; fi
  echo "SKIP: $*"; exit 77
}
[ "$(id -u)" = 0 ] || skip "needs root to run its own dockerd"
for t in dockerd /usr/bin/docker docker-compose debootstrap; do
  command -v "$t" >/dev/null || skip "$t not installed (bash deploy/setup.sh)"
done

bash "$src/chain/build.sh" "$build" >/dev/null
export DOCKER=/usr/bin/docker
export BUILD_DIR=$build
export RUN_DIR=$build/testnet-docker-test
export BASE_PORT=${TESTNET_DOCKER_BASE_PORT:-28700}
export BLOCK_INTERVAL=200ms
export IMAGE=swingsetd:test
txs=${TESTNET_DOCKER_TXS:-400}
load=$build/go/bin/swingload
daemon_dir=$build/docker-test
nodes="127.0.0.1:$BASE_PORT,127.0.0.1:$((BASE_PORT+1)),127.0.0.1:$((BASE_PORT+2)),127.0.0.1:$((BASE_PORT+3))"
net() { bash "$src/deploy/testnet.sh" "$@"; }
step() { echo; echo "== $(date -u +%T) $*"; }
fail() {
  echo "FAIL: $*" >&2
  net logs 2>&1 | tail -n 80 >&2 || true
  exit 1
}

step "own dockerd (data root $daemon_dir/root)"
bash "$src/deploy/dockerd.sh" start "$daemon_dir" || skip "dockerd cannot run here"
export DOCKER_HOST="unix://$daemon_dir/docker.sock"
cleanup() {
  net down --volumes >/dev/null 2>&1 || true
  bash "$src/deploy/dockerd.sh" stop "$daemon_dir" || true
}
trap cleanup EXIT
# A clean daemon: nothing left from an earlier run but its images.
net down --volumes >/dev/null 2>&1 || true
rm -rf "$RUN_DIR"

step "up: image from the built binaries, genesis, docker-compose up"
net up
"$load" agree --nodes "$nodes" --to 2 --timeout 180s || fail "the testnet did not start"
net status

step "load: $txs txs"
"$load" run --nodes "$nodes" --txs "$txs" --rate 100 --seed 7 --timeout 5m | tee "$RUN_DIR/load.out" ||
  fail "the load run failed"
grep -q "\"results\":$txs," "$RUN_DIR/load.out" || fail "not every tx has its result"

step "agreement and health"
"$load" agree --nodes "$nodes" --timeout 120s || fail "the nodes do not agree"
for _ in $(seq 1 60); do
  unhealthy=""
  for c in $("$DOCKER" ps -aq); do
    s=$("$DOCKER" inspect -f '{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}' "$c")
    case "$s" in *" running healthy") ;; *) unhealthy="$unhealthy [$s]" ;; esac
  done
  [ -z "$unhealthy" ] && break
  sleep 2
done
[ -z "$unhealthy" ] || fail "containers not healthy:$unhealthy"
n=$("$DOCKER" ps -q | wc -l)
[ "$n" = 8 ] || fail "expected 8 containers running, found $n"
"$DOCKER" exec swingset_val1_1 id -u | grep -qx 10001 || fail "the node does not run as the swingset user"
echo "ok: 8 containers healthy, 4 nodes agree"
echo "PASS"
