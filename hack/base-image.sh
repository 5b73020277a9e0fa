#!/usr/bin/env bash
# The Debian base image, caisson/debian:bookworm, from images/debian: exactly
# the .deb files images/debian/image.lock.json pins by sha256 (`caisson
# bootstrap`: fetched into the source store and verified, installed by
# mmdebstrap from a local repository of those files only, packed into a
# deterministic OCI archive). The digest depends on the lockfile alone; it is
# the one images/builder/image.yaml pins. Loads it into the engine and makes
# digest-pinned references to it resolve there without a registry.
#
# Idempotent: skipped when the engine already has the digest these inputs
# gave last time. Prints the image (index) digest on stdout.
#
# Env: CAISSON_CACHE (default /var/cache/caisson): the source store and the archive
#      CAISSON_DEBIAN_SNAPSHOT: where pinned .debs Debian no longer serves are fetched
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LOG_TAG=base-image
# shellcheck source=lib.sh
source "$HERE/lib.sh"
cd "$HERE/.."

[ "$(id -u)" = 0 ] || die "must run as root (mmdebstrap --mode=root)"
command -v mmdebstrap >/dev/null || die "mmdebstrap missing: run hack/engine.sh first"
docker_ready || die "the engine is not running: run hack/engine.sh first"
[ -f dist/cli/main.js ] || die "caisson is not built: run npm ci first"

DEF=images/debian/image.yaml
LOCK=images/debian/image.lock.json
REF=$BASE_IMAGE_REF
BASE_DIR=$CAISSON_CACHE/base
mkdir -p "$BASE_DIR"

# Everything the digest depends on: the definition, its pins, and the code that assembles it.
key=$(cat "$DEF" "$LOCK" src/bootstrap/*.ts src/cli/bootstrap.ts | sha256sum | cut -c1-16)
stamp=$BASE_DIR/$key.digest
if [ -s "$stamp" ] && [ "$("$DOCKER" image inspect --format '{{.Id}}' "$REF" 2>/dev/null || true)" = "$(cat "$stamp")" ]; then
  log "$REF already in the engine at $(cat "$stamp")"
  # Loaded before priming existed, or by hand: make the digest resolve locally all the same.
  prime_local_image "$REF" "linux/amd64,linux/arm64"
  cat "$stamp"
  exit 0
fi

archive=$BASE_DIR/caisson-debian-bookworm.oci.tar
log "caisson bootstrap $DEF (amd64 and arm64; arm64 maintainer scripts run under qemu)"
t0=$SECONDS
digest=$(node bin/caisson.js bootstrap "$DEF" -o "$archive" \
  --source-store "${CAISSON_SOURCE_STORE:-$CAISSON_CACHE/sources}" \
  ${CAISSON_DEBIAN_SNAPSHOT:+--debian-snapshot "$CAISSON_DEBIAN_SNAPSHOT"})
log "bootstrapped in $((SECONDS - t0))s: $digest"

log "docker load $archive ($(du -h "$archive" | cut -f1)) as $REF"
"$DOCKER" load -i "$archive" >&2
have=$("$DOCKER" image inspect --format '{{.Id}}' "$REF" 2>/dev/null || true)
[ "$have" = "$digest" ] || die "after load, $REF is '$have', expected $digest"
prime_local_image "$REF" "linux/amd64,linux/arm64"

pinned=$(sed -n 's/.*caisson\/debian:bookworm@\(sha256:[0-9a-f]\{64\}\).*/\1/p' images/builder/image.yaml | head -n1)
if [ "$pinned" != "$digest" ]; then
  log "images/builder/image.yaml pins caisson/debian:bookworm@$pinned, but $LOCK gives $digest:"
  log "update the pin there (and in test/fixtures), then caisson lock images/builder/image.yaml"
  # In CI the repo must be consistent: its lockfile gives exactly the digest its definitions pin.
  [ "${CI:-}" != true ] || die "the base image pin is stale"
fi
echo "$digest" > "$stamp"
echo "$digest"
