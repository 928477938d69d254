#!/usr/bin/env bash
# fuzz.sh [SECONDS] [HARNESS...]: builds the libFuzzer harnesses of fuzz/ with clang
# (ASan + UBSan) in build-fuzz/ and runs each for SECONDS (default $FUZZ_SECONDS or 20) from its
# seed corpus fuzz/corpus/<harness>/. New inputs go to build-fuzz/corpus/<harness>/ (not into
# the repo); a crash leaves build-fuzz/artifacts/<harness>/crash-* and fails the script.
# Reproduce one: build-fuzz/<harness>_fuzzer build-fuzz/artifacts/<harness>/crash-...
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-${FUZZ_SECONDS:-20}}
shift || true
dir=build-fuzz

cxx=""
for c in clang++-14 clang++; do
  if command -v "$c" >/dev/null 2>&1; then cxx=$c; break; fi
done
if [ -z "$cxx" ]; then
  echo "fuzz: clang++ not found (deploy/setup.sh installs clang-14 and libclang-rt-14-dev)" >&2
  exit 1
fi
if [ ! -f "$dir/build.ninja" ]; then
  cmake -S fuzz -B "$dir" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" >/dev/null
fi
cmake --build "$dir" -j "$(nproc)"

harnesses=("$@")
if [ ${#harnesses[@]} -eq 0 ]; then mapfile -t harnesses < "$dir/fuzzers.txt"; fi
for h in "${harnesses[@]}"; do
  [ -n "$h" ] || continue
  mkdir -p "$dir/corpus/$h" "$dir/artifacts/$h"
  echo "== fuzz $h (${seconds}s)"
  # -rss_limit_mb and -max_len keep a run bounded; -jobs stays 1 (the machine is shared).
  if ! "$dir/${h}_fuzzer" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=4096 \
      -print_final_stats=1 -artifact_prefix="$dir/artifacts/$h/" \
      "$dir/corpus/$h" "fuzz/corpus/$h" > "$dir/$h.log" 2>&1; then
    tail -n 40 "$dir/$h.log" >&2
    echo "fuzz: $h found a failure; input saved in $dir/artifacts/$h/" >&2
    exit 1
  fi
  grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb" "$dir/$h.log" | tr '\n' ' '
  echo
done
echo "fuzz: ok"
