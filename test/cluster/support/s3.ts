import { mkdirSync, writeFileSync } from 'fs';
import { join } from 'path';
import { KubeObject } from './apply';
import { freePort, run, scratch, start, Started, waitFor } from './processes';
import { tools } from './tools';

// An S3 server for the tier: SeaweedFS (`weed server -s3`) standing in for MinIO, whose setup Job needs the `mc`
// client, which cannot be built here. Its identities mirror what the MinIO setup Job creates: the root user as
// admin, and one identity per granted user limited to the buckets its rendered policy names (read from the setup
// Job's ConfigMap and env, never restated here). Requests are made with boto3 from the tools' venv, the client our
// steps and MLflow use.

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** An S3 identity: its keys and the SeaweedFS actions it may take (`Read:bucket`, `Write:bucket`, `Admin`...). */
export interface S3Identity {
  readonly name: string;
  readonly accessKey: string;
  readonly secretKey: string;
  readonly actions: readonly string[];
}

/** What the rendered MinIO setup Job creates: its buckets, the root credentials' Secret, and each user's grants. */
export interface MinioSetup {
  readonly buckets: readonly string[];
  /** The Secret (and keys) holding the root user. */
  readonly root: { readonly secret: string; readonly userKey: string; readonly passwordKey: string };
  /** One per `mc admin user add`: the Secret holding its keys and the bucket actions its policy allows. */
  readonly users: ReadonlyArray<{ readonly policy: string; readonly secret: string; readonly accessKeyKey: string; readonly secretKeyKey: string; readonly grants: readonly string[] }>;
}

/** The IAM policy actions of a rendered bucket policy, as SeaweedFS identity actions. */
const ACTIONS: Record<string, string> = {
  's3:GetObject': 'Read', 's3:PutObject': 'Write', 's3:DeleteObject': 'Write', 's3:AbortMultipartUpload': 'Write',
  's3:ListMultipartUploadParts': 'Write', 's3:ListBucketMultipartUploads': 'List', 's3:ListBucket': 'List', 's3:GetBucketLocation': 'List',
};

/** Reads the MinIO setup Job (its script, policies and env) out of the synthesized objects. */
export function minioSetup(job: KubeObject, configMap: KubeObject): MinioSetup {
  const files = configMap.data as Record<string, string>;
  const script = files['setup.sh'];
  if (!script) throw new Error(`ConfigMap ${configMap.metadata.name} has no setup.sh`);
  const container = (job.spec as Obj).template.spec.containers[0] as Obj;
  const ref = (name: string): { name: string; key: string } => {
    const e = ((container.env ?? []) as Obj[]).find((x) => x.name === name);
    if (!e?.valueFrom?.secretKeyRef) throw new Error(`the setup Job has no env ${name} from a Secret`);
    return e.valueFrom.secretKeyRef;
  };
  const buckets = [...script.matchAll(/mc mb --ignore-existing "store\/([^"]+)"/g)].map((m) => m[1]);
  const policyFiles = new Map([...script.matchAll(/mc admin policy create store (\S+) \/config\/(\S+)/g)].map((m) => [m[1], m[2]]));
  const users = [...script.matchAll(/mc admin policy attach store (\S+) --user "\$([A-Z0-9_]+)_ACCESS_KEY"/g)].map(([, policy, v]) => {
    const file = policyFiles.get(policy);
    if (!file || !files[file]) throw new Error(`policy ${policy} is attached but its file is not in ConfigMap ${configMap.metadata.name}`);
    const grants = new Set<string>();
    for (const st of JSON.parse(files[file]).Statement as Obj[]) {
      if (st.Effect !== 'Allow') throw new Error(`policy ${policy}: only Allow statements can be mirrored`);
      for (const action of st.Action as string[]) {
        if (!ACTIONS[action]) throw new Error(`policy ${policy}: no SeaweedFS action for ${action}`);
        for (const r of st.Resource as string[]) grants.add(`${ACTIONS[action]}:${/^arn:aws:s3:::([^/]+)/.exec(r)![1]}`);
      }
    }
    const access = ref(`${v}_ACCESS_KEY`);
    const secret = ref(`${v}_SECRET_KEY`);
    if (access.name !== secret.name) throw new Error(`${v}: keys from two Secrets`);
    return { policy, secret: access.name, accessKeyKey: access.key, secretKeyKey: secret.key, grants: [...grants].sort() };
  });
  const rootUser = ref('MINIO_ROOT_USER');
  const rootPassword = ref('MINIO_ROOT_PASSWORD');
  return { buckets, root: { secret: rootUser.name, userKey: rootUser.key, passwordKey: rootPassword.key }, users };
}

/** A running SeaweedFS with its S3 gateway at `http://<host>:<port>`. */
export interface S3Server {
  readonly endpoint: string;
  readonly proc: Started;
}

/**
 * Starts SeaweedFS (master, volume, filer, S3) bound to `host`, S3 on `port`, every other port a free one, with
 * `identities`; waits (bounded) for S3's /healthz.
 */
export async function startSeaweedS3(o: { host: string; port: number; identities: readonly S3Identity[]; timeoutMs?: number }): Promise<S3Server> {
  const dir = scratch('s3');
  const data = join(dir, 'data');
  mkdirSync(data, { recursive: true });
  const config = join(dir, 's3.json');
  writeFileSync(config, JSON.stringify({
    identities: o.identities.map((i) => ({ name: i.name, credentials: [{ accessKey: i.accessKey, secretKey: i.secretKey }], actions: i.actions })),
  }));
  // each gRPC port is its HTTP port + 10000: pick HTTP ports that leave room
  const port = async (): Promise<number> => { for (;;) { const p = await freePort(); if (p < 55000) return p; } };
  const [master, volume, filer] = [await port(), await port(), await port()];
  const proc = start('weed', join(tools().seaweedfs, 'weed'), [
    '-logtostderr', 'server', `-dir=${data}`, `-ip=${o.host}`, `-ip.bind=${o.host}`,
    `-master.port=${master}`, `-master.port.grpc=${master + 10000}`, '-master.telemetry=false', '-master.volumeSizeLimitMB=64',
    `-volume.port=${volume}`, `-volume.port.grpc=${volume + 10000}`, '-volume.max=100', '-volume.preStopSeconds=0',
    `-filer.port=${filer}`, `-filer.port.grpc=${filer + 10000}`, `-filer.localSocket=${join(dir, 'filer.sock')}`,
    '-s3', `-s3.port=${o.port}`, `-s3.port.grpc=${o.port + 10000}`, `-s3.config=${config}`, `-s3.localSocket=${join(dir, 's3.sock')}`,
    '-s3.port.iceberg=0', '-s3.port.lance=0',
  ], { cwd: dir, logDir: dir });
  const endpoint = `http://${o.host}:${o.port}`;
  await waitFor(`SeaweedFS S3 at ${endpoint}/healthz`, async () => ((await fetch(`${endpoint}/healthz`).catch(() => undefined))?.ok ? true : undefined), o.timeoutMs ?? 60000, { proc, intervalMs: 500 });
  return { endpoint, proc };
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
export function s3Call(endpoint: string, creds: { accessKey: string; secretKey: string }, op: string, params: Obj = {}): S3Result {
  const r = run(join(tools().python, 'bin', 'python'), ['-c', CALL], {
    input: JSON.stringify({ endpoint, key: creds.accessKey, secret: creds.secretKey, op, params }), timeoutMs: 60000,
  });
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as S3Result;
}
