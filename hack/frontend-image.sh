#!/usr/bin/env bash
# Builds the caisson frontend image (Node runtime + the bundled compiler) and
# loads it into the engine as caisson/frontend:<content hash> (+ :<version>,
# :latest), unless the engine already has that hash. Prints the image ref.
# usage: hack/frontend-image.sh [--rebuild]
set -euo pipefail
cd "$(dirname "$0")/.."
out=.cache/dist
PATH="$PWD/node_modules/.bin:$PATH" tsc -p tsconfig.build.json --outDir "$out" >&2
node --input-type=module -e '
const { ensureFrontendImage } = await import(process.argv[1]);
const img = await ensureFrontendImage({ rebuild: process.argv[2] === "--rebuild" });
console.log(img.ref);
' "$PWD/$out/engine/frontend-image.js" "${1:-}"
