import * as pulumi from '@pulumi/pulumi';
import {
  ArgoAuthMode, DatabaseChoice, fail, IngressTls, NetworkPeer, ObjectStoreChoice, PG_PASSWORD_KEY, PostgresSslMode, PG_USERNAME_KEY, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, SecretRef,
} from '../index';
import { Cd4mlPlatform, ConfigSecret, EXTERNAL_S3_USERS, KubeObject, parseStackConfig, StackConfig } from '../pulumi';
import { StackOptions, STACK_SETTINGS, SynthesizedStack, synthesizeStack } from './app';

// Which config keys Pulumi holds as secrets (exported by the runtime, not by its typings).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { isConfigSecret } = require('@pulumi/pulumi/runtime/config') as { isConfigSecret?: (key: string) => boolean };
if (typeof isConfigSecret !== 'function') {
  throw new Error('cd4ml: this @pulumi/pulumi no longer exports runtime/config isConfigSecret, which tells secret config apart. Fix: pin @pulumi/pulumi to 3.276.x (package.json)');
}

/** The stack outputs. */
export interface StackOutputs {
  trackingUri: pulumi.Output<string>;
  s3Endpoint: pulumi.Output<string>;
  argoServerUrl: pulumi.Output<string>;
  namespaces: pulumi.Output<string[]>;
  portForward: pulumi.Output<Record<string, string>>;
  trackingCredentials: pulumi.Output<{ namespace: string; secret: string; keys: string[] }>;
  clientEnv: pulumi.Output<Record<string, string>>;
  notes: pulumi.Output<string>;
}

/**
 * The Pulumi program: checks the stack's config (every problem at once, before any resource is registered), then
 * deploys the platform and its pipelines.
 */
export function run(): { platform: Cd4mlPlatform; outputs: StackOutputs } {
  const all = pulumi.runtime.allConfig();
  const config = parseStackConfig(pulumi.getStack(), all, Object.keys(all).filter((k) => isConfigSecret!(k)));
  // Everything is synthesized and checked before the first resource is registered.
  const plan = planDeployment(config);
  const platform = new Cd4mlPlatform('cd4ml', { ...plan.stack, secrets: plan.secrets });
  return {
    platform,
    outputs: {
      trackingUri: platform.trackingUri,
      s3Endpoint: platform.s3Endpoint,
      argoServerUrl: platform.argoServerUrl,
      namespaces: platform.namespaces,
      portForward: platform.portForward,
      trackingCredentials: platform.trackingCredentials,
      clientEnv: platform.clientEnv,
      notes: platform.notes,
    },
  };
}

/** What a stack will deploy, worked out and checked before any resource is registered. */
export interface DeploymentPlan {
  readonly config: StackConfig;
  readonly options: StackOptions;
  readonly stack: SynthesizedStack;
  readonly secrets: readonly ConfigSecret[];
}

/**
 * Works out a stack's deployment from its config: synthesizes (and so validates) the platform and pipelines in
 * memory and places the config Secrets. Throws on bad input; nothing is registered with Pulumi here.
 */
export function planDeployment(cfg: StackConfig): DeploymentPlan {
  const prefix = cfg.namespacePrefix;
  // External stores read Secrets that Pulumi creates from secret config.
  // one key per consumer of an external object store, so no step can rewrite MLflow's or Argo's objects
  const s3Users = cfg.objectStore ? EXTERNAL_S3_USERS.filter(([user]) => user !== 'postgres-backup' || !cfg.database) : [];
  const s3 = Object.fromEntries(s3Users.map(([user, word]) => [user, { ref: SecretRef.fromSecretName(`cd4ml-s3-${user}`, [S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY]), word }]));
  const trackingDb = cfg.database ? SecretRef.fromSecretName('cd4ml-tracking-db', [PG_USERNAME_KEY, PG_PASSWORD_KEY]) : undefined;
  const archiveDb = cfg.database ? SecretRef.fromSecretName('cd4ml-archive-db', [PG_USERNAME_KEY, PG_PASSWORD_KEY]) : undefined;
  const caConfig = cfg.database?.caCertificate;
  const databaseCa = caConfig ? { secret: SecretRef.fromSecretName(caConfig.secretName, [caConfig.key]), key: caConfig.key } : undefined;
  const options: StackOptions = {
    namespace: `${prefix}cd4ml`,
    workflowNamespace: `${prefix}argo`,
    pipelineNamespace: `${prefix}ml-pipelines`,
    storageClassName: cfg.storageClassName,
    objectStoreStorage: cfg.objectStoreStorage,
    databaseStorage: cfg.databaseStorage,
    trackingServerReplicas: cfg.trackingServerReplicas,
    workflowServerReplicas: cfg.workflowServerReplicas,
    images: cfg.images,
    gpu: cfg.gpu ?? STACK_SETTINGS[cfg.environment].gpu,
    pipelineQuota: cfg.pipelineQuota,
    stepDefaults: cfg.stepDefaults,
    components: cfg.components,
    argoCrds: cfg.argoCrds,
    workflowInstanceId: cfg.workflowInstanceId,
    objectStore: cfg.objectStore ? ObjectStoreChoice.external({ ...cfg.objectStore, credentials: Object.fromEntries(Object.entries(s3).map(([user, { ref }]) => [user, ref])) }) : undefined,
    database: cfg.database && trackingDb && archiveDb ? DatabaseChoice.external({
      trackingServer: { host: cfg.database.host, port: cfg.database.port, databaseName: cfg.database.trackingDatabase ?? 'mlflow', credentials: trackingDb, egressCidr: cfg.database.egressCidr, sslMode: cfg.database.sslMode as PostgresSslMode | undefined, caCertificate: databaseCa },
      workflowArchive: { host: cfg.database.host, port: cfg.database.port, databaseName: cfg.database.archiveDatabase ?? 'argo', credentials: archiveDb, egressCidr: cfg.database.egressCidr, sslMode: cfg.database.sslMode as PostgresSslMode | undefined, caCertificate: databaseCa },
    }) : undefined,
    workflowAuthMode: cfg.workflowAuthMode ?? ArgoAuthMode.CLIENT,
    kubeApi: cfg.kubeApiCidr ? { cidr: cfg.kubeApiCidr } : undefined,
    trackingServerHosts: cfg.trackingServerHosts,
    ingress: cfg.ingress ? {
      className: cfg.ingress.className,
      controller: NetworkPeer.pods(cfg.ingress.controller.namespace, cfg.ingress.controller.podLabels),
      tls: cfg.ingress.tls.secretName
        ? IngressTls.existingSecret(SecretRef.fromSecretName(cfg.ingress.tls.secretName, ['tls.crt', 'tls.key']))
        : IngressTls.certManager({ clusterIssuer: cfg.ingress.tls.clusterIssuer, issuer: cfg.ingress.tls.issuer }),
      hosts: cfg.ingress.hosts,
      annotations: cfg.ingress.annotations,
    } : undefined,
    buckets: cfg.buckets,
    pipelines: cfg.pipelines,
    examplesImage: cfg.examplesImage,
  };
  const stack = synthesizeStack(cfg.environment, options);
  const secrets: ConfigSecret[] = [];
  for (const [ref, keys] of [
    ...Object.values(s3).map(({ ref, word }) => [ref, { [S3_ACCESS_KEY_ID]: `s3${word}AccessKeyId`, [S3_SECRET_ACCESS_KEY]: `s3${word}SecretAccessKey` }] as const),
    [trackingDb, { [PG_USERNAME_KEY]: 'trackingDbUsername', [PG_PASSWORD_KEY]: 'trackingDbPassword' }],
    [archiveDb, { [PG_USERNAME_KEY]: 'archiveDbUsername', [PG_PASSWORD_KEY]: 'archiveDbPassword' }],
  ] as const) {
    if (!ref) continue;
    for (const namespace of ref.requiredIn) {
      secrets.push({ name: ref.secretName, namespace, keys: Object.fromEntries(Object.entries(keys).map(([k, configKey]) => [k, { configKey }])) });
    }
  }
  if (cfg.secrets.credentials !== undefined) secrets.push(...overrides(cfg.secrets.credentials, stack.platformObjects as KubeObject[]));
  return { config: cfg, options, stack, secrets };
}

/**
 * Secrets from the `credentials` config that replace ones the cluster would generate: each must name a generated
 * Secret and give all of its keys; it is created in every namespace that Secret is copied to.
 */
function overrides(json: string, objects: KubeObject[]): ConfigSecret[] {
  const specs = objects
    .filter((o) => o.kind === 'ConfigMap' && (o.data as Record<string, string> | undefined)?.['secrets.json'] !== undefined)
    .flatMap((o) => JSON.parse((o.data as Record<string, string>)['secrets.json']) as Array<{ name: string; namespaces: string[]; keys: Record<string, unknown> }>);
  const given = JSON.parse(json) as Record<string, Record<string, string>>;
  const out: ConfigSecret[] = [];
  for (const [name, values] of Object.entries(given)) {
    const spec = specs.find((s) => s.name === name);
    if (!spec) fail({ path: 'Pulumi config', field: `cd4ml:credentials.${name}`, value: name, message: 'is not a Secret the platform generates', fix: `use one of ${specs.map((s) => s.name).join(', ')}` });
    const missing = Object.keys(spec.keys).filter((k) => !(k in values));
    if (missing.length) fail({ path: 'Pulumi config', field: `cd4ml:credentials.${name}`, value: '(secret)', message: `lacks the keys ${missing.join(', ')}`, fix: 'give every key of the Secret' });
    const keys = Object.fromEntries(Object.keys(spec.keys).map((k) => [k, { configKey: 'credentials', path: [name, k] }]));
    for (const namespace of spec.namespaces) out.push({ name, namespace, keys });
  }
  return out;
}
