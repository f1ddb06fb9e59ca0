#!/usr/bin/env bash
# Downloads the ComfyUI workflow templates (PyPI package
# comfyui-workflow-templates-json, a wheel of JSON files) used as the
# real-world test set of the ComfyUI importer, and unpacks it into
# target/comfyui-workflows/. Idempotent: does nothing when the pinned version
# is already unpacked there.
#
# The templates land in
#   target/comfyui-workflows/comfyui_workflow_templates_json/templates/*.json
# which is where core/tests/format_comfyui.rs looks (override with
# REELGRAPH_COMFYUI_WORKFLOWS).
set -euo pipefail

VERSION="0.1.123"
SHA256="fc321960cfc4f52dddc3ee111f33489b167eb7958028eb5b6a7f3fa8865a385e"
PACKAGE="comfyui-workflow-templates-json"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/target/comfyui-workflows"
cache="$root/target/comfyui-workflows-download"
stamp="$dest/.version"

if [[ -f "$stamp" && "$(cat "$stamp")" == "$VERSION" ]]; then
    echo "comfyui workflows $VERSION already in $dest"
    exit 0
fi

mkdir -p "$cache"
wheel="$cache/comfyui_workflow_templates_json-$VERSION-py3-none-any.whl"
if [[ ! -f "$wheel" ]]; then
    python3 -m pip download --quiet --no-deps --only-binary=:all: \
        --dest "$cache" "$PACKAGE==$VERSION"
fi

actual="$(python3 -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$wheel")"
if [[ "$actual" != "$SHA256" ]]; then
    echo "error: $wheel has sha256 $actual, expected $SHA256" >&2
    rm -f "$wheel"
    exit 1
fi

# Unpack into a temporary directory and move it into place, so an interrupted
# run never leaves a half-filled directory behind a valid stamp.
tmp="$(mktemp -d "$root/target/comfyui-workflows.tmp.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
python3 -m zipfile -e "$wheel" "$tmp"
echo "$VERSION" > "$tmp/.version"
rm -rf "$dest"
mv "$tmp" "$dest"
trap - EXIT

count="$(find "$dest/comfyui_workflow_templates_json/templates" -name '*.json' | wc -l)"
echo "comfyui workflows $VERSION: $count JSON files in $dest"
