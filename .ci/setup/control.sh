#!/usr/bin/env bash
# Alerts that roll back: the tests run a real Prometheus and Alertmanager (Debian packages) on loopback.
# Idempotent: installs only what is missing; the packages' own services are never started.
set -euo pipefail
source "$(dirname "$0")/apt.sh"
missing=()
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "ci: installing ${missing[*]}"
  apt_install --no-install-recommends "${missing[@]}"
fi
prometheus --version 2>&1 | sed -n 1p
prometheus-alertmanager --version 2>&1 | sed -n 1p
