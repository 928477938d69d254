#!/usr/bin/env bash
# run_hostile.sh SWINGSETD BUILD_DIR: builds the Go hostile-corpus client (GOPATH mode, offline,
# from Debian's Go packages; the stubs are generated from proto/ here) and runs it against two
# swingsetd servers.
set -euo pipefail
swingsetd=$1
build=$2
src=$(cd "$(dirname "$0")/../.." && pwd)
gopath=$build/go
gen=$gopath/src/swingsetd.dev/gen/swingsetdv1
mkdir -p "$gen" "$gopath/src/swingsetd.dev"
ln -sfn "$src/tests/go/hostile" "$gopath/src/swingsetd.dev/hostile"
m="Mswingsetd/v1/lifecycle.proto=swingsetd.dev/gen/swingsetdv1,Mswingsetd/v1/inspect.proto=swingsetd.dev/gen/swingsetdv1"
protoc -I "$src/proto" --go_out="$gopath/src" --go_opt="$m" --go-grpc_out="$gopath/src" \
  --go-grpc_opt="$m" "$src/proto/swingsetd/v1/lifecycle.proto" "$src/proto/swingsetd/v1/inspect.proto"
export GO111MODULE=off GOPROXY=off GOFLAGS= GOPATH="$gopath:/usr/share/gocode"
export GOCACHE=$build/go-cache
go build -o "$build/go/hostile" swingsetd.dev/hostile
work=$(mktemp -d "${TMPDIR:-/tmp}/hostile.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$build/go/hostile" --swingsetd "$swingsetd" --vats "$src/tests/go/hostile/vats" --work "$work"
