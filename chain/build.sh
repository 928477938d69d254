#!/usr/bin/env bash
# chain/build.sh BUILD_DIR: generates the Go stubs of proto/, builds every command under
# chain/cmd/ into BUILD_DIR/go/bin/ and vets every package under chain/ (GOPATH mode, offline;
# chain/goenv.sh has the layout). The CMake target go_chain runs it, so deploy/build.sh does.
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: chain/build.sh BUILD_DIR" >&2
  exit 64
fi
BUILD=$1
source "$(dirname "$0")/goenv.sh"
go_gen_stubs
mkdir -p "$BUILD/go/bin"
cmds=()
for d in "$SRC"/chain/cmd/*/; do
  [ -d "$d" ] && cmds+=("swingsetd.dev/chain/cmd/$(basename "$d")")
done
if [ ${#cmds[@]} -gt 0 ]; then
  go build -o "$BUILD/go/bin/" "${cmds[@]}"
fi
mapfile -t pkgs < <(go_chain_pkgs)
go vet "${pkgs[@]}"
