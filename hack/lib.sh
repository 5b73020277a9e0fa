# shellcheck shell=bash
# Shared helpers for hack/*.sh. Source it; it defines functions only.
# Never hard-code a package mirror: everything is derived from the machine's
# own apt configuration at run time.

CAISSON_CACHE=${CAISSON_CACHE:-/var/cache/caisson}
# The Debian docker CLI. /usr/local/bin/docker may be a different (newer)
# client; it works too (API negotiation) but our scripts pin this one.
DOCKER=${DOCKER:-/usr/bin/docker}
BASE_IMAGE_REF=${BASE_IMAGE_REF:-caisson/debian:bookworm}

log() { printf '[%s] %s\n' "${LOG_TAG:-caisson}" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# The main Debian archive URI this machine uses (first deb822 stanza whose
# Suites include a plain codename, else the first legacy "deb" line).
debian_mirror() {
  local f uri
  if [ -n "${CAISSON_DEBIAN_MIRROR:-}" ]; then echo "$CAISSON_DEBIAN_MIRROR"; return; fi
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -e "$f" ] || continue
    uri=$(awk '
      BEGIN { RS=""; FS="\n" }
      {
        uris=""; suites=""
        for (i=1; i<=NF; i++) {
          if ($i ~ /^URIs:/)   { sub(/^URIs:[ \t]*/, "", $i); uris=$i }
          if ($i ~ /^Suites:/) { sub(/^Suites:[ \t]*/, "", $i); suites=$i }
        }
        if (uris != "" && suites !~ /-security/) { split(uris, u, /[ \t]+/); print u[1]; exit }
      }' "$f")
    if [ -n "$uri" ]; then echo "${uri%/}"; return; fi
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -e "$f" ] || continue
    uri=$(awk '$1=="deb" && $0 !~ /security/ { for (i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' "$f")
    if [ -n "$uri" ]; then echo "${uri%/}"; return; fi
  done
  return 1
}

# Security archive URI (may be empty).
debian_security_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -e "$f" ] || continue
    awk 'BEGIN{RS="";FS="\n"} { u="";s=""; for(i=1;i<=NF;i++){ if($i~/^URIs:/){sub(/^URIs:[ \t]*/,"",$i);u=$i} if($i~/^Suites:/){sub(/^Suites:[ \t]*/,"",$i);s=$i} } if(u!="" && s~/-security/){split(u,a,/[ \t]+/);print a[1];exit} }' "$f"
  done | head -n1 | sed 's:/*$::'
}

DEBIAN_KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

# apt with a private source list + private lists dir, leaving the system's
# apt state alone. usage: apt_private <dir> <apt-get|apt-cache> args...
# <dir>/sources.list must exist.
apt_private() {
  local dir=$1 tool=$2; shift 2
  mkdir -p "$dir/lists/partial" "$dir/archives/partial"
  "$tool" -q \
    -o Dir::Etc::SourceList="$dir/sources.list" \
    -o Dir::Etc::SourceParts=/dev/null \
    -o Dir::State::Lists="$dir/lists" \
    -o Dir::State::status=/dev/null \
    -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= \
    -o Dir::Cache::Archives="$dir/archives" \
    -o APT::Sandbox::User=root \
    "$@"
}

# Refresh a private apt dir's lists if older than $2 seconds (default 1 day).
apt_private_update() {
  local dir=$1 max_age=${2:-86400} stamp="$1/.updated"
  if [ -f "$stamp" ] && [ $(( $(date +%s) - $(stat -c %Y "$stamp") )) -lt "$max_age" ] \
     && [ "$(cat "$stamp")" = "$(sha256sum < "$dir/sources.list")" ]; then
    return 0
  fi
  apt_private "$dir" apt-get update >&2
  sha256sum < "$dir/sources.list" > "$stamp"
}

docker_ready() { "$DOCKER" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

# True when the docker CLI talks to this machine's system daemon (DOCKER_HOST
# unset or naming /var/run/docker.sock), false when DOCKER_HOST names another
# engine (e.g. hack/fresh.sh's throwaway one), which our scripts must never
# start, stop or reconfigure.
engine_is_system() {
  case "${DOCKER_HOST:-}" in
    "" | unix:///var/run/docker.sock | unix:///run/docker.sock) return 0 ;;
    *) return 1 ;;
  esac
}

# prime_local_image REF [PLATFORMS]
# Makes an image brought in with `docker load` usable by digest-pinned LLB
# (`docker-image://docker.io/REPO:TAG@sha256:<index>`) on this engine.
# BuildKit v0.13 serves a digest reference from the local content store only
# when the index carries a containerd.io/distribution.source.<host> label,
# which `docker load` does not write (see docs/engine.md). A tag-only resolve
# through the engine's Dockerfile frontend (ResolveImageConfig, image store
# first) writes it on the index, on the platform's manifest and on its config;
# one build for all PLATFORMS labels every manifest. A second build, FROM the
# digest this time, checks the result. Idempotent; ~1-2 s. Builds nothing,
# exports nothing (cacheonly output).
# REF: name:tag as loaded (caisson/debian:bookworm or docker.io/…);
# PLATFORMS: "linux/amd64,linux/arm64" or "amd64 arm64" (default: both).
prime_local_image() {
  local ref=${1:?usage: prime_local_image REF [PLATFORMS]} plats=${2:-linux/amd64,linux/arm64} p list= digest ctx
  for p in ${plats//,/ }; do
    case $p in */*) ;; *) p=linux/$p ;; esac
    list=${list:+$list,}$p
  done
  digest=$("$DOCKER" image inspect --format '{{.Id}}' "$ref" 2>/dev/null) || { log "prime_local_image: $ref is not in the engine"; return 1; }
  ctx=$(mktemp -d)
  printf 'FROM %s\n' "$ref" > "$ctx/Dockerfile.tag"
  printf 'FROM %s@%s\n' "${ref%@*}" "$digest" > "$ctx/Dockerfile.digest"
  local f rc=0 out
  for f in tag digest; do
    if ! out=$("$DOCKER" buildx build --progress=plain --provenance=false --platform "$list" \
      --output type=cacheonly -f "$ctx/Dockerfile.$f" "$ctx" 2>&1); then
      printf '%s\n' "$out" | tail -n 15 >&2
      log "prime_local_image: resolving $ref ($f) for $list failed"
      rc=1
      break
    fi
  done
  rm -rf "$ctx"
  [ "$rc" = 0 ] && log "$ref ($digest) resolves by digest for $list"
  return "$rc"
}
