#!/usr/bin/env bash
# run_hostile.sh SWINGSETD BUILD_DIR: builds the Go hostile-corpus client (GOPATH mode, offline,
# from Debian's Go packages; the stubs are generated from proto/ by chain/goenv.sh) and runs it
# against two swingsetd servers.
set -euo pipefail
swingsetd=$1
BUILD=$2
source "$(dirname "$0")/../../chain/goenv.sh"
go_gen_stubs
go_link_src hostile "$SRC/tests/go/hostile"
go build -o "$BUILD/go/hostile" swingsetd.dev/hostile
work=$(mktemp -d "${TMPDIR:-/tmp}/hostile.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$BUILD/go/hostile" --swingsetd "$swingsetd" --vats "$SRC/tests/go/hostile/vats" --work "$work"
