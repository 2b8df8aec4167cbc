#!/usr/bin/env bash
# End to end on a real cluster: k3d (k3s enforces NetworkPolicies), `pulumi up --stack sandbox`, smoke checks,
# then `pulumi destroy` keeping the protected stores. Needs: docker, k3d, kubectl, pulumi, node, python3 (with venv).
# Used by .github/workflows/e2e.yml and docs/e2e.md. Run from the repository root.
set -euo pipefail

CLUSTER=${CLUSTER:-cd4ml}
export PULUMI_CONFIG_PASSPHRASE=${PULUMI_CONFIG_PASSPHRASE:-e2e-only}
export PULUMI_BACKEND_URL=${PULUMI_BACKEND_URL:-file://$PWD/.pulumi-state}
mkdir -p .pulumi-state
step() { printf '\n=== %s\n' "$*"; }
pf_pids=()
cleanup() { for p in "${pf_pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
port_forward() { kubectl -n "$1" port-forward "svc/$2" "$3" >/dev/null 2>&1 & pf_pids+=($!); sleep 3; }
# wait_workflow NAMESPACE NAME MINUTES: polls the phase, so a failed run stops the script at once instead of a wait for
# Succeeded; prints the run's end on failure
wait_workflow() {
  local phase="" i
  for ((i = 0; i < $3 * 12; i++)); do
    phase=$(kubectl -n "$1" get workflow "$2" -o jsonpath='{.status.phase}' 2>/dev/null || true)
    case "$phase" in Succeeded|Failed|Error) break ;; esac
    sleep 5
  done
  if [ "$phase" != Succeeded ]; then
    echo "workflow $1/$2: ${phase:-no phase after $3 minutes}" >&2
    kubectl -n "$1" get workflow "$2" -o yaml | tail -80
    exit 1
  fi
}

step "cluster"
npm ci --no-audit --no-fund
npm run synth          # also writes dist/k3d/cd4ml.yaml: the sandbox's cluster, registry and storage folder
k3d cluster list "$CLUSTER" >/dev/null 2>&1 || k3d cluster create "$CLUSTER" --config dist/k3d/cd4ml.yaml
kubectl cluster-info

step "build"
npm run build
# into the registry beside the cluster: the nodes pull it from there, and the delivery's build adds a commit's code to it
docker build -t localhost:5000/cd4ml-examples:0.1.0 examples/
docker push localhost:5000/cd4ml-examples:0.1.0
export CD4ML_EXAMPLES_IMAGE=k3d-registry.localhost:5000/cd4ml-examples:0.1.0

step "pulumi up --stack sandbox"
pulumi stack select sandbox 2>/dev/null || pulumi stack init sandbox
pulumi up --stack sandbox --yes --skip-preview
pulumi stack output --stack sandbox --json

step "the platform comes up"
kubectl -n cd4ml wait --for=condition=complete job -l app.kubernetes.io/part-of=cd4ml --timeout=10m
for r in statefulset/seaweedfs statefulset/postgres deployment/mlflow; do kubectl -n cd4ml rollout status "$r" --timeout=10m; done
for r in deployment/workflow-controller deployment/argo-server; do kubectl -n argo rollout status "$r" --timeout=10m; done
# each pipeline domain's own controller (dev, staging and prod share the cluster, each in its namespace)
for d in dev staging prod; do kubectl -n argo rollout status "deployment/workflow-controller-$d" --timeout=10m; done

step "MLflow answers and logs a run"
port_forward cd4ml mlflow 5050:5000
curl -sf http://localhost:5050/health
# basic-auth: anonymous API calls are refused; the admin signs in with its generated password
test "$(curl -s -o /dev/null -w '%{http_code}' http://localhost:5050/api/2.0/mlflow/experiments/search?max_results=1)" = 401
# the password goes to curl in a netrc file, not in its arguments (which `ps` shows)
netrc=$(mktemp); chmod 600 "$netrc"
printf 'machine localhost login admin password %s\n' "$(kubectl -n cd4ml get secret mlflow-admin -o jsonpath='{.data.MLFLOW_TRACKING_PASSWORD}' | base64 -d)" > "$netrc"
curl() { command curl --netrc-file "$netrc" "$@"; }
run_id=$(curl -sf -X POST http://localhost:5050/api/2.0/mlflow/runs/create -H 'Content-Type: application/json' \
  -d '{"experiment_id":"0","run_name":"e2e-smoke"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["run"]["info"]["run_id"])')
curl -sf -X POST http://localhost:5050/api/2.0/mlflow/runs/log-metric -H 'Content-Type: application/json' \
  -d "{\"run_id\":\"$run_id\",\"key\":\"foo\",\"value\":1,\"timestamp\":$(date +%s000)}"
curl -sf "http://localhost:5050/api/2.0/mlflow/runs/get?run_id=$run_id" | grep -q '"key": *"foo"'
echo "logged run $run_id"

step "the buckets exist"
# a virtual environment of its own: modern distributions refuse pip outside one (PEP 668)
venv=$(mktemp -d)
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet boto3==1.44.5   # the version the example image pins (examples/requirements.txt)
port_forward cd4ml seaweedfs 8333:8333
export AWS_ACCESS_KEY_ID=$(kubectl -n cd4ml get secret seaweedfs-admin -o jsonpath='{.data.AWS_ACCESS_KEY_ID}' | base64 -d)
export AWS_SECRET_ACCESS_KEY=$(kubectl -n cd4ml get secret seaweedfs-admin -o jsonpath='{.data.AWS_SECRET_ACCESS_KEY}' | base64 -d)
"$venv/bin/python" - <<'PY'
import boto3
names = {b["Name"] for b in boto3.client("s3", endpoint_url="http://localhost:8333", region_name="us-east-1").list_buckets()["Buckets"]}
missing = {"mlflow-artifacts", "argo-artifacts", "data"} - names
assert not missing, f"missing buckets: {missing}"
print("buckets:", sorted(names))
PY

step "the seed pipeline runs to a deployed model"
wf=$(kubectl -n ml-pipelines create -o jsonpath='{.metadata.name}' -f - <<'YAML'
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: breast-cancer-e2e-
spec:
  workflowTemplateRef:
    name: breast-cancer
YAML
)
echo "submitted $wf"
wait_workflow ml-pipelines "$wf" 30
curl -sf "http://localhost:5050/api/2.0/mlflow/registered-models/alias?name=sklearn-random-forest&alias=champion" | grep -q '"version"'
echo "sklearn-random-forest@champion is deployed"

step "a push to main is delivered: tested, built, registered, run, gated, promoted and served"
# the webhook clients Secret (the shared secret never on a command line), then the push GitHub would send for this
# commit, which the cluster clones from GitHub (the repository is public: no gitCredentials)
export CD4ML_WEBHOOK_SECRET=$(openssl rand -hex 32)
secret_file=$(mktemp); chmod 600 "$secret_file"
printf 'type: github\nsecret: %s\n' "$CD4ML_WEBHOOK_SECRET" > "$secret_file"
kubectl -n cd4ml-ci create secret generic argo-workflows-webhook-clients --from-file=github.com="$secret_file"
rm -f "$secret_file"
kubectl -n cd4ml-ci rollout status deployment/workflow-controller --timeout=5m
port_forward argo argo-server 2746:2746
revision=$(git rev-parse HEAD)
ARGO_SERVER=localhost:2746 ARGO_SECURE=true ARGO_INSECURE_SKIP_VERIFY=true npx cd4ml ci trigger \
  --ref refs/heads/main --revision "$revision" --repository "https://github.com/${GITHUB_REPOSITORY:-example-org/cd4ml}.git"
delivery="cd4ml-delivery-staging-$revision"
wait_workflow cd4ml-ci "$delivery" 40
endpoint=$(kubectl -n cd4ml-ci get workflow "$delivery" -o jsonpath='{.status.outputs.parameters[0].value}')
test "$endpoint" = "http://breast-cancer-staging.cd4ml.svc.cluster.local:8080"
version=$(kubectl -n cd4ml get deployment breast-cancer-staging -o jsonpath='{.spec.template.spec.containers[0].env[0].value}')
curl -sf "http://localhost:5050/api/2.0/mlflow/registered-models/alias?name=sklearn-random-forest&alias=champion-staging" | grep -q "\"version\": *\"$version\""
port_forward cd4ml breast-cancer-staging 8080:8080
curl -sf http://localhost:8080/ping
# the version ran in the staging domain, by its controller, and nothing of it in the other domains
kubectl -n ml-staging get workflowtemplate "breast-cancer-${revision:0:12}"
kubectl -n ml-staging get workflows -l "cd4ml.io/revision=$revision" -o jsonpath='{.items[0].status.phase}' | grep -qx Succeeded
test -z "$(kubectl -n ml-dev get workflows -l "cd4ml.io/revision=$revision" -o name)"
echo "$delivery served version $version at $endpoint"

step "pulumi destroy keeps the protected stores"
pulumi destroy --stack sandbox --yes --skip-preview --exclude-protected
kubectl get namespace cd4ml
kubectl -n cd4ml get statefulset seaweedfs postgres
kubectl -n cd4ml get pvc data-seaweedfs-0 data-postgres-0
echo "the stores, their namespace and their volumes survived"

step "teardown on purpose"
pulumi state unprotect --stack sandbox --all --yes
pulumi destroy --stack sandbox --yes --skip-preview
# retainOnDelete left the stores in the cluster: deleting their namespace deletes them and their claims; the
# cd4ml-retain StorageClass keeps the volumes (Released, with the data), which a throwaway cluster deletes too.
kubectl delete namespace cd4ml --wait=true --timeout=5m
kubectl get pv -o jsonpath='{range .items[?(@.spec.storageClassName=="cd4ml-retain")]}{.metadata.name}{"\n"}{end}' | xargs -r kubectl delete pv
echo "e2e passed"
