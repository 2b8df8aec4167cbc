"""What every step shares: argument parsing, outputs for Argo, and the object store."""
import argparse
import io
import os
from urllib.parse import urlparse

OUTPUTS = "/tmp/outputs"


def parse_args(description, **arguments):
    """Parses `--name value` arguments (cd4ml passes every step input that way)."""
    parser = argparse.ArgumentParser(description=description)
    for name, (kind, help_text) in arguments.items():
        parser.add_argument(f"--{name}", type=kind, required=True, help=help_text)
    return parser.parse_args()


def to_bool(text):
    """Argo passes every value as a string."""
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise ValueError(f"not a boolean: {text!r}")


def write_output(name, value):
    """A small output value: Argo reads /tmp/outputs/<name> when the step ends."""
    os.makedirs(OUTPUTS, exist_ok=True)
    with open(os.path.join(OUTPUTS, name), "w") as f:
        f.write(str(value))


def s3():
    """A client for the platform's object store (endpoint and credentials come from the runner's defaults)."""
    import boto3

    return boto3.client("s3", endpoint_url=os.environ["MLFLOW_S3_ENDPOINT_URL"],
                        region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))


def split_uri(uri):
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"not an s3:// URI: {uri!r}")
    return parsed.netloc, parsed.path.lstrip("/")


def save_csv(df, uri):
    bucket, key = split_uri(uri)
    s3().put_object(Bucket=bucket, Key=key, Body=df.to_csv(index=False).encode())


def load_csv(uri):
    import pandas as pd

    bucket, key = split_uri(uri)
    body = s3().get_object(Bucket=bucket, Key=key)["Body"].read()
    return pd.read_csv(io.BytesIO(body))
