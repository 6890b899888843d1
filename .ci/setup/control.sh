#!/usr/bin/env bash
# Alerts that roll back: the tests run a real Prometheus and Alertmanager (Debian packages) on loopback.
# Idempotent: installs only what is missing; the packages' own services are never started.
set -euo pipefail
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "ci: installing ${missing[*]}"
  as_root apt-get update -qq
  policy_added=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
    as_root chmod +x /usr/sbin/policy-rc.d
    policy_added=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ -n "$policy_added" ]; then as_root rm -f /usr/sbin/policy-rc.d; fi
fi
prometheus --version 2>&1 | sed -n 1p
prometheus-alertmanager --version 2>&1 | sed -n 1p
