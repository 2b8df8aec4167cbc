#!/usr/bin/env bash
# Build SeaweedFS's `weed` (S3 gateway + master/volume/filer) for the real-servers test tier.
#
# Source comes only from the Go module proxy, pinned by seaweedfs/go.mod + go.sum
# (module github.com/seaweedfs/seaweedfs at the pseudo-version below; `weed` 4.53).
# Output: ${CD4ML_TOOLS_DIR:-$HOME/.cache/cd4ml-tools}/seaweedfs-<version>/bin/weed
# Exits fast when the binary is already there. Nothing is written inside the repo.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mod_dir="$here/seaweedfs"
module=github.com/seaweedfs/seaweedfs

# Single source of truth for the version: the wrapper go.mod.
version="$(awk -v m="$module" '$1 == m { print $2; exit }' "$mod_dir/go.mod")"
[[ -n "$version" ]] || { echo "[tools] cannot find $module in $mod_dir/go.mod" >&2; exit 1; }
commit="${version##*-}"

tools_dir="${CD4ML_TOOLS_DIR:-$HOME/.cache/cd4ml-tools}"
dest="$tools_dir/seaweedfs-$version"
bin="$dest/bin/weed"

if [[ -x "$bin" ]]; then
  echo "[tools] weed $version present: $bin" >&2
  echo "$dest/bin"
  exit 0
fi

command -v go >/dev/null || { echo "[tools] go is required (>= 1.26.6)" >&2; exit 1; }

mkdir -p "$tools_dir"
stage="$(mktemp -d "$tools_dir/.seaweedfs-build.XXXXXX")"
trap 'rm -rf "$stage"' EXIT

export GOWORK=off GOFLAGS="-mod=readonly -buildvcs=false" CGO_ENABLED=0

echo "[tools] building weed $version ..." >&2
start=$SECONDS
(
  cd "$mod_dir"
  go build -trimpath \
    -ldflags "-s -w -X $module/weed/util/version.COMMIT=$commit" \
    -o "$stage/bin/weed" "$module/weed"
)
"$stage/bin/weed" version >/dev/null 2>&1

mkdir -p "$dest"
rm -rf "$dest/bin"
mv "$stage/bin" "$dest/bin"
echo "[tools] weed $version built in $((SECONDS - start))s: $bin ($(du -h "$bin" | cut -f1))" >&2
echo "$dest/bin"
