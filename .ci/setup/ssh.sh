#!/usr/bin/env bash
# nginx.dockerHost over ssh: test/integration/remote-engines.test.ts runs an sshd of its own on a loopback
# port (its own host key and config, keys only) and the docker client's ssh. Debian's openssh-server and
# openssh-client; the package's own sshd service is never started. Idempotent.
set -euo pipefail
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v ssh >/dev/null 2>&1 || missing+=(openssh-client)
command -v ssh-keygen >/dev/null 2>&1 || missing+=(openssh-client)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "ci: installing ${missing[*]}"
  as_root apt-get update -qq
  policy_added=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
    as_root chmod +x /usr/sbin/policy-rc.d
    policy_added=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${missing[@]}" | sort -u) >/dev/null
  if [ -n "$policy_added" ]; then as_root rm -f /usr/sbin/policy-rc.d; fi
fi
/usr/sbin/sshd -V 2>&1 | sed -n 1p || ssh -V
