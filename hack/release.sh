#!/usr/bin/env bash
# ./hack/release.sh <image> [--to REGISTRY/REPO] [--verify] [caisson release options…]
#
# Sets up what a build needs and builds images/<image>/image.yaml (through
# hack/build.sh, so the release's own build is then served from the cache),
# then `caisson release`: the release index with a dpkg status.d layer, an
# SPDX SBOM and SLSA provenance per platform, written to out/ and, with --to,
# pushed with its tags. The build also loads caisson/<image>:<version> and
# :latest into the engine (hack/build.sh); out/<image>-<version>.oci.tar is
# the release's, written with the other release files once the release is
# made. BuildKit's progress is not shown (--progress quiet) unless a
# --progress is given. Credentials: docker login (DOCKER_CONFIG) or
# CAISSON_REGISTRY_USER / CAISSON_REGISTRY_PASSWORD.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: $0 <image> [--to REGISTRY/REPO] [--verify] [caisson release options]   (images: $(ls images | tr '\n' ' '))" >&2; exit 2; }
name=$1; shift
CAISSON_BUILD_OCI= bash hack/build.sh "$name" --progress quiet
# A cached build still lists every step: quiet unless asked otherwise.
progress=(--progress quiet)
for arg in "$@"; do
  case $arg in --progress | --progress=*) progress=() ;; esac
done
exec node bin/caisson.js release "images/$name/image.yaml" --out out --source-store "${CAISSON_SOURCE_STORE:-${CAISSON_CACHE:-/var/cache/caisson}/sources}" "${progress[@]}" "$@"
