#!/usr/bin/env bash
# The wrapper most users type: ./hack/build.sh <image> [caisson build options…]
#
# Builds images/<image>/image.yaml for every platform it lists, loads it into
# the engine's image store as caisson/<image>:<version> (and :latest), and
# writes the multi-platform OCI archive dist/<image>-<version>.oci.tar.
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
elif [ -n "$(find src -newer dist/cli/main.js -name '*.ts' 2>/dev/null | head -n1)" ] || [ ! -f dist/cli/main.js ]; then
  npm run --silent build >&2
fi
bash hack/base-image.sh >/dev/null

# Files of Debian source packages the definition (or an import) pins: fetch
# them into the sha256-keyed source store unless it has them already.
store=${CAISSON_SOURCE_STORE:-${CAISSON_CACHE:-/var/cache/caisson}/sources}
for f in "$def" $(sed -n 's/^  [a-z0-9_-]*: *\(images\/.*\.ya\?ml\)$/\1/p' "$def"); do
  # "debian: pkg=version" followed (within its source) by "sha256: <hex>"
  awk '/^ *debian: /{split($2, a, "="); pkg=a[1]; ver=a[2]} /^ *sha256: / && pkg {print pkg, ver, $2; pkg=""}' "$f"
done | sort -u | while read -r pkg version sha; do
  [ -e "$store/$sha" ] && continue
  bash hack/fetch-sources.sh "$pkg=$version" >/dev/null
  [ -e "$store/$sha" ] || echo "build.sh: warning: $pkg $version gave no file with sha256 $sha" >&2
done

version=$(node -e 'const y=require("fs").readFileSync(process.argv[1],"utf8");const m=/^version:\s*"?([^"\s#]+)/m.exec(y);console.log(m?m[1]:"latest")' "$def")
mkdir -p dist
node bin/caisson.js build "$def" -o "image=caisson/$name:$version" -o "oci=dist/$name-$version.oci.tar" "$@"
docker tag "caisson/$name:$version" "caisson/$name:latest"
echo "build.sh: caisson/$name:$version (also :latest) in the engine; dist/$name-$version.oci.tar" >&2
