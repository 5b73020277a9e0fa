#!/usr/bin/env bash
# What building images/<image>/image.yaml needs, set up when missing (saying
# what it installs): the Docker engine, the Node packages and the compiled
# code, the Debian base image, and the Debian source files the definition
# (or an import) pins, in the store `caisson build` serves. Used by
# hack/build.sh and hack/release.sh.
# usage: hack/setup.sh DEFINITION
set -euo pipefail
cd "$(dirname "$0")/.."
def=$1
bash hack/engine.sh
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
  echo "setup.sh: installing Node packages (npm ci)" >&2
  npm ci --no-audit --no-fund >&2
elif [ -n "$(find src -newer dist/cli/main.js -name '*.ts' 2>/dev/null | head -n1)" ] || [ ! -f dist/cli/main.js ] || [ ! -f dist/frontend-image/caisson-frontend.cjs ]; then
  npm run --silent build >&2
fi
bash hack/base-image.sh >/dev/null
CAISSON_SOURCE_STORE=${CAISSON_SOURCE_STORE:-${CAISSON_CACHE:-/var/cache/caisson}/sources} bash hack/fetch-pinned.sh "$def"
