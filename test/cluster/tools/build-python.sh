#!/usr/bin/env bash
# Builds (or reuses) the pinned Python virtual environment for the real-servers test tier: the MLflow tracking
# server (incl. the basic-auth app) and client, psycopg2, boto3 and the examples/ requirements, all from PyPI.
#
#   test/cluster/tools/build-python.sh            # prints the venv directory on stdout, progress on stderr
#   "$(test/cluster/tools/build-python.sh)/bin/mlflow" server ...
#
# The venv lives at ${CD4ML_TOOLS_DIR:-$HOME/.cache/cd4ml-tools}/python-<hash of requirements.txt and interpreter>/ and is reused
# when present and complete, so a second run exits in well under a second. Every package, transitive ones included,
# is pinned in python/requirements.txt and installed with --no-deps (wheels only), so nothing is resolved at build time.
# Env: CD4ML_TOOLS_DIR (cache root), CD4ML_PYTHON (interpreter, default /usr/bin/python3 when it is >= 3.11, else python3).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
req="$here/python/requirements.txt"
# The tier runs pods as their own non-root uid, so the venv's interpreter must be readable by anyone: prefer the
# system's CPython (Debian's /usr/bin/python3) over one under a private home (pyenv under /root).
default_python=python3
if [[ -x /usr/bin/python3 ]] && /usr/bin/python3 -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  default_python=/usr/bin/python3
fi
python="${CD4ML_PYTHON:-$default_python}"
root="${CD4ML_TOOLS_DIR:-$HOME/.cache/cd4ml-tools}"

log() { echo "[tools] $*" >&2; }

[[ -f "$req" ]] || { log "missing $req"; exit 1; }
command -v "$python" >/dev/null || { log "no '$python' on PATH (set CD4ML_PYTHON)"; exit 1; }
"$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
  || { log "$("$python" -V 2>&1) is too old: need CPython >= 3.11 (pandas 3)"; exit 1; }

# keyed by the requirements and the interpreter they were installed for
hash="$("$python" -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read() + sys.executable.encode() + sys.version.encode()).hexdigest()[:16])' "$req")"
venv="$root/python-$hash"
mlflow_version="$(sed -n 's/^mlflow==//p' "$req")"
marker="$venv/.cd4ml-complete"

if [[ -f "$marker" && -x "$venv/bin/python" ]]; then
  log "python venv (mlflow $mlflow_version) reused: $venv"
  echo "$venv"
  exit 0
fi

mkdir -p "$root"
# Serialize concurrent builds of the same venv (parallel test workers); flock is util-linux, absent on macOS.
if command -v flock >/dev/null; then
  exec 9>"$venv.lock"
  flock 9
fi
if [[ -f "$marker" && -x "$venv/bin/python" ]]; then
  log "python venv (mlflow $mlflow_version) built concurrently, reused: $venv"
  echo "$venv"
  exit 0
fi

start=$SECONDS
# A venv is not relocatable, so it is built in place; an incomplete one (no marker) is discarded.
rm -rf "$venv"
log "building python venv (mlflow $mlflow_version) at $venv with $("$python" -V 2>&1)"
"$python" -m venv "$venv"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
"$venv/bin/python" -m pip install --quiet --no-deps --only-binary=:all: -r "$req"
"$venv/bin/python" -m pip check >&2
PYTHONWARNINGS=ignore "$venv/bin/python" -c 'import mlflow, mlflow.server.auth, psycopg2, boto3, sklearn, pandas'
touch "$marker"
log "python venv (mlflow $mlflow_version) built in $((SECONDS - start))s: $venv ($(du -sh "$venv" | cut -f1))"
echo "$venv"
