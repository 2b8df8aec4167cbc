import { Chart, Testing } from 'cdk8s';
import { Platform, PlatformProps, SecretRef } from '../../../constructs';
import { Builder, Delivery, DeliveryProps, deliveryTemplateName } from '../../../constructs/delivery/delivery';
import { ModelEndpoint } from '../../../constructs/delivery/model-endpoint';
import { DeliveryTriggers, DeliveryTriggersProps } from '../../../constructs/delivery/triggers';
import { Cd4mlValidationError, EnvironmentName, Problem } from '../../../lib';
import { breastCancerPipeline } from '../../../stacks/pipelines';
import { Manifests, Obj, synth } from '../../support/manifests';
import { danglingReferences } from '../../support/references';
import { securityViolations } from '../../support/security';

const IMAGE = 'registry.example/team/cd4ml-examples';
const BASE = 'registry.example/team/cd4ml-examples:0.1.0';

type Overrides = Partial<Omit<DeliveryProps, 'platform' | 'triggers' | 'environments'>> & { environments?: DeliveryProps['environments'] };

interface Built {
  readonly m: Manifests;
  readonly delivery: Delivery;
  readonly platform: Platform;
}

/** A platform, the seed pipeline, an endpoint per environment, the triggers and the delivery, synthesized together. */
function build(overrides: Overrides = {}, o: { platform?: PlatformProps; triggers?: Partial<DeliveryTriggersProps>; environments?: (endpoints: Record<string, ModelEndpoint>) => DeliveryProps['environments'] } = {}): Built {
  let delivery!: Delivery;
  let platform!: Platform;
  const m = synth((chart) => {
    platform = new Platform(chart, 'platform', o.platform ?? {});
    const pipeline = breastCancerPipeline(chart, { runner: platform.pipelineRunner, image: BASE });
    const triggers = new DeliveryTriggers(chart, 'triggers', { platform, ...(o.triggers ?? {}) });
    const endpoints = Object.fromEntries(['dev', 'staging', 'prod'].map((env) => [env, new ModelEndpoint(chart, `churn-${env}`, { platform, model: 'sklearn-random-forest', version: '1', image: BASE })]));
    const environments = o.environments ? o.environments(endpoints) : {
      dev: { endpoint: endpoints.dev, gate: { metric: 'roc_auc', minimum: 0.9 }, alias: 'champion-dev' },
      staging: { endpoint: endpoints.staging, gate: { metric: 'roc_auc', minimum: 0.95, minImprovement: 0.001 }, alias: 'champion-staging' },
      prod: { endpoint: endpoints.prod, gate: { metric: 'roc_auc', minimum: 0.95 } },
    };
    delivery = new Delivery(chart, 'delivery', {
      platform, triggers, pipeline, candidate: { step: 'train-model' }, image: IMAGE, builder: Builder.crane({ base: BASE }),
      environments, ...overrides,
    });
  });
  return { m, delivery, platform };
}

const template = (m: Manifests, env: string): Obj => m.find('WorkflowTemplate', deliveryTemplateName('cd4ml-delivery', env), 'cd4ml-ci');
const step = (t: Obj, name: string): Obj => t.spec.templates.find((x: Obj) => x.name === name);

/** The problems the construct reports for props given as a JavaScript caller might (never a TypeError). */
function problemsFor(props: (base: DeliveryProps) => unknown): Problem[] {
  const chart = new Chart(Testing.app(), 'test', { disableResourceNameHashes: true });
  const platform = new Platform(chart, 'platform', {});
  const pipeline = breastCancerPipeline(chart, { runner: platform.pipelineRunner, image: BASE });
  const triggers = new DeliveryTriggers(chart, 'triggers', { platform });
  const endpoint = (env: string) => new ModelEndpoint(chart, `churn-${env}`, { platform, model: 'sklearn-random-forest', version: '1', image: BASE });
  const base: DeliveryProps = {
    platform, triggers, pipeline, candidate: { step: 'train-model' }, image: IMAGE, builder: Builder.crane({ base: BASE }),
    environments: {
      dev: { endpoint: endpoint('dev'), gate: { metric: 'roc_auc' }, alias: 'champion-dev' },
      staging: { endpoint: endpoint('staging'), gate: { metric: 'roc_auc' }, alias: 'champion-staging' },
      prod: { endpoint: endpoint('prod'), gate: { metric: 'roc_auc' } },
    },
  };
  try {
    new Delivery(chart, 'delivery', props(base) as DeliveryProps);
  } catch (e) {
    if (!(e instanceof Cd4mlValidationError)) throw e;
    return [...e.problems];
  }
  throw new Error('no problem was reported');
}

describe('Delivery', () => {
  describe('the seed pipeline delivered to dev, staging and prod with crane', () => {
    const { m, delivery } = build();

    test('one WorkflowTemplate per environment, which the triggers submit', () => {
      expect(delivery.environments).toEqual([EnvironmentName.DEV, EnvironmentName.STAGING, EnvironmentName.PROD]);
      expect(m.all('WorkflowTemplate').filter((t) => t.metadata.namespace === 'cd4ml-ci').map((t) => t.metadata.name)).toEqual(['cd4ml-delivery-dev', 'cd4ml-delivery-staging', 'cd4ml-delivery-prod']);
      const submitted = m.all('WorkflowEventBinding').filter((b) => b.metadata.namespace === 'cd4ml-ci').map((b) => `${b.metadata.labels['cd4ml.io/environment']}:${b.spec.submit.workflowTemplateRef.name}`);
      expect(submitted).toEqual(['staging:cd4ml-delivery-staging', 'prod:cd4ml-delivery-prod', 'dev:cd4ml-delivery-dev']);
      // the webhook client may read exactly those templates
      expect(m.find('Role', 'cd4ml-delivery-webhook', 'cd4ml-ci').rules[1].resourceNames).toEqual(['cd4ml-delivery-staging', 'cd4ml-delivery-prod', 'cd4ml-delivery-dev']);
    });

    test('the steps in order: checkout, test, build, render, register, run, gate, (approval in prod), promote, deploy', () => {
      const tasks = (env: string) => template(m, env).spec.templates[0].dag.tasks as Obj[];
      const order = (env: string) => tasks(env).map((s) => s.name);
      // each after the one before
      for (const env of ['dev', 'prod']) tasks(env).forEach((t, i) => expect(t.depends).toBe(i === 0 ? undefined : tasks(env)[i - 1].name));
      expect(order('dev')).toEqual(['checkout', 'test', 'build', 'render', 'register', 'run', 'gate', 'promote', 'deploy']);
      expect(order('staging')).toEqual(order('dev'));
      expect(order('prod')).toEqual(['checkout', 'test', 'build', 'render', 'register', 'run', 'gate', 'approve', 'promote', 'deploy']);
      expect(step(template(m, 'prod'), 'approve')).toEqual({ name: 'approve', suspend: {} });
      // the run's output is the endpoint's real URL
      expect(template(m, 'dev').spec.templates[0].outputs.parameters).toEqual([{ name: 'endpoint', valueFrom: { parameter: '{{tasks.deploy.outputs.parameters.endpoint}}' } }]);
      expect(step(template(m, 'dev'), 'deploy').outputs.parameters).toEqual([{ name: 'endpoint', globalName: 'endpoint', valueFrom: { path: '/tmp/outputs/endpoint' } }]);
    });

    test('per environment: its own service accounts, lock and parameters; a redelivered push is refused by the run\'s name', () => {
      for (const env of ['dev', 'staging', 'prod']) {
        const t = template(m, env);
        expect(t.spec.serviceAccountName).toBe(`cd4ml-delivery-${env}`);
        expect(t.spec.automountServiceAccountToken).toBe(false);
        expect(t.spec.executor).toEqual({ serviceAccountName: `cd4ml-delivery-${env}-executor` });
        expect(t.spec.synchronization).toEqual({ mutexes: [{ name: `cd4ml-delivery-${env}` }] });
        expect(t.spec.arguments.parameters.map((p: Obj) => p.name)).toEqual(['environment', 'revision', 'repository', 'ref']);
        expect(t.spec.arguments.parameters[0]).toMatchObject({ value: env, enum: [env] });
        expect(step(t, 'register').serviceAccountName).toBe(`cd4ml-delivery-${env}-pipeline`);
        expect(step(t, 'run').serviceAccountName).toBe(`cd4ml-delivery-${env}-pipeline`);
        expect(step(t, 'deploy').serviceAccountName).toBe(`cd4ml-delivery-${env}-deploy`);
        for (const s of ['checkout', 'test', 'build', 'render', 'gate', 'promote']) expect(step(t, s).serviceAccountName).toBeUndefined();
      }
      const accounts = m.all('ServiceAccount').filter((a) => a.metadata.namespace === 'cd4ml-ci').map((a) => a.metadata.name);
      expect(new Set(accounts).size).toBe(accounts.length);
    });

    test('checkout fetches the exact commit, with the revision and URL as env values, never in the script', () => {
      const c = step(template(m, 'dev'), 'checkout').container;
      expect(c.image).toBe('node:22.23.3-bookworm');
      expect(c.command[2]).toContain('git fetch -q --depth 1 "$CD4ML_REPOSITORY" "$CD4ML_REVISION"');
      expect(c.command[2]).toContain('test "$(git rev-parse HEAD)" = "$CD4ML_REVISION"');
      expect(c.command[2]).not.toContain('{{');
      expect(c.env).toEqual(expect.arrayContaining([{ name: 'CD4ML_REVISION', value: '{{workflow.parameters.revision}}' }, { name: 'CD4ML_REPOSITORY', value: '{{workflow.parameters.repository}}' }]));
    });

    test('the test step runs the repository\'s tests and validates its synthesized output', () => {
      const c = step(template(m, 'staging'), 'test').container;
      expect(c.command[2].split('\n').filter((l: string) => !l.startsWith('echo'))).toEqual(['npm ci', 'npm test', 'npm run synth -- "$CD4ML_OUTPUT_ENVIRONMENT"', 'npx --no-install cd4ml validate "dist/$CD4ML_OUTPUT_ENVIRONMENT"']);
      expect(c.env).toEqual(expect.arrayContaining([{ name: 'CD4ML_ENVIRONMENT', value: 'staging' }, { name: 'CD4ML_OUTPUT_ENVIRONMENT', value: 'staging' }]));
    });

    test('crane appends the code to the pinned base and records the digest, restricted', () => {
      const s = step(template(m, 'dev'), 'build');
      expect(s.container.image).toBe('gcr.io/go-containerregistry/crane/debug:v0.22.1');
      expect(s.container.command[2]).toContain('crane append $CD4ML_INSECURE --base "$CD4ML_BASE" --new_layer /tmp/layer.tar --new_tag "$CD4ML_DESTINATION"');
      expect(s.container.env).toEqual(expect.arrayContaining([{ name: 'CD4ML_BASE', value: BASE }, { name: 'CD4ML_DESTINATION', value: `${IMAGE}:{{workflow.parameters.revision}}` }]));
      expect(s.outputs.parameters).toEqual([{ name: 'digest', valueFrom: { path: '/tmp/outputs/digest' } }]);
      expect(s.container.securityContext).toMatchObject({ runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    });

    test('render pins the build by digest into the pipeline\'s template, registered into the environment\'s namespace', () => {
      const t = template(m, 'dev');
      expect(step(t, 'render').container.args).toEqual([
        '--dir', 'dist/dev/pipelines', '--pipeline', 'breast-cancer', '--revision', '{{workflow.parameters.revision}}', '--ref', '{{workflow.parameters.ref}}',
        '--image', `${IMAGE}@{{inputs.parameters.digest}}`, '--replace', BASE, '--replace', IMAGE, '--namespace', 'ml-pipelines', '--out', '/workspace/template.json',
      ]);
      expect(step(t, 'register').container.args).toEqual(['register', '--template', '/workspace/template.json', '--namespace', 'ml-pipelines', '--output', '/tmp/outputs/template']);
      expect(step(t, 'run').container.args).toEqual(expect.arrayContaining(['--template', '{{inputs.parameters.template}}', '--step', 'train-model', '--candidate-output', 'model_version']));
      // a template reads other tasks' outputs as its inputs, which its task passes (Argo refuses {{tasks.*}} in a template)
      const task = (name: string) => t.spec.templates[0].dag.tasks.find((x: Obj) => x.name === name);
      expect(task('render').arguments).toEqual({ parameters: [{ name: 'digest', value: '{{tasks.build.outputs.parameters.digest}}' }] });
      expect(task('run').arguments).toEqual({ parameters: [{ name: 'template', value: '{{tasks.register.outputs.parameters.template}}' }] });
      expect(step(t, 'render').inputs).toEqual({ parameters: [{ name: 'digest' }] });
      expect(JSON.stringify(t.spec.templates.slice(1))).not.toContain('{{tasks.');
    });

    test('gate, promote and deploy act on the exact version the run registered, with the environment\'s alias and thresholds', () => {
      const t = template(m, 'staging');
      expect(step(t, 'gate').container.args).toEqual(['gate', '--model', 'sklearn-random-forest', '--version', '{{inputs.parameters.version}}', '--alias', 'champion-staging', '--metric', 'roc_auc', '--minimum', '0.95', '--min-improvement', '0.001', '--output', '/tmp/outputs/decision']);
      expect(step(t, 'promote').container.args).toEqual(expect.arrayContaining(['promote', '--version', '{{inputs.parameters.version}}', '--alias', 'champion-staging', '--commit', '{{workflow.parameters.revision}}', '--image', `${IMAGE}@{{inputs.parameters.digest}}`]));
      expect(step(t, 'deploy').container.args).toEqual(expect.arrayContaining(['deploy', '--namespace', 'cd4ml', '--deployment', 'churn-staging', '--version', '{{inputs.parameters.version}}', '--url', 'http://churn-staging.cd4ml.svc.cluster.local:8080']));
      expect(step(template(m, 'prod'), 'gate').container.args).toEqual(expect.arrayContaining(['--alias', 'champion']));
    });

    test('the deploy account may roll its own environment\'s endpoint only', () => {
      for (const env of ['dev', 'staging', 'prod']) {
        expect(m.find('RoleBinding', `churn-${env}-rollout`, 'cd4ml').subjects).toEqual([{ kind: 'ServiceAccount', name: `cd4ml-delivery-${env}-deploy`, namespace: 'cd4ml-ci' }]);
      }
    });

    test('the pipeline account may create and read templates and runs in the pipeline namespace: no update, patch or delete', () => {
      expect(m.find('Role', 'cd4ml-delivery-dev-pipeline-cd4ml-ci', 'ml-pipelines').rules).toEqual([{ apiGroups: ['argoproj.io'], resources: ['workflowtemplates', 'workflows'], verbs: ['create', 'get'] }]);
      expect(m.find('RoleBinding', 'cd4ml-delivery-dev-pipeline-cd4ml-ci', 'ml-pipelines').subjects).toEqual([{ kind: 'ServiceAccount', name: 'cd4ml-delivery-dev-pipeline', namespace: 'cd4ml-ci' }]);
    });

    test('a workflow controller of its own manages the CI namespace, and takes only workflows that reference a template', () => {
      const d = m.find('Deployment', 'workflow-controller', 'cd4ml-ci');
      expect(d.spec.template.spec.containers[0].args).toEqual(['--configmap', 'workflow-controller-configmap', '--namespaced', '--managed-namespace', 'cd4ml-ci', '--loglevel', 'info']);
      const config = m.find('ConfigMap', 'workflow-controller-configmap', 'cd4ml-ci').data;
      expect(JSON.parse(config.workflowRestrictions)).toEqual({ templateReferencing: 'Secure' });
      expect(JSON.parse(config.executor).image).toBe('quay.io/argoproj/argoexec:v4.1.4-nonroot');
      // no Secret at all in the CI namespace: executor tokens are mounted by name
      expect(m.find('Role', 'workflow-controller', 'cd4ml-ci').rules.filter((r: Obj) => r.resources.includes('secrets'))).toEqual([]);
    });

    test('the scripts are one ConfigMap', () => {
      // (a fixed name: a GitOps tool prunes what the output no longer holds, under a delivery waiting for approval)
      const maps = m.all('ConfigMap').filter((c) => c.metadata.namespace === 'cd4ml-ci' && c.metadata.name === 'cd4ml-delivery-scripts');
      expect(maps).toHaveLength(1);
      expect(Object.keys(maps[0].data).sort()).toEqual(['delivery.py', 'promote.py']);
      expect(template(m, 'dev').spec.volumes).toEqual(expect.arrayContaining([{ name: 'scripts', configMap: { name: maps[0].metadata.name } }]));
    });

    test('network: source steps reach the outside on 443; registry and deploy steps reach MLflow; deploy reaches its endpoints', () => {
      const policy = (name: string) => m.find('NetworkPolicy', name, 'cd4ml-ci').spec;
      const outside = policy('cd4ml-delivery-source').egress.find((r: Obj) => r.ports[0].port === 443);
      expect(outside.to).toContainEqual({ ipBlock: { cidr: '0.0.0.0/0' } });
      expect(policy('cd4ml-delivery-registry').egress.some((r: Obj) => JSON.stringify(r.to).includes('0.0.0.0/0'))).toBe(false);
      for (const name of ['cd4ml-delivery-registry', 'cd4ml-delivery-deploy']) {
        expect(JSON.stringify(policy(name).egress)).toContain('"port":5000');
      }
      const endpointPolicy = m.find('NetworkPolicy', 'churn-dev', 'cd4ml').spec;
      expect(JSON.stringify(endpointPolicy.ingress)).toContain('"cd4ml.io/delivery-step":"deploy"');
    });

    test('passes the security bar and leaves no dangling reference', () => {
      expect(securityViolations(m.objects)).toEqual([]);
      expect(danglingReferences(m.objects, [{ namespace: 'cd4ml-ci', name: 'argo-workflows-webhook-clients', keys: ['github.com'] }])).toEqual([]);
    });
  });

  describe('with kaniko', () => {
    const { m, delivery } = build({ builder: Builder.kaniko(), gitCredentials: SecretRef.fromSecretName('git-credentials', ['username', 'password']), registryCredentials: SecretRef.fromSecretName('registry', ['.dockerconfigjson']) });

    test('renders a build namespace at Pod Security baseline, and builds there through a Job', () => {
      expect(delivery.buildNamespace).toBe('cd4ml-build');
      const ns = m.find('Namespace', 'cd4ml-build');
      expect(ns.metadata.labels).toMatchObject({ 'pod-security.kubernetes.io/enforce': 'baseline', 'cd4ml.io/build-namespace': 'true' });
      const s = step(template(m, 'dev'), 'build');
      expect(s.serviceAccountName).toBe('cd4ml-delivery-dev-build');
      expect(s.container.args.slice(0, 3)).toEqual(['build', '--namespace', 'cd4ml-build']);
      expect(m.find('Role', 'cd4ml-delivery-dev-build-cd4ml-ci', 'cd4ml-build').rules).toEqual([
        { apiGroups: ['batch'], resources: ['jobs'], verbs: ['create', 'get'] },
        { apiGroups: [''], resources: ['pods'], verbs: ['list'] },
      ]);
      const job = JSON.parse(Object.values(m.all('ConfigMap').find((c) => c.metadata.name.includes('build-job'))!.data)[0] as string);
      expect(job.spec.template.spec.containers[0].image).toBe('ghcr.io/osscontainertools/kaniko:v1.28.5');
      expect(job.spec.template.spec.containers[0].args).toContain('--digest-file=/dev/termination-log');
      expect(job.spec.template.spec.automountServiceAccountToken).toBe(false);
      expect(job.spec.template.spec.containers[0].args).not.toContain('--insecure');
      const insecure = build({ builder: Builder.kaniko(), insecureRegistry: true }).m;
      const plain = JSON.parse(Object.values(insecure.all('ConfigMap').find((c) => c.metadata.name === 'cd4ml-delivery-build-job')!.data)[0] as string);
      expect(plain.spec.template.spec.containers[0].args).toEqual(expect.arrayContaining(['--insecure', '--insecure-pull']));
    });

    test('the credentials are read by reference where they are used', () => {
      expect(step(template(m, 'dev'), 'checkout').container.env).toEqual(expect.arrayContaining([{ name: 'GIT_PASSWORD', valueFrom: { secretKeyRef: { name: 'git-credentials', key: 'password' } } }]));
      expect(danglingReferences(m.objects, [
        { namespace: 'cd4ml-ci', name: 'argo-workflows-webhook-clients', keys: ['github.com'] },
        ...['cd4ml-ci', 'cd4ml-build'].flatMap((namespace) => [{ namespace, name: 'git-credentials', keys: ['username', 'password'] }, { namespace, name: 'registry', keys: ['.dockerconfigjson'] }]),
      ])).toEqual([]);
    });
  });

  test('two deliveries from two CI namespaces may deliver into one pipeline namespace', () => {
    const m = synth((chart) => {
      const platform = new Platform(chart, 'platform', {});
      const pipeline = breastCancerPipeline(chart, { runner: platform.pipelineRunner, image: BASE });
      for (const [ci, host] of [['ci-github', 'github'], ['ci-gitlab', 'gitlab']] as const) {
        const triggers = new DeliveryTriggers(chart, `triggers-${ci}`, { platform, namespace: ci, gitHost: host as DeliveryTriggersProps['gitHost'], refs: [{ ref: 'refs/heads/main', environment: EnvironmentName.STAGING }] });
        const endpoint = new ModelEndpoint(chart, `churn-${ci}`, { platform, model: 'sklearn-random-forest', version: '1', image: BASE });
        new Delivery(chart, `delivery-${ci}`, { platform, triggers, pipeline, candidate: { step: 'train-model' }, image: IMAGE, builder: Builder.kaniko({ namespace: `build-${ci}` }), environments: { staging: { endpoint, gate: { metric: 'roc_auc' }, alias: `champion-${ci}` } } });
      }
    });
    expect(m.all('Role').filter((r) => r.metadata.namespace === 'ml-pipelines' && r.metadata.name.startsWith('cd4ml-delivery-')).map((r) => r.metadata.name).sort()).toEqual(['cd4ml-delivery-staging-pipeline-ci-github', 'cd4ml-delivery-staging-pipeline-ci-gitlab']);
  });

  describe('refuses, in one report naming the field, the value and a fix', () => {
    test('an environment the triggers deliver to but the delivery lacks, and one no rule reaches', () => {
      const problems = problemsFor((b) => ({ ...b, environments: { dev: b.environments.dev, staging: b.environments.staging } }));
      expect(problems.map((p) => [p.field, p.message])).toEqual([['environments.prod', 'is missing, but the triggers deliver pushes there']]);
      expect(problems[0].fix).toContain('environments: { prod:');
    });

    test('two environments on one endpoint or one alias', () => {
      const problems = problemsFor((b) => ({ ...b, environments: { ...b.environments, staging: { ...b.environments.staging, endpoint: b.environments.dev!.endpoint, alias: 'champion-dev' } } }));
      expect(problems.map((p) => p.field)).toEqual(['environments.staging.endpoint', 'environments.staging.alias']);
      expect(problems[1].fix).toBe('give each environment its own alias, e.g. "champion-staging"');
    });

    test('a candidate step the pipeline lacks, or an output it does not declare', () => {
      expect(problemsFor((b) => ({ ...b, candidate: { step: 'train' } })).map((p) => [p.field, p.value])).toEqual([['candidate.step', 'train']]);
      const [p] = problemsFor((b) => ({ ...b, candidate: { step: 'train-model', output: 'version' } }));
      expect([p.field, p.value]).toEqual(['candidate.output', 'version']);
      expect(p.fix).toContain('model_version');
    });

    test('an image with a tag, a builder that is not one, a negative improvement, bad timeouts: all at once', () => {
      const problems = problemsFor((b) => ({
        ...b, image: `${IMAGE}:1.0`, builder: { kind: 'crane' }, timeout: '6 hours', testCommands: [],
        environments: { ...b.environments, dev: { ...b.environments.dev, gate: { metric: 'roc_auc', minImprovement: -0.1 } } },
      }));
      expect(problems.map((p) => p.field)).toEqual(['image', 'builder', 'environments.dev.gate.minImprovement', 'testCommands', 'timeout']);
    });

    test('a missing pipeline, candidate or environments; "{{" in a test command; kaniko in the CI namespace; a null alias', () => {
      const missing = problemsFor((b) => ({ ...b, pipeline: undefined, candidate: undefined, environments: undefined }));
      expect(missing.map((p) => [p.field, p.message])).toEqual([['pipeline', 'is missing'], ['candidate', 'is missing'], ['environments', 'is missing']]);
      expect(problemsFor((b) => ({ ...b, testCommands: ['npm test -- {{workflow.name}}'] })).map((p) => p.field)).toEqual(['testCommands']);
      const [k] = problemsFor((b) => ({ ...b, builder: Builder.kaniko({ namespace: 'cd4ml-ci', createNamespace: false }) }));
      expect([k.field, k.value, k.fix]).toEqual(['builder.namespace', 'cd4ml-ci', 'give the build a namespace of its own, e.g. "cd4ml-build"']);
      expect(problemsFor((b) => ({ ...b, environments: { ...b.environments, dev: { ...b.environments.dev, alias: null } } })).map((p) => [p.field, p.message])).toEqual([['environments.dev.alias', 'is null']]);
    });

    test('undefined, null and wrong types from JavaScript: never a TypeError', () => {
      for (const bad of [undefined, null, 42, 'props']) expect(problemsFor(() => bad).length).toBeGreaterThan(0);
      const problems = problemsFor((b) => ({ ...b, platform: undefined, triggers: {}, environments: { dev: null, qa: {} } }));
      expect(problems.map((p) => p.field)).toEqual(expect.arrayContaining(['platform', 'triggers', 'environments.qa', 'environments.dev']));
      expect(problemsFor((b) => ({ ...b, builder: Builder.crane({ base: 'not an image' }) })).map((p) => p.field)).toEqual(['builder.base']);
      expect(problemsFor((b) => ({ ...b, gitCredentials: SecretRef.fromSecretName('git', ['token']) })).map((p) => [p.field, p.message])).toEqual([['gitCredentials', 'declares no key "username" or "password"']]);
    });
  });
});
