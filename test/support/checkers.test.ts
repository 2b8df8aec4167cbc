import { Platform } from '../../constructs';
import { Obj, synth } from './manifests';
import { danglingReferences } from './references';
import { securityViolations } from './security';

// The whole-output checkers guard every other test; these prove each check fires when its rule is broken.
const clean = synth((chart) => new Platform(chart, 'platform')).objects;
const copy = (): Obj[] => JSON.parse(JSON.stringify(clean));
const find = (objects: Obj[], kind: string, name: string): Obj => objects.find((o) => o.kind === kind && o.metadata.name === name)!;

describe('danglingReferences', () => {
  test('passes the clean platform', () => {
    expect(danglingReferences(clean)).toEqual([]);
  });

  test('catches a Service whose target port no pod exposes', () => {
    const objects = copy();
    find(objects, 'Service', 'mlflow').spec.ports[0].targetPort = 'web';
    expect(danglingReferences(objects)).toContainEqual(expect.stringMatching(/Service cd4ml\/mlflow: targetPort web/));
  });

  test('catches an env var reading a secret key nobody creates', () => {
    const objects = copy();
    const env = find(objects, 'Deployment', 'mlflow').spec.template.spec.containers[0].env.find((e: Obj) => e.name === 'PGPASSWORD');
    env.valueFrom.secretKeyRef.key = 'pass';
    expect(danglingReferences(objects)).toContainEqual(expect.stringMatching(/env PGPASSWORD reads cd4ml\/postgres-mlflow\[pass\]/));
  });

  test('catches a NetworkPolicy peer that matches no pod', () => {
    const objects = copy();
    find(objects, 'NetworkPolicy', 'postgres').spec.ingress[0].from[0].podSelector.matchLabels['app.kubernetes.io/name'] = 'mlfow';
    expect(danglingReferences(objects)).toContainEqual(expect.stringMatching(/NetworkPolicy cd4ml\/postgres: from peer .* matches no pod/));
  });

  test('catches an in-cluster URL with a port the Service lacks', () => {
    const objects = copy();
    find(objects, 'ConfigMap', 'pipeline-defaults').data.MLFLOW_TRACKING_URI = 'http://mlflow.cd4ml.svc.cluster.local:5001';
    expect(danglingReferences(objects)).toContainEqual(expect.stringMatching(/mlflow.cd4ml.svc.cluster.local:5001 names a port the Service lacks/));
  });

  test('catches a role binding to a missing role and an artifact secret missing from the managed namespace', () => {
    const objects = copy();
    find(objects, 'RoleBinding', 'pipeline-executor').roleRef.name = 'executor';
    const cm = find(objects, 'ConfigMap', 'workflow-controller-configmap');
    const repo = JSON.parse(cm.data.artifactRepository);
    repo.s3.accessKeySecret.name = 'seaweedfs-admin';
    cm.data.artifactRepository = JSON.stringify(repo);
    const problems = danglingReferences(objects);
    expect(problems).toContainEqual(expect.stringMatching(/RoleBinding ml-pipelines\/pipeline-executor: Role executor missing/));
    expect(problems).toContainEqual(expect.stringMatching(/artifact secret ml-pipelines\/seaweedfs-admin/));
  });
});

describe('securityViolations', () => {
  test('passes the clean platform', () => {
    expect(securityViolations(clean)).toEqual([]);
  });

  test('catches a container that keeps capabilities, an unpinned image and a literal password', () => {
    const objects = copy();
    const c = find(objects, 'StatefulSet', 'seaweedfs').spec.template.spec.containers[0];
    delete c.securityContext.capabilities;
    c.image = 'chrislusf/seaweedfs:latest';
    find(objects, 'Deployment', 'argo-server').spec.template.spec.containers[0].image = 'registry.local:5000/argocli';
    c.env.push({ name: 'AWS_SECRET_ACCESS_KEY', value: 'secret-in-plain-sight' });
    const v = securityViolations(objects);
    expect(v).toContainEqual(expect.stringMatching(/container seaweedfs: capabilities do not drop ALL \(rule 3\)/));
    expect(v).toContainEqual(expect.stringMatching(/image chrislusf\/seaweedfs:latest is not pinned \(rule 8\)/));
    expect(v).toContainEqual(expect.stringMatching(/image registry.local:5000\/argocli is not pinned \(rule 8\)/));
    expect(v).toContainEqual(expect.stringMatching(/env AWS_SECRET_ACCESS_KEY is a literal \(rule 11\)/));
  });

  test('catches identical probes, a missing memory limit and credentials in a URL', () => {
    const objects = copy();
    const c = find(objects, 'Deployment', 'mlflow').spec.template.spec.containers[0];
    c.livenessProbe = c.readinessProbe;
    delete c.resources.limits;
    c.args.push('postgresql://mlflow:hunter2@postgres:5432/mlflow');
    const v = securityViolations(objects);
    expect(v).toContainEqual(expect.stringMatching(/probes are identical \(rule 9\)/));
    expect(v).toContainEqual(expect.stringMatching(/memory limit \(rule 7\)/));
    expect(v).toContainEqual(expect.stringMatching(/user:pass@ \(rule 11\)/));
  });
});

describe('the checkers on Argo pipelines', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { buildApp } = require('../../stacks/app');
  const { Testing } = jest.requireActual('cdk8s');
  const cleanApp = (): Obj[] => {
    const { platform, pipelines } = buildApp('sandbox', '/tmp/cd4ml-unused');
    return JSON.parse(JSON.stringify([...Testing.synth(platform), ...Testing.synth(pipelines)]));
  };
  const template = (objects: Obj[]) => find(objects, 'WorkflowTemplate', 'breast-cancer');

  test('pass the clean pipelines', () => {
    const objects = cleanApp();
    expect(danglingReferences(objects)).toEqual([]);
    expect(securityViolations(objects)).toEqual([]);
  });

  test('catch a task reading an output its producer does not declare, or without depending on it', () => {
    const objects = cleanApp();
    const tasks = template(objects).spec.templates[0].dag.tasks;
    tasks.find((t: Obj) => t.name === 'deploy-model').arguments.parameters[0].value = '{{tasks.train-model.outputs.parameters.model}}';
    delete tasks.find((t: Obj) => t.name === 'train-model').dependencies;
    const problems = danglingReferences(objects);
    expect(problems).toContainEqual(expect.stringMatching(/task deploy-model reads parameters model of train-model, which does not declare it/));
    expect(problems).toContainEqual(expect.stringMatching(/task train-model reads prepare-data without depending on it/));
  });

  test('catch an undeclared workflow parameter and a schedule for a missing template', () => {
    const objects = cleanApp();
    template(objects).spec.arguments.parameters = template(objects).spec.arguments.parameters.filter((p: Obj) => p.name !== 'min_auc');
    find(objects, 'CronWorkflow', 'breast-cancer-nightly').spec.workflowSpec.workflowTemplateRef.name = 'breast-cancr';
    const problems = danglingReferences(objects);
    expect(problems).toContainEqual(expect.stringMatching(/task train-model reads undeclared parameter min_auc/));
    expect(problems).toContainEqual(expect.stringMatching(/CronWorkflow ml-pipelines\/breast-cancer-nightly: template breast-cancr missing/));
  });

  test('catch a workflow step container that keeps capabilities, and a workflow that mounts the API token everywhere', () => {
    const objects = cleanApp();
    const wt = template(objects);
    delete wt.spec.templates[1].container.securityContext.capabilities;
    wt.spec.automountServiceAccountToken = true;
    const v = securityViolations(objects);
    expect(v).toContainEqual(expect.stringMatching(/template prepare-data container main: capabilities do not drop ALL \(rule 3\)/));
    expect(v).toContainEqual(expect.stringMatching(/WorkflowTemplate ml-pipelines\/breast-cancer: step containers get an API token/));
  });
});

describe('the checkers on platform-wide rules', () => {
  test('catch a namespace without default deny, a wildcard role and a broader executor role (rules 10, 13)', () => {
    const objects = copy().filter((o) => !(o.kind === 'NetworkPolicy' && o.metadata.name === 'default-deny' && o.metadata.namespace === 'argo'));
    find(objects, 'Role', 'pipeline-executor').rules.push({ apiGroups: [''], resources: ['secrets'], verbs: ['get'] });
    find(objects, 'Role', 'argo-user').rules[0].verbs = ['*'];
    const v = securityViolations(objects);
    expect(v).toContainEqual('Namespace argo: no default-deny NetworkPolicy (rule 10)');
    expect(v).toContainEqual(expect.stringMatching(/Role ml-pipelines\/argo-user: wildcard rule \(rule 13\)/));
    expect(v).toContainEqual(expect.stringMatching(/Role pipeline-executor: the workflow executor may do more than report task results/));
  });

  test('catch argo-server without authentication and MLflow open to any host (rules 15, 16)', () => {
    const objects = copy();
    const server = find(objects, 'Deployment', 'argo-server').spec.template.spec.containers[0];
    server.args[server.args.indexOf('--auth-mode') + 1] = 'server';
    const mlflow = find(objects, 'Deployment', 'mlflow').spec.template.spec.containers[0];
    mlflow.args[mlflow.args.indexOf('--allowed-hosts') + 1] = '*';
    mlflow.args.push('--disable-security-middleware');
    const v = securityViolations(objects);
    expect(v).toContainEqual('Deployment argo/argo-server: auth mode server (rule 15)');
    expect(v).toContainEqual('Deployment cd4ml/mlflow: --allowed-hosts missing or open to any host (rule 16)');
    expect(v).toContainEqual('Deployment cd4ml/mlflow: security middleware disabled (rule 16)');
  });

  test('catch an archive secret argo-server may not read, and a generated secret the credentials Job may not write', () => {
    const objects = copy();
    find(objects, 'Role', 'argo-server').rules = find(objects, 'Role', 'argo-server').rules.filter((r: Obj) => !r.resources.includes('secrets'));
    objects.find((o) => o.kind === 'Role' && o.metadata.name === 'cd4ml-credentials' && o.metadata.namespace === 'argo')!.rules[1].resourceNames = [];
    const problems = danglingReferences(objects);
    expect(problems).toContainEqual('workflow-controller-configmap: argo-server may not read the archive secret postgres-argo');
    expect(problems).toContainEqual('Role argo/cd4ml-credentials: the credentials Job may not read postgres-argo there');
  });
});
