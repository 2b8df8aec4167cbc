import { join } from 'path';
import { run } from './processes';
import { tools } from './tools';

// S3 calls for the tier, made with boto3 from the tools' venv (the client our steps and MLflow use), against the
// object store the sandbox starts as its StatefulSet runs it (Sandbox.startObjectStore).

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** S3 keys, as a generated Secret holds them. */
export interface S3Keys {
  readonly accessKey: string;
  readonly secretKey: string;
}

/** The keys of a generated S3 Secret (keys AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY). */
export function s3Keys(data: Record<string, string>): S3Keys {
  return { accessKey: data.AWS_ACCESS_KEY_ID, secretKey: data.AWS_SECRET_ACCESS_KEY };
}

/** The outcome of one boto3 call: its response (bodies read as text) or the S3 error code and message. */
export type S3Result = { ok: true; response: Obj } | { ok: false; code: string; message: string };

const CALL = `
import json, sys
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
a = json.load(sys.stdin)
c = boto3.client("s3", endpoint_url=a["endpoint"], aws_access_key_id=a["key"], aws_secret_access_key=a["secret"],
                 region_name="us-east-1", config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}))
try:
    r = getattr(c, a["op"])(**a["params"])
    r.pop("ResponseMetadata", None)
    if "Body" in r:
        r["Body"] = r["Body"].read().decode("utf-8", "replace")
    print(json.dumps({"ok": True, "response": r}, default=str))
except ClientError as e:
    print(json.dumps({"ok": False, "code": e.response["Error"].get("Code", ""), "message": e.response["Error"].get("Message", "")}))
`;

/** One boto3 S3 call (`op` as boto3 names it) with these keys; an S3 error is returned, anything else throws. */
export function s3Call(endpoint: string, creds: S3Keys, op: string, params: Obj = {}): S3Result {
  const r = run(join(tools().python, 'bin', 'python'), ['-c', CALL], {
    input: JSON.stringify({ endpoint, key: creds.accessKey, secret: creds.secretKey, op, params }), timeoutMs: 60000,
  });
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as S3Result;
}
