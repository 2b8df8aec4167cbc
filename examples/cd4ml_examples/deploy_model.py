"""deploy_model: point the registered model's alias at the new version and check that it resolves."""
import sys

from cd4ml_examples.common import parse_args, write_output


def main():
    from mlflow import MlflowClient

    args = parse_args(
        __doc__,
        model_name=(str, "registered model name"),
        model_version=(str, "version to deploy"),
        alias=(str, "alias serving reads, e.g. champion"),
    )
    client = MlflowClient()
    client.set_registered_model_alias(args.model_name, args.alias, args.model_version)
    resolved = client.get_model_version_by_alias(args.model_name, args.alias)
    if str(resolved.version) != str(args.model_version):
        sys.exit(f"alias {args.alias} resolves to version {resolved.version}, not {args.model_version}")
    endpoint_uri = f"models:/{args.model_name}@{args.alias}"
    print(f"{endpoint_uri} -> version {resolved.version}")
    write_output("endpoint_uri", endpoint_uri)


if __name__ == "__main__":
    main()
