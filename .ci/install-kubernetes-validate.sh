#!/usr/bin/env bash
# Installs kubernetes-validate (PyPI) into its own virtualenv and links it into DEST_DIR
# (default: $HOME/.local/bin); prints the link's path. The versions are pinned in
# .ci/kubernetes-validate.txt; the schemas ship inside the package, so validating needs no
# network.
set -euo pipefail
cd "$(dirname "$0")"

dest="${1:-$HOME/.local/bin}"
requirements="$PWD/kubernetes-validate.txt"
version="$(sed -n 's/^kubernetes-validate==//p' "$requirements")"
venv="${XDG_DATA_HOME:-$HOME/.local/share}/clusterpedia-rs-ci/kubernetes-validate-$version"
link="$dest/kubernetes-validate"

if [ -x "$link" ] && [ "$("$link" --version 2>/dev/null)" = "$version" ]; then
  echo "$link"
  exit 0
fi

if ! [ -x "$venv/bin/kubernetes-validate" ]; then
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  python3 -m venv "$venv" >&2 \
    || { echo "python3 -m venv failed: install Python's venv module (Debian: python3-venv)" >&2; exit 1; }
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
    --requirement "$requirements" >&2
fi

mkdir -p "$dest"
ln -sfn "$venv/bin/kubernetes-validate" "$link"
"$link" --version >&2
echo "$link"
