#!/usr/bin/env bash
# Installs the external tools the packaging tests drive: helm (from ../shared/tools), and from
# Debian nix-instantiate (nix-bin), podman with runc, umoci and a static busybox. Idempotent;
# prints the directory that holds helm so the caller can put it on PATH.
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

helm_dir="${HOME}/.local/bin"
bash ../shared/tools/install-helm.sh "$helm_dir" >&2
echo "$helm_dir"
