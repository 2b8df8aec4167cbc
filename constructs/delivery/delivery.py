"""The delivery's Kubernetes steps, against the API server with the pod's own service-account token (standard library
only, so it runs in any Python image).

  build     (kaniko) create the build Job for the commit in the build namespace, wait, and write the digest kaniko
            left in its termination message.
  register  create the pipeline's WorkflowTemplate for this commit in the environment's namespace. A version is never
            changed in place: when the name exists with the same spec it is reused (a retried step), with another
            spec the step fails.
  run       run that template in the environment's namespace, wait for the result, and write the model version the
            candidate step registered (its output parameter) to --output.
  deploy    roll the environment's model endpoint to an exact version (the one env value it serves, see
            ModelEndpoint), wait for the rollout, send the model's input example to /invocations and check the answer.
            When the rollout or the smoke test fails, roll the endpoint back to the version it served and move the
            alias back (promote.py rollback), then fail.

Every wait is bounded (--timeout). Nothing secret is printed: the token is read from the file the kubelet mounts, and
MLflow's credentials from MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, as promote.py reads them.
"""

import argparse
import hashlib
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import promote

SERVICE_ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
WF = "/apis/argoproj.io/v1alpha1"
VERSION_ENV = "CD4ML_MODEL_VERSION"
CONTAINER = "model"


class KubeError(Exception):
    """An answer from the API server other than success."""

    def __init__(self, status, reason, message):
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason


def kube(method, path, body=None, content_type="application/json"):
    """One call to the API server as the pod's service account; the parsed JSON answer."""
    host, port = os.environ["KUBERNETES_SERVICE_HOST"], os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if ":" in host:
        host = f"[{host}]"
    with open(os.path.join(SERVICE_ACCOUNT, "token")) as f:
        token = f.read().strip()
    context = ssl.create_default_context(cafile=os.path.join(SERVICE_ACCOUNT, "ca.crt"))
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"https://{host}:{port}{path}", data=data, method=method,
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": content_type, "Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30, context=context) as res:
            return json.loads(res.read().decode() or "{}")
    except urllib.error.HTTPError as e:
        try:
            detail = json.loads(e.read().decode())
        except ValueError:
            detail = {}
        raise KubeError(e.code, detail.get("reason", e.reason), detail.get("message", "")) from None


def write(path, value):
    """Writes an output (an Argo output parameter's file); its directory may not exist yet."""
    if path:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "w") as f:
            f.write(value)


def log(message):
    print(message, flush=True)


def create_or_adopt(step, path, obj, what):
    """Creates the object, or finds it there from an earlier attempt of the same step (its name is derived from the run):
    a retried step takes up what the first attempt made instead of making another. Returns whether it was created."""
    name = obj["metadata"]["name"]
    try:
        kube("POST", path, obj)
        log(f"{step}: created {what} {obj['metadata']['namespace']}/{name}")
        return True
    except KubeError as e:
        if e.status != 409:
            raise
        log(f"{step}: {what} {obj['metadata']['namespace']}/{name} exists (a retried step)")
        return False


def deadline_passed(deadline, what):
    if time.monotonic() > deadline:
        raise TimeoutError(what)


# --- build (kaniko, in the build namespace) --------------------------------------------------------------------------

DIGEST_CHARS = set("0123456789abcdef")


def build(args):
    """Create the build Job for the commit from the rendered manifest, wait for it, and read the digest kaniko wrote to
    its termination message."""
    if not args.ref.startswith(("refs/heads/", "refs/tags/")):
        log(f"build: ref {args.ref!r} is not a branch or tag ref; kaniko fetches the commit through its ref. Fix: submit with the ref pushed")
        return 1
    url = urllib.parse.urlparse(args.repository)
    if url.scheme != "https" or "@" in url.netloc or not url.path.strip("/"):
        log("build: the repository is not an https:// clone URL without credentials. Fix: give the URL the Git host sends")
        return 1
    with open(args.manifest) as f:
        job = json.load(f)
    # one Job per delivery run (a retried step finds its own; a new delivery of the commit, after a failed build, makes
    # a new one: the build account may not delete the old)
    name = f"build-{args.revision[:12]}-{hashlib.sha256((args.delivery + ' ' + args.destination).encode()).hexdigest()[:6]}"
    job["metadata"]["name"] = name
    job["metadata"]["namespace"] = args.namespace
    values = {"CD4ML_REVISION": args.revision, "CD4ML_REF": args.ref, "CD4ML_REPOSITORY_HOST_PATH": url.netloc + url.path,
              "CD4ML_DESTINATION": args.destination}
    container = job["spec"]["template"]["spec"]["containers"][0]
    for e in container.get("env") or []:
        if e["name"] in values:
            e["value"] = values[e["name"]]
    path = f"/apis/batch/v1/namespaces/{args.namespace}/jobs"
    create_or_adopt("build", path, job, "Job")
    deadline = time.monotonic() + args.timeout
    while True:
        status = kube("GET", f"{path}/{name}").get("status") or {}
        if status.get("succeeded"):
            break
        if status.get("failed") or any(c.get("type") == "Failed" and c.get("status") == "True" for c in status.get("conditions") or []):
            log(f"build: Job {args.namespace}/{name} failed: kubectl -n {args.namespace} logs job/{name} says why")
            return 1
        deadline_passed(deadline, f"Job {args.namespace}/{name} did not finish in {args.timeout} s")
        time.sleep(args.interval)
    selector = urllib.parse.quote(f"batch.kubernetes.io/job-name={name}")
    for pod in kube("GET", f"/api/v1/namespaces/{args.namespace}/pods?labelSelector={selector}").get("items") or []:
        for c in (pod.get("status") or {}).get("containerStatuses") or []:
            message = ((c.get("state") or {}).get("terminated") or {}).get("message", "").strip()
            if message.startswith("sha256:") and len(message) == 71 and set(message[7:]) <= DIGEST_CHARS:
                log(f"build: pushed {args.destination}@{message}")
                write(args.output, message)
                return 0
    log(f"build: Job {args.namespace}/{name} succeeded but left no digest in its termination message")
    return 1


# --- register ---------------------------------------------------------------------------------------------------------

def register(args):
    with open(args.template) as f:
        template = json.load(f)
    name = template["metadata"]["name"]
    namespace = template["metadata"].get("namespace") or args.namespace
    if namespace != args.namespace:
        log(f"register: the template names namespace {namespace!r}, not the environment's {args.namespace!r}")
        return 1
    template["metadata"]["namespace"] = namespace
    path = f"{WF}/namespaces/{namespace}/workflowtemplates"
    if not create_or_adopt("register", path, template, "WorkflowTemplate"):
        # the same spec is a retried step's (or the same commit again); another spec is never written over
        if kube("GET", f"{path}/{name}").get("spec") != template.get("spec"):
            log(f"register: WorkflowTemplate {namespace}/{name} has another spec; a registered version is never "
                "changed in place. Fix: deliver a new commit (its template gets a new name), or delete the old one "
                "if it was never run")
            return 1
        log(f"register: WorkflowTemplate {namespace}/{name} has this spec: reused")
    write(args.output, name)
    return 0


# --- run --------------------------------------------------------------------------------------------------------------

def run_name(template, delivery):
    """The run's name: the template's (pipeline and commit) and a hash of the delivery run, so a retried step finds the
    run it started instead of starting another."""
    suffix = hashlib.sha256(delivery.encode()).hexdigest()[:6]
    return f"{template[:63 - 7].rstrip('-')}-{suffix}"


def candidate_version(workflow, step, output):
    """The value the step's node wrote for the output (the last such node, after retries)."""
    values = []
    for node in (workflow.get("status", {}).get("nodes") or {}).values():
        if node.get("displayName") != step or node.get("phase") != "Succeeded":
            continue
        for p in (node.get("outputs") or {}).get("parameters") or []:
            if p.get("name") == output and p.get("value") not in (None, ""):
                values.append((node.get("finishedAt") or "", p["value"]))
    return sorted(values)[-1][1] if values else None


def run(args):
    name = run_name(args.template, args.delivery)
    path = f"{WF}/namespaces/{args.namespace}/workflows"
    workflow = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {
            "name": name,
            "namespace": args.namespace,
            # label values hold at most 63 characters (a SHA-256 commit has 64)
            "labels": {k: str(v)[:63] for k, v in {**json.loads(args.labels), "cd4ml.io/delivery": args.delivery[:63].rstrip("-")}.items()},
        },
        "spec": {"workflowTemplateRef": {"name": args.template}},
    }
    create_or_adopt("run", path, workflow, "Workflow")
    deadline = time.monotonic() + args.timeout
    phase = ""
    while True:
        current = kube("GET", f"{path}/{name}")
        status = current.get("status") or {}
        if status.get("phase") != phase:
            phase = status.get("phase") or ""
            log(f"run: {name} is {phase or 'pending'}")
        if phase == "Succeeded":
            break
        if phase in ("Failed", "Error"):
            log(f"run: {name} ended {phase}: {status.get('message', '')}")
            return 1
        deadline_passed(deadline, f"Workflow {args.namespace}/{name} did not finish in {args.timeout} s")
        time.sleep(args.interval)
    version = candidate_version(current, args.step, args.candidate_output)
    if not version or not version.isdigit():
        log(f"run: step {args.step!r} of {name} wrote no model version in its output {args.candidate_output!r} "
            f"(got {version!r}). Fix: name the step that registers the model and its output in the delivery's candidate")
        return 1
    log(f"run: {name} registered version {version}")
    write(args.output, version)
    write(args.run_output, name)
    return 0


# --- deploy -----------------------------------------------------------------------------------------------------------

def served_version(deployment):
    for c in deployment["spec"]["template"]["spec"]["containers"]:
        if c["name"] == CONTAINER:
            for e in c.get("env") or []:
                if e["name"] == VERSION_ENV:
                    return e.get("value")
    raise ValueError(f"the Deployment has no container {CONTAINER!r} with {VERSION_ENV}: it is not a ModelEndpoint")


def set_version(path, version):
    patch = {"spec": {"template": {"spec": {"containers": [{"name": CONTAINER, "env": [{"name": VERSION_ENV, "value": version}]}]}}}}
    return kube("PATCH", path, patch, "application/strategic-merge-patch+json")


def rolled_out(d):
    """True once the Deployment's controller has seen the change and every replica is new and available."""
    want = d["spec"].get("replicas", 1)
    s = d.get("status") or {}
    return (s.get("observedGeneration", 0) >= d["metadata"]["generation"] and s.get("updatedReplicas", 0) == want
            and s.get("replicas", 0) == want and s.get("availableReplicas", 0) == want and not s.get("unavailableReplicas"))


def wait_rollout(path, timeout, interval):
    deadline = time.monotonic() + timeout
    while True:
        d = kube("GET", path)
        status = d.get("status") or {}
        # a condition speaks of the spec the controller saw: only once it saw this one (a rollback follows a rollout
        # whose deadline passed, and its condition stays until the controller looks again)
        observed = status.get("observedGeneration", 0) >= d["metadata"]["generation"]
        for c in status.get("conditions") or [] if observed else []:
            if c.get("type") == "Progressing" and c.get("reason") == "ProgressDeadlineExceeded":
                raise TimeoutError(f"the rollout exceeded its progress deadline: {c.get('message', '')}")
        if rolled_out(d):
            return
        deadline_passed(deadline, f"the rollout did not finish in {timeout} s")
        time.sleep(interval)


def input_example(model, version):
    """The model's serving input example, as MLflow saved it beside the model (serving_input_example.json), through the
    tracking server's artifact proxy."""
    uri = promote.call("GET", "model-versions/get-download-uri", {"name": model, "version": version})["artifact_uri"]
    parsed = urllib.parse.urlparse(uri)
    if parsed.scheme != "mlflow-artifacts":
        raise ValueError(f"the model's artifacts are at a {parsed.scheme}: URI, not behind MLflow's artifact proxy; give --input")
    base = os.environ["MLFLOW_TRACKING_URI"].rstrip("/")
    url = f"{base}/api/2.0/mlflow-artifacts/artifacts{parsed.path.rstrip('/')}/serving_input_example.json"
    req = urllib.request.Request(url)
    user, password = os.environ.get("MLFLOW_TRACKING_USERNAME"), os.environ.get("MLFLOW_TRACKING_PASSWORD")
    if user and password:
        req.add_header("Authorization", "Basic " + __import__("base64").b64encode(f"{user}:{password}".encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            return res.read()
    except urllib.error.HTTPError as e:
        raise ValueError(f"the model version has no serving input example ({e.code}): log the model with input_example, or give --input") from None


def smoke_test(url, body, timeout):
    """POST the example to /invocations; the answer must be 200 with a non-empty `predictions`."""
    req = urllib.request.Request(f"{url.rstrip('/')}/invocations", data=body, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as res:
            answer = json.loads(res.read().decode())
    except urllib.error.HTTPError as e:
        raise ValueError(f"/invocations answered {e.code}: {e.read().decode(errors='replace')[:300]}") from None
    except (urllib.error.URLError, OSError) as e:
        raise ValueError(f"/invocations did not answer: {e}") from None
    predictions = answer.get("predictions") if isinstance(answer, dict) else None
    if not isinstance(predictions, (list, dict)) or len(predictions) == 0:
        raise ValueError(f"/invocations answered without predictions: {json.dumps(answer)[:300]}")
    return predictions


def deploy(args):
    path = f"/apis/apps/v1/namespaces/{args.namespace}/deployments/{args.deployment}"
    previous = served_version(kube("GET", path))
    log(f"deploy: {args.namespace}/{args.deployment} serves {args.model} version {previous}; rolling to {args.version}")
    try:
        if previous != args.version:
            set_version(path, args.version)
        wait_rollout(path, args.timeout, args.interval)
        if args.input:
            with open(args.input, "rb") as f:
                body = f.read()
        else:
            body = input_example(args.model, args.version)
        predictions = smoke_test(args.url, body, 30)
        log(f"deploy: {args.url} serves version {args.version}: {json.dumps(predictions)[:200]}")
    # (OSError: the network's own failures, urllib's URLError among them, are as much a failed deploy as a bad answer)
    except (KubeError, TimeoutError, ValueError, promote.MlflowError, OSError) as e:
        reason = f"deploying version {args.version} failed: {e}"
        log(f"deploy: {reason}; rolling back")
        code = 1
        try:
            if previous != args.version:
                set_version(path, previous)
                wait_rollout(path, args.timeout, args.interval)
                log(f"deploy: the endpoint serves version {previous} again")
        except (KubeError, TimeoutError, OSError) as back:
            log(f"deploy: rolling the endpoint back to version {previous} failed too: {back}")
            code = 2
        rolled = promote.main(["rollback", "--model", args.model, "--version", args.version, "--alias", args.alias, "--reason", reason])
        return code if rolled == 0 else 2
    write(args.output, args.url)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="delivery.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("register")
    r.add_argument("--template", required=True, help="the WorkflowTemplate, as JSON")
    r.add_argument("--namespace", required=True)
    r.add_argument("--output")
    u = sub.add_parser("run")
    u.add_argument("--template", required=True)
    u.add_argument("--namespace", required=True)
    u.add_argument("--delivery", required=True, help="the delivery run's name")
    u.add_argument("--labels", default="{}", help="labels of the run, as a JSON object")
    u.add_argument("--step", required=True, help="the step that registers the model")
    u.add_argument("--candidate-output", default="model_version")
    u.add_argument("--output", help="where to write the registered version")
    u.add_argument("--run-output", help="where to write the run's name")
    u.add_argument("--timeout", type=float, default=7200)
    u.add_argument("--interval", type=float, default=5)
    b = sub.add_parser("build")
    b.add_argument("--namespace", required=True)
    b.add_argument("--manifest", required=True, help="the build Job, as JSON")
    b.add_argument("--revision", required=True)
    b.add_argument("--repository", required=True)
    b.add_argument("--ref", default="")
    b.add_argument("--destination", required=True)
    b.add_argument("--delivery", default="", help="the delivery run's name")
    b.add_argument("--output")
    b.add_argument("--timeout", type=float, default=3600)
    b.add_argument("--interval", type=float, default=5)
    d = sub.add_parser("deploy")
    d.add_argument("--namespace", required=True)
    d.add_argument("--deployment", required=True)
    d.add_argument("--model", required=True)
    d.add_argument("--version", required=True)
    d.add_argument("--alias", default="champion")
    d.add_argument("--url", required=True, help="the endpoint's URL")
    d.add_argument("--input", help="the smoke test's request body (JSON); default: the model's serving input example")
    d.add_argument("--output")
    d.add_argument("--timeout", type=float, default=600)
    d.add_argument("--interval", type=float, default=5)
    args = parser.parse_args(argv)
    if getattr(args, "version", None) is not None and not args.version.isdigit():
        parser.error(f"--version {args.version!r} is not a version number: give the exact version, never an alias")
    revision = getattr(args, "revision", None)
    if revision is not None and (len(revision) not in (40, 64) or set(revision) - set("0123456789abcdef")):
        parser.error(f"--revision {revision!r} is not a full commit name: give the 40 (or 64) hex characters of the commit")
    try:
        return {"build": build, "register": register, "run": run, "deploy": deploy}[args.command](args)
    except KubeError as e:
        log(f"delivery.py {args.command}: the API server answered {e}")
        return 1
    except (TimeoutError, ValueError, OSError) as e:
        log(f"delivery.py {args.command}: {e}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
