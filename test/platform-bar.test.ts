import { execFileSync } from 'child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Testing } from 'cdk8s';
import { EnvironmentName, ENVIRONMENT_NAMES, footprint } from '../lib';
import { synthesizeEnvironment } from '../constructs';
import { buildApp, loadStack } from '../stacks/app';
import { Manifests, Obj } from './support/manifests';
import { danglingReferences } from './support/references';
import { securityViolations } from './support/security';

const ROOT = join(__dirname, '..');

interface SchemaReport {
  validated: number;
  derived: number;
  kinds: Record<string, number>;
  errors: Array<{ object: string; message: string }>;
  strictErrors: Array<{ object: string; message: string }>;
}

/** Runs the ESM schema validator on the objects in a child process. */
export function validateSchemas(objects: object[]): SchemaReport {
  const dir = mkdtempSync(join(tmpdir(), 'cd4ml-objects-'));
  try {
    const file = join(dir, 'objects.json');
    writeFileSync(file, JSON.stringify(objects));
    return JSON.parse(execFileSync(process.execPath, [join(ROOT, 'test/schema/validate.mjs'), file], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Whether an object and its namespace's Namespace come from the same chart (the platform's, or the pipelines'). */
function sameChart(m: Manifests, o: Obj, ns: string): boolean {
  const platformCount = (m as Manifests & { platformCount?: number }).platformCount ?? m.objects.length;
  return (m.objects.indexOf(o) < platformCount) === (m.indexOf('Namespace', ns) < platformCount);
}

/** What `npm run synth` renders for an environment: the platform chart, then the pipelines chart. */
function synthEnvironment(env: EnvironmentName): Manifests {
  const { platform, pipelines } = buildApp(env, join(tmpdir(), 'cd4ml-unused'));
  const platformObjects = Testing.synth(platform);
  return Object.assign(new Manifests([...platformObjects, ...Testing.synth(pipelines)]), { platformCount: platformObjects.length });
}

const platforms: Record<string, Manifests> = Object.fromEntries(ENVIRONMENT_NAMES.map((env) => [env, synthEnvironment(env)]));

describe.each(ENVIRONMENT_NAMES)('the %s platform and its pipelines', (env) => {
  const m = platforms[env];

  test('every object validates against the Kubernetes and Argo Workflows schemas, unknown fields included', () => {
    // when
    const report = validateSchemas(m.objects);
    // then
    expect(report.errors).toEqual([]);
    expect(report.strictErrors).toEqual([]);
    // every object, plus each controller ConfigMap's workflow and container defaults checked as what they are (the
    // sandbox has a controller per pipeline domain too: dev, staging and prod)
    const derived = 2 * (env === EnvironmentName.SANDBOX ? 4 : 1);
    expect(report.derived).toBe(derived);
    expect(report.validated).toBe(m.objects.length + derived);
    // (prod's stores are external: no StatefulSet, and only the credentials generator's setup Job)
    const external = env === EnvironmentName.PROD;
    // the sandbox also delivers: three pipeline domains (a namespace, a controller and the seed pipeline each), a CI
    // namespace with its controller, three delivery templates and their bindings, and a model endpoint per environment
    const sandbox = env === EnvironmentName.SANDBOX;
    expect(report.kinds).toMatchObject({
      CustomResourceDefinition: 8, Deployment: sandbox ? 3 + 3 + 1 + 3 : 3, Job: external ? 1 : 3, Namespace: sandbox ? 4 + 3 : 3, CronWorkflow: 1, WorkflowEventBinding: sandbox ? 2 + 3 : 2,
    });
    expect(report.kinds.StatefulSet).toBe(external ? undefined : 2);
    expect(report.kinds.WorkflowTemplate).toBe(sandbox ? 1 + 3 + 3 : 2);
  });

  test('no reference dangles (prod\'s external stores\' credentials are the Secrets the team creates, or Pulumi from config)', () => {
    const plan = loadStack(env);
    synthesizeEnvironment(plan.definition);
    const known = plan.externalSecrets.flatMap(({ ref }) => ref.requiredIn.map((namespace) => ({ namespace, name: ref.secretName, keys: ref.keys })));
    expect(known.length).toBe(env === EnvironmentName.PROD ? 5 : 0);
    // prod's ingress controller runs outside the output: its NetworkPolicy peers name it
    const outside = (d: string) => env === EnvironmentName.PROD && /^NetworkPolicy .*: from (namespace ingress-nginx is not in the output|peer \{"app.kubernetes.io\/name":"ingress-nginx"\} matches no pod)$/.test(d);
    expect(danglingReferences(m.objects, known).filter((d) => !outside(d))).toEqual([]);
  });

  test('every object meets the security bar', () => {
    expect(securityViolations(m.objects)).toEqual([]);
  });

  test('namespaces come before what lives in them, CRDs before the workflow engine', () => {
    // within each chart as cdk8s orders it (every apply order puts all Namespaces first: the GitOps layout's cluster
    // folder, the cdk8s CLI's single file, Pulumi's dependencies)
    for (const o of m.objects) {
      const ns = o.metadata.namespace;
      if (ns && m.has('Namespace', ns) && sameChart(m, o, ns)) expect(m.indexOf('Namespace', ns)).toBeLessThan(m.objects.indexOf(o));
      if (ns) expect(m.has('Namespace', ns)).toBe(true);
    }
    const lastCrd = Math.max(...m.all('CustomResourceDefinition').map((c) => m.objects.indexOf(c)));
    expect(lastCrd).toBeLessThan(m.indexOf('Deployment', 'workflow-controller', env === EnvironmentName.STAGING ? 'staging-argo' : 'argo'));
  });
});

test('the validator itself rejects unknown fields and wrong types (so a green run means something)', () => {
  // given a Deployment with a misspelt field and a Service with a named port number
  const objects = JSON.parse(JSON.stringify(platforms.sandbox.objects));
  const mlflow = objects.find((o: { kind: string; metadata: { name: string } }) => o.kind === 'Deployment' && o.metadata.name === 'mlflow');
  mlflow.spec.template.spec.containers[0].imagePullPolicyy = 'Always';
  const svc = objects.find((o: { kind: string; metadata: { name: string } }) => o.kind === 'Service' && o.metadata.name === 'seaweedfs');
  svc.spec.ports[0].port = 'http';
  // when
  const report = validateSchemas(objects);
  // then
  expect(report.errors.map((e) => e.object)).toEqual([expect.stringContaining('Service cd4ml/seaweedfs')]);
  expect(report.strictErrors.map((e) => e.message).join('\n')).toMatch(/imagePullPolicyy/);
});

test('the README states the sandbox footprint the sandbox really requests', () => {
  // given
  const totals = footprint(platforms[EnvironmentName.SANDBOX].objects.filter((o) => o.metadata.namespace !== 'ml-pipelines'));
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  // then
  expect(readme).toContain(`${totals.steadyText.cpu} CPU`);
  expect(readme).toContain(`${totals.steadyText.memory} memory requested`);
  expect(readme).toContain(`${totals.steadyText.memoryLimit} memory limit`);
});
