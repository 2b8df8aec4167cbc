"""select_best: join a sweep, pick the candidate run with the best ROC AUC, and register its model."""
import json
import sys

from cd4ml_examples.common import parse_args, write_output
from cd4ml_examples.train_model import MODEL_NAME


def main():
    import mlflow
    from mlflow import MlflowClient

    args = parse_args(__doc__, run_ids=(str, "JSON list of candidate run ids"), min_auc=(float, "least ROC AUC to accept"))
    run_ids = [r for r in json.loads(args.run_ids) if r]
    if not run_ids:
        sys.exit("no candidate runs to choose from")
    client = MlflowClient()
    scored = [(client.get_run(r).data.metrics.get("roc_auc", 0.0), r) for r in run_ids]
    best_auc, best_run = max(scored)
    print("candidates: " + ", ".join(f"{r}={auc:.4f}" for auc, r in scored))
    if best_auc < args.min_auc:
        sys.exit(f"best roc_auc {best_auc:.4f} is below min_auc {args.min_auc}")
    version = mlflow.register_model(f"runs:/{best_run}/model", MODEL_NAME)
    write_output("model_name", MODEL_NAME)
    write_output("model_version", version.version)


if __name__ == "__main__":
    main()
