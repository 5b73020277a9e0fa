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
