#!/usr/bin/env bash
# chain/test.sh BUILD_DIR [PKG...]: go test the given packages (default: every package under
# chain/), after generating the stubs. CTest runs it (go_*_test); the tests that need the real
# sidecar read its path from SWINGSETD (and skip without it when run by hand).
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: chain/test.sh BUILD_DIR [PKG...]" >&2
  exit 64
fi
BUILD=$1
shift
source "$(dirname "$0")/goenv.sh"
go_gen_stubs
pkgs=("$@")
[ ${#pkgs[@]} -gt 0 ] || mapfile -t pkgs < <(go_chain_pkgs)
go test -count=1 -timeout "${GO_TEST_TIMEOUT:-840s}" ${GO_TEST_FLAGS:-} "${pkgs[@]}"
