"""The delivery's registry steps, against MLflow's REST API (standard library only, so it runs in any Python image).

  gate      is the candidate good enough? Its run's metric against a floor and against the environment's current
            champion (a minimum improvement); exit 0 to go on, 3 to stop the delivery (the decision is printed either
            way, as JSON on stdout and in --output).
  promote   move the champion alias to the candidate, after tagging it with the commit, the image, the time and the
            version it replaces (`cd4ml.previous_champion`), so a rollback knows where to go back to.
  rollback  move the alias back to the version the candidate replaced (or remove it when there was none), and tag
            the candidate `cd4ml.rolled_back_at` with the reason.

MLflow 3 aliases, not stages (deprecated since MLflow 2.9). The endpoints are MLflow's model registry service
(mlflow/protos/model_registry.proto): GET /api/2.0/mlflow/model-versions/get, GET|POST|DELETE
/api/2.0/mlflow/registered-models/alias, POST /api/2.0/mlflow/model-versions/set-tag, and GET
/api/2.0/mlflow/runs/get for the candidate's metric. Credentials come from MLFLOW_TRACKING_USERNAME and
MLFLOW_TRACKING_PASSWORD, as the MLflow client reads them; they are never printed.
"""

import argparse
import base64
import datetime
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

REFUSED = 3


class MlflowError(Exception):
    """An answer from MLflow other than success: its status and error code."""

    def __init__(self, status, code, message):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code


def call(method, path, params=None, body=None):
    """One REST call to the tracking server; the parsed JSON answer."""
    base = os.environ["MLFLOW_TRACKING_URI"].rstrip("/")
    url = f"{base}/api/2.0/mlflow/{path}"
    if params:
        url += "?" + urllib.parse.urlencode(params)
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    user, password = os.environ.get("MLFLOW_TRACKING_USERNAME"), os.environ.get("MLFLOW_TRACKING_PASSWORD")
    if user and password:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            text = res.read().decode()
            return json.loads(text) if text else {}
    except urllib.error.HTTPError as e:
        try:
            detail = json.loads(e.read().decode())
        except ValueError:
            detail = {}
        raise MlflowError(e.code, detail.get("error_code", ""), detail.get("message", e.reason)) from None


def version_of(model, version):
    return call("GET", "model-versions/get", {"name": model, "version": version})["model_version"]


def champion(model, alias):
    """The version the alias points at, or None when it points nowhere yet."""
    try:
        return call("GET", "registered-models/alias", {"name": model, "alias": alias})["model_version"]
    except MlflowError as e:
        # MLflow 3's SQL store answers an unset alias with INVALID_PARAMETER_VALUE, "Registered model alias ... not
        # found." (store/model_registry/sqlalchemy_store.py, get_model_version_by_alias)
        if e.code == "RESOURCE_DOES_NOT_EXIST" or (e.code == "INVALID_PARAMETER_VALUE" and "not found" in str(e)):
            return None
        raise


def metric_of(model_version, metric):
    """The metric as the version's run logged it (its last value), or None."""
    run_id = model_version.get("run_id")
    if not run_id:
        return None
    metrics = call("GET", "runs/get", {"run_id": run_id})["run"]["data"].get("metrics", [])
    values = [m["value"] for m in metrics if m["key"] == metric]
    return values[-1] if values else None


def set_tag(model, version, key, value):
    call("POST", "model-versions/set-tag", body={"name": model, "version": version, "key": key, "value": value})


def now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def gate(args):
    candidate = version_of(args.model, args.version)
    score = metric_of(candidate, args.metric)
    current = champion(args.model, args.alias)
    best = metric_of(current, args.metric) if current and current["version"] != args.version else None
    decision = {"model": args.model, "candidate": args.version, "metric": args.metric, "score": score,
                "champion": current["version"] if current else None, "championScore": best}
    if score is None:
        decision.update(passed=False, reason=f"the candidate's run logged no {args.metric}")
    elif score < args.minimum:
        decision.update(passed=False, reason=f"{args.metric} {score:.6g} is below the minimum {args.minimum:.6g}")
    elif best is not None and score < best + args.min_improvement:
        decision.update(passed=False, reason=f"{args.metric} {score:.6g} does not beat the champion's {best:.6g} by {args.min_improvement:.6g}")
    else:
        decision.update(passed=True, reason="no champion yet" if best is None else f"beats the champion's {best:.6g}")
    return decision, 0 if decision["passed"] else REFUSED


def promote(args):
    candidate = version_of(args.model, args.version)
    current = champion(args.model, args.alias)
    previous = current["version"] if current and current["version"] != args.version else ""
    # tags first: a promotion that stops half-way leaves the alias where it was, and the tags say what was tried
    set_tag(args.model, args.version, "cd4ml.commit", args.commit)
    set_tag(args.model, args.version, "cd4ml.image", args.image)
    set_tag(args.model, args.version, "cd4ml.previous_champion", previous)
    set_tag(args.model, args.version, "cd4ml.promoted_at", now())
    call("POST", "registered-models/alias", body={"name": args.model, "alias": args.alias, "version": args.version})
    return {"model": args.model, "alias": args.alias, "version": candidate["version"], "previous": previous or None}, 0


def rollback(args):
    candidate = version_of(args.model, args.version)
    tags = {t["key"]: t["value"] for t in candidate.get("tags", [])}
    previous = tags.get("cd4ml.previous_champion", "")
    current = champion(args.model, args.alias)
    # only an alias that still points at the candidate is moved: a later delivery's promotion is never undone
    moved = bool(current and current["version"] == args.version)
    if moved and previous:
        call("POST", "registered-models/alias", body={"name": args.model, "alias": args.alias, "version": previous})
    elif moved:
        # (MLflow reads a DELETE's fields from its JSON body, as for POST: only GET takes the query string)
        call("DELETE", "registered-models/alias", body={"name": args.model, "alias": args.alias})
    set_tag(args.model, args.version, "cd4ml.rolled_back_at", now())
    set_tag(args.model, args.version, "cd4ml.rollback_reason", args.reason[:500])
    return {"model": args.model, "alias": args.alias, "version": args.version, "restored": previous or None, "moved": moved}, 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="promote.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("gate", "promote", "rollback"):
        p = sub.add_parser(name)
        p.add_argument("--model", required=True)
        p.add_argument("--version", required=True)
        p.add_argument("--alias", default="champion")
        p.add_argument("--output", help="also write the result, as JSON, to this file (an Argo output parameter)")
        if name == "gate":
            p.add_argument("--metric", required=True)
            p.add_argument("--minimum", type=float, default=float("-inf"))
            p.add_argument("--min-improvement", type=float, default=0.0)
        if name == "promote":
            p.add_argument("--commit", required=True)
            p.add_argument("--image", required=True)
        if name == "rollback":
            p.add_argument("--reason", required=True)
    args = parser.parse_args(argv)
    if not args.version.isdigit():
        parser.error(f"--version {args.version!r} is not a version number: give the exact version, never an alias")
    try:
        result, code = {"gate": gate, "promote": promote, "rollback": rollback}[args.command](args)
    except MlflowError as e:
        print(f"promote.py {args.command}: MLflow answered {e}", file=sys.stderr)
        return 1
    text = json.dumps(result, sort_keys=True)
    print(text)
    if args.output:
        # an Argo output parameter's file: its directory may not exist yet
        os.makedirs(os.path.dirname(args.output) or ".", exist_ok=True)
        with open(args.output, "w") as f:
            f.write(text)
    return code


if __name__ == "__main__":
    sys.exit(main())
