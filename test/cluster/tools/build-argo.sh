#!/usr/bin/env bash
# Build Argo Workflows' `workflow-controller` and `argo` (CLI; `argo server` is a subcommand)
# for the real-servers test tier, and `s3probe` (argo/s3probe, our code): Argo's own S3 artifact driver, the
# one argoexec saves and loads artifacts with, driven from the command line.
#
# Source comes only from the Go module proxy, pinned by argo/go.mod + go.sum
# (module github.com/argoproj/argo-workflows/v4). Output:
#   ${CD4ML_TOOLS_DIR:-$HOME/.cache/cd4ml-tools}/argo-<version>/bin/{workflow-controller,argo,s3probe}
# Exits fast when all are already there, and builds only the missing ones otherwise. Nothing is written inside the repo.
#
# The UI: package ui has `//go:embed dist/app`, and ui/dist is not in the module zip.
# Upstream's Makefile with STATIC_FILES=false does `mkdir -p ui/dist/app && touch
# ui/dist/app/index.html`; the module cache is read-only, so we copy the (checksum-verified)
# module into a scratch dir outside the repo, add that empty index.html there, and build our
# wrapper module with a `replace` pointing at the copy. The server then runs without a UI.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mod_dir="$here/argo"
module=github.com/argoproj/argo-workflows/v4

version="$(awk -v m="$module" '$1 == m { print $2; exit }' "$mod_dir/go.mod")"
[[ -n "$version" ]] || { echo "[tools] cannot find $module in $mod_dir/go.mod" >&2; exit 1; }

tools_dir="${CD4ML_TOOLS_DIR:-$HOME/.cache/cd4ml-tools}"
dest="$tools_dir/argo-$version"
bins=(workflow-controller argo s3probe)

# s3probe is our code: its build is keyed by its sources (and go.sum), so a change to it rebuilds it
probe_key="$(cat "$mod_dir"/s3probe/*.go "$mod_dir/go.sum" | sha256sum | cut -c1-16)"
missing=()
for b in "${bins[@]}"; do [[ -x "$dest/bin/$b" ]] || missing+=("$b"); done
if [[ -x "$dest/bin/s3probe" && "$(cat "$dest/bin/s3probe.key" 2>/dev/null)" != "$probe_key" ]]; then missing+=(s3probe); fi
if [[ ${#missing[@]} == 0 ]]; then
  echo "[tools] argo $version present: $dest/bin (${bins[*]})" >&2
  echo "$dest/bin"
  exit 0
fi

command -v go >/dev/null || { echo "[tools] go is required (>= 1.25.7)" >&2; exit 1; }

mkdir -p "$tools_dir"
stage="$(mktemp -d "$tools_dir/.argo-build.XXXXXX")"
cleanup() { chmod -R u+w "$stage" 2>/dev/null || true; rm -rf "$stage"; }
trap cleanup EXIT

export GOWORK=off GOFLAGS="-mod=readonly -buildvcs=false" CGO_ENABLED=0

# 1. Fetch the module (verified against our go.sum / the checksum DB) and copy it.
dl_json="$(cd "$mod_dir" && go mod download -json "$module")"
json_field() { sed -n "s/^[[:space:]]*\"$1\": \"\(.*\)\",\{0,1\}\$/\1/p" <<<"$dl_json" | head -n1; }
src_dir="$(json_field Dir)"
[[ -d "$src_dir" ]] || { echo "[tools] go mod download $module gave no Dir" >&2; exit 1; }
cp -R "$src_dir" "$stage/src"
chmod -R u+w "$stage/src"
mkdir -p "$stage/src/ui/dist/app"
touch "$stage/src/ui/dist/app/index.html"

# 2. A scratch copy of our wrapper module, replacing the argo module with the patched copy.
mkdir -p "$stage/wrap"
cp "$mod_dir/go.mod" "$mod_dir/go.sum" "$stage/wrap/"
cp -R "$mod_dir/s3probe" "$stage/wrap/"
# A relative replace path keeps the random stage dir out of the binary's build info.
(cd "$stage/wrap" && go mod edit -replace "$module=../src")

# Reproducible metadata: the tag's commit time as recorded by the proxy (.info "Time").
# The proxy does not give the git commit, so `argo version` reports "v4.0.5+unknown";
# the default executor image tag (argo.ImageTag()) is still exactly $version.
build_date="$(cd "$mod_dir" && go list -m -json "$module" | sed -n 's/^[[:space:]]*"Time": "\(.*\)",$/\1/p' | head -n1)"
build_date="${build_date:-1970-01-01T00:00:00Z}"
ldflags="-s -w
  -X $module.version=$version
  -X $module.gitTag=$version
  -X $module.buildDate=$build_date
  -X $module.gitTreeState=clean"
ldflags="$(echo $ldflags)"

mkdir -p "$stage/bin"
for b in "${missing[@]}"; do
  echo "[tools] building $b $version ..." >&2
  start=$SECONDS
  pkg="$module/cmd/$b"
  [[ $b == s3probe ]] && pkg=./s3probe
  (cd "$stage/wrap" && go build -trimpath -ldflags "$ldflags" -o "$stage/bin/$b" "$pkg")
  echo "[tools] $b $version built in $((SECONDS - start))s ($(du -h "$stage/bin/$b" | cut -f1))" >&2
done
[[ ! -x "$stage/bin/argo" ]] || "$stage/bin/argo" version --short >/dev/null

mkdir -p "$dest/bin"
for b in "${missing[@]}"; do mv "$stage/bin/$b" "$dest/bin/$b"; done
[[ ! " ${missing[*]} " == *" s3probe "* ]] || echo "$probe_key" > "$dest/bin/s3probe.key"
echo "[tools] argo $version ready: $dest/bin (${bins[*]})" >&2
echo "$dest/bin"
