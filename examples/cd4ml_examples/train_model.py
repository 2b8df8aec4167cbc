"""train_model: train a random forest on prepared data, log it to MLflow, fail below min_auc, register it."""
import sys

from cd4ml_examples.common import load_csv, parse_args, to_bool, write_output

MODEL_NAME = "sklearn-random-forest"


def main():
    import mlflow
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    args = parse_args(
        __doc__,
        data_uri=(str, "s3:// prefix written by prepare_data"),
        n_estimators=(int, "trees in the forest"),
        min_auc=(float, "least ROC AUC a model must reach"),
        register=(to_bool, "register the model (false for sweep candidates)"),
    )
    X_train = load_csv(f"{args.data_uri}/X_train.csv")
    X_test = load_csv(f"{args.data_uri}/X_test.csv")
    y_train = load_csv(f"{args.data_uri}/y_train.csv").iloc[:, 0]
    y_test = load_csv(f"{args.data_uri}/y_test.csv").iloc[:, 0]

    with mlflow.start_run() as run:
        clf = RandomForestClassifier(n_estimators=args.n_estimators, random_state=42)
        clf.fit(X_train, y_train)
        scores = clf.predict_proba(X_test)[:, 1]
        predictions = clf.predict(X_test)
        metrics = {
            "roc_auc": roc_auc_score(y_test, scores),
            "accuracy": accuracy_score(y_test, predictions),
            "f1": f1_score(y_test, predictions),
        }
        mlflow.log_params({"n_estimators": args.n_estimators, "data_uri": args.data_uri})
        mlflow.log_metrics(metrics)
        # MLflow 3.17 saves sklearn models with skops, which refuses types it does not know unless they are trusted
        # here (recorded in the MLmodel, so loading needs nothing more); without it the step fails.
        model = mlflow.sklearn.log_model(
            clf, name="model", input_example=X_test.head(3), skops_trusted_types=["sklearn.tree._tree.Tree"]
        )
        print(f"run {run.info.run_id}: {metrics}")
        write_output("run_id", run.info.run_id)
        write_output("model_uri", model.model_uri)
        write_output("roc_auc", metrics["roc_auc"])
        if metrics["roc_auc"] < args.min_auc:
            sys.exit(f"roc_auc {metrics['roc_auc']:.4f} is below min_auc {args.min_auc}: stopping the pipeline")
        if args.register:
            version = mlflow.register_model(model.model_uri, MODEL_NAME)
            print(f"registered {MODEL_NAME} version {version.version}")
            write_output("model_name", MODEL_NAME)
            write_output("model_version", version.version)
        else:
            write_output("model_name", "")
            write_output("model_version", "")


if __name__ == "__main__":
    main()
