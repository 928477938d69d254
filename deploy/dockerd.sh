#!/usr/bin/env bash
# dockerd.sh start|stop|env DIR: a Docker daemon of our own, for machines where none runs.
#   start: starts `dockerd --bridge=none --iptables=false --ip6tables=false` with its data root,
#          socket and pidfile under DIR (DIR/root, DIR/docker.sock, DIR/dockerd.pid, log in
#          DIR/dockerd.log) and waits until it answers. Keep DIR (e.g. under the build dir) to keep
#          its images (the debootstrap base image, the built image) for the next run.
#   stop:  stops that daemon by its pidfile and waits for it to exit.
#   env:   prints `export DOCKER_HOST=unix://DIR/docker.sock`.
# No bridge network and no firewall rules: containers run with host networking only and talk to
# 127.0.0.1. Uses Debian's /usr/bin/docker (another docker may be earlier on PATH).
set -euo pipefail
cmd=${1:-}
dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then
  echo "usage: dockerd.sh start|stop|env DIR" >&2
  exit 64
fi
DOCKER=${DOCKER:-/usr/bin/docker}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
sock="unix://$dir/docker.sock"
pidfile="$dir/dockerd.pid"

running() { [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

case "$cmd" in
  env)
    echo "export DOCKER_HOST=$sock"
    ;;
  start)
    if running; then
      echo "dockerd.sh: already running (pid $(cat "$pidfile")) on $sock" >&2
      exit 0
    fi
    command -v dockerd >/dev/null || { echo "dockerd.sh: dockerd not installed (apt-get install docker.io)" >&2; exit 1; }
    # A daemon killed hard leaves its pidfile and socket behind; dockerd refuses a stale pidfile.
    rm -f "$pidfile" "$dir/docker.sock"
    mkdir -p "$dir/root" "$dir/exec"
    # setsid: the daemon is not in the caller's process group, so a Ctrl-C of a test does not
    # kill it half-way; the caller stops it with `dockerd.sh stop`.
    setsid dockerd --bridge=none --iptables=false --ip6tables=false \
      --data-root "$dir/root" --exec-root "$dir/exec" --host "$sock" --pidfile "$pidfile" \
      >"$dir/dockerd.log" 2>&1 < /dev/null &
    for _ in $(seq 1 120); do
      if DOCKER_HOST=$sock "$DOCKER" info >/dev/null 2>&1; then
        echo "dockerd.sh: dockerd (pid $(cat "$pidfile")) ready on $sock" >&2
        exit 0
      fi
      sleep 0.5
    done
    echo "dockerd.sh: dockerd did not become ready; last lines of $dir/dockerd.log:" >&2
    tail -20 "$dir/dockerd.log" >&2 || true
    exit 1
    ;;
  stop)
    if ! running; then
      echo "dockerd.sh: not running" >&2
      exit 0
    fi
    pid=$(cat "$pidfile")
    kill -TERM "$pid"
    for _ in $(seq 1 60); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "dockerd.sh: dockerd (pid $pid) still running after 30 s; sending SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
      sleep 1
    fi
    # dockerd leaves its default network namespace mounted under the exec root; unmount it so
    # the directory can be removed.
    if mountpoint -q "$dir/exec/netns/default" 2>/dev/null; then
      umount "$dir/exec/netns/default" || true
    fi
    echo "dockerd.sh: stopped" >&2
    ;;
  *)
    echo "usage: dockerd.sh start|stop|env DIR" >&2
    exit 64
    ;;
esac
