import { ServiceAccount } from 'cdk8s-plus-27';
import { mkdirSync, readFileSync, writeFileSync } from 'fs';
import { request } from 'http';
import { join } from 'path';
import { Platform } from '../../constructs';
import { MODEL_CONTAINER, MODEL_VERSION_ENV, ModelEndpoint } from '../../constructs/delivery/model-endpoint';
import { EnvironmentName } from '../../lib';
import { EXAMPLES_IMAGE } from '../../stacks/app';
import { get, KubeObject } from './support/apply';
import { ApiAccess, writeKubeconfig } from './support/control-plane';
import { runContainer, startContainer, tokenFor } from './support/local-pod';
import { run, scratch, Started, stop, waitFor } from './support/processes';
import { Sandbox } from './support/sandbox';
import { tools } from './support/tools';
import { can, podsOf, podTemplate, resourceDrift } from './support/workloads';

// The model endpoint as users get it: its objects applied to a real API server (RBAC, PodSecurity, admission policies,
// the controllers making its pod), and its container's command run as the rendered Deployment runs it (command, args
// with $(CD4ML_MODEL_VERSION) expanded, env and Secrets from the API server, the pod's uid, /tmp on its emptyDir)
// against the real MLflow, which holds two registered versions of a model trained here. A deploy step's service
// account then rolls it with kubectl, and the Deployment the API server holds afterwards serves the other version.

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const ENDPOINT = 'classifier';
const MODEL = 'tier-breast-cancer';
const DEPLOYER = 'model-deployer';

/** Trains two versions of a model with the real MLflow client and registers them; writes what each predicts. */
const TRAIN = `
import json, os
import mlflow
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

name = os.environ["CD4ML_MODEL"]
X, y = load_breast_cancer(return_X_y=True, as_frame=True)
# rows of both classes
example = X.iloc[[0, 1, 19, 20, 21, 37]]
mlflow.set_experiment("model-endpoint-tier")
out = {"versions": {}}
# version 2 learns the complement of the labels, so the two versions answer each row differently
for run_name, target in (("labels", y), ("complement", 1 - y)):
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, target)
    with mlflow.start_run(run_name=run_name):
        info = mlflow.sklearn.log_model(clf, name="model", input_example=example)
    version = mlflow.register_model(info.model_uri, name).version
    out["versions"][str(version)] = [int(p) for p in clf.predict(example)]
    if "serving_input" not in out:
        # the request body MLflow derived from the input example, stored beside the model
        local = mlflow.artifacts.download_artifacts(info.model_uri)
        with open(os.path.join(local, "serving_input_example.json")) as f:
            out["serving_input"] = f.read()
with open("/tmp/out.json", "w") as f:
    json.dump(out, f)
`;

describe('the model endpoint on real servers', () => {
  const sb = new Sandbox(EnvironmentName.SANDBOX, (scope, runner) => {
    const platform = runner.node.scope;
    if (!(platform instanceof Platform)) throw new Error('the pipeline runner is not part of a Platform');
    const endpoint = new ModelEndpoint(scope, ENDPOINT, { platform, model: MODEL, version: '1', image: EXAMPLES_IMAGE });
    endpoint.grantRollout(new ServiceAccount(scope, 'deployer', { metadata: { name: DEPLOYER, namespace: runner.namespace } }));
  });
  const deployment = sb.find('Deployment', ENDPOINT);
  const ns = deployment.metadata.namespace!;
  const pipelinesNs = sb.find('LimitRange', 'pipelines').metadata.namespace!;
  const port: number = (sb.find('Service', ENDPOINT).spec as Obj).ports[0].port;
  const mlflowPort: number = (sb.find('Service', 'mlflow').spec as Obj).ports[0].port;
  const deployer = `system:serviceaccount:${pipelinesNs}:${DEPLOYER}`;
  let pyBin: string;
  let trained: { versions: Record<string, number[]>; serving_input: string };
  let asDeployer: ApiAccess;
  let kubeconfig: string;
  let server: Started | undefined;

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
   * Starts the endpoint's container as `workload`'s pod template runs it; resolves once /ping answers 200. One change:
   * the rendered `--host 0.0.0.0` binds the Service's loopback address instead. Every local pod shares this machine's
   * network, and the object store's volume server holds 127.0.0.1:8080 in its own pod (its loopback, in the cluster),
   * which a wildcard bind would collide with; the Service's address stands for the pod's IP, as for every server here.
   */
  async function serve(workload: KubeObject): Promise<Started> {
    const pod = JSON.parse(JSON.stringify(podTemplate(workload).spec)) as Obj;
    const args: string[] = (pod.containers as Obj[]).find((c) => c.name === MODEL_CONTAINER)!.args;
    expect(args[args.indexOf('--host') + 1]).toBe('0.0.0.0');
    args[args.indexOf('--host') + 1] = sb.services.address(ENDPOINT, ns);
    const proc = sb.track(await startContainer({ cp: sb.cp, namespace: ns, pod, container: MODEL_CONTAINER, hosts: sb.hosts(), path: [pyBin], name: `endpoint-${Date.now()}` }));
    await waitFor('the model endpoint\'s /ping', async () => ((await call('GET', '/ping').catch(() => undefined))?.status === 200 ? true : undefined), 120000, { proc, intervalMs: 500 });
    return proc;
  }

  /** The predictions the endpoint answers for the model's input example, as MLflow stored it. */
  async function predictions(): Promise<number[]> {
    const r = await call('POST', '/invocations', trained.serving_input);
    if (r.status !== 200) throw new Error(`POST /invocations: ${r.status} ${r.body}`);
    return (JSON.parse(r.body) as { predictions: number[] }).predictions;
  }

  /** kubectl as the deploy step's service account (its own token, the real authorizer). */
  const kubectl = (...args: string[]) => run(join(tools().kube, 'kubectl'), ['--kubeconfig', kubeconfig, '-n', ns, ...args], { allowFail: true, timeoutMs: 30000 });

  beforeAll(async () => {
    // every object of the platform, the pipelines and the endpoint applied, server-side with strict validation
    await sb.start();
    const creds = await sb.runJob(sb.find('Job', /^cd4ml-credentials-/), 'generate');
    if (creds.status !== 0) throw new Error(`credentials Job: ${creds.stderr}`);
    await sb.startPostgres();
    pyBin = join(tools().python, 'bin');
    await sb.startObjectStore();
    const mlflow = sb.find('Deployment', 'mlflow');
    const migrate = await sb.runJob(mlflow, 'migrate', { path: [pyBin, tools().postgres], timeoutMs: 240000 });
    if (migrate.status !== 0) throw new Error(`MLflow's migrate container: ${migrate.stderr}`);
    const tracking = sb.track(await startContainer({ cp: sb.cp, namespace: ns, pod: podTemplate(mlflow).spec, container: 'mlflow', hosts: sb.hosts(), path: [pyBin] }));
    const health = `http://${sb.services.address('mlflow', ns)}:${mlflowPort}/health`;
    await waitFor('MLflow /health', async () => ((await fetch(health).catch(() => undefined))?.ok ? true : undefined), 150000, { proc: tracking, intervalMs: 1000 });

    // two versions of a model, registered by a pod with the pipelines' MLflow user, as a training step would
    const dir = scratch('train');
    mkdirSync(join(dir, 'src'));
    writeFileSync(join(dir, 'src', 'train.py'), TRAIN);
    const step = {
      serviceAccountName: 'pipeline-runner', automountServiceAccountToken: false,
      securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000 },
      containers: [{
        name: 'train', command: ['python', '/train/train.py'], volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
        env: [
          { name: 'MLFLOW_TRACKING_URI', valueFrom: { configMapKeyRef: { name: 'pipeline-defaults', key: 'MLFLOW_TRACKING_URI' } } },
          { name: 'MLFLOW_TRACKING_USERNAME', valueFrom: { secretKeyRef: { name: 'mlflow-user-pipelines', key: 'MLFLOW_TRACKING_USERNAME' } } },
          { name: 'MLFLOW_TRACKING_PASSWORD', valueFrom: { secretKeyRef: { name: 'mlflow-user-pipelines', key: 'MLFLOW_TRACKING_PASSWORD' } } },
          { name: 'MLFLOW_DISABLE_TELEMETRY', value: 'true' }, { name: 'HOME', value: '/tmp' }, { name: 'TMPDIR', value: '/tmp' },
          { name: 'CD4ML_MODEL', value: MODEL },
        ],
      }],
      volumes: [{ name: 'tmp', emptyDir: {} }],
    };
    const train = await runContainer({ cp: sb.cp, namespace: pipelinesNs, pod: step, container: 'train', hosts: sb.hosts(), path: [pyBin], imageFiles: [[join(dir, 'src'), '/train']], timeoutMs: 180000 });
    if (train.status !== 0) throw new Error(`training failed (${train.status}):\n${train.stderr.split('\n').slice(-15).join('\n')}`);
    trained = JSON.parse(readFileSync(join(train.volumes, 'tmp', 'out.json'), 'utf8'));

    asDeployer = { server: sb.cp.admin.server, token: await tokenFor(sb.cp, pipelinesNs, DEPLOYER) };
    kubeconfig = writeKubeconfig(scratch('deployer'), 'deployer', asDeployer);
  }, 420000);
  afterAll(async () => { await sb.stop(); });

  test('the API server accepts the endpoint\'s objects and admits its pod under restricted, with exactly the declared resources', async () => {
    // given the objects the endpoint renders
    const mine = sb.pipelineObjects.filter((o) => o.metadata.labels?.['app.kubernetes.io/instance'] === ENDPOINT);
    expect(mine.map((o) => o.kind).sort()).toEqual(['Deployment', 'NetworkPolicy', 'Role', 'RoleBinding', 'Service', 'ServiceAccount', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding']);
    // then each is stored on the server (the apply in beforeAll was strict and refused nothing)
    for (const o of mine) expect({ object: `${o.kind} ${o.metadata.name}`, stored: (await get(sb.cp, o.apiVersion, o.kind, o.metadata.namespace, o.metadata.name)) !== undefined }).toEqual({ object: `${o.kind} ${o.metadata.name}`, stored: true });
    // and the Deployment controller made a pod the API server admitted in the restricted namespace, as declared
    const pods = await podsOf(sb.cp, [deployment]);
    const [{ pods: [pod] }] = [...pods.values()];
    expect(resourceDrift(deployment, pod)).toEqual([]);
    expect((await get<Obj>(sb.cp, 'v1', 'Namespace', undefined, ns))?.metadata.labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
  });

  test('it serves version 1 from MLflow through the artifact proxy, with its own user and no S3 key', async () => {
    // given two registered versions that answer the input example differently
    expect(Object.keys(trained.versions)).toEqual(['1', '2']);
    expect(trained.versions['2']).toEqual(trained.versions['1'].map((p) => 1 - p));
    // and a pod template that holds MLflow credentials only
    const env = (podTemplate(deployment).spec.containers[0].env as Obj[]).map((e) => e.name as string);
    expect(env.filter((n) => /^AWS_|S3/.test(n))).toEqual([]);
    // when the container runs as the Deployment renders it
    server = await serve(deployment);
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
      { verb: 'get', resource: 'secrets', namespace: ns, name: 'mlflow-user-endpoint-classifier' },
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
    if (server) await stop(server);
    server = await serve(rolled!);
    // then it serves version 2: every prediction flipped
    const got = await predictions();
    expect(got).toEqual(trained.versions['2']);
  });
});
