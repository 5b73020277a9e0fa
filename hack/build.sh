#!/usr/bin/env bash
# The wrapper most users type: ./hack/build.sh <image> [caisson build options…]
#
# Builds images/<image>/image.yaml for every platform it lists, loads it into
# the engine's image store as caisson/<image>:<version> (and :latest), and
# writes the multi-platform OCI archive out/<image>-<version>.oci.tar.
# On a machine without them, it first sets up (saying what it installs) the
# Docker engine, the Debian base image, the Node packages and the Debian
# source packages the definition pins.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: $0 <image> [caisson build options]   (images: $(ls images | tr '\n' ' '))" >&2; exit 2; }
name=$1; shift
def=images/$name/image.yaml
[ -f "$def" ] || { echo "build.sh: no $def (images: $(ls images | tr '\n' ' '))" >&2; exit 2; }

bash hack/setup.sh "$def"
# Its version, from caisson itself (never parsed here).
version=$(node bin/caisson.js inspect "$def" | node -e 'process.stdout.write(String(JSON.parse(require("fs").readFileSync(0, "utf8")).version ?? "latest"))')
store=${CAISSON_SOURCE_STORE:-${CAISSON_CACHE:-/var/cache/caisson}/sources}

# Images go to out/ (dist/ holds the compiled JavaScript only).
archive=out/$name-$version.oci.tar
mkdir -p out
node bin/caisson.js build "$def" --source-store "$store" -o "image=caisson/$name:$version" -o "oci=$archive" "$@"
docker tag "caisson/$name:$version" "caisson/$name:latest"
echo "build.sh: caisson/$name:$version (also :latest) in the engine; $archive" >&2
