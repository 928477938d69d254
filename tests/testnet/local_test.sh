#!/usr/bin/env bash
# tests/testnet/local_test.sh BUILD_DIR: the four-validator testnet as local processes
# (deploy/testnet.sh --local) under load, crashes and a tampered sidecar store. CTest:
# testnet_local_test.
#  1. 2,000 random call_vat txs (chain/cmd/swingload) over at least 100 blocks; meanwhile one
#     sidecar (sidecar1) and, separately, one node (val2) are killed with SIGKILL and restarted.
#     Every tx commits with its action result; every node catches up and all four agree on the
#     app hash of every height.
#  2. val3's sidecar is stopped and one value of its store changed offline (kp.nextID, the
#     kernel's next promise id: the next call_vat makes other keys and another state hash), then
#     restarted: the chain halts, and the halt names val3 and the height.
# Environment: TESTNET_BASE_PORT (default 27700; uses BASE..BASE+13 on 127.0.0.1),
# TESTNET_BLOCK_INTERVAL (default 100ms), TESTNET_TXS (default 2000), TESTNET_RATE (txs/s,
# default 110). The run dir BUILD_DIR/testnet-local-test is kept for its logs.
set -euo pipefail
[ $# = 1 ] || { echo "usage: local_test.sh BUILD_DIR" >&2; exit 64; }
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$1" && pwd)
bash "$src/chain/build.sh" "$build" >/dev/null

export BUILD_DIR=$build
export RUN_DIR=$build/testnet-local-test
export BASE_PORT=${TESTNET_BASE_PORT:-27700}
export BLOCK_INTERVAL=${TESTNET_BLOCK_INTERVAL:-100ms}
export NODES=4
txs=${TESTNET_TXS:-2000}
rate=${TESTNET_RATE:-110}
load=$build/go/bin/swingload
tamper=$build/go/bin/swingtamper
net() { bash "$src/deploy/testnet.sh" --local "$@"; }
nodes="127.0.0.1:$BASE_PORT,127.0.0.1:$((BASE_PORT+1)),127.0.0.1:$((BASE_PORT+2)),127.0.0.1:$((BASE_PORT+3))"
step() { echo; echo "== $(date -u +%T) $*"; }
fail() {
  echo "FAIL: $*" >&2
  for f in "$RUN_DIR"/logs/*.log; do echo "--- last lines of $f" >&2; tail -n 15 "$f" >&2; done
  exit 1
}

net down --volumes >/dev/null 2>&1 || true
cleanup() { net down >/dev/null 2>&1 || true; }
trap cleanup EXIT

step "up: 4 validators, block interval $BLOCK_INTERVAL, ports $BASE_PORT.. on 127.0.0.1"
net up
"$load" agree --nodes "$nodes" --to 2 --timeout 120s || fail "the testnet did not start"

step "load: $txs txs at $rate txs/s; SIGKILL sidecar1 and, later, val2 mid-run"
"$load" run --nodes "$nodes" --txs "$txs" --rate "$rate" --seed 14 --timeout 10m \
  > "$RUN_DIR/load.out" 2>&1 &
load_pid=$!
height() { "$build/go/bin/swingchain" query status --node "127.0.0.1:$BASE_PORT" | sed -n 's/.*"height": *"\([0-9]*\)".*/\1/p' | head -1; }
sleep 4
kill_sidecar_at=$(height)
net kill sidecar1
sleep 2
net start sidecar1
sleep 4
kill_node_at=$(height)
net kill val2
sleep 2
net start val2
wait "$load_pid" || { cat "$RUN_DIR/load.out"; fail "the load run failed"; }
cat "$RUN_DIR/load.out"
result=$(sed -n 's/^swingload-result //p' "$RUN_DIR/load.out")
blocks=$(echo "$result" | sed -n 's/.*"blocks":\([0-9]*\).*/\1/p')
results=$(echo "$result" | sed -n 's/.*"results":\([0-9]*\).*/\1/p')
[ "$results" = "$txs" ] || fail "expected $txs action results, got '$results'"
[ -n "$blocks" ] && [ "$blocks" -ge 100 ] || fail "the load spanned '$blocks' blocks, fewer than 100"
first=$(echo "$result" | sed -n 's/.*"first_height":\([0-9]*\).*/\1/p')
last=$(echo "$result" | sed -n 's/.*"last_height":\([0-9]*\).*/\1/p')
for k in "$kill_sidecar_at" "$kill_node_at"; do
  [ -n "$k" ] && [ "$k" -gt "$first" ] && [ "$k" -lt "$last" ] ||
    fail "a kill (at height '$k') was not inside the load's heights $first..$last"
done
echo "ok: $txs txs committed with results over $blocks blocks (heights $first..$last);" \
  "sidecar1 killed at height $kill_sidecar_at, val2 at $kill_node_at"

step "agreement: every node at every height (the restarted ones caught up)"
"$load" agree --nodes "$nodes" --timeout 180s || fail "the nodes do not agree"

step "tamper: stop val3 and sidecar3, change kp.nextID in sidecar3's store, restart"
net stop val3
net stop sidecar3
tampered_at=$("$build/go/bin/swingload" agree --nodes "127.0.0.1:$BASE_PORT" --timeout 30s | sed -n 's/.*\.\.\([0-9]*\)$/\1/p')
"$tamper" --db "$RUN_DIR/sidecar3" add kp.nextID 1000
net start sidecar3
net start val3
# A few txs: the first call_vat val3 executes after its restart uses the changed key.
"$load" run --nodes "127.0.0.1:$BASE_PORT" --txs 20 --rate 50 --seed 99 --timeout 60s \
  > "$RUN_DIR/load-tamper.out" 2>&1 || true
"$load" halted --nodes "$nodes" --timeout 120s | tee "$RUN_DIR/halted.out" ||
  fail "the chain did not halt after the tampering"
# The halt reason: from the nodes' Status, or (for a node that exited) its log.
reasons=$(grep "halted at height" "$RUN_DIR/halted.out" || true)
[ -n "$reasons" ] || reasons=$(grep -h -i "halt" "$RUN_DIR"/logs/val*.log || true)
echo "$reasons" | grep -q "val3" || fail "no halt reason names val3: $reasons"
# The height the hashes differ at ("... mismatch at height N ..."), else the first height named.
h=$(echo "$reasons" | grep "val3" | grep -o -i "mismatch at height [0-9]*" | head -1 | grep -o "[0-9]*" || true)
[ -n "$h" ] || h=$(echo "$reasons" | grep "val3" | grep -o -i "height [0-9]*" | head -1 | grep -o "[0-9]*" || true)
[ -n "$h" ] || fail "the halt reason names no height: $reasons"
[ "$h" -gt "${tampered_at:-0}" ] || fail "halt at height $h, not after the tampering (height ${tampered_at:-?})"
echo "ok: the chain halted at height $h naming val3 (tampered after height ${tampered_at:-?})"
echo "PASS"
