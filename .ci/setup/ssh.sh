#!/usr/bin/env bash
# nginx.dockerHost over ssh: test/integration/remote-engines.test.ts runs an sshd of its own on a loopback
# port (its own host key and config, keys only) and the docker client's ssh. Debian's openssh-server and
# openssh-client; the package's own sshd service is never started. Idempotent.
set -euo pipefail
source "$(dirname "$0")/apt.sh"
missing=()
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v ssh >/dev/null 2>&1 || missing+=(openssh-client)
command -v ssh-keygen >/dev/null 2>&1 || missing+=(openssh-client)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "ci: installing ${missing[*]}"
  apt_install --no-install-recommends $(printf '%s\n' "${missing[@]}" | sort -u)
fi
/usr/sbin/sshd -V 2>&1 | sed -n 1p || ssh -V
