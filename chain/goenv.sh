# Sourced by chain/*.sh and tests/go/*.sh with BUILD set to a build directory: the Go
# environment of this repo (GOPATH mode, offline, Debian's Go packages) and the stub generator.
#
#   $BUILD/go/src/swingsetd.dev/chain        -> chain/ (a symlink)
#   $BUILD/go/src/swingsetd.dev/gen/swingsetdv1  the stubs generated from proto/ (never committed)
#   $BUILD/go/src/swingsetd.dev/gen/swingchainv1 the stubs of chain/proto/ (never committed)
#   $BUILD/go/bin/                            the binaries of chain/cmd/*
#   $BUILD/go-cache                           GOCACHE
# GOPATH: $BUILD/go, /usr/local/share/gocode (goleveldb, unpacked by deploy/setup.sh) and
# /usr/share/gocode (the golang-*-dev packages).
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$(mkdir -p "$BUILD" && cd "$BUILD" && pwd)
export GO111MODULE=off GOPROXY=off GOFLAGS= GOTOOLCHAIN=local
export GOPATH="$BUILD/go:/usr/local/share/gocode:/usr/share/gocode"
export GOCACHE="$BUILD/go-cache"

# go_link_src NAME DIR: $BUILD/go/src/swingsetd.dev/NAME -> DIR (left alone when already so).
go_link_src() {
  local link="$BUILD/go/src/swingsetd.dev/$1"
  mkdir -p "$(dirname "$link")"
  if [ "$(readlink "$link" 2>/dev/null)" != "$2" ]; then
    ln -sfn "$2" "$link.tmp.$$" && mv -T "$link.tmp.$$" "$link"
  fi
}

# go_gen_stubs: the Go stubs of proto/swingsetd/v1/*.proto (package swingsetdv1, from the
# files' go_package). Generated into a temporary directory and moved into place only when they
# changed, so parallel builds never see a half-written file and the Go cache stays warm.
go_gen_stubs() {
  # golang-goprotobuf-dev (pulled in by golang-github-syndtr-goleveldb-dev through ginkgo and
  # gomega) replaces protoc-gen-go 1.28 with 1.3, whose code the protobuf 1.5 API cannot use.
  if ! protoc-gen-go --version 2>/dev/null | grep -q '^protoc-gen-go v1\.\(2[0-9]\|[3-9][0-9]\)'; then
    echo "chain: protoc-gen-go 1.20 or later is needed (Debian's protoc-gen-go package); got:" \
      "$(protoc-gen-go --version 2>&1 | head -1). golang-goprotobuf-dev replaces it: run" \
      "deploy/setup.sh (goleveldb is unpacked there, not installed as a package)" >&2
    return 1
  fi
  local gen="$BUILD/go/src/swingsetd.dev/gen/swingsetdv1"
  local tmp
  tmp=$(mktemp -d "$BUILD/go-gen.XXXXXX")
  protoc -I "$SRC/proto" --go_out="$tmp" --go_opt=paths=source_relative \
    --go-grpc_out="$tmp" --go-grpc_opt=paths=source_relative \
    "$SRC"/proto/swingsetd/v1/*.proto
  mkdir -p "$gen"
  local f
  for f in "$tmp"/swingsetd/v1/*.go; do
    if ! cmp -s "$f" "$gen/$(basename "$f")"; then
      mv -f "$f" "$gen/$(basename "$f")"
    fi
  done
  # The chain's own protos (chain/proto/swingchain/v1/*.proto, package swingchainv1).
  local cgen="$BUILD/go/src/swingsetd.dev/gen/swingchainv1"
  protoc -I "$SRC/proto" -I "$SRC/chain/proto" --go_out="$tmp" --go_opt=paths=source_relative \
    --go-grpc_out="$tmp" --go-grpc_opt=paths=source_relative \
    "$SRC"/chain/proto/swingchain/v1/*.proto
  mkdir -p "$cgen"
  for f in "$tmp"/swingchain/v1/*.go; do
    if ! cmp -s "$f" "$cgen/$(basename "$f")"; then
      mv -f "$f" "$cgen/$(basename "$f")"
    fi
  done
  rm -rf "$tmp"
  go_link_src chain "$SRC/chain"
}

# go_chain_pkgs: the import paths of every package under chain/ (GOPATH mode's "..." does not
# follow the chain symlink, so they are listed from the tree).
go_chain_pkgs() {
  (cd "$SRC/chain" && find . -name '*.go' -not -path '*/testdata/*' -printf '%h\n' | sort -u |
     sed -e 's|^\.$||' -e 's|^\./||' -e 's|^|swingsetd.dev/chain/|' -e 's|/$||')
}
