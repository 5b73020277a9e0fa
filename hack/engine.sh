#!/usr/bin/env bash
# Make a working Docker Engine 26 (embedded BuildKit) + buildx on a Debian
# bookworm machine, with the containerd image store, and install the tools the
# tests use. Idempotent; a no-op run takes about a second.
#
# Docker comes from Debian trixie's docker.io / docker-cli / docker-buildx
# .debs (downloaded through a private apt list derived from this machine's
# mirror, then dpkg -i); everything else comes from bookworm. We never
# `apt-get install -t trixie` (that would upgrade libc).
#
# It never stops a running dockerd nor unregisters a binfmt entry on its own:
# when one would have to go (a daemon without the containerd image store, a
# qemu entry without the F flag) it stops and prints the exact commands,
# unless CAISSON_ENGINE_RESTART=1 (what .ci/run sets: CI owns its machine).
# With DOCKER_HOST naming another engine (hack/fresh.sh's throwaway one) it
# installs packages but never starts, stops or reconfigures a daemon: that
# engine must already be running, with the containerd image store.
#
# Env: CAISSON_SKIP_TOOLS=1      skip the test tools
#      CAISSON_DOCKERD_LOG       dockerd log file (default /var/log/caisson-dockerd.log)
#      CAISSON_ENGINE_RESTART=1  allowed to stop the running dockerd / re-register binfmt entries
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LOG_TAG=engine
# shellcheck source=lib.sh
source "$HERE/lib.sh"

[ "$(id -u)" = 0 ] || die "must run as root"
export DEBIAN_FRONTEND=noninteractive

DOCKERD_LOG=${CAISSON_DOCKERD_LOG:-/var/log/caisson-dockerd.log}
DAEMON_JSON=/etc/docker/daemon.json
TRIXIE_DIR=$CAISSON_CACHE/apt-trixie
DEB_DIR=$CAISSON_CACHE/debs
WANT_DOCKER_MAJOR=26

# bookworm packages: docker.io's Depends/Recommends that we want + tools.
# iproute2 (ip): hack/fresh.sh's throwaway bridge; procps (pgrep): its clean-up.
ENGINE_PKGS=(containerd runc tini iptables adduser sysvinit-utils init-system-helpers
  libsystemd0 ca-certificates git xz-utils pigz jq curl procps iproute2)
# What the tests and hack/ call besides Debian's required packages (tar, gzip,
# find, sed, dpkg, apt-get, ldd…) and Node 20: checksec; qemu-aarch64-static;
# redis-cli, redis-benchmark; skopeo; mmdebstrap; file; strip, readelf
# (binutils); gcc, aarch64-linux-gnu-gcc; protoc with the well-known types
# (google/protobuf/any.proto: libprotobuf-dev) for test/gen.test.ts; gpg,
# gpg-agent, gpgconf for test/support/debrepo.ts's signed repositories;
# openssl (test certificates) and wrk (bench/proxy.mjs's load test).
TOOL_PKGS=(checksec qemu-user-static binfmt-support redis-tools skopeo umoci mmdebstrap
  file binutils binutils-aarch64-linux-gnu docker-registry dpkg-dev arch-test
  protobuf-compiler libprotobuf-dev gcc gcc-aarch64-linux-gnu libc6-dev-arm64-cross
  gpg gpg-agent gpgconf dctrl-tools apache2-utils)
TRIXIE_PKGS=(docker.io docker-cli docker-buildx)

pkgs_missing() {
  # prints the packages from "$@" that are not installed
  local p st
  for p in "$@"; do
    st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$st" = installed ] || echo "$p"
  done
}

dockerd_version_ok() {
  [ -x /usr/sbin/dockerd ] || return 1
  local v
  v=$(dpkg-query -W -f='${Version}' docker.io 2>/dev/null || true)
  [ "${v%%.*}" = "$WANT_DOCKER_MAJOR" ]
}

daemon_json_ok() {
  [ -f "$DAEMON_JSON" ] && jq -e '.features["containerd-snapshotter"] == true' "$DAEMON_JSON" >/dev/null 2>&1
}

binfmt_ok() {
  [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] && grep -q '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64 \
    && grep -q '^flags:.*F' /proc/sys/fs/binfmt_misc/qemu-aarch64
}

engine_store_ok() {
  # the running daemon uses the containerd image store
  "$DOCKER" info --format '{{json .DriverStatus}}' 2>/dev/null | grep -q 'io.containerd.snapshotter'
}

buildx_ok() { "$DOCKER" buildx version >/dev/null 2>&1; }

restart_allowed() { [ "${CAISSON_ENGINE_RESTART:-}" = 1 ]; }

# Another engine (DOCKER_HOST): only check it.
if ! engine_is_system; then
  FOREIGN=1
  log "DOCKER_HOST=$DOCKER_HOST: using that engine as it is (never started, stopped or reconfigured here)"
else
  FOREIGN=
fi

# ---------------------------------------------------------------- fast path
fast_ok() {
  dockerd_version_ok || return 1
  [ -z "$(pkgs_missing "${ENGINE_PKGS[@]}" "${TRIXIE_PKGS[@]}")" ] || return 1
  if [ -z "${CAISSON_SKIP_TOOLS:-}" ]; then
    [ -z "$(pkgs_missing "${TOOL_PKGS[@]}")" ] || return 1
  fi
  command -v jq >/dev/null || return 1
  [ -n "$FOREIGN" ] || daemon_json_ok || return 1
  binfmt_ok || return 1
  engine_store_ok || return 1
  buildx_ok || return 1
}
if fast_ok; then
  log "engine ready: Docker $("$DOCKER" version -f '{{.Server.Version}}'), containerd image store, buildx $("$DOCKER" buildx version | awk '{print $2}')"
  exit 0
fi

# --------------------------------------------- service-start guard for dpkg
# Package postinsts must not start services (we start dockerd ourselves).
POLICY_CREATED=
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  POLICY_CREATED=1
fi
cleanup() { if [ -n "$POLICY_CREATED" ]; then rm -f /usr/sbin/policy-rc.d; fi; }
trap cleanup EXIT

APT_OPTS=(-q -y -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confold --no-install-recommends)

apt_install() {
  [ $# -gt 0 ] || return 0
  log "apt-get install (bookworm): $*"
  # refresh the system lists if one of them has no candidate or a fetch fails
  local p need_update=
  for p in "$@"; do
    if ! apt-cache policy "$p" 2>/dev/null | grep -q 'Candidate: [^(]'; then need_update=1; fi
  done
  if [ -n "$need_update" ]; then
    log "apt-get update (some packages unknown to the current lists)"
    apt-get -q -o DPkg::Lock::Timeout=600 update >&2
  fi
  if ! apt-get install "${APT_OPTS[@]}" "$@" >&2; then
    log "install failed; apt-get update and retry"
    apt-get -q -o DPkg::Lock::Timeout=600 update >&2
    apt-get install "${APT_OPTS[@]}" "$@" >&2
  fi
}

# ------------------------------------------------------- bookworm packages
mapfile -t missing < <(pkgs_missing "${ENGINE_PKGS[@]}")
if [ -z "${CAISSON_SKIP_TOOLS:-}" ]; then
  mapfile -t -O "${#missing[@]}" missing < <(pkgs_missing "${TOOL_PKGS[@]}")
fi
apt_install "${missing[@]}"

# ---------------------------------------------- trixie docker .debs
if ! dockerd_version_ok || [ -n "$(pkgs_missing "${TRIXIE_PKGS[@]}")" ]; then
  MIRROR=$(debian_mirror) || die "cannot derive the Debian mirror from /etc/apt/sources.list.d/*.sources"
  mkdir -p "$TRIXIE_DIR" "$DEB_DIR"
  echo "deb [signed-by=$DEBIAN_KEYRING] $MIRROR trixie main" > "$TRIXIE_DIR/sources.list"
  log "fetching the trixie package index into $TRIXIE_DIR (private apt dir)"
  apt_private_update "$TRIXIE_DIR"
  # Check that every Depends/Pre-Depends of the trixie packages is satisfiable
  # by what bookworm has installed (or by the trixie packages themselves).
  log "checking the trixie packages' dependencies against this system"
  bad=
  for p in "${TRIXIE_PKGS[@]}"; do
    deps=$(apt_private "$TRIXIE_DIR" apt-cache show --no-all-versions "$p" \
      | awk -F': ' '/^(Pre-)?Depends:/{print $2}' | tr ',' '\n' | sed 's/^ *//;s/ *$//' | grep -v '^$' || true)
    while IFS= read -r dep; do
      [ -n "$dep" ] || continue
      ok=
      # alternatives "a | b"
      IFS='|' read -ra alts <<<"$dep"
      for alt in "${alts[@]}"; do
        alt=$(echo "$alt" | sed 's/^ *//;s/ *$//')
        name=${alt%% *}; name=${name%%:*}
        rel=; ver=
        if [[ $alt =~ \(([<>=]+)\ *([^\)]+)\) ]]; then rel=${BASH_REMATCH[1]}; ver=${BASH_REMATCH[2]}; fi
        if printf '%s\n' "${TRIXIE_PKGS[@]}" | grep -qx "$name"; then ok=1; break; fi
        have=$(dpkg-query -W -f='${Version}' "$name" 2>/dev/null || true)
        if [ -z "$have" ]; then continue; fi
        if [ -z "$rel" ] || dpkg --compare-versions "$have" "$rel" "$ver"; then ok=1; break; fi
      done
      if [ -z "$ok" ]; then
        log "UNSATISFIED: $p depends on '$dep' (installed: ${have:-none})"
        bad=1
      fi
    done <<<"$deps"
  done
  [ -z "$bad" ] || die "trixie docker packages are not installable on this system (see above)"

  log "downloading trixie .debs: ${TRIXIE_PKGS[*]}"
  debs=()
  for p in "${TRIXIE_PKGS[@]}"; do
    fn=$(apt_private "$TRIXIE_DIR" apt-cache show --no-all-versions "$p" | awk '/^Filename:/{print $2; exit}')
    [ -n "$fn" ] || die "$p not found in trixie"
    if [ ! -s "$DEB_DIR/$(basename "$fn")" ]; then
      # apt-get download checks the .deb against the signed index's SHA256
      (cd "$DEB_DIR" && apt_private "$TRIXIE_DIR" apt-get download "$p" >&2)
    fi
    debs+=("$DEB_DIR/$(basename "$fn")")
  done
  log "dpkg -i ${debs[*]##*/}"
  dpkg -i --force-confold "${debs[@]}" >&2
fi

# ------------------------------------------------------------ daemon.json
mkdir -p /etc/docker
if [ -z "$FOREIGN" ] && ! daemon_json_ok; then
  log "enabling the containerd image store in $DAEMON_JSON"
  if [ -s "$DAEMON_JSON" ]; then
    tmp=$(mktemp "$DAEMON_JSON.XXXXXX")
    jq '.features = ((.features // {}) + {"containerd-snapshotter": true})' "$DAEMON_JSON" > "$tmp"
    mv "$tmp" "$DAEMON_JSON"
  else
    echo '{"features":{"containerd-snapshotter":true}}' | jq . > "$DAEMON_JSON"
  fi
fi

# ----------------------------------------------- binfmt for qemu-aarch64
register_binfmt() {
  local conf=/usr/lib/binfmt.d/qemu-aarch64.conf line
  [ -f "$conf" ] || { log "WARNING: $conf missing (qemu-user-static not installed?)"; return 0; }
  if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null || {
      log "WARNING: cannot mount binfmt_misc; arm64 RUN steps will not work"; return 0; }
  fi
  for conf in /usr/lib/binfmt.d/qemu-aarch64.conf /usr/lib/binfmt.d/qemu-arm.conf; do
    [ -f "$conf" ] || continue
    name=$(basename "$conf" .conf)
    if [ -e "/proc/sys/fs/binfmt_misc/$name" ]; then
      grep -q '^flags:.*F' "/proc/sys/fs/binfmt_misc/$name" && continue
      # registered without F (e.g. by binfmt-support): it must be removed and
      # registered again, which affects everything on this machine
      if ! restart_allowed; then
        die "binfmt entry $name is registered without the F flag (arm64 RUN steps fail in containers).
  To replace it, run:   echo -1 > /proc/sys/fs/binfmt_misc/$name && bash $HERE/engine.sh
  or let this script do it:   CAISSON_ENGINE_RESTART=1 bash $HERE/engine.sh"
      fi
      log "unregistering binfmt $name (no F flag; CAISSON_ENGINE_RESTART=1)"
      echo -1 > "/proc/sys/fs/binfmt_misc/$name"   # re-register with F
    fi
    line=$(grep -v '^#' "$conf" | head -n1)
    # flags are the last field: make sure F (fix binary: works inside containers) is set
    case "${line##*:}" in *F*) ;; *) line="${line}F" ;; esac
    log "registering binfmt $name"
    printf '%s' "$line" > /proc/sys/fs/binfmt_misc/register
  done
}
if [ -z "${CAISSON_SKIP_TOOLS:-}" ] && ! binfmt_ok; then register_binfmt; fi

# ------------------------------------------------------------ dockerd
start_dockerd() {
  log "starting dockerd in the background (log: $DOCKERD_LOG)"
  setsid nohup /usr/sbin/dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
  local i
  for i in $(seq 1 120); do
    if docker_ready; then log "dockerd is up after ~$((i / 2))s"; return 0; fi
    if ! kill -0 $! 2>/dev/null; then
      tail -n 30 "$DOCKERD_LOG" >&2
      die "dockerd exited; see $DOCKERD_LOG"
    fi
    sleep 0.5
  done
  tail -n 30 "$DOCKERD_LOG" >&2
  die "dockerd did not answer on /var/run/docker.sock within 60s"
}

if [ -n "$FOREIGN" ]; then
  docker_ready || die "DOCKER_HOST=$DOCKER_HOST does not answer; start that engine, or unset DOCKER_HOST to use (and start) this machine's dockerd"
  engine_store_ok || die "the engine at DOCKER_HOST=$DOCKER_HOST does not use the containerd image store (start it with features.containerd-snapshotter=true)"
elif docker_ready; then
  if ! engine_store_ok; then
    pid=$(cat /var/run/docker.pid 2>/dev/null || true)
    [ -n "$pid" ] || die "a Docker daemon is running without the containerd image store and without /var/run/docker.pid; restart it yourself"
    if ! restart_allowed; then
      die "dockerd (pid $pid) runs without the containerd image store; $DAEMON_JSON now enables it, but that needs a restart, which stops every container of this engine.
  To restart it yourself:   kill $pid && while kill -0 $pid 2>/dev/null; do sleep 0.5; done && bash $HERE/engine.sh
  or let this script do it:   CAISSON_ENGINE_RESTART=1 bash $HERE/engine.sh"
    fi
    log "restarting dockerd (pid $pid) to enable the containerd image store (CAISSON_ENGINE_RESTART=1)"
    kill "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && die "dockerd (pid $pid) did not stop within 30 s"
    start_dockerd
  fi
else
  if [ -S /var/run/docker.sock ] && [ ! -e /var/run/docker.pid ]; then rm -f /var/run/docker.sock; fi
  start_dockerd
fi

engine_store_ok || die "dockerd is running but does not use the containerd image store"
buildx_ok || die "docker buildx is not available to $DOCKER"
log "engine ready: Docker $("$DOCKER" version -f '{{.Server.Version}}'), containerd image store, buildx $("$DOCKER" buildx version | awk '{print $2}')"
