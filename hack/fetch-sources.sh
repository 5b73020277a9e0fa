#!/usr/bin/env bash
# Download Debian source packages (orig tarball, debian tarball, .dsc) with
# `apt-get source --download-only`, through a private deb-src list derived
# from this machine's mirror, into a sha256-keyed store (the one caisson build
# serves by default):
#   ${CAISSON_SOURCE_STORE:-$CAISSON_CACHE/sources}/<sha256>/<filename>
# apt verifies every file against the signed Sources index.
#
# usage: hack/fetch-sources.sh [--suite S] SRCPKG[=VERSION] ...
#   default suite: bookworm (plus bookworm-updates and bookworm-security)
# Prints one line per file on stdout: "<sha256>  <path>".
# e.g. hack/fetch-sources.sh redis
#   4b1dc4ee6d622a09fff9c6777191209750fb5e5a725ef78ea012d6eef4c22982  /var/cache/caisson/sources/4b1d…/redis_7.0.15.orig.tar.gz
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LOG_TAG=fetch-sources
# shellcheck source=lib.sh
source "$HERE/lib.sh"

suite=bookworm
if [ "${1:-}" = --suite ]; then suite=$2; shift 2; fi
[ $# -gt 0 ] || die "usage: $0 [--suite S] SRCPKG[=VERSION] ..."

MIRROR=$(debian_mirror) || die "cannot derive the Debian mirror"
SEC=$(debian_security_mirror || true)
dir=$CAISSON_CACHE/apt-src-$suite
store=${CAISSON_SOURCE_STORE:-$CAISSON_CACHE/sources}
mkdir -p "$dir" "$store"
{
  echo "deb-src [signed-by=$DEBIAN_KEYRING] $MIRROR $suite main"
  case $suite in
    sid|unstable|experimental) ;;
    *) echo "deb-src [signed-by=$DEBIAN_KEYRING] $MIRROR $suite-updates main"
       [ -z "$SEC" ] || echo "deb-src [signed-by=$DEBIAN_KEYRING] $SEC $suite-security main" ;;
  esac
} > "$dir/sources.list.new"
if ! cmp -s "$dir/sources.list.new" "$dir/sources.list" 2>/dev/null; then mv "$dir/sources.list.new" "$dir/sources.list"; else rm "$dir/sources.list.new"; fi
apt_private_update "$dir"

tmp=$(mktemp -d "$store/.dl.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
for spec in "$@"; do
  log "apt-get source --download-only $spec ($suite)"
  (cd "$tmp" && apt_private "$dir" apt-get source --download-only "$spec" >&2)
done
for f in "$tmp"/*; do
  [ -f "$f" ] || continue
  h=$(sha256sum "$f" | cut -d' ' -f1)
  mkdir -p "$store/$h"
  [ -e "$store/$h/$(basename "$f")" ] || mv "$f" "$store/$h/"
  echo "$h  $store/$h/$(basename "$f")"
done
