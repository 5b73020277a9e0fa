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

bash hack/engine.sh
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
  echo "build.sh: installing Node packages (npm ci)" >&2
  npm ci --no-audit --no-fund >&2
elif [ -n "$(find src -newer dist/cli/main.js -name '*.ts' 2>/dev/null | head -n1)" ] || [ ! -f dist/cli/main.js ] || [ ! -f dist/frontend-image/caisson-frontend.cjs ]; then
  npm run --silent build >&2
fi
bash hack/base-image.sh >/dev/null

# Its version, from caisson itself (never parsed here); the Debian source
# files it (or an import) pins, into the store caisson build serves.
version=$(node bin/caisson.js inspect "$def" | node -e 'process.stdout.write(String(JSON.parse(require("fs").readFileSync(0, "utf8")).version ?? "latest"))')
store=${CAISSON_SOURCE_STORE:-${CAISSON_CACHE:-/var/cache/caisson}/sources}
CAISSON_SOURCE_STORE=$store bash hack/fetch-pinned.sh "$def"

# Images go to out/ (dist/ holds the compiled JavaScript only).
# CAISSON_BUILD_OCI: where the OCI archive goes (default out/<image>-<version>.oci.tar); set
# empty for none (hack/release.sh: the release writes that archive itself, once it is made).
archive=${CAISSON_BUILD_OCI-out/$name-$version.oci.tar}
oci=()
if [ -n "$archive" ]; then mkdir -p "$(dirname "$archive")"; oci=(-o "oci=$archive"); fi
node bin/caisson.js build "$def" --source-store "$store" -o "image=caisson/$name:$version" "${oci[@]}" "$@"
docker tag "caisson/$name:$version" "caisson/$name:latest"
echo "build.sh: caisson/$name:$version (also :latest) in the engine${archive:+; $archive}" >&2
