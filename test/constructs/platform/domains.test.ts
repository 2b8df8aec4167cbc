import { Chart, Testing } from 'cdk8s';
import { ObjectStoreChoice, PipelineRunner, PipelineRunnerProps, Platform, PlatformProps, SecretRef, WorkflowController, WorkflowControllerProps } from '../../../constructs';
import { ServiceAccount } from 'cdk8s-plus-27';
import { Builder, Delivery } from '../../../constructs/delivery/delivery';
import { ModelEndpoint } from '../../../constructs/delivery/model-endpoint';
import { DeliveryTriggers } from '../../../constructs/delivery/triggers';
import { breastCancerPipeline } from '../../../stacks/pipelines';
import { Obj, synth } from '../../support/manifests';
import { danglingReferences } from '../../support/references';
import { securityViolations } from '../../support/security';
import { chart, problemsOf, refused } from '../inputs/support';

// Pipeline domains (environments as domains on one cluster): each gets a namespace, a runner and a workflow
// controller of its own, beside the platform's pipeline namespace; the delivery to an environment runs in its domain.

const IMAGE = 'registry.example/team/cd4ml-examples';
const BASE = 'registry.example/team/cd4ml-examples:0.1.0';
const DOMAINS = { dev: {}, staging: { quota: { cpu: '8' } }, prod: { namespace: 'ml-production', stepDefaults: { memory: '1Gi' } } };

const platform = (props: PlatformProps = {}) => synth((c) => {
  const p = new Platform(c, 'platform', { pipelineDomains: DOMAINS, ...props });
  // the seed pipeline in the platform's namespace and in each domain, cached steps and all
  breastCancerPipeline(c, { runner: p.pipelineRunner, image: BASE });
  for (const d of p.domains.values()) breastCancerPipeline(c, { runner: d.runner, image: BASE, id: `breast-cancer-${d.name}`, triggers: false });
});
const configOf = (m: ReturnType<typeof platform>, name: string, key: string): Obj => JSON.parse(m.find('ConfigMap', name, 'argo').data[key]);

describe('pipeline domains', () => {
  const m = platform();

  test('each domain has a namespace of its own, restricted, beside the platform\'s three', () => {
    expect(m.all('Namespace').map((n) => n.metadata.name)).toEqual(['cd4ml', 'argo', 'ml-pipelines', 'ml-dev', 'ml-staging', 'ml-production']);
    for (const ns of ['ml-dev', 'ml-staging', 'ml-production']) {
      expect(m.find('Namespace', ns).metadata.labels).toMatchObject({ 'pod-security.kubernetes.io/enforce': 'restricted' });
      // the runner's own objects: accounts, the executor's token Secret, quota, limits, defaults, default-deny
      for (const [kind, name] of [['ServiceAccount', 'pipeline-runner'], ['ServiceAccount', 'pipeline-executor'], ['Secret', 'pipeline-executor.service-account-token'], ['ResourceQuota', 'pipelines'], ['LimitRange', 'pipelines'], ['ConfigMap', 'pipeline-defaults'], ['NetworkPolicy', 'default-deny']]) {
        expect([ns, kind, name, m.has(kind, name, ns)]).toEqual([ns, kind, name, true]);
      }
    }
  });

  test('a domain\'s quota and step defaults are the platform\'s with its own over them', () => {
    const hard = (ns: string) => m.find('ResourceQuota', 'pipelines', ns).spec.hard;
    expect(hard('ml-pipelines')['requests.cpu']).toBe('4');
    expect(hard('ml-dev')['requests.cpu']).toBe('4');
    expect(hard('ml-staging')['requests.cpu']).toBe('8');
    expect(m.find('LimitRange', 'pipelines', 'ml-production').spec.limits[0].defaultRequest).toEqual({ cpu: '250m', memory: '1Gi' });
  });

  test('each domain has its own workflow controller, managing exactly its namespace, with its own ConfigMap and instance ID', () => {
    for (const [domain, ns] of [['dev', 'ml-dev'], ['staging', 'ml-staging'], ['prod', 'ml-production']]) {
      const name = `workflow-controller-${domain}`;
      const c = m.container('Deployment', name, 'workflow-controller', 'argo');
      expect(c.args).toEqual(['--configmap', `workflow-controller-configmap-${domain}`, '--namespaced', '--managed-namespace', ns, '--loglevel', 'info']);
      expect(m.find('Deployment', name, 'argo').spec.template.spec.serviceAccountName).toBe(name);
      // the instance ID names the leader-election Lease: one per controller, never the platform controller's
      expect(configOf(m, `workflow-controller-configmap-${domain}`, 'instanceID')).toBe(`cd4ml-${domain}`);
      // its runs get the domain's accounts, and its steps the domain's S3 user and the pipelines' MLflow user
      const defaults = configOf(m, `workflow-controller-configmap-${domain}`, 'workflowDefaults').spec;
      expect({ sa: defaults.serviceAccountName, executor: defaults.executor.serviceAccountName }).toEqual({ sa: 'pipeline-runner', executor: 'pipeline-executor' });
      const env = Object.fromEntries((configOf(m, `workflow-controller-configmap-${domain}`, 'mainContainer').env as Obj[]).map((e) => [e.name, e.valueFrom?.secretKeyRef?.name]));
      expect({ s3: env.AWS_ACCESS_KEY_ID, mlflow: env.MLFLOW_TRACKING_USERNAME }).toEqual({ s3: `seaweedfs-pipelines-${domain}`, mlflow: 'mlflow-user-pipelines' });
      // Argo's artifacts with an S3 user of the controller's own
      expect(configOf(m, `workflow-controller-configmap-${domain}`, 'artifactRepository').s3.accessKeySecret.name).toBe(`seaweedfs-workflows-${domain}`);
      // the Role in the managed namespace is bound to this controller's account, and none in the others
      expect(m.find('RoleBinding', name, ns).subjects).toEqual([{ kind: 'ServiceAccount', name, namespace: 'argo' }]);
      for (const other of ['ml-pipelines', 'ml-dev', 'ml-staging', 'ml-production'].filter((x) => x !== ns)) expect([other, m.has('RoleBinding', name, other)]).toEqual([other, false]);
    }
    // the platform's controller keeps its names, ConfigMap and the platform's instance ID (none here)
    expect(m.container('Deployment', 'workflow-controller', 'workflow-controller', 'argo').args).toContain('workflow-controller-configmap');
    expect(m.find('ConfigMap', 'workflow-controller-configmap', 'argo').data.instanceID).toBeUndefined();
    expect(m.all('ClusterRole')).toEqual([]);
  });

  test('a domain\'s pipeline carries its controller\'s instance ID, and its cache is its own', () => {
    const tmpl = (ns: string) => m.all('WorkflowTemplate').find((t) => t.metadata.name === 'breast-cancer' && t.metadata.namespace === ns)!;
    expect(tmpl('ml-dev').metadata.labels['workflows.argoproj.io/controller-instanceid']).toBe('cd4ml-dev');
    expect(tmpl('ml-pipelines').metadata.labels['workflows.argoproj.io/controller-instanceid']).toBeUndefined();
    const cacheOf = (t: Obj) => t.spec.templates.find((x: Obj) => x.memoize).memoize.cache.configMap.name;
    expect(['ml-pipelines', 'ml-dev', 'ml-staging', 'ml-production'].map((ns) => cacheOf(tmpl(ns)))).toEqual(['breast-cancer-cache', 'breast-cancer-cache-dev', 'breast-cancer-cache-staging', 'breast-cancer-cache-prod']);
    // each controller may update its own domain's cache and no other
    expect(m.find('Role', 'workflow-controller-dev-cache', 'argo').rules).toEqual([{ apiGroups: [''], resources: ['configmaps'], resourceNames: ['breast-cancer-cache-dev'], verbs: ['get', 'update', 'patch'] }]);
    // a domain's pipeline has no schedule or event trigger here: its runs come from its deliveries
    expect(m.all('CronWorkflow').map((c) => c.metadata.namespace)).toEqual(['ml-pipelines']);
  });

  test('the MLflow user is shared unless a domain names its own; S3 users never are', () => {
    const spec = JSON.parse(m.find('ConfigMap', 'cd4ml-credentials', 'cd4ml').data['secrets.json']) as Array<{ name: string; namespaces: string[] }>;
    const secret = (name: string) => spec.find((s) => s.name === name);
    expect(secret('mlflow-user-pipelines')?.namespaces).toEqual(expect.arrayContaining(['ml-pipelines', 'ml-dev', 'ml-staging', 'ml-production']));
    for (const d of ['dev', 'staging', 'prod']) expect(secret(`seaweedfs-pipelines-${d}`)?.namespaces).toEqual(expect.arrayContaining([d === 'prod' ? 'ml-production' : `ml-${d}`]));
    const own = platform({ pipelineDomains: { dev: { trackingUser: 'pipelines-dev' } } });
    const ownSpec = JSON.parse(own.find('ConfigMap', 'cd4ml-credentials', 'cd4ml').data['secrets.json']) as Array<{ name: string; namespaces: string[] }>;
    expect(ownSpec.find((s) => s.name === 'mlflow-user-pipelines-dev')?.namespaces).toContain('ml-dev');
    expect(ownSpec.find((s) => s.name === 'mlflow-user-pipelines')?.namespaces).not.toContain('ml-dev');
  });

  test('MLflow admits the domains\' pods; each domain reaches the API server, the store and MLflow only', () => {
    const mlflow = m.find('NetworkPolicy', 'mlflow', 'cd4ml');
    const from = (mlflow.spec.ingress as Obj[]).flatMap((r) => r.from ?? []).map((f: Obj) => f.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name']);
    expect(from).toEqual(expect.arrayContaining(['ml-pipelines', 'ml-dev', 'ml-staging', 'ml-production']));
    // a domain's pods may reach exactly what the platform's pipeline pods may
    const egress = (ns: string) => m.find('NetworkPolicy', 'pipelines', ns).spec.egress;
    for (const ns of ['ml-dev', 'ml-staging', 'ml-production']) expect([ns, egress(ns)]).toEqual([ns, egress('ml-pipelines')]);
  });

  test('each controller may take and renew its own leader-election Lease only (several share the workflow namespace)', () => {
    const leaseRules = (name: string) => m.find('Role', name, 'argo').rules.filter((r: Obj) => r.resources.includes('leases'));
    expect(leaseRules('workflow-controller')).toEqual([
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['workflow-controller'], verbs: ['get', 'update'] },
    ]);
    expect(leaseRules('workflow-controller-dev')[1].resourceNames).toEqual(['workflow-controller-cd4ml-dev']);
  });

  test('with an external object store the domains use the platform\'s keys (the team issues them), required in each domain', () => {
    const keys = Object.fromEntries(['mlflow', 'workflows', 'pipelines', 'postgres-backup'].map((u) => [u, SecretRef.fromSecretName(`s3-${u}`, ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'])]));
    let platform!: Platform;
    const ext = synth((c) => {
      platform = new Platform(c, 'platform', { objectStore: ObjectStoreChoice.external({ endpoint: 'https://s3.eu-central-1.amazonaws.com', region: 'eu-central-1', credentials: keys }), pipelineDomains: { dev: {} } });
    });
    expect(JSON.parse(ext.find('ConfigMap', 'workflow-controller-configmap-dev', 'argo').data.artifactRepository).s3.accessKeySecret.name).toBe('s3-workflows');
    expect(platform.domain('dev')!.runner.s3Credentials.secretName).toBe('s3-pipelines');
    expect(keys.pipelines.requiredIn).toEqual(expect.arrayContaining(['ml-pipelines', 'ml-dev']));
    expect(keys.workflows.requiredIn).toEqual(expect.arrayContaining(['ml-pipelines', 'ml-dev']));
    // and the domain's pods may reach the store, as the platform's pipeline pods do
    expect(ext.find('NetworkPolicy', 'pipelines', 'ml-dev').spec.egress).toEqual(ext.find('NetworkPolicy', 'pipelines', 'ml-pipelines').spec.egress);
  });

  test('a domain\'s step and executor accounts may not be granted an endpoint\'s rollout', () => {
    const problems = problemsOf(() => {
      const c = chart();
      const p = new Platform(c, 'platform', { pipelineDomains: { dev: {} } });
      const endpoint = new ModelEndpoint(c, 'churn-dev', { platform: p, model: 'churn', version: '1', image: BASE });
      endpoint.grantRollout(ServiceAccount.fromServiceAccountName(c, 'executor', 'pipeline-executor', { namespaceName: 'ml-dev' }));
    });
    expect(problems.map((x) => [x.field, x.value])).toEqual([['grantRollout(serviceAccount)', 'ml-dev/pipeline-executor']]);
  });

  test('passes the security bar and leaves no dangling reference', () => {
    expect(securityViolations(m.objects)).toEqual([]);
    expect(danglingReferences(m.objects)).toEqual([]);
  });

  describe('bad domains are refused at synth, each with a fix that passes', () => {
    const build = (domains: unknown) => new Platform(chart(), 'p', { pipelineDomains: domains as PlatformProps['pipelineDomains'] });
    const one = (settings: unknown) => build({ dev: settings });

    test('not an object, a bad name, an unknown setting', () => {
      expect(problemsOf(() => build(['dev'])).map((p) => [p.field, p.message])).toEqual([['pipelineDomains', 'is an array, not pipeline domains by name']]);
      refused((n) => build({ [n as string]: {} }), 'Dev_1', 'pipelineDomains.Dev_1', /not a domain name/);
      const fields = (domains: unknown) => problemsOf(() => build(domains)).map((p) => `${p.field}: ${p.message}`);
      expect(fields({ dev: 'dev' })).toEqual(['pipelineDomains.dev: is a string, not a domain\'s settings']);
      expect(fields({ dev: { namespaces: 'ml-dev' } })).toEqual(['pipelineDomains.dev.namespaces: is not a setting of a pipeline domain']);
      expect(fields({ dev: null })).toEqual([expect.stringMatching(/^pipelineDomains\.dev/)]);
    });

    test('a namespace of the platform, or another domain\'s', () => {
      refused((ns) => one({ namespace: ns }), 'ml-pipelines', 'pipelineDomains.dev.namespace', /already a namespace of the platform/);
      refused((ns) => build({ staging: { namespace: 'ml-shared' }, dev: { namespace: ns } }), 'ml-shared', 'pipelineDomains.dev.namespace', /already the namespace of domain "staging"/);
      refused((ns) => one({ namespace: ns }), 'ML Dev', 'pipelineDomains.dev.namespace');
    });

    test('a malformed quota or step default, and a quota field that is none', () => {
      refused((cpu) => one({ quota: { cpu } }), '8 cores', 'pipelineDomains.dev.quota.cpu');
      refused((memory) => one({ stepDefaults: { memory } }), '1 GB', 'pipelineDomains.dev.stepDefaults.memory');
      expect(problemsOf(() => one({ quota: { gpu: 1 } })).map((p) => [p.field, p.message])).toEqual([['pipelineDomains.dev.quota.gpu', 'is not a field of a quota']]);
    });

    test('step defaults the domain\'s runner could not take (a request above the platform\'s limit) are reported under the domain', () => {
      const problems = problemsOf(() => one({ stepDefaults: { memory: '2Gi' } }));
      expect(problems.map((p) => p.field)).toEqual([expect.stringMatching(/^pipelineDomains\.dev\.stepDefaults/)]);
      expect(problemsOf(() => one({ stepDefaults: { memory: '2Gi', memoryLimit: '4Gi' } }))).toEqual([]);
    });

    test('an MLflow user that is taken: the platform pipelines\', the admin, another domain\'s', () => {
      refused((u) => one({ trackingUser: u }), 'pipelines', 'pipelineDomains.dev.trackingUser', /the platform pipelines' MLflow user/);
      refused((u) => one({ trackingUser: u }), 'admin', 'pipelineDomains.dev.trackingUser');
      const [p] = problemsOf(() => build({ dev: { trackingUser: 'team' }, prod: { trackingUser: 'team' } }));
      expect([p.field, p.message]).toEqual(['pipelineDomains.prod.trackingUser', 'is the MLflow user of domain "dev"']);
    });

    test('a name holding the word "cache", which would let caches and cache Roles of two domains meet', () => {
      refused((n) => build({ [n as string]: {} }), 'cache', 'pipelineDomains.cache', /holds the word "cache"/);
      refused((n) => build({ [n as string]: {} }), 'a-cache', 'pipelineDomains.a-cache', /holds the word "cache"/);
      expect(problemsOf(() => build({ cached: {}, 'dev-caches': {} }))).toEqual([]);
    });

    test('a null pipelineDomains is reported once', () => {
      expect(problemsOf(() => build(null)).filter((p) => p.field.startsWith('pipelineDomains'))).toHaveLength(1);
    });

    test('an instance ID too long for a label', () => {
      const p = problemsOf(() => new Platform(chart(), 'p', { workflowInstanceId: 'x'.repeat(40), pipelineDomains: { ['d'.repeat(25)]: {} } }));
      expect(p.map((x) => x.field)).toEqual([`pipelineDomains.${'d'.repeat(25)}`]);
    });
  });
});

test('a WorkflowController built from JavaScript with missing or wrong props reports them, never a TypeError', () => {
  const problems = problemsOf(() => {
    const c = chart();
    const p = new Platform(c, 'platform', {});
    return new WorkflowController(c, 'controller', { namespace: p.pipelineRunner.namespace, runner: 'ml-dev', image: 'argo:latest', artifactCredentials: 'seaweedfs-workflows' } as unknown as WorkflowControllerProps);
  });
  expect(problems.map((x) => x.field)).toEqual(expect.arrayContaining(['runner', 'artifactBucket', 'image', 'executorImage', 'resources', 'executorResources', 'artifactCredentials']));
  expect(problems.every((x) => x.path === 'test/controller')).toBe(true);
});

test('a PipelineRunner given shared credentials that are not Secrets, or both a user and a Secret, reports each field', () => {
  const problems = problemsOf(() => {
    const c = chart();
    const p = new Platform(c, 'platform', {});
    return new PipelineRunner(c, 'runner', {
      namespace: 'ml-team', objectStore: p.objectStore, buckets: { data: p.dataBucket }, trackingServer: p.trackingServer,
      trackingCredentials: 'mlflow-user-pipelines', s3Credentials: p.pipelineRunner.s3Credentials, storageUser: 'team',
    } as unknown as PipelineRunnerProps);
  });
  expect(problems.map((x) => `${x.field}: ${x.message}`)).toEqual([
    's3Credentials: is given together with storageUser "team"',
    'trackingCredentials: is not a Secret of an MLflow user',
  ]);
});

describe('the delivery runs each environment in its domain', () => {
  /** The seed pipeline delivered to dev, staging and prod, each a domain; `declareIn` says which domains declare it. */
  function delivered(c: Chart, declareIn: (name: string) => boolean = () => true): void {
    const platform = new Platform(c, 'platform', { pipelineDomains: { dev: {}, staging: {}, prod: {} } });
    const pipeline = breastCancerPipeline(c, { runner: platform.pipelineRunner, image: BASE });
    for (const d of platform.domains.values()) if (declareIn(d.name)) breastCancerPipeline(c, { runner: d.runner, image: BASE, id: `breast-cancer-${d.name}`, triggers: false });
    const triggers = new DeliveryTriggers(c, 'triggers', { platform });
    const environments = Object.fromEntries(['dev', 'staging', 'prod'].map((env) => [env, {
      endpoint: new ModelEndpoint(c, `churn-${env}`, { platform, model: 'sklearn-random-forest', version: '1', image: BASE }), gate: { metric: 'roc_auc' }, alias: `champion-${env}`,
    }]));
    new Delivery(c, 'delivery', { platform, triggers, pipeline, candidate: { step: 'train-model' }, image: IMAGE, builder: Builder.crane({ base: BASE }), environments });
  }

  test('render, register and run name the domain\'s namespace and controller; the pipeline account is bound there and nowhere else', () => {
    const m = synth((c) => delivered(c));
    for (const env of ['dev', 'staging', 'prod']) {
      const t = m.find('WorkflowTemplate', `cd4ml-delivery-${env}`, 'cd4ml-ci');
      const args = (name: string): string[] => t.spec.templates.find((x: Obj) => x.name === name).container.args;
      const after = (a: string[], flag: string) => a[a.indexOf(flag) + 1];
      expect(['render', 'register', 'run'].map((s) => after(args(s), '--namespace'))).toEqual([`ml-${env}`, `ml-${env}`, `ml-${env}`]);
      // the run is labelled for the domain's controller
      expect(JSON.parse(after(args('run'), '--labels'))).toMatchObject({ 'workflows.argoproj.io/controller-instanceid': `cd4ml-${env}` });
      const bound = m.all('RoleBinding').filter((b) => b.subjects?.some((s: Obj) => s.name === `cd4ml-delivery-${env}-pipeline`));
      expect(bound.map((b) => b.metadata.namespace)).toEqual([`ml-${env}`]);
    }
  });

  test('a domain that does not declare the delivered pipeline is refused, naming the runner and a fix', () => {
    const problems = problemsOf(() => delivered(chart(), (name) => name !== 'staging'));
    expect(problems.map((p) => [p.field, p.value])).toEqual([['environments.staging.runner', 'ml-staging']]);
    expect(problems[0].fix).toMatch(/declare the pipeline on the environment's runner too/);
    expect(problemsOf(() => delivered(chart()))).toEqual([]);
  });
});
