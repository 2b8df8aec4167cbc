import { Chart, Testing } from 'cdk8s';
import { ServiceAccount } from 'cdk8s-plus-27';
import { NetworkPeer, ParameterType, Pipeline, Platform } from '../../../constructs';
import { MODEL_VERSION_ENV, ModelEndpoint, ModelEndpointProps } from '../../../constructs/delivery/model-endpoint';
import { Cd4mlValidationError, EnvironmentName, environmentPreset, formatProblem, Problem, validateApp } from '../../../lib';
import { Manifests, Obj, synth } from '../../support/manifests';
import { danglingReferences } from '../../support/references';
import { securityViolations } from '../../support/security';

const IMAGE = 'registry.example/team/churn:1.0.0';
const as = <T>(v: unknown): T => v as T;

/** A sandbox platform with one endpoint (and whatever `more` adds), synthesized and validated as `app.synth()` does. */
function render(props: Partial<ModelEndpointProps> = {}, more?: (chart: Chart, platform: Platform, endpoint: ModelEndpoint) => void): Manifests {
  return synth((chart) => {
    const platform = new Platform(chart, 'platform');
    const endpoint = new ModelEndpoint(chart, 'churn-endpoint', { platform, model: 'churn', version: '3', image: IMAGE, ...props });
    more?.(chart, platform, endpoint);
  });
}

/** A deploy step's own service account in the pipeline namespace, granted the rollout. */
function withDeployer(chart: Chart, _platform: Platform, endpoint: ModelEndpoint): void {
  endpoint.grantRollout(new ServiceAccount(chart, 'deployer', { metadata: { name: 'model-deployer', namespace: 'ml-pipelines' } }));
}

/** The problems of building `build` in a fresh app, as its synth reports them (a TypeError fails the test). */
function problemsOf(build: (chart: Chart, platform: Platform) => void): Problem[] {
  const chart = new Chart(Testing.app(), 'test', { disableResourceNameHashes: true });
  try {
    build(chart, new Platform(chart, 'platform'));
    validateApp(chart);
  } catch (e) {
    if (e instanceof Cd4mlValidationError) return [...e.problems];
    throw e;
  }
  return [];
}

const endpoint = (props: Record<string, unknown>) => (chart: Chart, platform: Platform) => {
  new ModelEndpoint(chart, 'churn-endpoint', as<ModelEndpointProps>({ platform, model: 'churn', version: '3', image: IMAGE, ...props }));
};

describe('ModelEndpoint', () => {
  test('serves models:/<model>/$(CD4ML_MODEL_VERSION) with mlflow models serve, the version in one env var', () => {
    // given an endpoint for version 3 of churn on the sandbox platform
    let url = '';
    const m = render({}, (_c, _p, e) => { url = e.url(); });
    // then the container runs MLflow's scoring server in the image's own Python, on all interfaces
    const c = m.container('Deployment', 'churn-endpoint', 'model', 'cd4ml');
    expect(c.image).toBe(IMAGE);
    expect([...c.command, ...c.args]).toEqual(['mlflow', 'models', 'serve', '-m', 'models:/churn/$(CD4ML_MODEL_VERSION)', '--env-manager', 'local', '--host', '0.0.0.0', '--port', '8080']);
    // the version is a plain value of exactly one env var, which the args read, and appears nowhere else
    const env = (name: string) => m.env('Deployment', 'churn-endpoint', 'model', name, 'cd4ml');
    expect(env(MODEL_VERSION_ENV)).toEqual({ name: 'CD4ML_MODEL_VERSION', value: '3' });
    expect((c.env as Obj[]).filter((e) => e.value === '3').map((e) => e.name)).toEqual(['CD4ML_MODEL_VERSION']);
    expect(JSON.stringify(m.find('Deployment', 'churn-endpoint', 'cd4ml')).match(/CD4ML_MODEL_VERSION/g)).toHaveLength(2);
    // MLflow in-cluster, signed in by reference to the endpoint's own generated user; HOME and TMPDIR on /tmp
    expect(env('MLFLOW_TRACKING_URI').value).toBe('http://mlflow.cd4ml.svc.cluster.local:5000');
    expect(env('MLFLOW_TRACKING_USERNAME').valueFrom.secretKeyRef).toEqual({ name: 'mlflow-user-endpoint-churn-endpoint', key: 'MLFLOW_TRACKING_USERNAME' });
    expect(env('MLFLOW_TRACKING_PASSWORD').valueFrom.secretKeyRef).toEqual({ name: 'mlflow-user-endpoint-churn-endpoint', key: 'MLFLOW_TRACKING_PASSWORD' });
    expect([env('HOME').value, env('TMPDIR').value, env('MLFLOW_DISABLE_TELEMETRY').value, env('DO_NOT_TRACK').value]).toEqual(['/tmp', '/tmp', 'true', 'true']);
    // no S3 key: the model comes through MLflow's artifact proxy
    expect((c.env as Obj[]).map((e) => e.name).filter((n) => n.startsWith('AWS_') || n.startsWith('MLFLOW_S3'))).toEqual([]);
    // and it is addressed by a stable name: its Service in the platform's namespace
    expect(url).toBe('http://churn-endpoint.cd4ml.svc.cluster.local:8080');
    const svc = m.find('Service', 'churn-endpoint', 'cd4ml');
    expect(svc.spec).toMatchObject({ type: 'ClusterIP', ports: [{ name: 'http', port: 8080, targetPort: 'http', protocol: 'TCP' }] });
  });

  test('gets an MLflow user of its own, which the tracking server creates at its next start', () => {
    const m = render();
    const spec = JSON.parse(m.find('ConfigMap', 'cd4ml-credentials', 'cd4ml').data['secrets.json']) as Obj[];
    expect(spec.find((s) => s.name === 'mlflow-user-endpoint-churn-endpoint')).toEqual({
      name: 'mlflow-user-endpoint-churn-endpoint', namespaces: ['cd4ml'], keys: { MLFLOW_TRACKING_USERNAME: { literal: 'endpoint-churn-endpoint' }, MLFLOW_TRACKING_PASSWORD: { random: 32 } },
    });
    const migrate = m.container('Deployment', 'mlflow', 'migrate', 'cd4ml');
    const refs = (migrate.env as Obj[]).filter((e) => e.valueFrom?.secretKeyRef?.name === 'mlflow-user-endpoint-churn-endpoint');
    expect(refs).toHaveLength(2);
    expect(JSON.parse((migrate.env as Obj[]).find((e) => e.name === 'CD4ML_AUTH_USERS')!.value)).toHaveLength(3); // admin, pipelines, the endpoint
  });

  test('runs restricted with a read-only root, /tmp on an emptyDir, probes on /ping, a generous startup, and the preset\'s resources', () => {
    const m = render({}, withDeployer);
    expect(securityViolations(m.objects)).toEqual([]);
    const d = m.find('Deployment', 'churn-endpoint', 'cd4ml');
    const pod = d.spec.template.spec;
    expect(pod).toMatchObject({ serviceAccountName: 'churn-endpoint', automountServiceAccountToken: false, securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } } });
    expect(pod.volumes).toEqual([{ name: 'tmp', emptyDir: { sizeLimit: '2Gi' } }]);
    const c = pod.containers[0];
    expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(c.volumeMounts).toEqual([{ name: 'tmp', mountPath: '/tmp' }]);
    expect([c.startupProbe.httpGet.path, c.readinessProbe.httpGet.path, c.livenessProbe.httpGet.path]).toEqual(['/ping', '/ping', '/health']);
    // ten minutes to download and load the model before the kubelet gives up
    expect(c.startupProbe.periodSeconds * c.startupProbe.failureThreshold).toBeGreaterThanOrEqual(600);
    expect(c.resources).toEqual({ requests: { cpu: '250m', memory: '512Mi' }, limits: { memory: '1Gi' } });
    expect(d.spec.replicas).toBe(1);
    expect(m.has('PodDisruptionBudget', 'churn-endpoint', 'cd4ml')).toBe(false);
    expect(m.find('ServiceAccount', 'churn-endpoint', 'cd4ml').automountServiceAccountToken).toBe(false);
  });

  test('takes replicas (with a PodDisruptionBudget), resources, port, uid and scratch size, and the preset of its platform', () => {
    const m = render({ replicas: 2, resources: { cpu: '1', memory: '2Gi', memoryLimit: '3Gi' }, port: 9000, uid: 2000, scratchSize: '5Gi' });
    const d = m.find('Deployment', 'churn-endpoint', 'cd4ml');
    expect(d.spec.replicas).toBe(2);
    expect(m.find('PodDisruptionBudget', 'churn-endpoint', 'cd4ml').spec).toEqual({ maxUnavailable: 1, selector: { matchLabels: d.spec.selector.matchLabels } });
    const c = d.spec.template.spec.containers[0];
    expect(c.resources).toEqual({ requests: { cpu: '1', memory: '2Gi' }, limits: { memory: '3Gi' } });
    expect(c.args.slice(-2)).toEqual(['--port', '9000']);
    expect(c.ports).toEqual([{ name: 'http', containerPort: 9000, protocol: 'TCP' }]);
    expect(d.spec.template.spec.securityContext.runAsUser).toBe(2000);
    expect(d.spec.template.spec.volumes[0].emptyDir.sizeLimit).toBe('5Gi');
    // a platform with a preset of its own sizes the endpoint by that preset
    const own = synth((chart) => {
      const preset = { ...environmentPreset(EnvironmentName.DEV), stepDefaults: { cpu: '300m', memory: '600Mi', memoryLimit: '1200Mi' } };
      const platform = new Platform(chart, 'platform', { environment: EnvironmentName.DEV, preset, retainedStorage: { provisioner: 'rancher.io/local-path' } });
      new ModelEndpoint(chart, 'churn', { platform, model: 'churn', version: '1', image: IMAGE });
    });
    expect(own.container('Deployment', 'churn', 'model', 'cd4ml').resources).toEqual({ requests: { cpu: '300m', memory: '600Mi' }, limits: { memory: '1200Mi' } });
  });

  test('every reference of the platform and the endpoint resolves', () => {
    const m = render({}, withDeployer);
    expect(danglingReferences(m.objects)).toEqual([]);
  });

  test('its NetworkPolicy admits pipeline steps (and the extra peers) on its port and lets it reach MLflow only', () => {
    const ingress = NetworkPeer.namespace('ingress-nginx');
    const m = render({ ingressFrom: [ingress] });
    const np = m.find('NetworkPolicy', 'churn-endpoint', 'cd4ml');
    const selector = m.find('Deployment', 'churn-endpoint', 'cd4ml').spec.selector.matchLabels;
    expect(np.spec.podSelector).toEqual({ matchLabels: selector });
    expect(np.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(np.spec.ingress).toEqual([{
      from: [
        { podSelector: { matchLabels: {} }, namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ml-pipelines' } } },
        { podSelector: { matchLabels: {} }, namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } },
      ],
      ports: [{ protocol: 'TCP', port: 8080 }],
    }]);
    const mlflowSelector = m.find('Deployment', 'mlflow', 'cd4ml').spec.selector.matchLabels;
    expect(np.spec.egress).toEqual([{ to: [{ podSelector: { matchLabels: mlflowSelector }, namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'cd4ml' } } }], ports: [{ protocol: 'TCP', port: 5000 }] }]);
    // DNS comes from the namespace's own policy, which selects every pod there
    expect(m.find('NetworkPolicy', 'allow-dns', 'cd4ml').spec.podSelector).toEqual({});
    // the other ends: steps may reach the endpoint, MLflow admits it
    const endpointPeer = { podSelector: { matchLabels: selector }, namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'cd4ml' } } };
    expect(m.find('NetworkPolicy', 'pipelines', 'ml-pipelines').spec.egress).toContainEqual({ to: [endpointPeer], ports: [{ protocol: 'TCP', port: 8080 }] });
    const mlflowIngress = (m.find('NetworkPolicy', 'mlflow', 'cd4ml').spec.ingress as Obj[]).find((r) => r.ports[0].port === 5000);
    expect(mlflowIngress!.from).toContainEqual(endpointPeer);
  });

  test('grantRollout allows get and patch of exactly this Deployment (and its watch by name), to that account only, and nothing until granted', () => {
    expect(render().all('Role').filter((r) => r.metadata.name === 'churn-endpoint-rollout')).toEqual([]);
    const m = render({}, withDeployer);
    expect(m.find('Role', 'churn-endpoint-rollout', 'cd4ml').rules).toEqual([
      { apiGroups: ['apps'], resources: ['deployments'], resourceNames: ['churn-endpoint'], verbs: ['get', 'list', 'watch', 'patch'] },
    ]);
    expect(m.find('RoleBinding', 'churn-endpoint-rollout', 'cd4ml')).toMatchObject({
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'churn-endpoint-rollout' },
      subjects: [{ kind: 'ServiceAccount', name: 'model-deployer', namespace: 'ml-pipelines' }],
    });
    // RBAC cannot say "only the version": the admission policy holds the account's updates to it
    const policy = m.find('ValidatingAdmissionPolicy', 'churn-endpoint-rollout.cd4ml');
    expect(policy.spec.failurePolicy).toBe('Fail');
    expect(policy.spec.matchConstraints.resourceRules).toEqual([{ apiGroups: ['apps'], apiVersions: ['*'], resources: ['deployments'], operations: ['UPDATE'] }]);
    expect(policy.spec.matchConditions).toEqual([
      { name: 'requested-by-a-rollout-account', expression: 'request.userInfo.username in ["system:serviceaccount:ml-pipelines:model-deployer"]' },
      { name: 'this-endpoint', expression: 'object.metadata.name == "churn-endpoint"' },
    ]);
    const rules = (policy.spec.validations as Obj[]).map((v) => v.expression as string).join('\n');
    for (const field of ['serviceAccountName', 'volumes', 'image', 'command', 'envFrom', 'replicas', 'metadata']) expect(rules).toContain(`.${field}`);
    expect(rules).toContain('e.value.matches(\'^[1-9][0-9]{0,17}$\')');
    expect(m.find('ValidatingAdmissionPolicyBinding', 'churn-endpoint-rollout.cd4ml').spec).toEqual({
      policyName: 'churn-endpoint-rollout.cd4ml', validationActions: ['Deny'], matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'cd4ml' } } },
    });
    // a second account joins the same Role, binding and policy
    const two = render({}, (chart, platform, e) => {
      withDeployer(chart, platform, e);
      e.grantRollout(ServiceAccount.fromServiceAccountName(chart, 'release', 'release-bot', { namespaceName: 'ci' }));
    });
    expect(two.find('RoleBinding', 'churn-endpoint-rollout', 'cd4ml').subjects.map((s: Obj) => `${s.namespace}/${s.name}`)).toEqual(['ml-pipelines/model-deployer', 'ci/release-bot']);
    expect(two.find('ValidatingAdmissionPolicy', 'churn-endpoint-rollout.cd4ml').spec.matchConditions[0].expression)
      .toBe('request.userInfo.username in ["system:serviceaccount:ci:release-bot","system:serviceaccount:ml-pipelines:model-deployer"]');
  });

  test('fails when grantRollout is given the steps\' own accounts, an account twice, one without a namespace, or no account', () => {
    const grant = (account: (chart: Chart) => unknown, twice = false) => (chart: Chart, platform: Platform) => {
      const e = new ModelEndpoint(chart, 'churn-endpoint', { platform, model: 'churn', version: '3', image: IMAGE });
      e.grantRollout(as(account(chart)));
      if (twice) e.grantRollout(as(account(chart)));
    };
    const runner = problemsOf(grant((c) => ServiceAccount.fromServiceAccountName(c, 'runner', 'pipeline-runner', { namespaceName: 'ml-pipelines' })));
    expect(runner.map(formatProblem)).toEqual([expect.stringMatching(/grantRollout\(serviceAccount\) = "ml-pipelines\/pipeline-runner": is a service account every pipeline step runs as.*Fix: give the deploy step a service account of its own/)]);
    expect(problemsOf(grant((c) => ServiceAccount.fromServiceAccountName(c, 'executor', 'pipeline-executor', { namespaceName: 'ml-pipelines' })))).toHaveLength(1);
    let n = 0;
    const twice = problemsOf(grant((c) => ServiceAccount.fromServiceAccountName(c, `d${n++}`, 'model-deployer', { namespaceName: 'ml-pipelines' }), true));
    expect(twice.map((p) => p.message)).toEqual(['is granted twice']);
    const noNamespace = problemsOf(grant((c) => new ServiceAccount(c, 'deployer', { metadata: { name: 'model-deployer' } })));
    expect(noNamespace.map((p) => `${p.field}: ${p.message}`)).toEqual([expect.stringMatching(/^grantRollout\(serviceAccount\)\.namespace: is missing/)]);
    for (const bad of [undefined, null, 'model-deployer', { name: 'model-deployer' }]) {
      const p = problemsOf(grant(() => bad));
      expect(p.map((x) => `${x.field}: ${x.message}`)).toEqual(['grantRollout(serviceAccount): is not a service account']);
    }
  });

  test('fails when the image is not pinned', () => {
    for (const image of ['registry.example/team/churn', 'registry.example/team/churn:latest']) {
      const p = problemsOf(endpoint({ image }));
      expect(p.map((x) => [x.field, x.value, x.message])).toEqual([['image', image, 'is not pinned']]);
      expect(p[0].fix).toMatch(/add a version tag \(other than latest\) or a digest/);
    }
    expect(problemsOf(endpoint({ image: `registry.example/team/churn@sha256:${'a'.repeat(64)}` }))).toEqual([]);
  });

  test('fails when the version is not an exact version: an alias, a stage, latest, a number, not digits', () => {
    const refused = (version: unknown) => problemsOf(endpoint({ version })).map((x) => ({ field: x.field, value: x.value, message: x.message, fix: x.fix }));
    for (const alias of ['champion', '@champion', 'latest', 'Production', 'v3']) {
      expect(refused(alias)).toEqual([{ field: 'version', value: alias, message: 'is not an exact version: an alias or a stage moves to another version without a rollout', fix: expect.stringMatching(/get_model_version_by_alias.*"3"/) }]);
    }
    expect(refused(3)).toEqual([{ field: 'version', value: 3, message: 'is a number, not a string of digits', fix: 'give it as a string: "3"' }]);
    expect(refused(' 3 ')).toEqual([{ field: 'version', value: ' 3 ', message: 'has spaces around it', fix: 'give "3"' }]);
    for (const v of ['3.1', '0', '-1', '03']) expect(refused(v).map((x) => x.message)).toEqual(['is not a version number (1, 2, 3, ...)']);
    for (const v of ['1', '12', '404']) expect(refused(v)).toEqual([]);
  });

  test('fails when the model name would change the models:/ URI, or the name is too long or taken', () => {
    for (const model of ['churn/3', 'churn@champion', 'my model', 'churn$(HOME)', '']) {
      expect(problemsOf(endpoint({ model })).map((x) => [x.field, x.value])).toEqual([['model', model]]);
    }
    const long = 'a'.repeat(55);
    const p = problemsOf(endpoint({ name: long }));
    expect(p.map((x) => [x.field, x.message])).toEqual([['name', 'is 55 characters: its MLflow user, "endpoint-<name>", may have at most 63']]);
    const taken = problemsOf((chart, platform) => {
      new ModelEndpoint(chart, 'a', { platform, name: 'churn', model: 'churn', version: '3', image: IMAGE });
      new ModelEndpoint(chart, 'b', { platform, name: 'churn', model: 'churn', version: '4', image: IMAGE });
    });
    expect(taken.map(formatProblem)).toEqual([expect.stringMatching(/^test\/b: name = "churn": is the name of another model endpoint of this platform\. Fix: .*"churn-2"/)]);
  });

  test('fails with one report, no TypeError, when a JavaScript caller gives missing or mistyped props, and checks what follows it', () => {
    // given an endpoint whose props are all wrong, and a pipeline with a bad step declared after it
    const problems = problemsOf((chart, platform) => {
      new ModelEndpoint(chart, 'Churn Endpoint', as({ platform, model: undefined, version: 3, image: 'nginx', replicas: 0, port: '8080', uid: 0, resources: 'big', scratchSize: 'lots', ingressFrom: 'everyone' }));
      const pipeline = new Pipeline(chart, 'after', { runner: platform.pipelineRunner });
      pipeline.addStep('train', { image: 'trainer', outputs: { x: ParameterType.STRING } });
    });
    // then one report names every field, with its value and a fix, and the pipeline's problem too
    expect(problems.map((p) => `${p.path} ${p.field}`)).toEqual([
      'test/Churn Endpoint model', 'test/Churn Endpoint version', 'test/Churn Endpoint image', 'test/Churn Endpoint name', 'test/Churn Endpoint replicas',
      'test/Churn Endpoint resources', 'test/Churn Endpoint port', 'test/Churn Endpoint uid', 'test/Churn Endpoint scratchSize', 'test/Churn Endpoint ingressFrom',
      'test/after/train image',
    ]);
    for (const p of problems) expect(formatProblem(p)).toMatch(/^test\/\S.*: \S.* = .*: .+\. Fix: .+/);
    for (const p of problems) expect(formatProblem(p)).not.toMatch(/\[object Object\]|"undefined"/);
    expect(problems.find((p) => p.field === 'name')!.fix).toBe('use a name like "churn-endpoint"');
  });

  test('fails when there is no platform, or no props at all', () => {
    for (const bad of [undefined, null, {}, 'platform']) {
      const p = problemsOf((chart) => new ModelEndpoint(chart, 'e', as({ platform: bad, model: 'churn', version: '3', image: IMAGE })));
      expect(p.map((x) => `${x.field}: ${x.message}`)).toEqual(['platform: is not a Platform']);
    }
    for (const bad of [undefined, null, 'props']) {
      const p = problemsOf((chart) => new ModelEndpoint(chart, 'e', as(bad)));
      expect(p.map((x) => x.field)).toEqual(['props']);
    }
  });

  test('a null optional prop is refused, not read as its default', () => {
    const p = problemsOf(endpoint({ replicas: null, name: null }));
    expect(p.map((x) => `${x.field}: ${x.message}`)).toEqual(['replicas: is null', 'name: is null']);
  });
});
