import { ServiceAccount } from 'cdk8s-plus-27';
import { copyFileSync, existsSync, readFileSync } from 'fs';
import { request } from 'http';
import { dirname, join, relative } from 'path';
import { Platform } from '../../constructs';
import { MODEL_CONTAINER, MODEL_VERSION_ENV, ModelEndpoint } from '../../constructs/delivery/model-endpoint';
import { EnvironmentName } from '../../lib';
import { EXAMPLES_IMAGE } from '../../stacks/app';
import { apply, get, KubeObject, list } from './support/apply';
import { ApiAccess, writeKubeconfig } from './support/control-plane';
import { runContainer, startContainer, tokenFor } from './support/local-pod';
import { run, scratch, Started, stop, waitFor } from './support/processes';
import { s3Call, S3Keys, s3Keys } from './support/s3';
import { Sandbox } from './support/sandbox';
import { tools } from './support/tools';
import { can, podsOf, podTemplate, resourceDrift } from './support/workloads';

// The MLflow tracking server as its Deployment runs it (the migrate init container, then the server with its args,
// env and Secrets) against the real Postgres and an S3 server at the object store's Service address, and the seed
// pipeline's step programs run as the WorkflowTemplate renders them (command, args with the parameters Argo would
// substitute, the controller's main-container defaults and the template's env, the pod's uid and /tmp emptyDir),
// talking to both through the Service names the platform renders. Then the delivery's pieces (issue 12) on the same
// servers: the registry steps (constructs/delivery/promote.py) as the pipelines' MLflow user, and a ModelEndpoint added
// to the running platform (its objects applied to the real API server, its RBAC and admission policy) serving the
// version of the seed's model train_model registered, then rolled to a second version a step registered.

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const tail = (log: string, lines = 12) => log.trimEnd().split('\n').slice(-lines).join('\n');
const ROOT = join(__dirname, '..', '..');
/** The model the seed's train_model registers. */
const SEED_MODEL = 'sklearn-random-forest';
/** The model endpoint the delivery's tests add to the platform, and the deploy step's account that rolls it. */
const ENDPOINT = 'classifier';
const DEPLOYER = 'model-deployer';

/**
 * A second version of the seed's model, trained in a step's pod (argv: the prepared data's URI, the model's name): the
 * forest train_model made, on the complement of the labels (the same bootstrap samples and splits, the leaves'
 * classes swapped), so it answers every row the other way. Writes both versions' predictions for the input example
 * MLflow stored beside version 1, that request body, and the second version's roc_auc to /tmp/out.json.
 */
const TRAIN_COMPLEMENT = `
import json, os, sys
import mlflow
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import roc_auc_score
from cd4ml_examples.common import load_csv

data_uri, name = sys.argv[1], sys.argv[2]
local = mlflow.artifacts.download_artifacts(f"models:/{name}/1")
with open(os.path.join(local, "serving_input_example.json")) as f:
    serving_input = f.read()
split = json.loads(serving_input)["dataframe_split"]
example = pd.DataFrame(split["data"], columns=split["columns"])
first = mlflow.sklearn.load_model(local)
X_train, X_test = load_csv(f"{data_uri}/X_train.csv"), load_csv(f"{data_uri}/X_test.csv")
y_train, y_test = load_csv(f"{data_uri}/y_train.csv").iloc[:, 0], load_csv(f"{data_uri}/y_test.csv").iloc[:, 0]
clf = RandomForestClassifier(n_estimators=first.n_estimators, random_state=42).fit(X_train, 1 - y_train)
mlflow.set_experiment("model-endpoint-tier")
with mlflow.start_run(run_name="complement"):
    auc = roc_auc_score(y_test, clf.predict_proba(X_test)[:, 1])
    mlflow.log_metric("roc_auc", auc)
    # no input example (it answers version 1's) and requirements given, not inferred (that loads the model again in
    # a subprocess): the endpoint serves it in the image's Python
    info = mlflow.sklearn.log_model(clf, name="model", pip_requirements=["scikit-learn"],
                                    skops_trusted_types=["sklearn.tree._tree.Tree"])
version = mlflow.register_model(info.model_uri, name).version
out = {"serving_input": serving_input, "roc_auc": auc,
       "versions": {"1": [int(p) for p in first.predict(example)], str(version): [int(p) for p in clf.predict(example)]}}
with open("/tmp/out.json", "w") as f:
    json.dump(out, f)
`;

/**
 * A third version of the seed's model that loads and answers /ping but cannot predict (argv: the model's name): what a
 * smoke test exists to catch. Logged with version 1's input example, so the deploy step sends the same rows. Prints the
 * version.
 */
const REGISTER_BROKEN = `
import json, os, sys
import mlflow
import pandas as pd

class Broken(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        raise RuntimeError("this version cannot predict")

name = sys.argv[1]
local = mlflow.artifacts.download_artifacts(f"models:/{name}/1")
with open(os.path.join(local, "serving_input_example.json")) as f:
    split = json.load(f)["dataframe_split"]
example = pd.DataFrame(split["data"], columns=split["columns"])
mlflow.set_experiment("model-endpoint-tier")
with mlflow.start_run(run_name="broken"):
    mlflow.log_metric("roc_auc", 0.999)
    # (MLflow tries the example on the model while logging, warns that it failed, and logs it anyway)
    info = mlflow.pyfunc.log_model(name="model", python_model=Broken(), input_example=example, pip_requirements=["mlflow"])
print(mlflow.register_model(info.model_uri, name).version)
`;

describe('MLflow and the seed pipeline\'s steps on real servers', () => {
  const sb = new Sandbox();
  const platformNs = sb.find('Deployment', 'mlflow').metadata.namespace!;
  const mlflowDeployment = sb.find('Deployment', 'mlflow');
  const mlflowService = sb.find('Service', 'mlflow');
  const mlflowPort: number = (mlflowService.spec as Obj).ports[0].port;
  const template = sb.find('WorkflowTemplate', 'breast-cancer');
  const pipelinesNs = template.metadata.namespace!;
  const controllerConfig = sb.find('ConfigMap', 'workflow-controller-configmap').data as Record<string, string>;
  // the tracking server's artifact bucket, as its args render it
  const mlflowArgs: string[] = podTemplate(mlflowDeployment).spec.containers.find((c: Obj) => c.name === 'mlflow').args;
  const artifactBucket = /^s3:\/\/([^/]+)/.exec(mlflowArgs[mlflowArgs.indexOf('--artifacts-destination') + 1])![1];
  const mlflowHost = `mlflow.${platformNs}.svc.cluster.local:${mlflowPort}`;
  // the bucket the runner names for data (what prepare_data writes to)
  const dataBucket = (sb.find('ConfigMap', 'pipeline-defaults').data as Record<string, string>).CD4ML_BUCKET_DATA;

  let s3: { endpoint: string };
  let admin: S3Keys;
  const identities = new Map<string, S3Keys>(); // by Secret name
  let server: Started;
  let pyBin: string;

  /** The admin's `Authorization` header, from the generated Secret the server reads its admin from. */
  let adminAuth = '';
  /**
   * A request to the tracking server at its Service address, with a Host header (the Service's name by default),
   * signed in as the admin unless `auth` says otherwise (`''`: anonymous).
   */
  const mlflowCall = (method: string, path: string, o: { host?: string; auth?: string; body?: Obj } = {}): Promise<{ status: number; body: string }> => new Promise((resolve, reject) => {
    const auth = o.auth ?? adminAuth;
    const headers: Record<string, string> = { host: o.host ?? mlflowHost, ...(auth ? { authorization: auth } : {}), ...(o.body ? { 'content-type': 'application/json' } : {}) };
    const req = request({ host: sb.services.address('mlflow', platformNs), port: mlflowPort, path, method, headers, agent: false, timeout: 30000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(o.body ? JSON.stringify(o.body) : undefined);
  });
  const mlflowGet = (path: string, host = mlflowHost) => mlflowCall('GET', path, { host });
  const mlflowJson = async (path: string): Promise<Obj> => {
    const r = await mlflowGet(path);
    if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${r.body}`);
    return JSON.parse(r.body);
  };

  /** What the seed pipeline's steps output, by task (the delivery's tests below use the versions they registered). */
  const outputs: Record<string, Record<string, string>> = {};

  /** The image's ENV lines (examples/Dockerfile), which the container would inherit. */
  const imageEnv = Object.fromEntries(readFileSync(join(ROOT, 'examples', 'Dockerfile'), 'utf8').split('\n')
    .filter((l) => l.startsWith('ENV '))
    .flatMap((l) => l.slice(4).trim().split(/\s+/).map((kv) => kv.split('=') as [string, string])));

  /**
   * One step template's main container as its pod would run it: the controller's main-container defaults merged
   * under the template's container (env by name, the template's winning), the workflow's pod security context, the
   * workflow's and the template's volumes, args with `{{inputs.parameters.X}}` substituted. `command` replaces the
   * step's program in the same pod (to probe what a step can do, or to run another program with a step's env), `env`
   * overrides env entries by name, `files` adds files to the image's. Returns the template, the container and the
   * options to run it with (local-pod.ts).
   */
  function stepPod(name: string, inputs: Record<string, string>, o: { command?: string[]; env?: Obj[]; files?: Array<[string, string]>; podName?: string } = {}) {
    const spec = template.spec as Obj;
    const t: Obj = spec.templates.find((x: Obj) => x.name === name);
    if (!t?.container) throw new Error(`WorkflowTemplate ${template.metadata.name} has no container template ${name}`);
    const defaults = JSON.parse(controllerConfig.mainContainer) as Obj;
    const env = new Map<string, Obj>();
    for (const e of [...(defaults.env ?? []), ...(t.container.env ?? []), ...(o.env ?? [])] as Obj[]) env.set(e.name, e);
    const subst = (s: string) => s.replace(/\{\{inputs\.parameters\.([\w-]+)\}\}/g, (_m, p) => {
      if (inputs[p] === undefined) throw new Error(`step ${name}: no value for input ${p}`);
      return inputs[p];
    });
    const container = {
      ...defaults, ...t.container, name: 'main',
      env: [...env.values()],
      volumeMounts: t.container.volumeMounts ?? defaults.volumeMounts,
      command: o.command ?? t.container.command,
      args: o.command ? [] : (t.container.args ?? []).map(subst),
    };
    const leftover = container.args.find((a: string) => a.includes('{{'));
    if (leftover) throw new Error(`step ${name}: unsubstituted ${leftover}`);
    // the template's volumes after the workflow's, as the controller builds the pod (createVolumes in workflowpod.go)
    const pod = { securityContext: spec.securityContext, serviceAccountName: spec.serviceAccountName, automountServiceAccountToken: spec.automountServiceAccountToken, containers: [container], volumes: [...(spec.volumes ?? []), ...(t.volumes ?? [])] };
    return {
      t, container,
      options: {
        cp: sb.cp, namespace: pipelinesNs, pod, container: 'main', hosts: sb.hosts(), path: [pyBin], name: o.podName ?? `step-${name}`,
        // the image's ENV where the pod sets no value of its own, its files (the package at /app) and WORKDIR, as
        // examples/Dockerfile builds it
        extraEnv: Object.fromEntries(Object.entries(imageEnv).filter(([k]) => !env.has(k))),
        imageFiles: [[join(ROOT, 'examples', 'cd4ml_examples'), '/app/cd4ml_examples'] as [string, string], ...(o.files ?? [])],
        imageWorkingDir: '/app',
      },
    };
  }

  /**
   * Runs one step template's main container to completion as its pod would (see {@link stepPod}). Returns its exit
   * status, log and the output parameters read from the paths the template declares (in the pod's /tmp emptyDir).
   */
  async function runStep(name: string, inputs: Record<string, string>, o: { command?: string[]; timeoutMs?: number } = {}): Promise<{ status: number | null; log: string; outputs: Record<string, string> }> {
    const { t, container, options } = stepPod(name, inputs, o);
    const proc = sb.track(await startContainer(options));
    await waitFor(`step ${name} to finish`, () => (proc.exited() ? true : undefined), o.timeoutMs ?? 300000, { intervalMs: 500 });
    // outputs: the declared paths, inside the volume mounted over them (the pod's dir holds volumes/<name>)
    const outputs: Record<string, string> = {};
    for (const p of (t.outputs?.parameters ?? []) as Obj[]) {
      const path: string = p.valueFrom.path;
      const mount = (container.volumeMounts as Obj[]).find((m) => path.startsWith(`${m.mountPath}/`));
      if (!mount) throw new Error(`step ${name}: output ${p.name} at ${path} is in no volume`);
      const file = join(dirname(proc.log), 'volumes', mount.name, relative(mount.mountPath, path));
      if (existsSync(file)) outputs[p.name] = readFileSync(file, 'utf8');
    }
    return { status: proc.child.exitCode, log: readFileSync(proc.log, 'utf8'), outputs };
  }

  /** The DAG's arguments for a task: workflow parameters (defaults, overridden) and earlier tasks' outputs. */
  function taskInputs(task: string, params: Record<string, string>, outputs: Record<string, Record<string, string>>): Record<string, string> {
    const spec = template.spec as Obj;
    const workflow = Object.fromEntries((spec.arguments.parameters as Obj[]).map((p) => [p.name, params[p.name] ?? p.value]));
    const dag = (spec.templates as Obj[]).find((t) => t.name === spec.entrypoint)!.dag;
    const t = (dag.tasks as Obj[]).find((x) => x.name === task)!;
    return Object.fromEntries((t.arguments.parameters as Obj[]).filter((p) => !String(p.value).startsWith('{{=')).map((p) => [p.name, String(p.value)
      .replace(/\{\{workflow\.parameters\.([\w-]+)\}\}/g, (m, n) => workflow[n] ?? m)
      .replace(/\{\{tasks\.([\w-]+)\.outputs\.parameters\.([\w-]+)\}\}/g, (m, tk, n) => outputs[tk]?.[n] ?? m)]));
  }

  beforeAll(async () => {
    await sb.start();
    const creds = await sb.runJob(sb.find('Job', /^cd4ml-credentials-/), 'generate');
    if (creds.status !== 0) throw new Error(`credentials Job: ${creds.stderr}`);
    await sb.startPostgres();
    // the tools' venv is built on the system's interpreter, so the pods' non-root uids can run it (build-python.sh)
    pyBin = join(tools().python, 'bin');
    const mlflowAdmin = await sb.secret(platformNs, 'mlflow-admin');
    adminAuth = `Basic ${Buffer.from(`${mlflowAdmin.MLFLOW_TRACKING_USERNAME}:${mlflowAdmin.MLFLOW_TRACKING_PASSWORD}`).toString('base64')}`;

    // The object store as its StatefulSet runs it, with the buckets its setup Job creates
    s3 = await sb.startObjectStore();
    admin = s3Keys(await sb.secret(platformNs, 'seaweedfs-admin'));
    for (const name of ['seaweedfs-mlflow', 'seaweedfs-pipelines', 'seaweedfs-postgres-backup']) identities.set(name, s3Keys(await sb.secret(platformNs, name)));
  }, 300000);
  afterAll(async () => { await sb.stop(); });

  test('the object store holds the setup Job\'s buckets, and the tracking server\'s identity only its own', () => {
    // the admin sees exactly the declared buckets
    const declared = /create-buckets (.*)/.exec((sb.find('ConfigMap', 'seaweedfs-setup').data as Record<string, string>)['setup.sh'])![1].trim().split(' ');
    expect(declared).toEqual(expect.arrayContaining([artifactBucket, dataBucket]));
    const listed = s3Call(s3.endpoint, admin, 'list_buckets');
    expect(listed.ok && (listed.response.Buckets as Obj[]).map((b) => b.Name).sort()).toEqual([...declared].sort());
    // and the tracking server's identity may write its bucket, not the pipelines' data
    const mlflow = identities.get('seaweedfs-mlflow')!;
    expect(s3Call(s3.endpoint, mlflow, 'put_object', { Bucket: artifactBucket, Key: 'probe', Body: 'x' })).toMatchObject({ ok: true });
    expect(s3Call(s3.endpoint, mlflow, 'put_object', { Bucket: dataBucket, Key: 'probe', Body: 'x' })).toMatchObject({ ok: false, code: 'AccessDenied' });
    expect(s3Call(s3.endpoint, admin, 'delete_object', { Bucket: artifactBucket, Key: 'probe' })).toMatchObject({ ok: true });
  });

  test('the migrate init container creates MLflow\'s schema in the mlflow database as the mlflow role, and reruns cleanly', async () => {
    // when the init container runs as the kubelet would run it
    const r = await sb.runJob(mlflowDeployment, 'migrate', { path: [pyBin, tools().postgres], timeoutMs: 240000 });
    // then it exits 0 having created the schema
    expect({ status: r.status, stdout: r.stdout.trim().split('\n').filter((l) => !l.startsWith('waiting')), stderr: r.status === 0 ? '' : r.stderr }).toEqual({
      status: 0, stdout: ['empty database: creating the MLflow schema', 'schema created', 'created MLflow user admin (admin)', 'created MLflow user pipelines'], stderr: '',
    });
    // the auth tables sit beside the tracking tables, versioned apart
    expect(sb.postgres!.sql(`SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename IN ('users', 'alembic_version_auth')`, 'mlflow')).toBe('2');
    const tables = sb.postgres!.sql(`SELECT string_agg(tablename || ':' || tableowner, ',' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public' AND tablename IN ('alembic_version', 'experiments', 'runs', 'registered_models', 'model_versions', 'registered_model_aliases')`, 'mlflow');
    expect(tables).toBe('alembic_version:mlflow,experiments:mlflow,model_versions:mlflow,registered_model_aliases:mlflow,registered_models:mlflow,runs:mlflow');
    const head = sb.postgres!.sql('SELECT version_num FROM alembic_version', 'mlflow');
    expect(head).toMatch(/^[0-9a-f]+$/);
    // a restarted pod runs it again: it upgrades in place (nothing to do) and keeps the head revision
    const again = await sb.runJob(mlflowDeployment, 'migrate', { path: [pyBin, tools().postgres], timeoutMs: 240000 });
    expect({ status: again.status, lines: again.stdout.trim().split('\n').filter((l) => /^(upgrading|kept|created)/.test(l)), stderr: again.status === 0 ? '' : again.stderr }).toEqual({
      status: 0, lines: ['upgrading the MLflow schema', 'kept MLflow user admin (admin)', 'kept MLflow user pipelines'], stderr: '',
    });
    expect(sb.postgres!.sql('SELECT version_num FROM alembic_version', 'mlflow')).toBe(head);
  });

  test('the tracking server starts as its Deployment runs it and answers through its Service name only', async () => {
    // when the mlflow container starts with its args, env and Secrets
    server = sb.track(await startContainer({ cp: sb.cp, namespace: platformNs, pod: podTemplate(mlflowDeployment).spec, container: 'mlflow', hosts: sb.hosts(), path: [pyBin] }));
    // then /health answers OK (what its startup and readiness probes ask) to a request for the Service's name
    const health = await waitFor('MLflow /health', async () => {
      const r = await mlflowGet('/health').catch(() => undefined);
      return r?.status === 200 ? r : undefined;
    }, 150000, { proc: server, intervalMs: 1000 });
    expect(health.body.trim()).toBe('OK');
    expect((await mlflowGet('/version')).status).toBe(200);
    // the API answers to the Service's names; a Host header outside --allowed-hosts is refused (DNS rebinding
    // protection), while the probes' endpoints answer whatever the Host (the kubelet sends the pod's IP)
    const search = '/api/2.0/mlflow/experiments/search?max_results=1';
    for (const host of ['mlflow', `mlflow.${platformNs}`, `mlflow.${platformNs}.svc`, mlflowHost]) expect({ host, status: (await mlflowGet(search, host)).status }).toEqual({ host, status: 200 });
    const foreign = await mlflowGet(search, 'attacker.example.com');
    expect({ status: foreign.status, body: foreign.body }).toEqual({ status: 403, body: expect.stringMatching(/host/i) });
    expect((await mlflowGet('/health', '10.244.0.7:5000')).status).toBe(200);
  });

  test('it serves no one without credentials: only /health answers anonymously, and a wrong password is refused', async () => {
    const search = '/api/2.0/mlflow/experiments/search?max_results=1';
    expect((await mlflowCall('GET', search, { auth: '' })).status).toBe(401);
    expect((await mlflowCall('GET', '/version', { auth: '' })).status).toBe(401);
    expect((await mlflowCall('GET', search, { auth: `Basic ${Buffer.from('admin:guess').toString('base64')}` })).status).toBe(401);
    expect((await mlflowCall('GET', '/health', { auth: '' })).status).toBe(200);
    // the pipelines' user signs in with its own generated password
    const p = await sb.secret(pipelinesNs, 'mlflow-user-pipelines');
    expect((await mlflowCall('GET', search, { auth: `Basic ${Buffer.from(`${p.MLFLOW_TRACKING_USERNAME}:${p.MLFLOW_TRACKING_PASSWORD}`).toString('base64')}` })).status).toBe(200);
  });

  describe('the seed pipeline\'s steps', () => {
    test('prepare_data splits the data into the data bucket and creates the experiment, its artifacts proxied', async () => {
      const r = await runStep('prepare-data', taskInputs('prepare-data', {}, outputs));
      expect({ status: r.status, log: r.status === 0 ? '' : tail(r.log) }).toEqual({ status: 0, log: '' });
      outputs['prepare-data'] = r.outputs;
      const dataUri = r.outputs.data_uri;
      expect(dataUri).toBe(`s3://${dataBucket}/prepared/breast_cancer/test_size_0.3`);
      // the split is in the bucket, written with the pipelines' credentials
      const [, bucket, prefix] = /^s3:\/\/([^/]+)\/(.+)$/.exec(dataUri)!;
      const listed = s3Call(s3.endpoint, admin, 'list_objects_v2', { Bucket: bucket, Prefix: `${prefix}/` });
      expect(listed.ok && (listed.response.Contents as Obj[]).map((o) => o.Key.slice(prefix.length + 1)).sort()).toEqual(['X_test.csv', 'X_train.csv', 'y_test.csv', 'y_train.csv']);
      const y = s3Call(s3.endpoint, admin, 'get_object', { Bucket: bucket, Key: `${prefix}/y_test.csv` });
      expect(y.ok && (y.response.Body as string).trim().split('\n').length).toBe(1 + 171); // header + 30% of 569 rows
      // the experiment exists on the tracking server with artifacts behind its proxy (clients need no S3 keys)
      const exp = await mlflowJson('/api/2.0/mlflow/experiments/get-by-name?experiment_name=breast-cancer');
      expect(exp.experiment.artifact_location).toMatch(/^mlflow-artifacts:\//);
    });

    test('train_model logs a random forest run, stores its model through the proxy and registers it; deploy_model points champion at it', async () => {
      const train = await runStep('train-model', taskInputs('train-model', {}, outputs));
      expect({ status: train.status, log: train.status === 0 ? '' : tail(train.log) }).toEqual({ status: 0, log: '' });
      outputs['train-model'] = train.outputs;
      const { run_id: runId, model_name: modelName, model_version: version, roc_auc: auc } = train.outputs;
      expect({ modelName, version }).toEqual({ modelName: 'sklearn-random-forest', version: '1' });
      // the run, as the tracking server recorded it in Postgres
      const run = (await mlflowJson(`/api/2.0/mlflow/runs/get?run_id=${runId}`)).run;
      expect(run.info.status).toBe('FINISHED');
      const params = Object.fromEntries((run.data.params as Obj[]).map((p) => [p.key, p.value]));
      expect(params).toEqual({ n_estimators: '100', data_uri: outputs['prepare-data'].data_uri });
      const metrics = Object.fromEntries((run.data.metrics as Obj[]).map((m) => [m.key, m.value]));
      expect(metrics.roc_auc).toBeCloseTo(Number(auc), 10);
      expect(metrics.roc_auc).toBeGreaterThanOrEqual(0.95);
      // the model's files went through the proxy into the tracking server's bucket
      const mv = (await mlflowJson(`/api/2.0/mlflow/model-versions/get?name=${modelName}&version=${version}`)).model_version;
      expect(mv).toMatchObject({ run_id: runId, status: 'READY' });
      const stored = s3Call(s3.endpoint, admin, 'list_objects_v2', { Bucket: artifactBucket });
      const keys = stored.ok ? ((stored.response.Contents ?? []) as Obj[]).map((o) => o.Key as string) : [];
      const mlmodel = keys.find((k) => k.endsWith('/MLmodel'));
      expect(mlmodel).toBeDefined();
      const text = s3Call(s3.endpoint, admin, 'get_object', { Bucket: artifactBucket, Key: mlmodel! });
      const descriptor = text.ok ? String(text.response.Body) : '';
      expect(descriptor).toMatch(/loader_module: mlflow\.sklearn/);
      // and the serialized forest it names is beside it
      const file = /pickled_model: (\S+)/.exec(descriptor)?.[1];
      expect(keys).toContain(`${dirname(mlmodel!)}/${file}`);

      // when deploy_model runs with train_model's outputs
      const deploy = await runStep('deploy-model', taskInputs('deploy-model', {}, outputs));
      expect({ status: deploy.status, log: deploy.status === 0 ? '' : tail(deploy.log) }).toEqual({ status: 0, log: '' });
      expect(deploy.outputs.endpoint_uri).toBe('models:/sklearn-random-forest@champion');
      // then the registry resolves champion to that version
      const alias = await mlflowJson(`/api/2.0/mlflow/registered-models/alias?name=${modelName}&alias=champion`);
      expect(alias.model_version).toMatchObject({ version, run_id: runId });
      // and what serving reads, the model at endpoint_uri, loads as the forest through the proxy (a pod with a
      // step's env, no S3 keys for the artifact bucket)
      const load = [
        'import json, mlflow',
        `m = mlflow.sklearn.load_model(${JSON.stringify(deploy.outputs.endpoint_uri)})`,
        'import os; os.makedirs("/tmp/outputs", exist_ok=True)',
        'open("/tmp/outputs/endpoint_uri", "w").write(json.dumps({"type": type(m).__name__, "trees": len(m.estimators_)}))',
      ].join('\n');
      const loaded = await runStep('deploy-model', {}, { command: ['python', '-c', load] });
      expect({ status: loaded.status, log: loaded.status === 0 ? '' : tail(loaded.log) }).toEqual({ status: 0, log: '' });
      expect(JSON.parse(loaded.outputs.endpoint_uri)).toEqual({ type: 'RandomForestClassifier', trees: 100 });
    });

    test('a retrain with min_auc above what the forest reaches fails, registers nothing and moves no alias', async () => {
      if (!outputs['train-model']) throw new Error('this needs the first training run, which failed (see above)');
      const reached = Number(outputs['train-model'].roc_auc);
      const minAuc = '0.9999';
      expect(reached).toBeLessThan(Number(minAuc));
      // when train_model runs with the higher threshold (deploy_model depends on it, so Argo would not start it)
      const train = await runStep('train-model', taskInputs('train-model', { min_auc: minAuc }, outputs));
      // then it fails, saying why, after recording its run
      expect(train.status).not.toBe(0);
      expect(train.log).toContain(`is below min_auc ${minAuc}: stopping the pipeline`);
      expect(train.outputs.model_version).toBeUndefined();
      const failedRun = (await mlflowJson(`/api/2.0/mlflow/runs/get?run_id=${train.outputs.run_id}`)).run;
      expect(failedRun.info.status).toBe('FAILED');
      // and the registry is as it was: one version, champion on it
      const versions = (await mlflowJson(`/api/2.0/mlflow/model-versions/search?filter=${encodeURIComponent("name='sklearn-random-forest'")}`)).model_versions as Obj[];
      expect(versions.map((v) => v.version)).toEqual(['1']);
      const model = (await mlflowJson('/api/2.0/mlflow/registered-models/get?name=sklearn-random-forest')).registered_model;
      expect(model.aliases).toEqual([{ alias: 'champion', version: '1' }]);
    });

    test('a step with the pipelines\' credentials cannot write or read the tracking server\'s artifact bucket', async () => {
      // given a step pod's env (the pipelines' S3 keys, the store's Service URL), when it calls the store directly
      const probe = [
        'import json, os, boto3',
        'from botocore.exceptions import ClientError',
        `bucket = ${JSON.stringify(artifactBucket)}`,
        's3 = boto3.client("s3", endpoint_url=os.environ["MLFLOW_S3_ENDPOINT_URL"], region_name=os.environ["AWS_DEFAULT_REGION"])',
        'out = {"key": os.environ["AWS_ACCESS_KEY_ID"]}',
        'for name, call in (("put", lambda: s3.put_object(Bucket=bucket, Key="intruder", Body=b"x")), ("list", lambda: s3.list_objects_v2(Bucket=bucket)),',
        '                   ("data", lambda: s3.put_object(Bucket=os.environ["CD4ML_BUCKET_DATA"], Key="probes/step-credentials", Body=b"x"))):',
        '    try:',
        '        call(); out[name] = "ok"',
        '    except ClientError as e:',
        '        out[name] = e.response["Error"]["Code"]',
        'os.makedirs("/tmp/outputs", exist_ok=True)',
        'open("/tmp/outputs/endpoint_uri", "w").write(json.dumps(out))',
      ].join('\n');
      const r = await runStep('deploy-model', {}, { command: ['python', '-c', probe] });
      expect({ status: r.status, log: r.status === 0 ? '' : tail(r.log) }).toEqual({ status: 0, log: '' });
      // then the store refuses the tracking server's bucket and allows its own
      expect(JSON.parse(r.outputs.endpoint_uri)).toEqual({ key: identities.get('seaweedfs-pipelines')!.accessKey, put: 'AccessDenied', list: 'AccessDenied', data: 'ok' });
      expect(s3Call(s3.endpoint, admin, 'head_object', { Bucket: artifactBucket, Key: 'intruder' })).toMatchObject({ ok: false });
    });

    test('a pod without MLflow credentials cannot move champion or delete a run; the model stays where the pipeline put it', async () => {
      const before = await mlflowJson('/api/2.0/mlflow/registered-models/alias?name=sklearn-random-forest&alias=champion');
      const moved = await mlflowCall('POST', '/api/2.0/mlflow/registered-models/alias', { auth: '', body: { name: 'sklearn-random-forest', alias: 'champion', version: '1' } });
      const deleted = await mlflowCall('DELETE', '/api/2.0/mlflow/registered-models/alias', { auth: '', body: { name: 'sklearn-random-forest', alias: 'champion' } });
      expect([moved.status, deleted.status]).toEqual([401, 401]);
      expect(await mlflowJson('/api/2.0/mlflow/registered-models/alias?name=sklearn-random-forest&alias=champion')).toEqual(before);
    });
  });

  test('a grant taken away is a user deleted at the next start; a user an admin made in MLflow is left alone', async () => {
    const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
    const search = '/api/2.0/mlflow/experiments/search?max_results=1';
    // an analyst the admin creates through MLflow's own API, outside cd4ml's declaration
    const made = await mlflowCall('POST', '/api/2.0/mlflow/users/create', { body: { username: 'analyst', password: 'analyst-password-123' } });
    expect(made.status).toBe(200);
    // the Deployment as it renders once the pipelines' grant is gone: the migrate container no longer lists that user
    const deployment = JSON.parse(JSON.stringify(mlflowDeployment)) as KubeObject;
    const migrate = (podTemplate(deployment).spec.initContainers as Obj[]).find((c) => c.name === 'migrate')!;
    const pipelinesEnv = new Set((migrate.env as Obj[]).filter((e) => e.valueFrom?.secretKeyRef?.name === 'mlflow-user-pipelines').map((e) => e.name as string));
    expect(pipelinesEnv.size).toBe(2);
    migrate.env = (migrate.env as Obj[]).filter((e) => !pipelinesEnv.has(e.name)).map((e) => (e.name === 'CD4ML_AUTH_USERS'
      ? { ...e, value: JSON.stringify((JSON.parse(e.value) as Obj[]).filter((u) => !pipelinesEnv.has(u.usernameEnv))) } : e));
    const r = await sb.runJob(deployment, 'migrate', { path: [pyBin, tools().postgres], timeoutMs: 240000 });
    expect({ status: r.status, lines: r.stdout.trim().split('\n').filter((l) => /MLflow user/.test(l)), stderr: r.status === 0 ? '' : r.stderr }).toEqual({
      status: 0, lines: ['kept MLflow user admin (admin)', 'deleted MLflow user pipelines (no longer granted)'], stderr: '',
    });
    // then the pipelines' password no longer signs in; the analyst's and the admin's still do
    const p = await sb.secret(pipelinesNs, 'mlflow-user-pipelines');
    expect({
      pipelines: (await mlflowCall('GET', search, { auth: basic(p.MLFLOW_TRACKING_USERNAME, p.MLFLOW_TRACKING_PASSWORD) })).status,
      analyst: (await mlflowCall('GET', search, { auth: basic('analyst', 'analyst-password-123') })).status,
      admin: (await mlflowCall('GET', search)).status,
    }).toEqual({ pipelines: 401, analyst: 200, admin: 200 });
  });

  // The delivery's pieces (issue 12) on this same tracking server, once the tests above are done with it: a model
  // endpoint added to the running platform serves the model the seed pipeline trained and a deploy step's account rolls
  // it to a second version a pipeline step registered; the registry steps gate, promote and roll back versions.
  describe('the delivery on this MLflow: the registry steps, and a model endpoint added to the running platform', () => {
    // The same app with a ModelEndpoint of the seed's model at the version train_model registered, and a deploy step's
    // account granted its rollout. Synthesized only: its objects are applied to the running sandbox, as a user would.
    const withEndpoint = new Sandbox(EnvironmentName.SANDBOX, (scope, runner) => {
      const platform = runner.node.scope;
      if (!(platform instanceof Platform)) throw new Error('the pipeline runner is not part of a Platform');
      const endpoint = new ModelEndpoint(scope, ENDPOINT, { platform, model: SEED_MODEL, version: '1', image: EXAMPLES_IMAGE });
      endpoint.grantRollout(new ServiceAccount(scope, 'deployer', { metadata: { name: DEPLOYER, namespace: runner.namespace } }));
    });
    const deployment = withEndpoint.find('Deployment', ENDPOINT);
    const ns = deployment.metadata.namespace!;
    const port: number = (withEndpoint.find('Service', ENDPOINT).spec as Obj).ports[0].port;
    const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
    const search = '/api/2.0/mlflow/experiments/search?max_results=1';
    let pipelines: Record<string, string>;
    let pipelinesAuth = '';
    let migrated: { status: number; stdout: string; stderr: string };
    /** What the pipelines' user, declared again, may do with the seed's model before and after the admin's grant. */
    const regrant: Record<string, number> = {};
    /** The step training the seed model's second version, and the endpoint's model server (started in beforeAll). */
    let training: Started | undefined;
    let endpointServer: Started | undefined;
    /** Where the registry steps' script is, as the delivery's image holds it. */
    const scripts = scratch('promote');

    /** A request to the endpoint at its Service's address (where the local process listens, as in the cluster). */
    const call = (method: string, path: string, body?: string): Promise<{ status: number; body: string }> => new Promise((resolve, reject) => {
      const headers: Record<string, string> = body ? { 'content-type': 'application/json' } : {};
      const req = request({ host: sb.services.address(ENDPOINT, ns), port, path, method, headers, agent: false, timeout: 30000 }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => { text += c.toString(); });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
      req.on('error', reject);
      req.end(body);
    });

    /**
     * Starts the endpoint's container as `workload`'s pod template runs it. One change: the rendered `--host 0.0.0.0`
     * binds the Service's loopback address instead. Every local pod shares this machine's network, and the object
     * store's volume server holds 127.0.0.1:8080 in its own pod (its loopback, in the cluster), which a wildcard bind
     * would collide with; the Service's address stands for the pod's IP, as for every server here.
     */
    async function startEndpoint(workload: KubeObject): Promise<Started> {
      const pod = JSON.parse(JSON.stringify(podTemplate(workload).spec)) as Obj;
      const args: string[] = (pod.containers as Obj[]).find((c) => c.name === MODEL_CONTAINER)!.args;
      expect(args[args.indexOf('--host') + 1]).toBe('0.0.0.0');
      args[args.indexOf('--host') + 1] = sb.services.address(ENDPOINT, ns);
      return sb.track(await startContainer({ cp: sb.cp, namespace: ns, pod, container: MODEL_CONTAINER, hosts: sb.hosts(), path: [pyBin], name: `endpoint-${Date.now()}` }));
    }
    /** Resolves once the endpoint's /ping answers 200 (what its probes ask). */
    async function ready(proc: Started): Promise<Started> {
      await waitFor('the model endpoint\'s /ping', async () => ((await call('GET', '/ping').catch(() => undefined))?.status === 200 ? true : undefined), 120000, { proc, intervalMs: 500 });
      return proc;
    }

    beforeAll(async () => {
      if (!outputs['prepare-data']?.data_uri || outputs['train-model']?.model_version !== '1') throw new Error('this needs the seed pipeline\'s version 1, which the tests above did not register');
      copyFileSync(join(ROOT, 'constructs', 'delivery', 'promote.py'), join(scripts, 'promote.py'));
      // every object as the app now renders, server-side with strict validation (the endpoint's, the tracking server's
      // Deployment and NetworkPolicy, the generator's Job and its list of Secrets)
      await apply(sb.cp, withEndpoint.platformObjects);
      await apply(sb.cp, withEndpoint.pipelineObjects);
      // the generator Job as it now renders: it makes the endpoint's Secret and keeps every other. The API server
      // enforces the admission policy it just stored (the list of the generator's Secrets) from its informer's cache,
      // a moment later: until then its refusal is a failed pod, which the Job's controller would run again.
      await waitFor('the credentials Job to pass the updated admission policy', async () => {
        const creds = await sb.runJob(withEndpoint.find('Job', /^cd4ml-credentials-/), 'generate');
        if (creds.status === 0) return true;
        if (/denied request/.test(creds.stderr)) throw new Error(`credentials Job: ${creds.stderr}`);
        throw Object.assign(new Error(`credentials Job: ${creds.stderr}`), { final: true });
      }, 30000, { intervalMs: 1000 });
      // the tracking server's pod as the Deployment now renders it: its migrate container runs again (the server
      // container is unchanged and keeps running: the users it checks live in the database)
      migrated = await sb.runJob(withEndpoint.find('Deployment', 'mlflow'), 'migrate', { path: [pyBin, tools().postgres], timeoutMs: 240000 });
      if (migrated.status !== 0) throw new Error(`MLflow's migrate container: ${migrated.stderr}`);
      pipelines = await sb.secret(pipelinesNs, 'mlflow-user-pipelines');
      pipelinesAuth = basic(pipelines.MLFLOW_TRACKING_USERNAME, pipelines.MLFLOW_TRACKING_PASSWORD);
      // the user deleted above managed the seed's model (it registered it); the one declared again is a new user
      const champion = { name: SEED_MODEL, alias: 'champion', version: '1' };
      regrant.before = (await mlflowCall('POST', '/api/2.0/mlflow/registered-models/alias', { auth: pipelinesAuth, body: champion })).status;
      regrant.grant = (await mlflowCall('POST', '/api/3.0/mlflow/users/permissions/grant', { body: { username: pipelines.MLFLOW_TRACKING_USERNAME, resource_type: 'registered_model', resource_id: SEED_MODEL, permission: 'MANAGE' } })).status;
      regrant.after = (await mlflowCall('POST', '/api/2.0/mlflow/registered-models/alias', { auth: pipelinesAuth, body: champion })).status;
      if (regrant.after !== 200) return; // (the first test says what went wrong)
      // Beside each other, as in a cluster, while the registry steps below run: a pod of the training step (its env:
      // the pipelines' MLflow user and S3 keys) trains and registers a second version of the seed's model, and the
      // endpoint's pod (the controller made it when the objects were applied) downloads and loads version 1.
      training = sb.track(await startContainer(stepPod('train-model', {}, { command: ['python', '-c', TRAIN_COMPLEMENT, outputs['prepare-data'].data_uri, SEED_MODEL], podName: 'step-train-complement' }).options));
      endpointServer = await startEndpoint(deployment);
    }, 300000);

    test('the generator makes the endpoint\'s Secret and the migrate container its MLflow user; the pipelines\' user comes back, without what MLflow dropped with it', async () => {
      expect({ status: migrated.status, lines: migrated.stdout.trim().split('\n').filter((l) => /MLflow user/.test(l)), stderr: migrated.status === 0 ? '' : migrated.stderr }).toEqual({
        status: 0, lines: ['kept MLflow user admin (admin)', 'created MLflow user pipelines', `created MLflow user endpoint-${ENDPOINT}`], stderr: '',
      });
      // each signs in with the password its Secret holds
      const endpointUser = await sb.secret(platformNs, `mlflow-user-endpoint-${ENDPOINT}`);
      expect({
        endpoint: (await mlflowCall('GET', search, { auth: basic(endpointUser.MLFLOW_TRACKING_USERNAME, endpointUser.MLFLOW_TRACKING_PASSWORD) })).status,
        pipelines: (await mlflowCall('GET', search, { auth: pipelinesAuth })).status,
      }).toEqual({ endpoint: 200, pipelines: 200 });
      // the user declared again no longer manages the model its predecessor registered, until the admin grants it
      expect(regrant).toEqual({ before: 403, grant: 200, after: 200 });
    });

    /**
     * Runs a registry step as the delivery's pod would: the image's Python in a pipeline step's pod, the tracking URI
     * and the pipelines' user from its env (`password` in place of the user's own). Returns its exit status, the result
     * it printed, its stdout and its stderr.
     */
    const step = async (args: string[], o: { password?: string } = {}) => {
      const { options } = stepPod('deploy-model', {}, {
        command: ['python', '/app/delivery/promote.py', ...args],
        files: [[scripts, '/app/delivery']], env: o.password ? [{ name: 'MLFLOW_TRACKING_PASSWORD', value: o.password }] : [],
      });
      const r = await runContainer({ ...options, timeoutMs: 60000 });
      return { status: r.status, result: r.stdout.trim() ? JSON.parse(r.stdout.trim()) as Obj : undefined, stdout: r.stdout, stderr: r.stderr };
    };

    describe('the registry steps (constructs/delivery/promote.py) with the pipelines\' MLflow user', () => {
      let experimentId = '';
      /** One call to MLflow's REST API as the pipelines' user (what the delivery's pods sign in as). */
      const api = async (method: string, path: string, body?: Obj): Promise<Obj> => {
        const r = await mlflowCall(method, `/api/2.0/mlflow/${path}`, { auth: pipelinesAuth, body });
        if (r.status !== 200) throw new Error(`${method} ${path}: ${r.status} ${r.body}`);
        return r.body ? JSON.parse(r.body) : {};
      };
      /**
       * Versions of `model`, one per value, each from a run that logged `roc_auc` as it: the runs made together, then
       * the versions one after the other (numbered in the order given).
       */
      const versions = async (model: string, aucs: number[]): Promise<string[]> => {
        const runs = await Promise.all(aucs.map(async (auc) => {
          const info = (await api('POST', 'runs/create', { experiment_id: experimentId, run_name: `auc-${auc}` })).run.info;
          await api('POST', 'runs/log-metric', { run_id: info.run_id, key: 'roc_auc', value: auc, timestamp: Date.now(), step: 0 });
          return info;
        }));
        const out: string[] = [];
        for (const info of runs) out.push((await api('POST', 'model-versions/create', { name: model, source: `${info.artifact_uri}/model`, run_id: info.run_id })).model_version.version);
        return out;
      };
      // what the registry holds, as the admin reads it
      const aliasOf = async (model: string) => (await mlflowJson(`/api/2.0/mlflow/registered-models/get?name=${model}`)).registered_model.aliases ?? [];
      const tagsOf = async (model: string, v: string) => Object.fromEntries(((await mlflowJson(`/api/2.0/mlflow/model-versions/get?name=${model}&version=${v}`)).model_version.tags ?? []).map((t: Obj) => [t.key, t.value]));

      beforeAll(async () => {
        // the runs the versions come from, in an experiment of the pipelines' user
        experimentId = (await api('POST', 'experiments/create', { name: 'delivery-registry-tier' })).experiment_id;
      });

      test('the gate passes a first candidate over the floor, then only one that beats the champion by the minimum improvement', async () => {
        await api('POST', 'registered-models/create', { name: 'churn' });
        const [v1, low] = await versions('churn', [0.91, 0.80]);
        const floorArgs = ['--model', 'churn', '--metric', 'roc_auc', '--minimum', '0.85', '--min-improvement', '0.01'];
        // no champion yet: the floor decides
        expect(await step(['gate', '--version', low, ...floorArgs])).toMatchObject({ status: 3, result: { passed: false, reason: 'roc_auc 0.8 is below the minimum 0.85', champion: null } });
        expect(await step(['gate', '--version', v1, ...floorArgs])).toMatchObject({ status: 0, result: { passed: true, reason: 'no champion yet', score: 0.91 } });
        expect(await step(['promote', '--model', 'churn', '--version', v1, '--commit', 'a'.repeat(40), '--image', 'registry.example/churn@sha256:' + '1'.repeat(64)])).toMatchObject({ status: 0, result: { version: v1, previous: null } });
        // a candidate must beat the champion by the minimum improvement
        const [same, better] = await versions('churn', [0.915, 0.95]);
        expect(await step(['gate', '--version', same, ...floorArgs])).toMatchObject({ status: 3, result: { passed: false, champion: v1, championScore: 0.91, reason: 'roc_auc 0.915 does not beat the champion\'s 0.91 by 0.01' } });
        expect(await step(['gate', '--version', better, ...floorArgs])).toMatchObject({ status: 0, result: { passed: true, champion: v1 } });
        // a version whose run logged no such metric never passes
        expect(await step(['gate', '--version', better, '--model', 'churn', '--metric', 'f1'])).toMatchObject({ status: 3, result: { passed: false, reason: 'the candidate\'s run logged no f1' } });
      });

      test('promote moves the alias and tags the version with commit, image, time and the version it replaced; rollback restores it', async () => {
        await api('POST', 'registered-models/create', { name: 'fraud' });
        const [v1, v2] = await versions('fraud', [0.9, 0.97]);
        const sha = 'b'.repeat(40);
        const image = `registry.example/fraud@sha256:${'2'.repeat(64)}`;
        expect((await step(['promote', '--model', 'fraud', '--version', v1, '--commit', 'c'.repeat(40), '--image', image])).status).toBe(0);
        expect(await step(['promote', '--model', 'fraud', '--version', v2, '--commit', sha, '--image', image])).toMatchObject({ status: 0, result: { alias: 'champion', version: v2, previous: v1 } });
        expect(await aliasOf('fraud')).toEqual([{ alias: 'champion', version: v2 }]);
        const tags = await tagsOf('fraud', v2);
        expect(tags).toMatchObject({ 'cd4ml.commit': sha, 'cd4ml.image': image, 'cd4ml.previous_champion': v1 });
        expect(Date.parse(tags['cd4ml.promoted_at'])).toBeGreaterThan(Date.now() - 600000);
        // the smoke test failed: the alias goes back to v1, and v2 says why
        expect(await step(['rollback', '--model', 'fraud', '--version', v2, '--reason', 'smoke test: /invocations answered 500'])).toMatchObject({ status: 0, result: { restored: v1, moved: true } });
        expect(await aliasOf('fraud')).toEqual([{ alias: 'champion', version: v1 }]);
        expect(await tagsOf('fraud', v2)).toMatchObject({ 'cd4ml.rollback_reason': 'smoke test: /invocations answered 500' });
        // a rollback of a version the alias no longer points at moves nothing (a later delivery's promotion stays)
        expect(await step(['rollback', '--model', 'fraud', '--version', v2, '--reason', 'late'])).toMatchObject({ status: 0, result: { moved: false } });
        expect(await aliasOf('fraud')).toEqual([{ alias: 'champion', version: v1 }]);
        // the first champion rolled back: no alias at all
        expect(await step(['rollback', '--model', 'fraud', '--version', v1, '--reason', 'first'])).toMatchObject({ status: 0, result: { restored: null, moved: true } });
        expect(await aliasOf('fraud')).toEqual([]);
      });

      test('an alias is never taken for a version, a wrong password is an error with MLflow\'s answer and no secret', async () => {
        expect((await step(['gate', '--model', 'churn', '--version', 'champion', '--metric', 'roc_auc'])).stderr).toMatch(/--version 'champion' is not a version number: give the exact version, never an alias/);
        const r = await step(['gate', '--model', 'churn', '--version', '1', '--metric', 'roc_auc'], { password: 'wrong-password-9' });
        expect(r.status).toBe(1);
        expect(r.stderr).toMatch(/promote.py gate: MLflow answered 401/);
        const admin = await sb.secret(platformNs, 'mlflow-admin');
        for (const secret of ['wrong-password-9', pipelines.MLFLOW_TRACKING_PASSWORD, admin.MLFLOW_TRACKING_PASSWORD]) expect({ secret, echoed: (r.stderr + r.stdout).includes(secret) }).toEqual({ secret, echoed: false });
      });
    });

    describe('the model endpoint, serving the model the seed pipeline trained', () => {
      const deployer = `system:serviceaccount:${pipelinesNs}:${DEPLOYER}`;
      let trained: { versions: Record<string, number[]>; serving_input: string; roc_auc: number };
      let asDeployer: ApiAccess;
      let kubeconfig: string;

      /** The predictions the endpoint answers for the model's input example, as MLflow stored it. */
      async function predictions(): Promise<number[]> {
        const r = await call('POST', '/invocations', trained.serving_input);
        if (r.status !== 200) throw new Error(`POST /invocations: ${r.status} ${r.body}`);
        return (JSON.parse(r.body) as { predictions: number[] }).predictions;
      }

      /** kubectl as the deploy step's service account (its own token, the real authorizer). */
      const kubectl = (...args: string[]) => run(join(tools().kube, 'kubectl'), ['--kubeconfig', kubeconfig, '-n', ns, ...args], { allowFail: true, timeoutMs: 30000 });

      beforeAll(async () => {
        // the second version of the seed's model, from the training step started above
        if (!training) throw new Error('the training step did not start (see the first test of this block)');
        const proc = training;
        await waitFor('the training step to finish', () => (proc.exited() ? true : undefined), 240000, { intervalMs: 500 });
        if (proc.child.exitCode !== 0) throw new Error(`training failed (${proc.child.exitCode}):\n${proc.tail(15)}`);
        trained = JSON.parse(readFileSync(join(dirname(proc.log), 'volumes', 'tmp', 'out.json'), 'utf8'));
        asDeployer = { server: sb.cp.admin.server, token: await tokenFor(sb.cp, pipelinesNs, DEPLOYER) };
        kubeconfig = writeKubeconfig(scratch('deployer'), 'deployer', asDeployer);
      }, 300000);

      test('the registry\'s gate keeps the champion train_model made over the complement forest a step registered', async () => {
        const r = await step(['gate', '--model', SEED_MODEL, '--version', '2', '--metric', 'roc_auc', '--minimum', '0.9', '--min-improvement', '0.01']);
        expect(r).toMatchObject({ status: 3, result: { passed: false, candidate: '2', score: trained.roc_auc, champion: '1' } });
        expect(r.result!.championScore).toBeCloseTo(Number(outputs['train-model'].roc_auc), 10);
        expect(r.result!.reason).toMatch(/^roc_auc 0\.\d+ is below the minimum 0\.9$/);
      });

      test('the API server accepts the endpoint\'s objects and admits its pod under restricted, with exactly the declared resources', async () => {
        // given the objects the endpoint renders
        const mine = withEndpoint.pipelineObjects.filter((o) => o.metadata.labels?.['app.kubernetes.io/instance'] === ENDPOINT);
        expect(mine.map((o) => o.kind).sort()).toEqual(['Deployment', 'NetworkPolicy', 'Role', 'RoleBinding', 'Service', 'ServiceAccount', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding']);
        // then each is stored on the server (the apply above was strict and refused nothing)
        for (const o of mine) expect({ object: `${o.kind} ${o.metadata.name}`, stored: (await get(sb.cp, o.apiVersion, o.kind, o.metadata.namespace, o.metadata.name)) !== undefined }).toEqual({ object: `${o.kind} ${o.metadata.name}`, stored: true });
        // and the Deployment controller made a pod the API server admitted in the restricted namespace, as declared
        const pods = await podsOf(sb.cp, [deployment]);
        const [{ pods: [pod] }] = [...pods.values()];
        expect(resourceDrift(deployment, pod)).toEqual([]);
        expect((await get<Obj>(sb.cp, 'v1', 'Namespace', undefined, ns))?.metadata.labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
      });

      test('it serves version 1, the forest train_model registered, from MLflow through the artifact proxy, with its own user and no S3 key', async () => {
        // given two registered versions of the seed's model that answer its input example differently
        expect(Object.keys(trained.versions)).toEqual(['1', '2']);
        expect(trained.versions['2']).toEqual(trained.versions['1'].map((p) => 1 - p));
        // and a pod template that holds MLflow credentials only
        const env = (podTemplate(deployment).spec.containers[0].env as Obj[]).map((e) => e.name as string);
        expect(env.filter((n) => /^AWS_|S3/.test(n))).toEqual([]);
        // when the container runs as the Deployment renders it (started above, beside the training step)
        await ready(endpointServer!);
        // then it downloaded models:/<model>/1 and answers the example with version 1's predictions, 0 or 1 per row
        const got = await predictions();
        expect(got).toHaveLength(JSON.parse(trained.serving_input).dataframe_split.data.length);
        expect(got.every((p) => p === 0 || p === 1)).toBe(true);
        expect(got).toEqual(trained.versions['1']);
        expect((await call('GET', '/version')).body).toBe('3.17.0');
        expect((await call('GET', '/health')).status).toBe(200);
      });

      test('the granted account rolls it with kubectl set env, watches the rollout, and may do nothing else', async () => {
        // when the deploy step's account sets the version, as the README says
        const set = kubectl('set', 'env', `deployment/${ENDPOINT}`, '-c', MODEL_CONTAINER, `${MODEL_VERSION_ENV}=2`);
        expect({ status: set.status, stderr: set.stderr }).toEqual({ status: 0, stderr: '' });
        const stored = await get<Obj>(sb.cp, 'apps/v1', 'Deployment', ns, ENDPOINT);
        expect(stored!.spec.template.spec.containers[0].env.find((e: Obj) => e.name === MODEL_VERSION_ENV)).toEqual({ name: MODEL_VERSION_ENV, value: '2' });
        // it may watch the rollout (a list and watch by name, what kubectl rollout status asks)
        const status = kubectl('rollout', 'status', `deployment/${ENDPOINT}`, '--watch=false');
        expect({ status: status.status, stderr: status.stderr, stdout: status.stdout }).toEqual({ status: 0, stderr: '', stdout: expect.stringMatching(/deployment "classifier"|Waiting for deployment "classifier"/) });
        // but the admission policy refuses any other change of the Deployment, and an alias for the version
        const refusals: Record<string, string[]> = {
          image: ['set', 'image', `deployment/${ENDPOINT}`, `${MODEL_CONTAINER}=registry.example/other:1.0.0`],
          'other env': ['set', 'env', `deployment/${ENDPOINT}`, '-c', MODEL_CONTAINER, 'MLFLOW_TRACKING_URI=http://attacker.example'],
          alias: ['set', 'env', `deployment/${ENDPOINT}`, '-c', MODEL_CONTAINER, `${MODEL_VERSION_ENV}=champion`],
          'service account': ['patch', `deployment/${ENDPOINT}`, '-p', JSON.stringify({ spec: { template: { spec: { serviceAccountName: 'mlflow' } } } })],
          'a Secret mounted': ['patch', `deployment/${ENDPOINT}`, '-p', JSON.stringify({ spec: { template: { spec: { volumes: [{ name: 'loot', secret: { secretName: 'postgres-superuser' } }] } } } })],
          replicas: ['scale', `deployment/${ENDPOINT}`, '--replicas=5'],
          // labels decide which NetworkPolicies select a pod (the selector's own labels the API server keeps anyway)
          'a pod label': ['patch', `deployment/${ENDPOINT}`, '-p', JSON.stringify({ spec: { template: { metadata: { labels: { 'team.example/tier': 'open' } } } } })],
        };
        for (const [what, args] of Object.entries(refusals)) {
          const r = kubectl(...args);
          expect({ what, status: r.status, refused: /denied request|forbidden/i.test(r.stderr) }).toEqual({ what, status: 1, refused: true });
        }
        expect((await get<Obj>(sb.cp, 'apps/v1', 'Deployment', ns, ENDPOINT))!.metadata.generation).toBe(stored!.metadata.generation);
        // and the authorizer refuses it everything but this Deployment
        const may = (a: { verb: string; resource: string; group?: string; namespace?: string; name?: string; subresource?: string }) => can(sb.cp, deployer, a);
        expect(await may({ verb: 'patch', resource: 'deployments', group: 'apps', namespace: ns, name: ENDPOINT })).toBe(true);
        const denied = [
          { verb: 'patch', resource: 'deployments', group: 'apps', namespace: ns, name: 'mlflow' },
          { verb: 'update', resource: 'deployments', group: 'apps', namespace: ns, name: ENDPOINT },
          { verb: 'delete', resource: 'deployments', group: 'apps', namespace: ns, name: ENDPOINT },
          { verb: 'create', resource: 'deployments', group: 'apps', namespace: ns },
          { verb: 'list', resource: 'deployments', group: 'apps', namespace: ns },
          { verb: 'patch', resource: 'deployments', group: 'apps', namespace: ns, name: ENDPOINT, subresource: 'scale' },
          { verb: 'get', resource: 'secrets', namespace: ns, name: `mlflow-user-endpoint-${ENDPOINT}` },
          { verb: 'create', resource: 'pods', namespace: ns },
          { verb: 'patch', resource: 'services', namespace: ns, name: ENDPOINT },
          { verb: 'patch', resource: 'deployments', group: 'apps', namespace: pipelinesNs, name: ENDPOINT },
        ];
        for (const a of denied) expect({ ...a, allowed: await may(a) }).toEqual({ ...a, allowed: false });
        // a list of every Deployment is refused; the list by name that rollout status makes is allowed
        const list = (query: string) => sb.cp.api('GET', `/apis/apps/v1/namespaces/${ns}/deployments${query}`, undefined, asDeployer);
        expect((await list('')).status).toBe(403);
        expect((await list(`?fieldSelector=${encodeURIComponent(`metadata.name=${ENDPOINT}`)}`)).status).toBe(200);
      });

      test('the Deployment the rollout left serves version 2', async () => {
        // given the Deployment as the API server holds it after the rollout
        const rolled = await get<KubeObject>(sb.cp, 'apps/v1', 'Deployment', ns, ENDPOINT);
        // when its pod's container starts in place of the old one
        if (endpointServer) await stop(endpointServer);
        endpointServer = await ready(await startEndpoint(rolled!));
        // then it serves version 2: every prediction flipped
        const got = await predictions();
        expect(got).toEqual(trained.versions['2']);
      });

      // The delivery's deploy step (constructs/delivery/delivery.py deploy), as a pod of the granted account runs it,
      // with the pipelines' MLflow user: it patches the version, waits for the rollout the Deployment controller makes,
      // and sends the model's input example. This machine plays the kubelet: each new pod of the endpoint gets its
      // container started as that pod says (the old one stopped: one address stands for the Service) and its Ready
      // status once /ping answers; the Deployment controller does the rest.
      describe('the delivery\'s deploy step rolls the endpoint, smoke-tests it, and rolls back a version that fails', () => {
        const selector = Object.entries((deployment.spec as Obj).selector.matchLabels as Record<string, string>).map(([k, v]) => `${k}=${v}`).join(',');
        const pods = async () => (await list<Obj>(sb.cp, 'v1', 'Pod', ns, selector)).filter((p) => !p.metadata.deletionTimestamp);
        const isReady = (p: Obj) => ((p.status?.conditions ?? []) as Obj[]).some((c) => c.type === 'Ready' && c.status === 'True');
        /** Marks a pod Running and Ready, as the kubelet reports a container that passes its probes. */
        const markReady = async (p: Obj) => {
          const now = new Date().toISOString();
          const r = await sb.cp.api<Obj>('PATCH', `/api/v1/namespaces/${ns}/pods/${p.metadata.name}/status`, {
            status: {
              phase: 'Running', startTime: now,
              conditions: ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready'].map((type) => ({ type, status: 'True', lastTransitionTime: now })),
              containerStatuses: [{ name: MODEL_CONTAINER, ready: true, started: true, restartCount: 0, image: p.spec.containers[0].image, imageID: '', state: { running: { startedAt: now } } }],
            },
          }, sb.cp.admin, 'application/merge-patch+json');
          if (r.status !== 200) throw new Error(`pod ${p.metadata.name} status: ${r.status} ${JSON.stringify(r.body)}`);
        };
        const versionOf = (p: Obj) => (p.spec.containers[0].env as Obj[]).find((e) => e.name === MODEL_VERSION_ENV)!.value as string;
        /** Plays the kubelet until `proc` exits: the versions it started, in order. */
        async function kubelet(proc: Started): Promise<string[]> {
          const started: string[] = [];
          while (!proc.exited()) {
            for (const p of (await pods()).filter((x) => !isReady(x))) {
              if (endpointServer) await stop(endpointServer);
              endpointServer = await startEndpoint({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: ENDPOINT }, spec: { template: { spec: p.spec } } } as KubeObject);
              started.push(versionOf(p));
              await ready(endpointServer);
              await markReady(p);
            }
            await new Promise((r) => setTimeout(r, 250));
          }
          return started;
        }
        /** delivery.py deploy in a pod of the deploy account, with the pipelines' MLflow user; the kubelet played meanwhile. */
        async function deploy(version: string): Promise<{ status: number | null; log: string; started: string[]; output: string }> {
          const { options } = stepPod('deploy-model', {}, {
            command: ['python', '/app/delivery/delivery.py', 'deploy', '--namespace', ns, '--deployment', ENDPOINT, '--model', SEED_MODEL, '--version', version,
              '--url', `http://${ENDPOINT}.${ns}.svc.cluster.local:${port}`, '--timeout', '240', '--interval', '1', '--output', '/tmp/endpoint'],
            files: [[scripts, '/app/delivery']], podName: `deploy-${version}-${Date.now()}`,
          });
          const proc = sb.track(await startContainer({ ...options, pod: { ...options.pod, serviceAccountName: DEPLOYER, automountServiceAccountToken: true } }));
          const started = await kubelet(proc);
          const out = join(dirname(proc.log), 'volumes', 'tmp', 'endpoint');
          return { status: proc.child.exitCode, log: proc.tail(40), started, output: existsSync(out) ? readFileSync(out, 'utf8') : '' };
        }
        const champion = async () => (await mlflowJson(`/api/2.0/mlflow/registered-models/alias?name=${SEED_MODEL}&alias=champion`)).model_version.version as string;
        let broken = '';

        beforeAll(async () => {
          copyFileSync(join(ROOT, 'constructs', 'delivery', 'delivery.py'), join(scripts, 'delivery.py'));
          // the endpoint as the last test left it: version 2's pod serving, which the kubelet reports Ready
          for (const p of await pods()) if (versionOf(p) === '2' && !isReady(p)) await markReady(p);
          // and a version that cannot predict, registered by a step's pod as the pipelines' user
          const r = await runContainer({ ...stepPod('train-model', {}, { command: ['python', '-c', REGISTER_BROKEN, SEED_MODEL], podName: 'step-register-broken' }).options, timeoutMs: 180000 });
          if (r.status !== 0) throw new Error(`registering the broken version: ${r.stderr.slice(-2000)}`);
          broken = r.stdout.trim().split('\n').pop()!;
        }, 240000);

        test('it rolls the endpoint to version 1, waits for the rollout, and the smoke test gets version 1\'s predictions', async () => {
          const r = await deploy('1');
          expect({ status: r.status, log: r.status === 0 ? '' : r.log }).toEqual({ status: 0, log: '' });
          expect(r.started).toEqual(['1']);
          expect(r.output).toBe(`http://${ENDPOINT}.${ns}.svc.cluster.local:${port}`);
          expect(r.log).toMatch(/serves version 1: \[/);
          const stored = await get<Obj>(sb.cp, 'apps/v1', 'Deployment', ns, ENDPOINT);
          expect(stored!.spec.template.spec.containers[0].env.find((e: Obj) => e.name === MODEL_VERSION_ENV).value).toBe('1');
          expect(stored!.status).toMatchObject({ replicas: 1, updatedReplicas: 1, availableReplicas: 1 });
          expect(await predictions()).toEqual(trained.versions['1']);
        }, 300000);

        test('a promoted version whose smoke test fails is rolled back: the endpoint serves version 1 again and champion points at it', async () => {
          // given the broken version promoted over version 1 (what the delivery's promote step does before deploying)
          expect(Number(broken)).toBeGreaterThan(2);
          expect(await champion()).toBe('1');
          const promoted = await step(['promote', '--model', SEED_MODEL, '--version', broken, '--commit', 'b'.repeat(40), '--image', `registry.example/cd4ml-examples@sha256:${'2'.repeat(64)}`]);
          expect(promoted).toMatchObject({ status: 0, result: { version: broken, previous: '1' } });
          // when the deploy step rolls the endpoint to it
          const r = await deploy(broken);
          // then the version loaded and answered /ping, the smoke test failed, and the endpoint went back to version 1
          expect({ status: r.status, started: r.started }).toEqual({ status: 1, started: [broken, '1'] });
          expect(r.log).toMatch(new RegExp(`deploy: deploying version ${broken} failed: /invocations answered \\d{3}`));
          expect(r.log).toMatch(/the endpoint serves version 1 again/);
          expect(r.output).toBe('');
          const stored = await get<Obj>(sb.cp, 'apps/v1', 'Deployment', ns, ENDPOINT);
          expect(stored!.spec.template.spec.containers[0].env.find((e: Obj) => e.name === MODEL_VERSION_ENV).value).toBe('1');
          expect(await predictions()).toEqual(trained.versions['1']);
          // and the alias went back, the version tagged with why
          expect(await champion()).toBe('1');
          const tags = Object.fromEntries(((await mlflowJson(`/api/2.0/mlflow/model-versions/get?name=${SEED_MODEL}&version=${broken}`)).model_version.tags as Obj[]).map((t) => [t.key, t.value]));
          expect(tags['cd4ml.rollback_reason']).toMatch(/\/invocations answered/);
          expect(tags['cd4ml.rolled_back_at']).toMatch(/^\d{4}-\d{2}-\d{2}T/);
        }, 400000);
      });
    });
  });
});
