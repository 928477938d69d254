#!/usr/bin/env bash
# Installs everything swingsetd needs on Debian 12 (run as root, or with sudo available).
# Idempotent: packages already present are skipped quickly.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(
  build-essential cmake ninja-build pkg-config ccache
  libabsl-dev libleveldb-dev libsnappy-dev libssl-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler grpc-proto
  libmozjs-102-dev
  libre2-dev  # vats/js_regex.cc: RegExp of metered vats on RE2
  googletest libgtest-dev libgmock-dev
  clang-14 libclang-rt-14-dev  # deploy/fuzz.sh: clang++ and libFuzzer/ASan/UBSan runtimes
  # The Go client of the hostile-input test (tests/go/): Debian's grpc-go with the protobuf 1.5
  # API. Not golang-goprotobuf-dev: its legacy 1.3 runtime panics on protoc-gen-go 1.28 code.
  golang-go golang-google-grpc-dev golang-google-protobuf-dev
  golang-github-golang-protobuf-1-5-dev protoc-gen-go protoc-gen-go-grpc
  # chain/ (the keeper and swingchain): goleveldb's one runtime dependency. goleveldb itself is
  # unpacked below, not installed: its package depends (through ginkgo and gomega, needed only
  # by its own tests) on golang-goprotobuf-dev, which conflicts with the protobuf 1.5 packages.
  golang-github-golang-snappy-dev
  # deploy/: the image, the docker-compose testnet and its test (their own dockerd, a debian:12
  # base image made by debootstrap when it cannot be pulled)
  docker.io docker-compose debootstrap
)
# npm comes with nodejs on images that ship a newer node; Debian's own nodejs needs npm apart.
if ! command -v npm >/dev/null 2>&1; then PKGS+=(nodejs npm); fi

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# goleveldb for chain/ (see above): Debian's source package unpacked into a GOPATH entry of its
# own, /usr/local/share/gocode, which chain/build.sh puts on GOPATH.
GOLEVELDB_DEB=golang-github-syndtr-goleveldb-dev
GOLOCAL=/usr/local/share/gocode
if [ ! -f "$GOLOCAL/src/github.com/syndtr/goleveldb/leveldb/db.go" ]; then
  echo "setup: unpacking $GOLEVELDB_DEB into $GOLOCAL"
  tmp=$(mktemp -d)
  chmod 755 "$tmp"
  (cd "$tmp" && $SUDO apt-get download -qq "$GOLEVELDB_DEB" 2>/dev/null ||
     { $SUDO apt-get update -qq && $SUDO apt-get download -qq "$GOLEVELDB_DEB"; })
  dpkg-deb -x "$tmp"/"$GOLEVELDB_DEB"_*.deb "$tmp/root"
  $SUDO mkdir -p "$GOLOCAL/src/github.com/syndtr"
  $SUDO cp -r "$tmp/root/usr/share/gocode/src/github.com/syndtr/goleveldb" \
    "$GOLOCAL/src/github.com/syndtr/"
  rm -rf "$tmp"
fi

# The JavaScript packages of the JS vat host: SES (lockdown, harden, Compartment) and acorn
# (the parser of the metering instrumenter).
if [ -f vats/js/package.json ] && { [ ! -f vats/js/node_modules/ses/package.json ] ||
    [ ! -f vats/js/node_modules/acorn/package.json ]; }; then
  echo "setup: npm install (vats/js)"
  (cd vats/js && npm install --no-audit --no-fund --loglevel=error)
fi
echo "setup: ok"
