#!/usr/bin/env bash
# Puts the files of Debian source packages that definitions pin (by sha256,
# in `debian:` sources, theirs or their imports') into the source store
# `caisson build` serves, fetching only what the store lacks, each by the
# exact version pinned (hack/fetch-sources.sh PKG=VERSION). Fails, naming
# the file and where to put it, when Debian's archives no longer serve it.
#
# usage: hack/fetch-pinned.sh DEFINITION...
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 DEFINITION..." >&2; exit 2; }
defs=(); for d in "$@"; do defs+=("$(realpath -m -- "$d")"); done   # as given, from where it was run
cd "$(dirname "$0")/.."
store=${CAISSON_SOURCE_STORE:-${CAISSON_CACHE:-/var/cache/caisson}/sources}
# What each definition pins, from caisson itself (never parsed here).
for def in "${defs[@]}"; do
  node bin/caisson.js inspect "$def" |
    node -e 'for (const s of JSON.parse(require("fs").readFileSync(0, "utf8")).sources) if (s.debian) console.log(s.debian, s.sha256)'
done | sort -u |
while read -r spec sha; do
  [ -e "$store/$sha" ] && continue
  if ! CAISSON_SOURCE_STORE=$store bash hack/fetch-sources.sh "$spec" >/dev/null; then
    echo "fetch-pinned.sh: Debian's archives no longer serve $spec; put its file with sha256 $sha into $store ($store/$sha/<file>), or re-pin the definition" >&2
    exit 1
  fi
  [ -e "$store/$sha" ] || { echo "fetch-pinned.sh: $spec gave no file with sha256 $sha in $store" >&2; exit 1; }
done
