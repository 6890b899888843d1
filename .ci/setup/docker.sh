#!/usr/bin/env bash
# CI: the Docker engine, compose v2 and the locally built images the real-engine tests run
# (test/integration/docker-real.test.ts, compose-real.test.ts). Idempotent: seconds when all is there.
set -euo pipefail
cd "$(dirname "$0")/../.."
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
started=$(date +%s)
as_root env DEBIAN_FRONTEND=noninteractive bash scripts/docker-setup.sh
echo "ci: docker setup took $(($(date +%s) - started)) s"
