#!/usr/bin/env bash
# Builds the caisson frontend image (Node runtime + the bundled compiler) and
# loads it into the engine as caisson/frontend:<content hash> (+ :<version>,
# :latest), unless the engine already has that hash. Prints the image ref.
# Needs no tsc build: esbuild bundles the image builder itself into .cache/.
# usage: hack/frontend-image.sh [--rebuild]
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .cache
node_modules/.bin/esbuild src/engine/frontend-image.ts --bundle --platform=node --format=esm \
  --packages=external --log-level=warning --outfile=.cache/frontend-image.mjs
node --input-type=module -e '
const { ensureFrontendImage } = await import(process.argv[1]);
const img = await ensureFrontendImage({ rebuild: process.argv[2] === "--rebuild" });
console.log(img.ref);
' "$PWD/.cache/frontend-image.mjs" "${1:-}"
