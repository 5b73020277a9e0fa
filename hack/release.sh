#!/usr/bin/env bash
# ./hack/release.sh <image> [--to REGISTRY/REPO] [--verify] [caisson release options…]
#
# Sets up what a build needs and builds images/<image>/image.yaml (through
# hack/build.sh, so the release's own build is then served from the cache),
# then `caisson release`: the release index with a dpkg status.d layer, an
# SPDX SBOM and SLSA provenance per platform, written to out/ and, with --to,
# pushed with its tags. Credentials: docker login (DOCKER_CONFIG) or
# CAISSON_REGISTRY_USER / CAISSON_REGISTRY_PASSWORD.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: $0 <image> [--to REGISTRY/REPO] [--verify] [caisson release options]   (images: $(ls images | tr '\n' ' '))" >&2; exit 2; }
name=$1; shift
bash hack/build.sh "$name" --progress quiet
exec node bin/caisson.js release "images/$name/image.yaml" --out out --source-store "${CAISSON_SOURCE_STORE:-${CAISSON_CACHE:-/var/cache/caisson}/sources}" "$@"
