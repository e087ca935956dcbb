#!/usr/bin/env bash
# Builds a Debian bookworm base image from Debian's archive alone (no Docker Hub):
# `debootstrap --variant=minbase bookworm` into a temporary folder, then `docker import`.
# Usage: deploy/docker/build-base.sh [TAG]   (default folio-base:bookworm; kept if it exists)
# Needs root, debootstrap and a running Docker engine. The Dockerfile takes the result as
#   docker build --build-arg BASE_IMAGE=folio-base:bookworm ...
set -euo pipefail
tag=${1:-folio-base:bookworm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}

if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "base image $tag already exists"
  exit 0
fi
root=$(mktemp -d /tmp/folio-rootfs.XXXXXX)
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase bookworm "$root" "$mirror"
cat > "$root/etc/apt/sources.list" <<SOURCES
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security bookworm-security main
SOURCES
# What debian:bookworm-slim does too: no docs, no caches left behind by apt in image layers.
cat > "$root/etc/apt/apt.conf.d/90folio" <<'APT'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
APT
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | docker import \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["/bin/bash"]' \
  - "$tag"
echo "built $tag"
