"""prepare_data: split the breast-cancer data set scikit-learn ships, validate it, store it in the data bucket."""
import os
import sys

from cd4ml_examples.common import parse_args, save_csv, write_output

EXPECTED_FEATURES = 30


def validate(X, y):
    """Stops the pipeline on schema or value skew: missing columns, missing values, a single class."""
    problems = []
    if X.shape[1] != EXPECTED_FEATURES:
        problems.append(f"expected {EXPECTED_FEATURES} feature columns, found {X.shape[1]}")
    if X.isna().any().any():
        problems.append(f"missing values in {list(X.columns[X.isna().any()])}")
    if y.nunique() != 2:
        problems.append(f"expected 2 classes, found {y.nunique()}")
    return problems


def main():
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    args = parse_args(__doc__, test_size=(float, "share of rows held out for evaluation"))
    if not 0 < args.test_size < 1:
        sys.exit(f"test_size must be between 0 and 1, got {args.test_size}")
    X, y = datasets.load_breast_cancer(return_X_y=True, as_frame=True)
    problems = validate(X, y)
    if problems:
        sys.exit("data validation failed: " + "; ".join(problems))
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=args.test_size, random_state=42, stratify=y)
    bucket = os.environ["CD4ML_BUCKET_DATA"]  # the data bucket, by role, whatever it is named
    # Outputs go under prepared/; uploads under incoming/ are what trigger new runs.
    data_uri = f"s3://{bucket}/prepared/breast_cancer/test_size_{args.test_size}"
    for frame, name in ((X_train, "X_train"), (X_test, "X_test"), (y_train.to_frame(), "y_train"), (y_test.to_frame(), "y_test")):
        save_csv(frame, f"{data_uri}/{name}.csv")
    print(f"wrote {len(X_train)} training and {len(X_test)} test rows to {data_uri}")
    # Create the experiment here, once, before any fanned-out training step races to create it.
    import mlflow

    mlflow.set_experiment(os.environ["MLFLOW_EXPERIMENT_NAME"])
    write_output("data_uri", data_uri)


if __name__ == "__main__":
    main()
