#!/usr/bin/env bash
# bench/engine.mjs on a throwaway engine of its own (see bench/engine-throwaway.ts).
# usage: npm run build && RUNS=3 bash bench/engine-throwaway.sh   (root: it starts a containerd and a dockerd)
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .cache
node_modules/.bin/esbuild bench/engine-throwaway.ts --bundle --platform=node --format=esm \
  --packages=external --log-level=warning --outfile=.cache/engine-throwaway.mjs
exec node .cache/engine-throwaway.mjs
