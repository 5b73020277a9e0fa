#!/usr/bin/env bash
# Regenerates src/gen/ from proto/. Generated code is committed and never
# edited by hand; test/gen.test.ts fails when it is stale.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf src/gen
PATH="$PWD/node_modules/.bin:$PATH" buf generate
