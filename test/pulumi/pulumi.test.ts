import { mkdtempSync, readFileSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { parse, stringify } from 'yaml';
import { EnvironmentName, ENVIRONMENT_NAMES } from '../../lib';
import { readEnvironmentOutput } from '../../constructs';
import { Obj } from '../support/manifests';
import { danglingReferences } from '../support/references';

const ROOT = join(__dirname, '..', '..');

/** What the mock monitor saw of one resource registration. */
interface Registration {
  type: string;
  name: string;
  inputs: Obj;
  protect: boolean;
  retainOnDelete: boolean;
  dependsOn: string[];
  createTimeout?: string;
}

/**
 * A stack's settings as one flat map (`cd4ml:key` -> string, structured values as JSON): its Pulumi config and its
 * environment's definition together, so a test can change either; {@link deploy} splits them again.
 */
function stackConfig(stack: string, extra: Record<string, unknown> = {}): Record<string, string> {
  const file = parse(readFileSync(join(ROOT, `Pulumi.${stack}.yaml`), 'utf8')) as { config: Record<string, unknown> };
  const definition = (parse(readFileSync(join(ROOT, 'stacks', 'environments', `${stack}.yaml`), 'utf8')) ?? {}) as Record<string, unknown>;
  const merged = { ...Object.fromEntries(Object.entries(definition).map(([k, v]) => [`cd4ml:${k}`, v])), ...file.config, ...extra };
  return Object.fromEntries(Object.entries(merged).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
}

/** Splits a flat map into the stack's Pulumi config and a definitions folder holding the environment's definition. */
function split(stack: string, config: Record<string, string>): { pulumiConfig: Record<string, string>; dir: string } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { isDefinitionSetting } = require('../../stacks/config');
  const dir = mkdtempSync(join(tmpdir(), 'cd4ml-definitions-'));
  const environment = config['cd4ml:environment'] ?? stack;
  const definition: Record<string, unknown> = {};
  const pulumiConfig: Record<string, string> = {};
  for (const [k, v] of Object.entries(config)) {
    const name = k.replace(/^cd4ml:/, '');
    if (k.startsWith('cd4ml:') && isDefinitionSetting(name)) {
      try { definition[name] = JSON.parse(v); } catch { definition[name] = v; }
    } else {
      pulumiConfig[k] = v;
    }
  }
  writeFileSync(join(dir, `${environment}.yaml`), stringify(definition));
  return { pulumiConfig, dir };
}

const PROD_SECRETS = {
  'cd4ml:s3MlflowAccessKeyId': 'AKIA-mlflow', 'cd4ml:s3MlflowSecretAccessKey': 's3-secret-mlflow',
  'cd4ml:s3WorkflowsAccessKeyId': 'AKIA-workflows', 'cd4ml:s3WorkflowsSecretAccessKey': 's3-secret-workflows',
  'cd4ml:s3PipelinesAccessKeyId': 'AKIA-pipelines', 'cd4ml:s3PipelinesSecretAccessKey': 's3-secret-pipelines',
  'cd4ml:trackingDbUsername': 'mlflow', 'cd4ml:trackingDbPassword': 'tracking-pw-test',
  'cd4ml:archiveDbUsername': 'argo', 'cd4ml:archiveDbPassword': 'archive-pw-test',
};

/** Runs the Pulumi program under Pulumi's own unit-test mocks and returns what it registered. */
async function deploy(stack: string, settings: Record<string, string>, secretKeys: string[] = []): Promise<{ registered: Registration[]; error?: Error; outputs?: Record<string, unknown>; secretOutputs?: Record<string, boolean> }> {
  jest.resetModules();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pulumi = require('@pulumi/pulumi');
  const inputs = new Map<string, Obj>();
  await pulumi.runtime.setMocks({
    newResource: (a: { type: string; name: string; inputs: Obj }) => { inputs.set(`${a.type}::${a.name}`, a.inputs); return { id: `${a.name}-id`, state: a.inputs }; },
    call: (a: { inputs: Obj }) => a.inputs,
  }, 'cd4ml', stack, false);
  const { pulumiConfig: config, dir } = split(stack, settings);
  pulumi.runtime.setAllConfig(config, secretKeys);
  // The mock hook does not see resource options; the register requests it answers do.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const monitor = require('@pulumi/pulumi/runtime/settings').getMonitor();
  const requests: Array<Omit<Registration, 'inputs'>> = [];
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req: Obj, cb: unknown) => {
    requests.push({
      type: req.getType(),
      name: req.getName(),
      protect: req.getProtect(),
      retainOnDelete: req.getRetainondelete?.() ?? false,
      dependsOn: req.getDependenciesList().map((u: string) => u.split('::').pop()),
      createTimeout: req.getCustomtimeouts()?.getCreate() || undefined,
    });
    return register(req, cb);
  };
  let program;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    program = require('../../stacks/pulumi-program').run(dir);
  } catch (error) {
    await new Promise((r) => setTimeout(r, 20));
    return { registered: requests.map((r) => ({ ...r, inputs: {} })), error: error as Error };
  }
  const resources = [...program.platform.resources.values()];
  await Promise.all(resources.map((r: { urn: { apply: (f: (u: string) => void) => void } }) => new Promise<void>((resolve) => r.urn.apply(() => resolve()))));
  const outputs: Record<string, unknown> = {};
  const secretOutputs: Record<string, boolean> = {};
  for (const [k, v] of Object.entries<{ apply: (f: (x: unknown) => void) => void }>(program.outputs)) outputs[k] = await new Promise((resolve) => v.apply(resolve));
  for (const [id, r] of program.platform.resources as Map<string, Obj>) if (/\/Secret\/cd4ml-/.test(id)) secretOutputs[id] = await r.stringData.isSecret;
  await new Promise((r) => setTimeout(r, 20));
  return { registered: requests.map((r) => ({ ...r, inputs: inputs.get(`${r.type}::${r.name}`) ?? {} })), outputs, secretOutputs };
}

const kube = (rs: Registration[]) => rs.filter((r) => r.type.startsWith('kubernetes:'));
const key = (o: Obj) => `${o.metadata?.namespace ?? 'cluster'}/${o.kind}/${o.metadata?.name}`;

describe.each(ENVIRONMENT_NAMES)('pulumi up --stack %s (under mocks)', (stack) => {
  const secretKeys = stack === 'prod' ? Object.keys(PROD_SECRETS) : [];
  const config = () => ({ ...stackConfig(stack), ...(stack === 'prod' ? PROD_SECRETS : {}) });

  test('registers the platform component and one Kubernetes resource per synthesized object, in order', async () => {
    const { registered, error, outputs } = await deploy(stack, config(), secretKeys);
    expect(error).toBeUndefined();
    expect(registered[0]).toMatchObject({ type: 'cd4ml:index:Platform', name: 'cd4ml' });
    const resources = kube(registered);
    const byName = new Map(resources.map((r) => [r.name, r]));
    // namespaces and CRDs depend on nothing; every namespaced object waits for its namespace, Argo objects for the CRDs
    for (const r of resources.filter((x) => ['Namespace', 'CustomResourceDefinition'].includes(x.inputs.kind))) expect(r.dependsOn).toEqual([]);
    const crds = resources.filter((r) => r.inputs.kind === 'CustomResourceDefinition').map((r) => r.name);
    expect(crds).toHaveLength(8);
    for (const r of resources) {
      const ns = r.inputs.metadata?.namespace;
      if (ns) expect(r.dependsOn).toContain(`cluster/Namespace/${ns}`);
      if (String(r.inputs.apiVersion).startsWith('argoproj.io/')) expect(r.dependsOn).toEqual(expect.arrayContaining(crds));
    }
    // pipelines come after the platform's workflow controller
    const template = resources.find((r) => r.inputs.kind === 'WorkflowTemplate')!;
    expect(template.dependsOn.some((d) => d.endsWith('/Deployment/workflow-controller'))).toBe(true);
    expect(byName.size).toBe(resources.length);
    expect(outputs!.trackingUri).toMatch(/^http:\/\/mlflow\.[a-z-]*cd4ml\.svc\.cluster\.local:5000$/);
    expect(Object.keys(outputs!.portForward as object)).toEqual(expect.arrayContaining(['mlflow', 'argo']));
    // the client config points at the admin's Secret, never at its values
    expect(outputs!.trackingCredentials).toEqual({ namespace: expect.stringMatching(/cd4ml$/), secret: 'mlflow-admin', keys: ['MLFLOW_TRACKING_USERNAME', 'MLFLOW_TRACKING_PASSWORD'] });
    // and what `cd4ml env` writes, and the synth's notes, as outputs (no secret among them)
    // (prod's UIs are behind its ingress; the others' are reached by port-forward)
    const behindIngress = stack === 'prod';
    expect(outputs!.clientEnv).toMatchObject({
      MLFLOW_TRACKING_URI: behindIngress ? 'https://mlflow.ml.example.com' : 'http://localhost:5050',
      ARGO_SERVER: behindIngress ? 'argo.ml.example.com:443' : 'localhost:2746',
      ARGO_SECURE: 'true', ARGO_NAMESPACE: expect.stringMatching(/ml-pipelines$/),
    });
    if (behindIngress) expect(outputs!.notes).toMatch(/Argo UI: {3}https:\/\/argo.ml.example.com/);
    else expect(outputs!.notes).toMatch(/kubectl -n [a-z-]*argo port-forward svc\/argo-server 2746:2746/);
  });

  test('protects the stateful stores and their namespace from deletion and replacement, and nothing else', async () => {
    const { registered } = await deploy(stack, config(), secretKeys);
    const protectedOnes = kube(registered).filter((r) => r.protect).map((r) => r.name).sort();
    const ns = stack === 'staging' ? 'staging-cd4ml' : 'cd4ml';
    const stores = stack === 'prod' ? [] : [`${ns}/StatefulSet/seaweedfs`, `${ns}/StatefulSet/postgres`];
    // and the Secrets made from config, which the stores' consumers need as long as the stores live
    const fromConfig = kube(registered).filter((r) => r.inputs.kind === 'Secret' && r.inputs.metadata?.labels?.['app.kubernetes.io/managed-by'] === 'pulumi').map((r) => r.name);
    expect(fromConfig.length).toBe(stack === 'prod' ? 5 : 0);
    expect(protectedOnes).toEqual([`cluster/Namespace/${ns}`, ...stores, ...fromConfig].sort());
    for (const r of kube(registered).filter((x) => x.protect)) expect(r.retainOnDelete).toBe(true);
  });
});

test.each(ENVIRONMENT_NAMES)('parity: the %s stack deploys exactly the objects `npm run synth` writes for the environment', async (stack) => {
  // given what `npm run synth` writes for the environment, read back from its GitOps folder
  const secretKeys = stack === 'prod' ? Object.keys(PROD_SECRETS) : [];
  const config = { ...stackConfig(stack), ...(stack === 'prod' ? PROD_SECRETS : {}) };
  const out = mkdtempSync(join(tmpdir(), 'cd4ml-parity-'));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('../../stacks/synth').synth([stack, '--out', out]);
  const written = readEnvironmentOutput(out, stack) as Obj[];
  // when the stack runs
  const { registered, error } = await deploy(stack, config, secretKeys);
  expect(error).toBeUndefined();
  // then the same objects with the same content, plus only the Secrets Pulumi makes from secret config: exactly the
  // ones the written output reads and leaves to be created (prod's external stores' credentials)
  const fromConfig = kube(registered).filter((r) => r.inputs.kind === 'Secret' && r.inputs.metadata?.labels?.['app.kubernetes.io/managed-by'] === 'pulumi');
  const deployed = kube(registered).filter((r) => !fromConfig.includes(r)).map((r) => r.inputs);
  expect(deployed.map(key).sort()).toEqual(written.map(key).sort());
  const byKey = new Map(deployed.map((o) => [key(o), o]));
  for (const o of written) expect(byKey.get(key(o))).toEqual(o);
  const made = fromConfig.map((r) => ({ namespace: r.inputs.metadata.namespace, name: r.inputs.metadata.name, keys: Object.keys(r.inputs.stringData?.value ?? r.inputs.stringData ?? {}) }));
  // (prod's ingress controller is outside the output; its Secrets are not)
  expect(danglingReferences(written, made).filter((m) => /Secret|secret/.test(m))).toEqual([]);
  expect(fromConfig.length).toBe(stack === 'prod' ? 5 : 0);
});

test('prod takes credentials of its external stores from secret config, as Secrets marked secret in state', async () => {
  const { registered, secretOutputs, error } = await deploy('prod', { ...stackConfig('prod'), ...PROD_SECRETS }, Object.keys(PROD_SECRETS));
  expect(error).toBeUndefined();
  const secrets = kube(registered).filter((r) => r.inputs.kind === 'Secret').map((r) => r.name).sort();
  // one S3 key per consumer: MLflow's where it runs, Argo's and the steps' apart where pods mount them
  expect(secrets).toEqual(['argo/Secret/cd4ml-archive-db', 'cd4ml/Secret/cd4ml-s3-mlflow', 'cd4ml/Secret/cd4ml-tracking-db', 'ml-pipelines/Secret/cd4ml-s3-pipelines', 'ml-pipelines/Secret/cd4ml-s3-workflows', 'ml-pipelines/Secret/pipeline-executor.service-account-token', 'ml-pipelines/Secret/pipeline-trigger-token'].sort());
  expect(Object.values(secretOutputs!).every((v) => v === true)).toBe(true);
  const s3 = kube(registered).find((r) => r.name === 'cd4ml/Secret/cd4ml-s3-mlflow')!;
  // the values reach the provider wrapped as Pulumi secrets (so state holds them encrypted)
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { specialSigKey, specialSecretSig } = require('@pulumi/pulumi/runtime/rpc');
  expect(s3.inputs.stringData).toEqual({ [specialSigKey]: specialSecretSig, value: { AWS_ACCESS_KEY_ID: 'AKIA-mlflow', AWS_SECRET_ACCESS_KEY: 's3-secret-mlflow' } });
  // consumers wait for their Secrets
  expect(kube(registered).find((r) => r.name === 'cd4ml/Deployment/mlflow')!.dependsOn).toEqual(expect.arrayContaining(['cd4ml/Secret/cd4ml-s3-mlflow', 'cd4ml/Secret/cd4ml-tracking-db']));
  // no in-cluster stores in prod
  expect(kube(registered).some((r) => r.inputs.kind === 'StatefulSet')).toBe(false);
  // the renamed data bucket reaches steps in the variable of its role
  const defaults = kube(registered).find((r) => r.name === 'ml-pipelines/ConfigMap/pipeline-defaults')!;
  expect(defaults.inputs.data).toMatchObject({ CD4ML_BUCKET_DATA: 'example-org-cd4ml-prod-data' });
  expect(Object.keys(defaults.inputs.data).filter((k) => k.startsWith('CD4ML_BUCKET_'))).toEqual(['CD4ML_BUCKET_DATA']);

});

test('credentials overrides from secret config replace generated Secrets in every namespace they are copied to', async () => {
  const credentials = { 'seaweedfs-pipelines': { AWS_ACCESS_KEY_ID: 'pipelines', AWS_SECRET_ACCESS_KEY: 'chosen-by-ops' } };
  const { registered, error } = await deploy('sandbox', { ...stackConfig('sandbox'), 'cd4ml:credentials': JSON.stringify(credentials) }, ['cd4ml:credentials']);
  expect(error).toBeUndefined();
  expect(kube(registered).filter((r) => r.inputs.kind === 'Secret' && r.name.endsWith('/seaweedfs-pipelines')).map((r) => r.name).sort()).toEqual(['cd4ml/Secret/seaweedfs-pipelines', 'ml-pipelines/Secret/seaweedfs-pipelines']);
  const bad = await deploy('sandbox', { ...stackConfig('sandbox'), 'cd4ml:credentials': JSON.stringify({ 'seaweedfs-admin': { AWS_ACCESS_KEY_ID: 'x' } }) }, ['cd4ml:credentials']);
  expect(bad.error?.message).toMatch(/Cd4mlPlatform cd4ml: secrets\[0\].values = "\(secret\)": lacks the keys AWS_SECRET_ACCESS_KEY of the Secret seaweedfs-admin/);
  expect(bad.error?.message).not.toMatch(/"x"/);
  expect(bad.registered).toEqual([]);
});

describe('bad config fails with a clear message before any resource is registered', () => {
  test('one definition per environment: a setting of the definition in a stack\'s config, or a secret in the definition', async () => {
    const inConfig = await deploy('dev', { ...stackConfig('dev') }, []);
    expect(inConfig.error).toBeUndefined();
    // (deploy() writes definition settings to the definition; put one in the Pulumi config by hand)
    const { parseStackConfig } = require('../../stacks/config');
    expect(() => parseStackConfig('dev', { 'cd4ml:storageClassName': 'fast' }, [], { file: 'stacks/environments/dev.yaml', values: {} }))
      .toThrow(/Pulumi stack dev: cd4ml:storageClassName = "fast": belongs to the environment's definition, which both engines read. Fix: move it to stacks\/environments\/dev.yaml \(as `storageClassName: ...`\) and remove it with `pulumi config rm cd4ml:storageClassName`/);
    expect(() => parseStackConfig('dev', {}, [], { file: 'stacks/environments/dev.yaml', values: { trackingDbPassword: 'hunter2', environment: 'prod' } }))
      .toThrow(/stacks\/environments\/dev.yaml: trackingDbPassword = "\(redacted\)": holds a credential in a committed file/);
    expect(() => parseStackConfig('dev', {}, [], { file: 'stacks/environments/dev.yaml', values: { trackingDbPassword: 'hunter2' } })).not.toThrow(/hunter2/);
  });

  test('a definition that is missing, a null credentials override, a credential-named typo: refused, nothing echoed', async () => {
    const { parseStackConfig, readDefinition } = require('../../stacks/config');
    expect(() => readDefinition('staging', mkdtempSync(join(tmpdir(), 'cd4ml-nodefs-')))).toThrow(/staging.yaml: \(file\) = \(missing\): is missing: staging has no definition/);
    expect(readDefinition('sandbox', mkdtempSync(join(tmpdir(), 'cd4ml-nodefs-'))).values).toEqual({});
    const nulled = await deploy('sandbox', { ...stackConfig('sandbox'), 'cd4ml:credentials': 'null' }, ['cd4ml:credentials']);
    expect(nulled.error?.message).toMatch(/cd4ml:credentials = "\(secret\)": is not an object of Secrets/);
    expect(nulled.error?.name).toBe('Cd4mlValidationError');
    expect(() => parseStackConfig('prod', {}, [], { file: 'prod.yaml', values: { database: { host: 'db', password: 'hunter2' } } }, 'cdk8s'))
      .toThrow(/prod.yaml: database.password = "\(redacted\)": is not a field of this setting/);
  });

  test('outside the sandbox a stack names its cluster', async () => {
    const { 'kubernetes:context': _context, ...unpinned } = stackConfig('staging');
    const { registered, error } = await deploy('staging', unpinned);
    expect(error?.message).toMatch(/Pulumi stack staging: kubernetes:context = \(missing\): is not set: staging would be deployed to whatever cluster the current kubectl context points at. Fix: pin the stack's cluster: `pulumi config set kubernetes:context <context> --stack staging`/);
    expect(registered).toEqual([]);
    // in one report with the settings' own problems
    const both = await deploy('staging', { ...unpinned, 'cd4ml:namespacePrefix': 'Staging_' });
    expect(both.error?.message).toMatch(/2 invalid inputs[\s\S]*kubernetes:context[\s\S]*namespacePrefix/);
    for (const stack of ['dev', 'staging', 'prod']) expect(stackConfig(stack)['kubernetes:context']).toMatch(/^[a-z]/);
    expect((await deploy('sandbox', stackConfig('sandbox'))).error).toBeUndefined();
  });

  test('an unknown setting', async () => {
    const { registered, error } = await deploy('sandbox', { ...stackConfig('sandbox'), 'cd4ml:replica': '3' });
    expect(error?.message).toMatch(/Pulumi stack sandbox: cd4ml:replica = "3": is not a cd4ml setting. Fix: remove it, or use one of environment,/);
    expect(registered).toEqual([]);
  });

  test('prod on the in-cluster database without an explicit opt-in', async () => {
    const config = stackConfig('prod');
    delete config['cd4ml:database'];
    const { registered, error } = await deploy('prod', { ...config, ...PROD_SECRETS }, Object.keys(PROD_SECRETS));
    expect(error?.message).toMatch(/prod.yaml: database = \(missing\): is missing: prod would keep its runs and registry in the in-cluster Postgres. Fix: configure database .* or opt in with allowInClusterDatabase: true/);
    expect(registered).toEqual([]);
    // the in-cluster Postgres backs up to the external store with a key of its own
    const s3 = { ...Object.fromEntries(Object.entries(PROD_SECRETS).filter(([k]) => k.startsWith('cd4ml:s3'))), 'cd4ml:s3PostgresBackupAccessKeyId': 'k', 'cd4ml:s3PostgresBackupSecretAccessKey': 's' };
    const { 'cd4ml:s3PostgresBackupSecretAccessKey': _left, ...partial } = s3;
    const withoutBackupKey = await deploy('prod', { ...config, 'cd4ml:allowInClusterDatabase': 'true', ...partial }, Object.keys(partial));
    expect(withoutBackupKey.error?.message).toMatch(/cd4ml:s3PostgresBackupSecretAccessKey = \(missing\): is missing \(each consumer of the external object store needs its own key: postgres-backup\)/);
    const optedIn = await deploy('prod', { ...config, 'cd4ml:allowInClusterDatabase': 'true', ...s3 }, Object.keys(s3));
    expect(optedIn.error).toBeUndefined();
    expect(kube(optedIn.registered).find((r) => r.name === 'cd4ml/StatefulSet/postgres')).toMatchObject({ protect: true, retainOnDelete: true });
  });

  test('a missing secret, and a credential set in plain text', async () => {
    const { trackingDbPassword: _omitted, ...rest } = Object.fromEntries(Object.entries(PROD_SECRETS).map(([k, v]) => [k.slice(6), v]));
    const missing = await deploy('prod', { ...stackConfig('prod'), ...Object.fromEntries(Object.entries(rest).map(([k, v]) => [`cd4ml:${k}`, v])) }, Object.keys(rest).map((k) => `cd4ml:${k}`));
    expect(missing.error?.message).toMatch(/cd4ml:trackingDbPassword = \(missing\): is missing \(the external database needs credentials\). Fix: set it with `pulumi config set --secret cd4ml:trackingDbPassword/);
    expect(missing.registered).toEqual([]);
    const plain = await deploy('prod', { ...stackConfig('prod'), ...PROD_SECRETS }, []);
    expect(plain.error?.message).toMatch(/cd4ml:s3MlflowSecretAccessKey = "\(redacted\)": holds a credential in plain text/);
    expect(plain.error?.message).not.toMatch(/s3-secret-/);
    // a setting this version no longer knows (the shared key before per-consumer keys) is refused without its value
    const legacy = await deploy('prod', { ...stackConfig('prod'), ...PROD_SECRETS, 'cd4ml:s3SecretAccessKey': 'legacy-shared-secret' }, [...Object.keys(PROD_SECRETS), 'cd4ml:s3SecretAccessKey']);
    expect(legacy.error?.message).toMatch(/cd4ml:s3SecretAccessKey = "\(secret\)": is not a cd4ml setting/);
    expect(legacy.error?.message).not.toMatch(/legacy-shared-secret/);
  });

  test('an external object store whose buckets are not named, or named by a role the platform lacks', async () => {
    const config = stackConfig('prod');
    delete config['cd4ml:buckets'];
    const unnamed = await deploy('prod', { ...config, ...PROD_SECRETS }, Object.keys(PROD_SECRETS));
    // the external database keeps its own backups, so the backup bucket is not asked for
    expect(unnamed.error?.message).toMatch(/prod.yaml: buckets = \(missing\): does not name the external object store's trackingArtifacts, workflowArtifacts, data buckets. Fix: name them in .*prod.yaml, e.g. buckets: \{ trackingArtifacts: acme-ml-tracking-artifacts \}/);
    expect(unnamed.registered).toEqual([]);
    const typo = await deploy('prod', { ...config, ...PROD_SECRETS, 'cd4ml:buckets': JSON.stringify({ trackingArtifacts: 'a-mlflow', workflowArtifacts: 'a-argo', data: 'a-data', features: 'a-features' }) }, Object.keys(PROD_SECRETS));
    expect(typo.error?.message).toMatch(/: buckets.features = "a-features": is not a field of this setting. Fix: use trackingArtifacts, workflowArtifacts, data, databaseBackups/);
    expect(typo.registered).toEqual([]);
  });

  test('a database CA bundle names an existing Secret and its key, checked before anything is registered', async () => {
    const base = stackConfig('prod');
    const database = JSON.parse(base['cd4ml:database']);
    const withCa = await deploy('prod', { ...base, ...PROD_SECRETS, 'cd4ml:database': JSON.stringify({ ...database, caCertificate: { secretName: 'rds-ca', key: 'global-bundle.pem' } }) }, Object.keys(PROD_SECRETS));
    expect(withCa.error).toBeUndefined();
    const controller = kube(withCa.registered).find((r) => r.name === 'argo/Deployment/workflow-controller')!;
    expect(controller.inputs.spec.template.spec.containers[0].env).toContainEqual({ name: 'PGSSLROOTCERT', value: '/etc/cd4ml/postgres-ca/global-bundle.pem' });
    const bad = await deploy('prod', { ...base, ...PROD_SECRETS, 'cd4ml:database': JSON.stringify({ ...database, caCertificate: { secretName: 'RDS CA', key: '../ca', path: '/x' } }) }, Object.keys(PROD_SECRETS));
    expect(bad.error?.message).toMatch(/: database.caCertificate.path = "\/x": is not a field of this setting/);
    expect(bad.error?.message).toMatch(/: database.caCertificate.secretName = "RDS CA"/);
    expect(bad.error?.message).toMatch(/: database.caCertificate.key = "..\/ca": is not a Secret key/);
    expect(bad.registered).toEqual([]);
  });

  test('ingress settings: the prod stack exposes its UIs behind its controller; a malformed controller or TLS is refused', async () => {
    const prod = await deploy('prod', { ...stackConfig('prod'), ...PROD_SECRETS }, Object.keys(PROD_SECRETS));
    expect(prod.error).toBeUndefined();
    const ingresses = kube(prod.registered).filter((r) => r.inputs.kind === 'Ingress');
    expect(ingresses.map((r) => `${r.name} ${r.inputs.spec.rules[0].host} ${r.inputs.metadata.annotations['cert-manager.io/cluster-issuer']}`).sort()).toEqual([
      'argo/Ingress/argo-server argo.ml.example.com letsencrypt', 'cd4ml/Ingress/mlflow mlflow.ml.example.com letsencrypt',
    ]);
    const ingress = JSON.parse(stackConfig('prod')['cd4ml:ingress']);
    const bad = await deploy('prod', { ...stackConfig('prod'), ...PROD_SECRETS, 'cd4ml:ingress': JSON.stringify({ ...ingress, controller: { namespace: 'Ingress Nginx', podLabels: {} }, tls: { clusterIssuer: 'a', secretName: 'b' } }) }, Object.keys(PROD_SECRETS));
    expect(bad.error?.message).toMatch(/: ingress.controller.namespace = "Ingress Nginx"/);
    expect(bad.error?.message).toMatch(/: ingress.tls = \{"clusterIssuer":"a","secretName":"b"\}: does not name exactly one of clusterIssuer, issuer or secretName/);
    expect(bad.registered).toEqual([]);
  });

  test('per-component settings: the staging stack\'s reach its objects; a bad one is refused with the platform\'s report', async () => {
    const staging = await deploy('staging', stackConfig('staging'));
    expect(staging.error).toBeUndefined();
    const mlflow = kube(staging.registered).find((r) => r.name === 'staging-cd4ml/Deployment/mlflow')!;
    expect(mlflow.inputs.spec.template.metadata.annotations).toEqual({ 'prometheus.io/scrape': 'true' });
    expect(mlflow.inputs.spec.template.spec.containers[0].resources.limits.memory).toBe('2Gi');
    expect(mlflow.inputs.spec.template.spec.containers[0].env).toContainEqual({ name: 'MLFLOW_LOGGING_LEVEL', value: 'INFO' });
    const bad = await deploy('staging', { ...stackConfig('staging'), 'cd4ml:components': JSON.stringify({ database: { replicas: 3 } }) });
    expect(bad.error?.message).toMatch(/components.database.replicas = 3: is set, but database runs one replica/);
    expect(bad.registered).toEqual([]);
  });

  test('server auth outside the sandbox, and an unknown pipeline', async () => {
    const server = await deploy('dev', { ...stackConfig('dev'), 'cd4ml:workflowAuthMode': 'server' });
    expect(server.error?.message).toMatch(/: workflowAuthMode = "server": lets anyone who reaches argo-server act as it, in dev/);
    const pipelines = await deploy('sandbox', { ...stackConfig('sandbox'), 'cd4ml:pipelines': '["fraud"]' });
    expect(pipelines.error?.message).toMatch(/pipelines = \["fraud"\]: names pipelines this stack does not have/);
    expect(pipelines.registered).toEqual([]);
  });
});

test('the README documents every setting a stack may use', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { SETTINGS } = require('../../stacks/config');
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const { isDefinitionSetting } = require('../../stacks/config');
  // the definition's settings in its table, the stack's own (environment, secrets) by their config keys
  for (const key of Object.keys(SETTINGS)) expect(readme).toContain(isDefinitionSetting(key) ? `| \`${key}\` |` : `cd4ml:${key}`);
});

test('structured settings are checked field by field, and images must be pinned', async () => {
  const typo = await deploy('dev', { ...stackConfig('dev'), 'cd4ml:gpu': JSON.stringify({ nodeSelectr: { a: 'b' } }), 'cd4ml:pipelines': '"breast-cancer"' });
  expect(typo.error?.message).toMatch(/: gpu.nodeSelectr = \{"a":"b"\}: is not a field of this setting. Fix: use nodeSelector, maxPerStep/);
  expect(typo.error?.message).toMatch(/dev.yaml: pipelines = "breast-cancer": is not a list of strings/);
  expect(typo.registered).toEqual([]);
  const latest = await deploy('sandbox', { ...stackConfig('sandbox'), 'cd4ml:images': JSON.stringify({ mlflow: 'ghcr.io/mlflow/mlflow:latest' }) });
  expect(latest.error?.message).toMatch(/images.mlflow = "ghcr.io\/mlflow\/mlflow:latest": is not pinned/);
  expect(latest.registered).toEqual([]);
});

test('the Argo CRDs outlive a stack (stacks sharing a cluster share them), and Jobs get longer than their own deadline', async () => {
  const { registered } = await deploy('staging', stackConfig('staging'));
  const crds = kube(registered).filter((r) => r.inputs.kind === 'CustomResourceDefinition');
  expect(crds.length).toBe(8);
  for (const crd of crds) expect(crd).toMatchObject({ retainOnDelete: true, protect: false });
  // setup Jobs retry until their store answers, up to activeDeadlineSeconds: Pulumi must wait longer
  const jobs = kube(registered).filter((r) => r.inputs.kind === 'Job');
  expect(jobs.length).toBe(3);
  for (const job of jobs) {
    expect(job.createTimeout).toBe('20m');
    expect(20 * 60).toBeGreaterThan(job.inputs.spec.activeDeadlineSeconds);
  }
  expect(kube(registered).find((r) => r.inputs.kind === 'Deployment')!.createTimeout).toBeUndefined();
});

test('the component checks the Secrets it is given against the platform before it registers anything', () => {
  // (the checks run before the component registers: no engine or mocks are needed to see them fail)
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { Cd4mlPlatform } = require('../../pulumi');
  const { SecretRef } = require('../../index');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const unused = SecretRef.fromSecretName('team-unused', ['k']);
  let message = '';
  try {
    new Cd4mlPlatform('team', {
      definition: {},
      secrets: [
        { secret: unused, values: { k: 'unused-value' } },
        { secret: 'postgres-superuser', values: { username: 'postgres', password: 'rotated-value' } },
        { secret: 'nope', values: {} },
        { secret: 'seaweedfs-admin', values: { AWS_ACCESS_KEY_ID: 'a', other: 'b' } },
        { secret: 'postgres-mlflow', values: { username: 'mlflow', password: 'role-value' } },
      ],
    });
  } catch (e) {
    message = (e as Error).message;
  }
  expect(message).toMatch(/^cd4ml: 6 invalid inputs/);
  expect(message).toMatch(/secrets\[4\].secret = "postgres-mlflow": is a Postgres role's password, which the setup Job sets only when its own input changes/);
  expect(message).toMatch(/Cd4mlPlatform team: secrets\[0\].secret = "team-unused": is not read by the platform/);
  expect(message).toMatch(/secrets\[1\].secret = "postgres-superuser": is the Postgres superuser, whose password the server keeps from its first start.*Fix: leave it to the in-cluster generator; to rotate it, follow the README \("Rotating credentials"\): ALTER ROLE in the server first, then the Secret/);
  expect(message).toMatch(/secrets\[2\].secret = "nope": is not a Secret the platform generates. Fix: use one of seaweedfs-admin, seaweedfs-postgres-backup/);
  expect(message).toMatch(/secrets\[3\].values = "\(secret\)": lacks the keys AWS_SECRET_ACCESS_KEY of the Secret seaweedfs-admin/);
  expect(message).toMatch(/secrets\[3\].values = \["other"\]: are not keys of the Secret seaweedfs-admin/);
  expect(message).not.toMatch(/unused-value|rotated-value|role-value/);
});

test('pulumi up leaves the version a delivery rolled an endpoint to, and every other field of every object as rendered', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { rolledVersion } = require('../../pulumi/rolled');
  const out = mkdtempSync(join(tmpdir(), 'cd4ml-rolled-'));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('../../stacks/synth').synth(['sandbox', '--out', out]);
  const objects = readEnvironmentOutput(out, EnvironmentName.SANDBOX) as Obj[];
  const endpoints = objects.filter((o: Obj) => o.kind === 'Deployment' && o.metadata.labels?.['app.kubernetes.io/component'] === 'model-endpoint');
  expect(endpoints.map((o: Obj) => o.metadata.name).sort()).toEqual(['breast-cancer-dev', 'breast-cancer-prod', 'breast-cancer-staging']);
  for (const o of endpoints) {
    const [path] = rolledVersion(o);
    const [, c, e] = /^spec\.template\.spec\.containers\[(\d+)\]\.env\[(\d+)\]\.value$/.exec(path)!;
    expect(o.spec.template.spec.containers[c].env[e]).toEqual({ name: 'CD4ML_MODEL_VERSION', value: '1' });
  }
  expect(objects.filter((o: Obj) => !endpoints.includes(o)).map(rolledVersion).filter((x: unknown) => x !== undefined)).toEqual([]);
});
