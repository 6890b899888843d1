# Sourced by .ci/run and .ci/setup/*.sh (bash, set -euo pipefail).
# as_root CMD...: CMD as root (sudo when not root).
# apt_install ARGS...: `apt-get install -y ARGS`, quietly, after refreshing the index, with no package
# allowed to start its service meanwhile (policy-rc.d): the tests start their own NGINX, Prometheus,
# sshd..., on free loopback ports, and a container has no init system anyway.
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  as_root apt-get update -qq
  local policy_added="" rc=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
    as_root chmod +x /usr/sbin/policy-rc.d
    policy_added=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null || rc=$?
  if [ -n "$policy_added" ]; then as_root rm -f /usr/sbin/policy-rc.d; fi
  return "$rc"
}
