#!/usr/bin/env bash
# A Docker engine and the images bgctl's docker tests (and offline docker-compose.yml) run, on a
# Debian bookworm machine, as root, without any image registry:
#   - installs Debian's docker.io (dockerd) and debootstrap when missing;
#   - starts dockerd in the background when no engine answers (no init system needed);
#   - installs compose v2 as the docker CLI plugin (the static binary of Debian trixie's
#     docker-compose package, fetched with a throw-away apt state: the machine's sources stay as they are);
#   - builds, from Debian packages, and caches:
#       bgctl-nginx:1.22    Debian bookworm: NGINX 1.22 + njs 0.7.9, curl, procps
#       bgctl-nginx:1.26    Debian trixie:   NGINX 1.26 + njs 0.8.9, curl, procps, and Node.js 20
#                           (tagged bgctl-node:20 too: the base of the example app offline)
#       bgctl-example-app:local   examples/compose/app built FROM bgctl-node:20
# Idempotent: an image that `docker image inspect` finds is not built again, and each root file system
# is kept as a tarball in $BGCTL_IMAGE_CACHE (default /var/cache/bgctl-images), so a reset of dockerd's
# data root costs an import, not a rebuild.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive LC_ALL=C
cd "$(dirname "$0")/.."

CACHE="${BGCTL_IMAGE_CACHE:-/var/cache/bgctl-images}"
PLUGIN_DIR=/usr/local/lib/docker/cli-plugins
T0=$(date +%s)
log() { echo "docker-setup: [$(($(date +%s) - T0)) s] $*"; }

[ "$(id -u)" -eq 0 ] || { echo "docker-setup: run as root" >&2; exit 2; }
mkdir -p "$CACHE"

# The Debian mirror this machine's apt uses (deb822 URIs or one-line `deb` entries), not its security archive.
mirror() {
  local files=() f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && files+=("$f")
  done
  { [ "${#files[@]}" -gt 0 ] && grep -hoE '(URIs:|^deb( \[[^]]*\])?)[[:space:]]+[a-z]+://[^[:space:]]+' "${files[@]}"; } |
    grep -oE '[a-z]+://[^[:space:]]+' | sed 's:/*$::' | grep -E '/debian$' | head -n 1 || true
}
MIRROR="${BGCTL_DEBIAN_MIRROR:-$(mirror)}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"

# Daemons installed here must not be started by their packages.
with_policy() {
  local added=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && added=1
  fi
  local rc=0
  "$@" || rc=$?
  if [ -n "$added" ]; then rm -f /usr/sbin/policy-rc.d; fi
  return "$rc"
}

# 1. the engine and debootstrap
missing=()
command -v dockerd >/dev/null 2>&1 || [ -x /usr/sbin/dockerd ] || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || missing+=(debootstrap)
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]}"
  apt-get update -qq
  with_policy apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
export PATH="$PATH:/usr/sbin:/sbin"

# 2. an engine that answers
if ! docker info >/dev/null 2>&1; then
  log "starting dockerd (log: /var/log/dockerd.log)"
  setsid nohup dockerd >/var/log/dockerd.log 2>&1 </dev/null &
  for _ in $(seq 1 120); do
    docker info >/dev/null 2>&1 && break
    sleep 0.5
  done
  docker info >/dev/null 2>&1 || { tail -n 30 /var/log/dockerd.log >&2; echo "docker-setup: dockerd did not answer" >&2; exit 1; }
fi
log "engine $(docker version --format '{{.Server.Version}}')"

# 3. compose v2 (Debian trixie's docker-compose: one static binary) as the CLI plugin
if ! docker compose version >/dev/null 2>&1; then
  if [ ! -x "$CACHE/docker-compose" ]; then
    log "fetching docker-compose from trixie ($MIRROR)"
    tmp="$(mktemp -d)"
    mkdir -p "$tmp/state/lists/partial" "$tmp/cache/archives/partial"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR trixie main" >"$tmp/sources.list"
    aptx=(-o "Dir::State=$tmp/state" -o "Dir::State::status=/var/lib/dpkg/status" -o "Dir::Cache=$tmp/cache"
      -o "Dir::Etc::SourceList=$tmp/sources.list" -o "Dir::Etc::SourceParts=$tmp/none" -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root")
    apt-get -qq "${aptx[@]}" update
    (cd "$tmp" && apt-get -qq "${aptx[@]}" download docker-compose)
    dpkg-deb -x "$tmp"/docker-compose_*.deb "$tmp/root"
    bin="$(find "$tmp/root" -path '*cli-plugins/docker-compose' -type f | head -n 1)"
    [ -n "$bin" ] || { echo "docker-setup: no compose plugin in the trixie package" >&2; exit 1; }
    install -m 0755 "$bin" "$CACHE/docker-compose"
    rm -rf "$tmp"
  fi
  mkdir -p "$PLUGIN_DIR"
  install -m 0755 "$CACHE/docker-compose" "$PLUGIN_DIR/docker-compose"
fi
log "$(docker compose version)"

# 4. images from Debian packages
# rootfs SUITE TARBALL PACKAGES...: a minbase root file system with PACKAGES, as a tarball in the cache
rootfs() {
  local suite="$1" tarball="$2" root
  shift 2
  [ -s "$tarball" ] && return 0
  root="$(mktemp -d /var/tmp/bgctl-rootfs.XXXXXX)"
  log "debootstrap $suite from $MIRROR"
  debootstrap --variant=minbase "$suite" "$root" "$MIRROR" >"$root.log" 2>&1 || {
    tail -n 30 "$root.log" >&2
    exit 1
  }
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod +x "$root/usr/sbin/policy-rc.d"
  # a throw-away tree that becomes a tarball: no fsync per file
  echo force-unsafe-io >"$root/etc/dpkg/dpkg.cfg.d/bgctl-unsafe-io"
  mount -t proc proc "$root/proc"
  local rc=0
  {
    chroot "$root" apt-get install -y -qq --no-install-recommends "$@" &&
      chroot "$root" apt-get clean
  } >>"$root.log" 2>&1 || rc=$?
  umount "$root/proc"
  [ "$rc" -eq 0 ] || { tail -n 30 "$root.log" >&2; exit 1; }
  # the example app runs as `node` (uid 1000), like the official node images
  if [ -x "$root/usr/bin/node" ]; then chroot "$root" useradd -m -u 1000 -s /bin/sh node; fi
  rm -rf "$root/usr/sbin/policy-rc.d" "$root/etc/dpkg/dpkg.cfg.d/bgctl-unsafe-io" "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root/var/log/nginx"/*
  tar -C "$root" -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
  rm -rf "$root" "$root.log"
}

# image NAME TARBALL: import the tarball unless the engine has NAME
image() {
  local name="$1" tarball="$2"
  docker image inspect "$name" >/dev/null 2>&1 && return 0
  log "importing $name"
  docker import -c 'CMD ["nginx", "-g", "daemon off;"]' "$tarball" "$name" >/dev/null
}

NGINX_PKGS=(nginx libnginx-mod-http-js curl procps ca-certificates)
# both root file systems at once: each mostly waits on the mirror and the disk
builds=()
if ! docker image inspect bgctl-nginx:1.22 >/dev/null 2>&1; then
  rootfs bookworm "$CACHE/bookworm.tar" "${NGINX_PKGS[@]}" &
  builds+=($!)
fi
if ! docker image inspect bgctl-nginx:1.26 >/dev/null 2>&1; then
  rootfs trixie "$CACHE/trixie.tar" "${NGINX_PKGS[@]}" nodejs wget &
  builds+=($!)
fi
for pid in "${builds[@]}"; do
  wait "$pid" || { echo "docker-setup: building a root file system failed" >&2; exit 1; }
done
image bgctl-nginx:1.22 "$CACHE/bookworm.tar"
image bgctl-nginx:1.26 "$CACHE/trixie.tar"
docker image inspect bgctl-node:20 >/dev/null 2>&1 || docker tag bgctl-nginx:1.26 bgctl-node:20

# the example app, built by its own Dockerfile on the local Node.js base (no registry)
if ! docker image inspect bgctl-example-app:local >/dev/null 2>&1; then
  log "building bgctl-example-app:local"
  DOCKER_BUILDKIT=0 docker build -q --build-arg NODE_IMAGE=bgctl-node:20 -t bgctl-example-app:local examples/compose/app >/dev/null
fi

for name in bgctl-nginx:1.22 bgctl-nginx:1.26; do
  log "$name: $(docker run --rm --network none "$name" sh -c 'nginx -v 2>&1; dpkg-query -W libnginx-mod-http-js' | tr '\n\t' '  ')"
done
log "ready"
