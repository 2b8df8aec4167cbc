#!/usr/bin/env bash
# Builds (or reuses) every tool of the real-servers tier, each pinned by its wrapper module or requirements file,
# into a cache outside the repository, keyed by version; then writes tools.json there for the tests.
#
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd, kwok   build-k8s.sh   (Go module proxy)
#   workflow-controller, argo                                                      build-argo.sh  (Go module proxy)
#   weed (SeaweedFS, the S3 server)                                                build-seaweedfs.sh (Go module proxy)
#   MLflow, scikit-learn, boto3, psycopg2 in a virtual environment                 build-python.sh (PyPI)
#   Postgres                                                                        Debian's package
#
# Cache: $CD4ML_TOOLS_DIR, by default /var/cache/cd4ml-tools as root (so the pods the tier runs as their own
# non-root uid can read the tools; /root is private) and ~/.cache/cd4ml-tools otherwise.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [[ -z "${CD4ML_TOOLS_DIR:-}" ]]; then
  if [[ $(id -u) == 0 ]]; then CD4ML_TOOLS_DIR=/var/cache/cd4ml-tools; else CD4ML_TOOLS_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/cd4ml-tools"; fi
fi
export CD4ML_TOOLS_DIR
mkdir -p "$CD4ML_TOOLS_DIR"
chmod 755 "$CD4ML_TOOLS_DIR"
log() { echo "[tools] $*" >&2; }
total=$SECONDS

# Go builds share the module and build caches; GOFLAGS from the caller would change what gets built.
unset GOFLAGS
export GOTOOLCHAIN=local

step() {
  local name="$1"; shift
  local t=$SECONDS
  log "$name: start"
  "$@"
  log "$name: ready in $((SECONDS - t))s"
}

# Postgres from Debian (initdb, postgres, pg_ctl, psql).
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
if [[ -z "$(pg_bin)" || ! -x "$(pg_bin)/initdb" ]]; then
  step postgres bash -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null'
fi
for t in openssl unshare setpriv runuser; do command -v "$t" >/dev/null || { log "missing $t (util-linux, openssl)"; exit 1; }; done

kube=""; argo=""; weed=""; py=""
k() { kube="$("$here/build-k8s.sh")"; }
a() { argo="$("$here/build-argo.sh")"; }
w() { weed="$("$here/build-seaweedfs.sh")"; }
p() { py="$("$here/build-python.sh")"; }
step "kubernetes control plane" k
step "argo workflows" a
step "seaweedfs" w
step "python (mlflow)" p

cat > "$CD4ML_TOOLS_DIR/tools.json" <<JSON
{"kube": "$kube", "argo": "$argo", "seaweedfs": "$weed", "python": "$py", "postgres": "$(pg_bin)"}
JSON
log "all tools ready in $((SECONDS - total))s: $CD4ML_TOOLS_DIR/tools.json"
