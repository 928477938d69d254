#!/usr/bin/env bash
# The demo: installs what is needed, builds, starts swingsetd on ./data (127.0.0.1:26660), plays
# the Go app with a small block driver (Init with the demo genesis: the JavaScript vats in
# deploy/demo_vats/, then blocks of call_vat and deliver_inbound actions, printing outbound
# messages and hashes per block), stops the server with SIGTERM and checks the stored state
# hash with `swingsetd verify-state`.
#
# Environment: DATA_DIR (default ./data), LISTEN (default 127.0.0.1:26660), BLOCKS (default 8).
# Running it again continues the same chain from its saved height.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/setup.sh
bash deploy/build.sh build

DATA_DIR=${DATA_DIR:-./data}
LISTEN=${LISTEN:-127.0.0.1:26660}
BLOCKS=${BLOCKS:-8}
PORT_FILE=$(mktemp)
rm -f "$PORT_FILE"

build/server/swingsetd --listen "$LISTEN" --data-dir "$DATA_DIR" --port-file "$PORT_FILE" \
  --log-level warn &
PID=$!
cleanup() {
  if kill -0 "$PID" 2>/dev/null; then kill -TERM "$PID"; wait "$PID" || true; fi
  rm -f "$PORT_FILE"
}
trap cleanup EXIT

for _ in $(seq 1 300); do
  [ -s "$PORT_FILE" ] && break
  kill -0 "$PID" 2>/dev/null || { echo "run: swingsetd exited early" >&2; exit 1; }
  sleep 0.1
done
[ -s "$PORT_FILE" ] || { echo "run: swingsetd did not start" >&2; exit 1; }
echo "run: swingsetd (pid $PID) serving on ${LISTEN%:*}:$(cat "$PORT_FILE"), data in $DATA_DIR"

build/tests/swingsetd_demo --target "${LISTEN%:*}:$(cat "$PORT_FILE")" --blocks "$BLOCKS" \
  --vats deploy/demo_vats

echo
echo "run: stopping swingsetd"
kill -TERM "$PID"
wait "$PID"
build/server/swingsetd verify-state --data-dir "$DATA_DIR"
