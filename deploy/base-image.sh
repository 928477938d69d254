#!/usr/bin/env bash
# base-image.sh [CACHE_DIR]: makes sure the Docker image debian:12 exists for the daemon
# DOCKER_HOST points at. In order: it is already there; `docker pull debian:12` works; a root
# file system tarball cached in CACHE_DIR (default build/docker-cache) from an earlier run is
# imported; otherwise debootstrap builds a minimal bookworm from the machine's configured Debian
# mirror (the URIs: line of /etc/apt/sources.list.d/debian.sources, or MIRROR=...), caches its
# tarball in CACHE_DIR and `docker import`s it as debian:bookworm, tagged debian:12.
# Needs root for debootstrap (about 2.5 minutes and 210 MB).
set -euo pipefail
cd "$(dirname "$0")/.."
DOCKER=${DOCKER:-/usr/bin/docker}
cache=${1:-build/docker-cache}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
tarball="$cache/debian-12-minbase.tar"

if "$DOCKER" image inspect debian:12 >/dev/null 2>&1; then
  echo "base-image: debian:12 present"
  exit 0
fi
if [ "${BASE_IMAGE_NO_PULL:-}" != 1 ] && timeout 60 "$DOCKER" pull debian:12 >/dev/null 2>&1; then
  echo "base-image: pulled debian:12"
  exit 0
fi
if [ ! -s "$tarball" ]; then
  command -v debootstrap >/dev/null || { echo "base-image: debootstrap not installed" >&2; exit 1; }
  mirror=${MIRROR:-}
  if [ -z "$mirror" ] && [ -f /etc/apt/sources.list.d/debian.sources ]; then
    mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
    mirror=$(awk '$1 == "deb" { print $2; exit }' /etc/apt/sources.list)
  fi
  [ -n "$mirror" ] || { echo "base-image: no Debian mirror configured; set MIRROR=" >&2; exit 1; }
  rootfs="$cache/rootfs.$$"
  rm -rf "$rootfs"
  trap 'rm -rf "$rootfs" "$tarball.tmp"' EXIT
  echo "base-image: debootstrap bookworm from $mirror (a few minutes)"
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" > "$cache/debootstrap.log" 2>&1 || {
    echo "base-image: debootstrap failed; last lines of $cache/debootstrap.log:" >&2
    tail -20 "$cache/debootstrap.log" >&2
    exit 1
  }
  # Clean apt lists and caches: the image gets fresh ones from its own apt-get update.
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
  rm -rf "$rootfs"
fi
echo "base-image: importing $tarball as debian:bookworm, debian:12"
"$DOCKER" import "$tarball" debian:bookworm >/dev/null
"$DOCKER" tag debian:bookworm debian:12
