#!/usr/bin/env bash
# ./hack/release.sh <image> [--to REGISTRY/REPO] [--verify] [caisson release options…]
#
# Sets up what a build needs (hack/setup.sh), then `caisson release`: with
# --to it first checks the registry and the credentials, then builds every
# platform and makes the release index with a dpkg status.d layer, SPDX and
# CycloneDX SBOMs and SLSA provenance per platform, written to out/ (with
# out/<image>-<version>.oci.tar, the build) once the release is made, and
# with --to pushes it with its tags. Nothing is loaded into the engine's
# image store (./hack/build.sh does that). BuildKit's progress is not shown
# (--progress quiet) unless a --progress is given. Credentials: docker login
# (DOCKER_CONFIG) or CAISSON_REGISTRY_USER / CAISSON_REGISTRY_PASSWORD.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: $0 <image> [--to REGISTRY/REPO] [--verify] [caisson release options]   (images: $(ls images | tr '\n' ' '))" >&2; exit 2; }
name=$1; shift
def=images/$name/image.yaml
[ -f "$def" ] || { echo "release.sh: no $def (images: $(ls images | tr '\n' ' '))" >&2; exit 2; }
bash hack/setup.sh "$def"
# A cached build still lists every step: quiet unless asked otherwise.
progress=(--progress quiet)
for arg in "$@"; do
  case $arg in --progress | --progress=*) progress=() ;; esac
done
exec node bin/caisson.js release "$def" --out out --source-store "${CAISSON_SOURCE_STORE:-${CAISSON_CACHE:-/var/cache/caisson}/sources}" "${progress[@]}" "$@"
