#!/usr/bin/env bash
# Writes schema/image.cue from schema/image.schema.json with CUE's own JSON
# Schema import (the WebAssembly build caisson evaluates CUE with). Run it
# after changing the JSON Schema; test/cue/schema.test.ts fails until then.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run --silent build
node --input-type=module -e '
import { readFileSync, writeFileSync } from "node:fs";
const { cueSchema } = await import(process.cwd() + "/dist/cue/index.js");
writeFileSync("schema/image.cue", await cueSchema(readFileSync("schema/image.schema.json", "utf8")));
'
echo "schema/image.cue written"
