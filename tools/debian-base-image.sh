#!/usr/bin/env bash
# A Debian bookworm base image with python3 (3.11) and python3-venv, made here with debootstrap, for building the
# kit's image (Containerfile) where no image registry can be reached. `make base-image` runs it only when the tag
# is missing, so it is made once per machine. Needs root (debootstrap) and Debian's debootstrap package.
#
#   tools/debian-base-image.sh TAG [MIRROR] [ENGINE]
#
# TAG: what to call the image (e.g. localhost/kling-mock-base:bookworm); MIRROR: a Debian mirror (default
# http://deb.debian.org/debian); ENGINE: the command that imports it (default podman; docker works too).
# What the image does not need is left out: apt's package lists and downloaded packages, documentation,
# manual pages, translations.
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 3 ]; then
  echo "usage: $0 TAG [MIRROR] [ENGINE]" >&2
  exit 2
fi
tag=$1
mirror=${2:-http://deb.debian.org/debian}
engine=${3:-podman}

if ! command -v debootstrap >/dev/null 2>&1; then
  echo "$0: needs debootstrap (apt-get install debootstrap)" >&2
  exit 2
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "$0: debootstrap needs root; or build on a registry's base: make image BASE=python:3.11-slim" >&2
  exit 2
fi

work=$(mktemp -d "${TMPDIR:-/var/tmp}/kling-mock-base.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root

echo "Making $tag: Debian bookworm (minbase, python3, python3-venv) from $mirror ..." >&2
if ! debootstrap --variant=minbase --include=python3,python3-venv bookworm "$root" "$mirror" >"$work/log" 2>&1; then
  tail -n 40 "$work/log" >&2
  echo "$0: debootstrap failed" >&2
  exit 1
fi

rm -rf "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
  "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/log/*.log \
  "$root"/var/cache/debconf/*-old "$root"/var/lib/dpkg/*-old
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +

# shellcheck disable=SC2086 # ENGINE may carry flags (podman --runtime runc)
tar -C "$root" --numeric-owner -c . | $engine import \
  --change 'ENV LANG=C.UTF-8' --change 'CMD ["/bin/bash"]' \
  --message "Debian bookworm minbase with python3 and python3-venv, from $mirror" - "$tag" >/dev/null
echo "Made $tag." >&2
