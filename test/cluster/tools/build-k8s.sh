#!/usr/bin/env bash
# Builds a pinned local Kubernetes control plane from the Go module proxy:
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl (k8s.io/kubernetes)
#   etcd (go.etcd.io/etcd/server/v3), kwok (sigs.k8s.io/kwok/cmd/kwok)
#
# Versions are pinned only by the wrapper modules' go.mod/go.sum:
#   test/cluster/tools/k8s/go.mod       (Kubernetes + staging replaces)
#   test/cluster/tools/k8s/etcd/go.mod  (etcd server)
#   test/cluster/tools/k8s/kwok/go.mod  (kwok)
#
# Output: ${CD4ML_TOOLS_DIR:-$HOME/.cache/cd4ml-tools}/k8s-<k8s version>/bin/
#         .../k8s-<k8s version>/kwok/stages.yaml  (kwok's upstream "fast" node/pod
#         Stages; the kwok binary refuses to start without stages: pass --config)
# Binaries already built from the same pins are reused (fast exit).
# Progress goes to stderr; the bin dir is printed on stdout, so
#   BIN=$(test/cluster/tools/build-k8s.sh)
# works. Set CD4ML_TOOLS_REBUILD=1 to force a rebuild.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
K8S_MOD="$SCRIPT_DIR/k8s"
ETCD_MOD="$K8S_MOD/etcd"
KWOK_MOD="$K8S_MOD/kwok"

# Bump when build flags change so cached binaries are rebuilt.
BUILD_REV=2

log() { echo "[tools] $*" >&2; }

# Version of module $2 as pinned in go.mod $1 (no network, no module loading).
modver() {
  awk -v m="$2" '{ for (i = 1; i < NF; i++) if ($i == m && $(i+1) ~ /^v[0-9]/) { print $(i+1); exit } }' "$1"
}

K8S_VERSION="$(modver "$K8S_MOD/go.mod" k8s.io/kubernetes)"
ETCD_VERSION="$(modver "$ETCD_MOD/go.mod" go.etcd.io/etcd/server/v3)"
KWOK_VERSION="$(modver "$KWOK_MOD/go.mod" sigs.k8s.io/kwok)"
for v in K8S_VERSION ETCD_VERSION KWOK_VERSION; do
  [[ -n "${!v}" ]] || { log "cannot read $v from go.mod"; exit 1; }
done

ROOT="${CD4ML_TOOLS_DIR:-$HOME/.cache/cd4ml-tools}/k8s-$K8S_VERSION"
BIN_DIR="$ROOT/bin"
KWOK_STAGES="$ROOT/kwok/stages.yaml"
mkdir -p "$BIN_DIR"

# Serialize concurrent invocations (parallel test workers) on the same cache dir.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$ROOT/.lock"
  flock 9
fi

sum_of() { cat "$1/go.mod" "$1/go.sum" | sha256sum | cut -c1-16; }  # content only: a clone elsewhere reuses the build
K8S_SUM="$(sum_of "$K8S_MOD")"
ETCD_SUM="$(sum_of "$ETCD_MOD")"
KWOK_SUM="$(sum_of "$KWOK_MOD")"

# name|module dir|package|version|pin hash
TARGETS=(
  "etcd|$ETCD_MOD|go.etcd.io/etcd/server/v3|$ETCD_VERSION|$ETCD_SUM"
  "kube-apiserver|$K8S_MOD|k8s.io/kubernetes/cmd/kube-apiserver|$K8S_VERSION|$K8S_SUM"
  "kube-controller-manager|$K8S_MOD|k8s.io/kubernetes/cmd/kube-controller-manager|$K8S_VERSION|$K8S_SUM"
  "kube-scheduler|$K8S_MOD|k8s.io/kubernetes/cmd/kube-scheduler|$K8S_VERSION|$K8S_SUM"
  "kubectl|$K8S_MOD|k8s.io/kubernetes/cmd/kubectl|$K8S_VERSION|$K8S_SUM"
  "kwok|$KWOK_MOD|sigs.k8s.io/kwok/cmd/kwok|$KWOK_VERSION|$KWOK_SUM"
)

stamp_file() { echo "$BIN_DIR/.$1.stamp"; }
stamp_of() { echo "$3@$4 pins=$5 rev=$BUILD_REV"; }

is_fresh() {
  local name="$1" stamp="$2"
  [[ "${CD4ML_TOOLS_REBUILD:-0}" != 1 && -x "$BIN_DIR/$name" && -f "$(stamp_file "$name")" &&
     "$(cat "$(stamp_file "$name")")" == "$stamp" ]]
}

# Fast path: everything present and built from the current pins.
todo=()
for t in "${TARGETS[@]}"; do
  IFS='|' read -r name dir pkg ver sum <<<"$t"
  if is_fresh "$name" "$(stamp_of "$name" "$dir" "$pkg" "$ver" "$sum")"; then
    continue
  fi
  todo+=("$t")
done
if [[ ${#todo[@]} -eq 0 && -s "$KWOK_STAGES" ]]; then
  log "all binaries up to date in $BIN_DIR"
  echo "$BIN_DIR"
  exit 0
fi

command -v go >/dev/null || { log "go not found in PATH"; exit 1; }

# Reproducible metadata for the Kubernetes version packages (same variables
# as upstream hack/lib/version.sh). buildDate = the tag's commit time from the
# module proxy, not "now".
k8s_ldflags() {
  local minor major build_date
  major="$(cut -d. -f1 <<<"${K8S_VERSION#v}")"
  minor="$(cut -d. -f2 <<<"$K8S_VERSION")"
  build_date="$(cd "$K8S_MOD" && go list -mod=readonly -m -f '{{if .Time}}{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}' k8s.io/kubernetes)"
  local -a kv=(
    "gitVersion=$K8S_VERSION"
    "gitCommit="            # not known from the module proxy; default is "$Format:%H$"
    "gitMajor=$major"
    "gitMinor=$minor"
    "gitTreeState=clean"
    "buildDate=${build_date:-1970-01-01T00:00:00Z}"
  )
  local flags="-s -w" pair
  for pair in "${kv[@]}"; do
    flags+=" -X k8s.io/component-base/version.$pair -X k8s.io/client-go/pkg/version.$pair"
  done
  echo "$flags"
}

tmp=""
trap '[[ -n "$tmp" ]] && rm -f "$tmp"' EXIT
export CGO_ENABLED=0
for t in "${todo[@]}"; do
  IFS='|' read -r name dir pkg ver sum <<<"$t"
  case "$name" in
    kube-*|kubectl)
      ldflags="$(k8s_ldflags)"
      tags="selinux,notest,grpcnotrace" ;;   # upstream non-debug build tags
    *)
      ldflags="-s -w"
      tags="" ;;
  esac
  log "building $name $ver ..."
  start=$SECONDS
  tmp="$BIN_DIR/.$name.tmp.$$"
  (cd "$dir" && go build -mod=readonly -buildvcs=false -trimpath -tags="$tags" \
      -ldflags "$ldflags" -o "$tmp" "$pkg")
  mv -f "$tmp" "$BIN_DIR/$name"
  tmp=""
  stamp_of "$name" "$dir" "$pkg" "$ver" "$sum" >"$(stamp_file "$name")"
  log "$name $ver built in $((SECONDS - start))s"
done

# kwok needs Stage objects (kwokctl normally supplies them): node init +
# lease heartbeat, pod ready/complete/delete, taken from the pinned kwok module.
if [[ ! -s "$KWOK_STAGES" || "$KWOK_STAGES" -ot "$BIN_DIR/kwok" ]]; then
  kwok_dir="$(cd "$KWOK_MOD" && go list -mod=readonly -m -f '{{.Dir}}' sigs.k8s.io/kwok)"
  mkdir -p "$(dirname "$KWOK_STAGES")"
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
           pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    echo "---"
    cat "$kwok_dir/kustomize/stage/$f"
  done >"$KWOK_STAGES.tmp"
  mv -f "$KWOK_STAGES.tmp" "$KWOK_STAGES"
  log "kwok stages written to $KWOK_STAGES"
fi

log "binaries in $BIN_DIR ($(du -sh "$BIN_DIR" | cut -f1))"
echo "$BIN_DIR"
