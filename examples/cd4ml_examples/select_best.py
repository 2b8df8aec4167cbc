"""select_best: join a sweep, pick the candidate run with the best ROC AUC, and register its model."""
import json
import sys

from cd4ml_examples.common import parse_args, write_output
from cd4ml_examples.train_model import MODEL_NAME


def main():
    import mlflow
    from mlflow import MlflowClient

    args = parse_args(
        __doc__,
        run_ids=(str, "JSON list of candidate run ids"),
        model_uris=(str, "JSON list of the candidates' model URIs, in the same order"),
        min_auc=(float, "least ROC AUC to accept"),
    )
    candidates = [(r, m) for r, m in zip(json.loads(args.run_ids), json.loads(args.model_uris)) if r and m]
    if not candidates:
        sys.exit("no candidate runs to choose from")
    client = MlflowClient()
    scored = [(client.get_run(r).data.metrics.get("roc_auc", 0.0), r, m) for r, m in candidates]
    best_auc, best_run, best_model = max(scored)
    print("candidates: " + ", ".join(f"{r}={auc:.4f}" for auc, r, _ in scored))
    if best_auc < args.min_auc:
        sys.exit(f"best roc_auc {best_auc:.4f} is below min_auc {args.min_auc}")
    print(f"best: run {best_run}")
    version = mlflow.register_model(best_model, MODEL_NAME)
    write_output("model_name", MODEL_NAME)
    write_output("model_version", version.version)


if __name__ == "__main__":
    main()
