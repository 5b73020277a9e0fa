#!/usr/bin/env bash
# From-zero proof: the README's two commands, on a throwaway engine that has
# never seen an image, in a fresh clone of the committed HEAD.
#
#   1. a throwaway containerd (own root, state, socket, config) and a
#      throwaway dockerd on it (own data root, exec root, pidfile, socket,
#      daemon.json, its own bridge; no iptables rules but one FORWARD accept between containers on that bridge, removed on exit), both under one
#      temporary directory;
#   2. `git clone` of this repository's HEAD (committed work only) into it;
#   3. in the clone, with DOCKER_HOST=unix://<throwaway socket>,
#      CAISSON_CACHE=<empty temp dir>, DOCKER_CONFIG=<empty temp dir>:
#        ./hack/build.sh redis
#        npm test
#      (or $FRESH_CMD instead), printing each step and its time; npm test runs
#      even when the build failed, and a summary of both ends the run
#      (exit status 1 when either failed).
# On exit (success, failure, Ctrl-C) the daemons are stopped and everything
# the script created is removed. The machine's own engine (its socket,
# docker0, iptables rules, images) is not touched.
#
# Needs root and the engine's packages (hack/engine.sh installs them; the
# clone's own hack/engine.sh, run by build.sh, checks them again but never
# starts or restarts the system dockerd while DOCKER_HOST names another
# engine).
#
# Env: FRESH_CMD     shell command run in the clone instead of the README's two
#                    (e.g. FRESH_CMD='bash hack/base-image.sh')
#      FRESH_SUBNET  the throwaway bridge's address (default 10.213.77.1/24)
#      FRESH_TMP     parent of the temporary directory (default /tmp)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
LOG_TAG=fresh
# shellcheck source=lib.sh
source "$HERE/lib.sh"

[ "$(id -u)" = 0 ] || die "must run as root"
for c in containerd dockerd runc git ip npm node; do
  command -v "$c" >/dev/null || die "$c missing: run hack/engine.sh (and install Node 20) first"
done

SUBNET=${FRESH_SUBNET:-10.213.77.1/24}
T0=$SECONDS
step_t0=$SECONDS
stamp() { printf '%4ds' $((SECONDS - T0)); }
step() { # step NAME CMD...: run, print its duration; the failure ends the script
  local name=$1; shift
  step_t0=$SECONDS
  log "$(stamp) ==> $name"
  "$@"
  log "$(stamp) <== $name: $((SECONDS - step_t0))s"
}
SUMMARY=() FAILED=0
check() { # check NAME CMD...: like step, but a failure is recorded and the next check still runs
  local name=$1 rc=0; shift
  step_t0=$SECONDS
  log "$(stamp) ==> $name"
  "$@" || rc=$?
  SUMMARY+=("$(printf '%-28s %s after %ss' "$name" "$([ "$rc" = 0 ] && echo ok || echo "FAILED (exit $rc)")" $((SECONDS - step_t0)))")
  [ "$rc" = 0 ] || FAILED=1
  log "$(stamp) <== $name: ${SUMMARY[-1]##* after }, exit $rc"
}

# ------------------------------------------------------------------ cleanup
TMP=$(mktemp -d "${FRESH_TMP:-/tmp}/caisson-fresh.XXXXXX")
chmod 711 "$TMP"
BR=cfr$$                        # bridge name (max 15 characters)
BR=${BR:0:15}
CTRD_PID= DOCKERD_PID= BR_CREATED= FWD_RULE=
# /run/containerd is where containerd's runc shims put their sockets and runc
# state whatever the daemon's own state dir; remove what we leave there only
# if it did not exist before (and only empty directories).
RUN_CTRD_EXISTED=; [ -e /run/containerd ] && RUN_CTRD_EXISTED=1

stop_pid() { # stop_pid PID NAME: TERM, wait up to 20 s, then KILL
  local pid=$1 name=$2 i t=$SECONDS
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 40); do
    if ! kill -0 "$pid" 2>/dev/null; then log "stopped $name (pid $pid) in $((SECONDS - t))s"; return 0; fi
    sleep 0.5
  done
  log "$name (pid $pid) did not stop in 20 s: KILL"
  kill -KILL "$pid" 2>/dev/null || true
  sleep 0.5
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  set +e
  if [ "$rc" != 0 ] && [ -s "$TMP/logs/dockerd.log" ]; then
    log "last lines of the throwaway dockerd log:"
    tail -n 15 "$TMP/logs/dockerd.log" >&2
  fi
  log "$(stamp) cleaning up (exit status $rc)"
  stop_pid "$DOCKERD_PID" dockerd
  # shims outlive containerd; stop the ones of our containerd (their command line names its socket)
  stop_pid "$CTRD_PID" containerd
  local p
  for p in $(pgrep -f "containerd-shim.*-address $TMP/" 2>/dev/null); do stop_pid "$p" "shim"; done
  # overlay mounts and netns bind mounts under our directory, deepest first
  awk -v t="$TMP/" 'index($2, t) == 1 { print $2 }' /proc/self/mounts | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
  done
  if [ -n "$FWD_RULE" ]; then iptables -D FORWARD -i "$BR" -o "$BR" -j ACCEPT 2>/dev/null; fi
  if [ -n "$BR_CREATED" ]; then ip link del "$BR" 2>/dev/null; fi
  rm -rf --one-file-system "$TMP"   # never through a mount left behind
  if [ -z "$RUN_CTRD_EXISTED" ] && [ -d /run/containerd ]; then
    find /run/containerd -depth -type d -empty -delete 2>/dev/null
  fi
  [ -e "$TMP" ] && log "WARNING: could not remove $TMP"
  log "$(stamp) done: exit status $rc"
  exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'exit 143' TERM HUP

log "throwaway directory $TMP"
mkdir -p "$TMP"/{containerd/root,containerd/state,docker,exec,cache,docker-config,logs}

# ---------------------------------------------------------- the bridge
# A second dockerd must not manage docker0 nor write iptables rules next to
# the main one: give it its own bridge and --iptables=false. RUN steps
# (network mode "sandbox") still get a network namespace on that bridge;
# they reach nothing beyond it, which the builds do not need.
start_bridge() {
  local prefix=${SUBNET%.*}.
  if ip -4 -o addr show | awk '{print $4}' | grep -q "^${prefix//./\\.}"; then
    die "$SUBNET overlaps an address of this machine; set FRESH_SUBNET"
  fi
  ip link add "$BR" type bridge
  BR_CREATED=1
  ip addr add "$SUBNET" dev "$BR"
  ip link set "$BR" up
  # Containers on this bridge talk to each other (a test's HAProxy to its nginx).
  # With br_netfilter, bridged frames pass the host's FORWARD chain, whose policy
  # the main engine sets to DROP: one rule for this bridge only, removed on exit.
  if command -v iptables >/dev/null && iptables -S FORWARD 2>/dev/null | grep -q '^-P FORWARD DROP'; then
    iptables -I FORWARD 1 -i "$BR" -o "$BR" -j ACCEPT
    FWD_RULE=1
  fi
}

# ---------------------------------------------------------- containerd
start_containerd() {
  cat > "$TMP/containerd/config.toml" <<EOF
version = 2
root = "$TMP/containerd/root"
state = "$TMP/containerd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$TMP/containerd/containerd.sock"
[ttrpc]
  address = ""
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$TMP/containerd/opt"
EOF
  setsid containerd --config "$TMP/containerd/config.toml" >"$TMP/logs/containerd.log" 2>&1 </dev/null &
  CTRD_PID=$!
  local i
  for i in $(seq 1 60); do
    if ctr -a "$TMP/containerd/containerd.sock" version >/dev/null 2>&1; then return 0; fi
    kill -0 "$CTRD_PID" 2>/dev/null || { tail -n 20 "$TMP/logs/containerd.log" >&2; die "containerd exited"; }
    sleep 0.5
  done
  die "containerd did not answer within 30 s"
}

# ---------------------------------------------------------- dockerd
start_dockerd() {
  jq -n --arg br "$BR" '{
    features: {"containerd-snapshotter": true},
    bridge: $br, iptables: false, ip6tables: false, "ip-forward": false, "ip-masq": false,
    "userland-proxy": true
  }' > "$TMP/daemon.json"
  # Without iptables rules, published ports (docker run -p 127.0.0.1::6379) reach the
  # container only through docker-proxy, which the host can route to over the bridge.
  setsid dockerd --config-file "$TMP/daemon.json" \
    --containerd "$TMP/containerd/containerd.sock" \
    --data-root "$TMP/docker" --exec-root "$TMP/exec" --pidfile "$TMP/docker.pid" \
    -H "unix://$TMP/docker.sock" >"$TMP/logs/dockerd.log" 2>&1 </dev/null &
  DOCKERD_PID=$!
  export DOCKER_HOST=unix://$TMP/docker.sock
  local i
  for i in $(seq 1 120); do
    if docker_ready; then
      log "throwaway engine: Docker $("$DOCKER" version -f '{{.Server.Version}}'), $("$DOCKER" info -f '{{.Images}}') images, data root $("$DOCKER" info -f '{{.DockerRootDir}}')"
      return 0
    fi
    kill -0 "$DOCKERD_PID" 2>/dev/null || { tail -n 30 "$TMP/logs/dockerd.log" >&2; die "dockerd exited"; }
    sleep 0.5
  done
  tail -n 30 "$TMP/logs/dockerd.log" >&2
  die "dockerd did not answer within 60 s"
}

step "bridge $BR ($SUBNET)" start_bridge
step "containerd (own root, state, socket)" start_containerd
step "dockerd (own data root, exec root, socket)" start_dockerd
[ "$("$DOCKER" info -f '{{.Images}}')" = 0 ] || die "the throwaway engine is not empty"
"$DOCKER" info --format '{{json .DriverStatus}}' | grep -q io.containerd.snapshotter || die "the throwaway engine does not use the containerd image store"

step "git clone HEAD ($(git -C "$REPO" rev-parse --short HEAD))" git clone -q --no-local "$REPO" "$TMP/src"
if [ -n "$(git -C "$REPO" status --porcelain --untracked-files=no)" ]; then
  log "note: the working tree has uncommitted changes; they are not part of this run"
fi

export CAISSON_CACHE=$TMP/cache
export DOCKER_CONFIG=$TMP/docker-config
export CAISSON_DOCKERD_LOG=$TMP/logs/dockerd.log
log "DOCKER_HOST=$DOCKER_HOST CAISSON_CACHE=$CAISSON_CACHE DOCKER_CONFIG=$DOCKER_CONFIG"
cd "$TMP/src"
if [ -n "${FRESH_CMD:-}" ]; then
  check "$FRESH_CMD" bash -c "$FRESH_CMD"
else
  # npm test runs even when the build failed: both results are worth having
  check "./hack/build.sh redis" ./hack/build.sh redis
  check "npm test" npm test
fi
log "$(stamp) summary (from an empty engine, a fresh clone of $(git rev-parse --short HEAD)):"
for l in "${SUMMARY[@]}"; do log "  $l"; done
[ "$FAILED" = 0 ] || exit 1
