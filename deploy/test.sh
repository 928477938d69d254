#!/usr/bin/env bash
# The test command: installs what is needed, builds, runs every test with CTest, then runs each
# libFuzzer harness for a bounded time (deploy/fuzz.sh).
# With CI=true (or SANITIZE=1) the suite runs a second time under ASan+UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/setup.sh
bash deploy/build.sh build
(cd build && ctest --output-on-failure -j 2 --timeout 900)
# libFuzzer harnesses (fuzz/), each for a bounded time (FUZZ_SECONDS, default 20).
bash deploy/fuzz.sh
if [ "${CI:-}" = "true" ] || [ "${SANITIZE:-}" = "1" ]; then
  echo "== sanitizer build (ASan+UBSan)"
  bash deploy/build.sh build-asan -DSWINGSET_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
  # deploy/lsan.supp: leaks inside system libraries (not ours) that LeakSanitizer reports.
  supp="$(pwd)/deploy/lsan.supp"
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS="suppressions=$supp" \
     ctest --output-on-failure -j 2 --timeout 1800 -LE nosan)
fi
