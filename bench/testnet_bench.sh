#!/usr/bin/env bash
# bench/testnet_bench.sh [BUILD_DIR]: end-to-end throughput of the local testnet
# (deploy/testnet.sh --local, chain/cmd/swingload): for 1 and 4 validators, a fresh chain,
# RATE random call_vat txs/s for DURATION seconds, submitted round-robin to every node; reports
# txs/s from the first submit to the last tx's committed block (each tx's action result checked
# through GetTx), submit-to-commit latency and block time p50/p99, then checks that every node
# agrees on the app hash of every height. Results: docs/BENCHMARKS.md, "Chain (swingchain)".
#
# Environment: NODES_LIST (default "1 4"), RATE (default 2000), DURATION (seconds, default 60),
# BLOCK_INTERVAL (default 200ms), CONCURRENCY (default 256), REAP_INTERVAL (the genesis
# default_reap_interval, default 1000; 0 leaves it as init-genesis writes it, also 1000),
# BASE_PORT (default 29700), NODE_GOMAXPROCS (each node's GOMAXPROCS, default 1: see
# deploy/testnet.sh), LOAD_GOMAXPROCS (the load generator's, default 1: it shares the machine with
# what it measures, and an idle Go runtime with more threads spins on the cores the chain needs).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
bash "$src/chain/build.sh" "$build" >/dev/null
export BUILD_DIR=$build
export BASE_PORT=${BASE_PORT:-29700}
export BLOCK_INTERVAL=${BLOCK_INTERVAL:-200ms}
rate=${RATE:-2000}
duration=${DURATION:-60}
conc=${CONCURRENCY:-256}
reap=${REAP_INTERVAL:-1000}
load=$build/go/bin/swingload
export NODE_GOMAXPROCS=${NODE_GOMAXPROCS-1}
export GOMAXPROCS=${LOAD_GOMAXPROCS-1}
txs=$((rate * duration))

for n in ${NODES_LIST:-1 4}; do
  export NODES=$n RUN_DIR=$build/testnet-bench-$n
  net() { bash "$src/deploy/testnet.sh" --local "$@"; }
  net down --volumes >/dev/null 2>&1 || true
  mkdir -p "$RUN_DIR"
  cp -r "$src/deploy/demo_vats" "$RUN_DIR/demo_vats"
  vals=""
  nodes=""
  for ((i = 0; i < n; i++)); do
    vals="$vals${vals:+,}val$i=127.0.0.1:$((BASE_PORT + i))"
    nodes="$nodes${nodes:+,}127.0.0.1:$((BASE_PORT + i))"
  done
  (cd "$RUN_DIR" && "$build/go/bin/swingchain" init-genesis --vats demo_vats --validators "$vals" > genesis.json)
  if [ "$reap" != 0 ]; then
    python3 - "$RUN_DIR/genesis.json" "$reap" <<'PY'
import json, sys
p, reap = sys.argv[1], int(sys.argv[2])
g = json.load(open(p))
g["sidecar"].setdefault("params", {})["default_reap_interval"] = reap
json.dump(g, open(p, "w"), indent=2)
PY
  fi
  echo "== $n validator(s): $txs txs at $rate txs/s, block interval $BLOCK_INTERVAL, reap interval ${reap/#0/every delivery}"
  net up >/dev/null
  trap 'net down >/dev/null 2>&1 || true' EXIT
  "$load" agree --nodes "$nodes" --to 2 --timeout 120s >/dev/null
  "$load" run --nodes "$nodes" --txs "$txs" --rate "$rate" --concurrency "$conc" --seed 3 \
    --timeout 30m | tee "$RUN_DIR/load.out"
  "$load" agree --nodes "$nodes" --timeout 300s
  echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
  net down >/dev/null
  trap - EXIT
done
