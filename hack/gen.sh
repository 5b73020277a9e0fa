#!/usr/bin/env bash
# Regenerates src/gen/ from proto/ with protoc (Debian's protobuf-compiler)
# and protoc-gen-es. Generated code is committed and never edited by hand;
# test/gen.test.ts fails when it is stale.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v protoc >/dev/null || { echo "gen: protoc missing: apt-get install protobuf-compiler" >&2; exit 1; }
out=${1:-src/gen}
rm -rf "$out" && mkdir -p "$out"
mapfile -t files < <(cd proto && find . -name '*.proto' | sed 's#^\./##' | LC_ALL=C sort)
protoc -I proto \
  --plugin=protoc-gen-es=node_modules/.bin/protoc-gen-es \
  --es_out="$out" --es_opt=target=ts,import_extension=js \
  "${files[@]}"
