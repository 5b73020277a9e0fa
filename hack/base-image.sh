#!/usr/bin/env bash
# Bootstrap a minimal Debian bookworm root filesystem from Debian's packages
# (mmdebstrap, variant minbase, the machine's own mirror, fixed
# SOURCE_DATE_EPOCH), wrap it in a deterministic OCI image (index with one
# manifest per architecture) and `docker load` it into the engine as
# caisson/debian:bookworm (docker.io/caisson/debian:bookworm).
#
# Idempotent: the rootfs tarballs are cached under $CAISSON_CACHE/base; the
# OCI archive is rebuilt from them deterministically and only loaded when the
# engine does not already have that exact index digest.
#
# Env: CAISSON_BASE_ARCHES   default "amd64 arm64" (arm64 bootstraps under qemu)
#      CAISSON_REBOOTSTRAP=1 ignore cached rootfs tarballs
#      SOURCE_DATE_EPOCH     default 1735689600 (2025-01-01T00:00:00Z)
# Prints the image (index) digest on stdout.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LOG_TAG=base-image
# shellcheck source=lib.sh
source "$HERE/lib.sh"

[ "$(id -u)" = 0 ] || die "must run as root"
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1735689600}
ARCHES=${CAISSON_BASE_ARCHES:-amd64 arm64}
SUITE=bookworm
VARIANT=minbase
BASE_DIR=$CAISSON_CACHE/base
REF=$BASE_IMAGE_REF                       # caisson/debian:bookworm
FULL_REF=docker.io/$REF
mkdir -p "$BASE_DIR"

command -v mmdebstrap >/dev/null || die "mmdebstrap missing: run hack/engine.sh first"
docker_ready || die "the engine is not running: run hack/engine.sh first"

MIRROR=$(debian_mirror) || die "cannot derive the Debian mirror"
SEC=$(debian_security_mirror || true)
sources=("deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main")
[ -z "$SEC" ] || sources+=("deb $SEC $SUITE-security main")

# ------------------------------------------------------------ rootfs
bootstrap() {
  local arch=$1 out=$BASE_DIR/rootfs-$SUITE-$1.tar
  if [ -s "$out" ] && [ -z "${CAISSON_REBOOTSTRAP:-}" ]; then return 0; fi
  log "mmdebstrap --variant=$VARIANT --architectures=$arch $SUITE (SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH)"
  local t0=$SECONDS
  # merged-usr hook: /usr-merged layout + usr-is-merged (not usrmerge, which
  # would pull perl in). Device nodes under /dev are dropped (the runtime
  # mounts its own /dev).
  mmdebstrap --quiet --variant="$VARIANT" --architectures="$arch" --mode=root \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --format=tar "$SUITE" "$out.tmp" "${sources[@]}" >&2
  tar --delete --wildcards -f "$out.tmp" './dev/?*'
  mv "$out.tmp" "$out"
  log "rootfs $arch: $(du -h "$out" | cut -f1), $((SECONDS - t0))s"
}
for a in $ARCHES; do bootstrap "$a"; done

# ------------------------------------------------------------ fast path
# Skip the (~10 s) archive rebuild when the rootfs tarballs are unchanged and
# the engine already has the image they produced.
stamp_key=$(for a in $ARCHES; do stat -c '%n %s %Y %i' "$BASE_DIR/rootfs-$SUITE-$a.tar"; done; echo "$SOURCE_DATE_EPOCH $FULL_REF")
if [ -f "$BASE_DIR/image.stamp" ] && [ "$(head -n -1 "$BASE_DIR/image.stamp")" = "$stamp_key" ]; then
  DIGEST=$(tail -n 1 "$BASE_DIR/image.stamp")
  if [ "$("$DOCKER" image inspect --format '{{.Id}}' "$REF" 2>/dev/null || true)" = "$DIGEST" ]; then
    log "$REF already in the engine at $DIGEST (rootfs unchanged)"
    echo "$DIGEST"
    exit 0
  fi
fi

# ------------------------------------------------------------ OCI archive
# Every byte is a function of the rootfs tarballs + SOURCE_DATE_EPOCH.
work=$(mktemp -d "$BASE_DIR/oci.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/blobs/sha256"
put_blob() { # file -> prints sha256 hex; moves it into blobs/
  local h; h=$(sha256sum "$1" | cut -d' ' -f1); mv "$1" "$work/blobs/sha256/$h"; echo "$h"
}
created=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
manifests='[]'
for a in $ARCHES; do
  tarball=$BASE_DIR/rootfs-$SUITE-$a.tar
  diffid=$(sha256sum "$tarball" | cut -d' ' -f1)
  gzip -n -6 -c "$tarball" > "$work/layer"
  lsize=$(stat -c %s "$work/layer"); lhash=$(put_blob "$work/layer")
  jq -cn --arg arch "$a" --arg created "$created" --arg diffid "sha256:$diffid" \
    --arg by "mmdebstrap --variant=$VARIANT --architectures=$a $SUITE (SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH)" '
    {architecture:$arch, os:"linux", created:$created,
     config:{Env:["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], Cmd:["bash"]},
     rootfs:{type:"layers", diff_ids:[$diffid]},
     history:[{created:$created, created_by:$by}]}' | tr -d '\n' > "$work/config"
  csize=$(stat -c %s "$work/config"); chash=$(put_blob "$work/config")
  jq -cn --arg c "sha256:$chash" --argjson cs "$csize" --arg l "sha256:$lhash" --argjson ls "$lsize" '
    {schemaVersion:2, mediaType:"application/vnd.oci.image.manifest.v1+json",
     config:{mediaType:"application/vnd.oci.image.config.v1+json", digest:$c, size:$cs},
     layers:[{mediaType:"application/vnd.oci.image.layer.v1.tar+gzip", digest:$l, size:$ls}]}' \
    | tr -d '\n' > "$work/manifest"
  msize=$(stat -c %s "$work/manifest"); mhash=$(put_blob "$work/manifest")
  manifests=$(jq -c --arg d "sha256:$mhash" --argjson s "$msize" --arg arch "$a" \
    '. + [{mediaType:"application/vnd.oci.image.manifest.v1+json", digest:$d, size:$s,
           platform:{architecture:$arch, os:"linux"}}]' <<<"$manifests")
done
jq -cn --argjson m "$manifests" '{schemaVersion:2, mediaType:"application/vnd.oci.image.index.v1+json", manifests:$m}' \
  | tr -d '\n' > "$work/index-inner"
isize=$(stat -c %s "$work/index-inner"); ihash=$(put_blob "$work/index-inner")
DIGEST=sha256:$ihash
# top-level index.json names the image for `docker load`
jq -cn --arg d "$DIGEST" --argjson s "$isize" --arg name "$FULL_REF" '
  {schemaVersion:2, mediaType:"application/vnd.oci.image.index.v1+json",
   manifests:[{mediaType:"application/vnd.oci.image.index.v1+json", digest:$d, size:$s,
     annotations:{"io.containerd.image.name":$name, "org.opencontainers.image.ref.name":"bookworm"}}]}' > "$work/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' > "$work/oci-layout"
archive=$BASE_DIR/caisson-debian-$SUITE.oci.tar
tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
  -C "$work" -cf "$archive.tmp" oci-layout index.json blobs
mv "$archive.tmp" "$archive"
echo "$DIGEST" > "$BASE_DIR/image.digest"

# ------------------------------------------------------------ load
have=$("$DOCKER" image inspect --format '{{.Id}}' "$REF" 2>/dev/null || true)
if [ "$have" = "$DIGEST" ]; then
  log "$REF already in the engine at $DIGEST"
else
  log "docker load $archive ($(du -h "$archive" | cut -f1)) as $REF"
  "$DOCKER" load -i "$archive" >&2
  have=$("$DOCKER" image inspect --format '{{.Id}}' "$REF" 2>/dev/null || true)
  [ "$have" = "$DIGEST" ] || die "after load, $REF is '$have', expected $DIGEST"
fi
printf '%s\n%s\n' "$stamp_key" "$DIGEST" > "$BASE_DIR/image.stamp"
log "$REF = $DIGEST (archs: $ARCHES)"
echo "$DIGEST"
