#!/bin/bash
# ir_per_crank.sh: instructions per crank of js_bench's ping-pong, counted by valgrind
# (callgrind), for comparing two builds or meter versions without the machine's timing noise.
#
#   bash bench/ir_per_crank.sh BUILD_DIR [js_bench flags...]
#   e.g. bash bench/ir_per_crank.sh build --metered
#
# Runs the ping-pong twice (N1 and N2 round trips, 4 cranks each) with instruction counting on
# only inside the timed section (CallAndRun, the kernel thread; helper threads such as
# off-thread JIT compilation are not counted), and prints the difference per crank, so the vat
# start and the warm-up cancel out. Instruction counts are not time, but they do not drift with
# the machine's load: a change of a few percent shows here when timed runs cannot see it.
# Needs valgrind (Debian package `valgrind`). About a minute per run unmetered, several metered.
set -euo pipefail
build=${1:?usage: ir_per_crank.sh BUILD_DIR [js_bench flags...]}
shift
bin="$build/bench/js_bench"
n1=${N1:-500}
n2=${N2:-2500}
count() {
  valgrind --tool=callgrind --smc-check=all-non-file --toggle-collect='*CallAndRun*' \
    --callgrind-out-file=/dev/null "$bin" --n "$1" --only pingpong --reap never \
    --delivery-timeout-seconds 3600 "${@:2}" 2>&1 |
    sed -n 's/^==[0-9]*== Collected : \([0-9]*\)$/\1/p'
}
a=$(count "$n1" "$@")
b=$(count "$n2" "$@")
if [ -z "$a" ] || [ -z "$b" ] || [ "$a" -eq 0 ] || [ "$b" -eq 0 ]; then
  echo "ir_per_crank: a run counted nothing (did js_bench fail? run it without valgrind)" >&2
  exit 1
fi
echo "pingpong $* : $(( (b - a) / ((n2 - n1) * 4) )) instructions per crank"
