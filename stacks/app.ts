import { App } from 'cdk8s';
import { Construct } from 'constructs';
import {
  ACKNOWLEDGE_ENV, ArgoAuthMode, ArgoCdApplications, buildEnvironment, Builder, Cd4mlValidationError, checkDataSafeUpgrade, checkEnvironmentName, DatabaseChoice, DEFAULT_REF_RULES, Delivery,
  DeliveryTriggers, EnvironmentDefinition, EnvironmentName, fail, GitHost, IngressTls, K3dClusterOptions, ModelEndpoint, NetworkPeer, ObjectStoreChoice, PG_PASSWORD_KEY, PG_USERNAME_KEY, Pipeline,
  PipelinesChart, Platform, PlatformChart, PlatformProps, PostgresSslMode, readEnvironmentOutput, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, SecretRef, synthesizeEnvironment, isPlainObject,
} from '../index';
import { DeliveryConfig, EXTERNAL_S3_USERS, parseStackConfig, readDefinition, StackConfig } from './config';
import { breastCancerGpuSweepPipeline, breastCancerPipeline, ExamplePipelineProps } from './pipelines';

/** The image of the example steps (`examples/`); override with CD4ML_EXAMPLES_IMAGE. */
export const EXAMPLES_IMAGE = process.env.CD4ML_EXAMPLES_IMAGE || 'cd4ml-examples:0.1.0';

/** The example pipelines a stack may deploy, by name. */
export const EXAMPLE_PIPELINES: Record<string, (scope: Construct, props: ExamplePipelineProps) => Pipeline> = {
  'breast-cancer': breastCancerPipeline,
  'breast-cancer-gpu-sweep': breastCancerGpuSweepPipeline,
};

/** What a stack deploys, beyond the environment: platform settings, pipelines, their image. */
export interface StackOptions extends PlatformProps {
  /** The example pipelines to deploy. @default - the seed pipeline, plus the GPU sweep where there are GPUs */
  readonly pipelines?: readonly string[];
  /** Image of the example steps. @default - {@link EXAMPLES_IMAGE} */
  readonly examplesImage?: string;
  /** Level-2 delivery of an example pipeline. @default - none */
  readonly delivery?: DeliveryConfig;
}

/** The registered model the example pipelines train, which the delivery's endpoints serve. */
export const EXAMPLE_MODEL = 'sklearn-random-forest';

/**
 * Declares example pipelines by name on the pipelines chart: by default the seed pipeline, and the GPU sweep where
 * the platform has GPU scheduling.
 */
export function examplePipelines(names: readonly string[] | undefined, image: string, delivery?: DeliveryConfig, environment?: EnvironmentName): (scope: Construct, platform: Platform) => void {
  return (scope, platform) => {
    const runner = platform.pipelineRunner;
    const chosen = names ?? ['breast-cancer', ...(runner.gpu ? ['breast-cancer-gpu-sweep'] : [])];
    const unknown = chosen.filter((n) => !(n in EXAMPLE_PIPELINES));
    if (unknown.length > 0) {
      fail({ path: scope.node.path, field: 'pipelines', value: unknown, message: 'names pipelines this stack does not have', fix: `choose from ${Object.keys(EXAMPLE_PIPELINES).join(', ')}` }, scope);
    }
    const declared = new Map(chosen.map((n) => [n, EXAMPLE_PIPELINES[n](scope, { runner, image })]));
    // each pipeline domain runs the delivered pipeline, declared on its own runner (its Secrets, cache and controller)
    // without schedules or event triggers: a domain's runs come from its deliveries
    const delivered = delivery?.pipeline ?? 'breast-cancer';
    if (delivery && declared.has(delivered)) {
      for (const d of platform.domains.values()) EXAMPLE_PIPELINES[delivered](scope, { runner: d.runner, image, id: `${delivered}-domain-${d.name}`, triggers: false });
    }
    if (delivery) exampleDelivery(scope, platform, declared, image, delivery, environment);
  };
}

/**
 * The delivery of an example pipeline: the push triggers, one model endpoint per environment delivered to
 * (`<pipeline>-<environment>`, serving version 1 until the first delivery rolls it, with the alias
 * `champion-<environment>`), and the Delivery, whose build appends the repository's step code to the examples image.
 */
export function exampleDelivery(scope: Construct, platform: Platform, pipelines: ReadonlyMap<string, Pipeline>, image: string, d: DeliveryConfig, environment?: EnvironmentName): Delivery {
  const name = d.pipeline ?? 'breast-cancer';
  const pipeline = pipelines.get(name);
  if (!pipeline) fail({ path: scope.node.path, field: 'delivery.pipeline', value: name, message: 'is not a pipeline this environment deploys', fix: `deliver one of ${[...pipelines.keys()].join(', ')}, or add it to pipelines` }, scope);
  const triggers = new DeliveryTriggers(scope, 'delivery-triggers', {
    platform,
    gitHost: d.gitHost as GitHost | undefined,
    repository: d.repository,
    refs: d.environments ? DEFAULT_REF_RULES.filter((r) => d.environments!.includes(r.environment)) : undefined,
  });
  const environments = Object.fromEntries(triggers.rules.map((r) => r.environment).filter((e, i, all) => all.indexOf(e) === i).map((env) => [env, {
    // a random forest of 100 trees serves in about 300 MiB
    endpoint: new ModelEndpoint(scope, `${name}-${env}`, { platform, model: EXAMPLE_MODEL, version: '1', image, resources: { cpu: '100m', memory: '384Mi', memoryLimit: '1Gi' } }),
    gate: d.gate,
    alias: `champion-${env}`,
  }]));
  return new Delivery(scope, 'delivery', {
    platform, triggers, pipeline, candidate: { step: 'train-model' }, image: d.image,
    builder: Builder.crane({ base: image, context: 'examples/cd4ml_examples', path: '/app/cd4ml_examples' }),
    environments,
    insecureRegistry: d.insecureRegistry,
    egressPorts: d.egressPorts,
    // this repository's `npm run synth -- <environment>` writes the cluster's pipelines to dist/<environment>/pipelines
    outputEnvironment: environment,
    gitCredentials: d.gitCredentials ? SecretRef.fromSecretName(d.gitCredentials, ['username', 'password']) : undefined,
    registryCredentials: d.registryCredentials ? SecretRef.fromSecretName(d.registryCredentials, ['.dockerconfigjson']) : undefined,
  });
}

/** The definition both engines build from a stack's options. */
export function stackDefinition(environment: EnvironmentName, options: StackOptions = {}): EnvironmentDefinition {
  const { pipelines: names, examplesImage, delivery, environment: _ignored, ...platform } = options;
  return { environment, platform, pipelines: examplePipelines(names, examplesImage ?? EXAMPLES_IMAGE, delivery, environment) };
}

/** A Secret the platform reads from an external store's credentials, and the Pulumi config key of each of its keys. */
export interface ExternalSecret {
  /** The reference the platform was given (after synthesis, `requiredIn` lists its namespaces). */
  readonly ref: SecretRef;
  /** Secret key -> the `cd4ml:` config key holding its value. */
  readonly configKeys: Readonly<Record<string, string>>;
}

/** An environment worked out from its definition (and, for Pulumi, its stack's config); nothing built yet. */
export interface StackPlan {
  readonly config: StackConfig;
  readonly options: StackOptions;
  /** What both engines build. */
  readonly definition: EnvironmentDefinition;
  /** The Secrets of external stores the platform reads (Pulumi creates them from secret config). */
  readonly externalSecrets: readonly ExternalSecret[];
  /** Argo CD Applications for the GitOps output, when the definition asks for them. */
  readonly argoCd?: ArgoCdApplications;
  /** The k3d cluster written beside the output: the sandbox's always, another environment's when it asks. */
  readonly k3d?: K3dClusterOptions;
}

/** Works out the platform's options and the external stores' Secrets from checked settings. */
export function planStack(cfg: StackConfig): StackPlan {
  const prefix = cfg.namespacePrefix;
  // one key per consumer of an external object store, so no step can rewrite MLflow's or Argo's objects
  const s3Users = cfg.objectStore ? EXTERNAL_S3_USERS.filter(([user]) => user !== 'postgres-backup' || !cfg.database) : [];
  const s3 = s3Users.map(([user, word]) => ({ user, ref: SecretRef.fromSecretName(`cd4ml-s3-${user}`, [S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY]), configKeys: { [S3_ACCESS_KEY_ID]: `s3${word}AccessKeyId`, [S3_SECRET_ACCESS_KEY]: `s3${word}SecretAccessKey` } }));
  const trackingDb = cfg.database ? SecretRef.fromSecretName('cd4ml-tracking-db', [PG_USERNAME_KEY, PG_PASSWORD_KEY]) : undefined;
  const archiveDb = cfg.database ? SecretRef.fromSecretName('cd4ml-archive-db', [PG_USERNAME_KEY, PG_PASSWORD_KEY]) : undefined;
  const caConfig = cfg.database?.caCertificate;
  const databaseCa = caConfig ? { secret: SecretRef.fromSecretName(caConfig.secretName, [caConfig.key]), key: caConfig.key } : undefined;
  const database = (ref: SecretRef, databaseName: string) => ({
    host: cfg.database!.host, port: cfg.database!.port, databaseName, credentials: ref, egressCidr: cfg.database!.egressCidr,
    sslMode: cfg.database!.sslMode as PostgresSslMode | undefined, caCertificate: databaseCa,
  });
  const options: StackOptions = {
    namespace: `${prefix}cd4ml`,
    workflowNamespace: `${prefix}argo`,
    pipelineNamespace: `${prefix}ml-pipelines`,
    // a domain's namespace takes the prefix too, unless the definition names it
    pipelineDomains: !isPlainObject(cfg.pipelineDomains) ? cfg.pipelineDomains : Object.fromEntries(Object.entries(cfg.pipelineDomains as NonNullable<StackConfig['pipelineDomains']>).map(([name, d]) => [name, isPlainObject(d) && d.namespace === undefined && prefix ? { ...d, namespace: `${prefix}ml-${name}` } : d])),
    storageClassName: cfg.storageClassName,
    objectStoreStorage: cfg.objectStoreStorage,
    databaseStorage: cfg.databaseStorage,
    trackingServerReplicas: cfg.trackingServerReplicas,
    workflowServerReplicas: cfg.workflowServerReplicas,
    images: cfg.images,
    gpu: cfg.gpu,
    pipelineQuota: cfg.pipelineQuota,
    stepDefaults: cfg.stepDefaults,
    components: cfg.components,
    argoCrds: cfg.argoCrds,
    workflowInstanceId: cfg.workflowInstanceId,
    objectStore: cfg.objectStore ? ObjectStoreChoice.external({ ...cfg.objectStore, credentials: Object.fromEntries(s3.map(({ user, ref }) => [user, ref])) }) : undefined,
    database: cfg.database && trackingDb && archiveDb ? DatabaseChoice.external({
      trackingServer: database(trackingDb, cfg.database.trackingDatabase ?? 'mlflow'),
      workflowArchive: database(archiveDb, cfg.database.archiveDatabase ?? 'argo'),
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
    delivery: cfg.delivery,
  };
  const externalSecrets: ExternalSecret[] = [
    ...s3.map(({ ref, configKeys }) => ({ ref, configKeys })),
    ...(trackingDb ? [{ ref: trackingDb, configKeys: { [PG_USERNAME_KEY]: 'trackingDbUsername', [PG_PASSWORD_KEY]: 'trackingDbPassword' } }] : []),
    ...(archiveDb ? [{ ref: archiveDb, configKeys: { [PG_USERNAME_KEY]: 'archiveDbUsername', [PG_PASSWORD_KEY]: 'archiveDbPassword' } }] : []),
  ];
  const k3d = cfg.k3d ?? (cfg.environment === EnvironmentName.SANDBOX ? {} : undefined);
  return { config: cfg, options, definition: stackDefinition(cfg.environment, options), externalSecrets, argoCd: cfg.argoCd, k3d: k3d ? { ...k3d, kubeApiCidr: cfg.kubeApiCidr } : undefined };
}

/** Plans an environment from its definition alone (`stacks/environments/<environment>.yaml`), as cdk8s renders it. */
export function loadStack(environment: EnvironmentName): StackPlan {
  return planStack(parseStackConfig(environment, { 'cd4ml:environment': environment }, [], readDefinition(environment), 'cdk8s'));
}

/** The definition of an environment: from the given options (tests, the tier), else from its definition file. */
function definitionFor(environment: EnvironmentName, options?: StackOptions): EnvironmentDefinition {
  return options ? stackDefinition(environment, options) : loadStack(environment).definition;
}

/** A stack synthesized in memory: validated, nothing written. */
export interface SynthesizedStack {
  /** The platform construct (for its endpoints and the Secrets it expects). */
  readonly platform: Platform;
  /** The platform's objects, in dependency order. */
  readonly platformObjects: Array<Record<string, unknown>>;
  /** The pipelines' objects, applied after the platform. */
  readonly pipelineObjects: Array<Record<string, unknown>>;
}

/**
 * Synthesizes an environment's stack in memory, validating everything first. Without options, from the
 * environment's definition: what `npm run synth` writes and `pulumi up` deploys.
 */
export function synthesizeStack(environment: EnvironmentName, options?: StackOptions): SynthesizedStack {
  const s = synthesizeEnvironment(definitionFor(environment, options));
  return { platform: s.platform, platformObjects: s.platformObjects, pipelineObjects: s.pipelineObjects };
}

/** Reads the environment name (CD4ML_ENV, default sandbox), failing on an unknown one. */
export function environmentFromEnv(value = process.env.CD4ML_ENV): EnvironmentName {
  const name = value === undefined || value === '' ? EnvironmentName.SANDBOX : value;
  const problem = checkEnvironmentName(name, { path: 'CD4ML_ENV', field: 'environment' });
  if (problem) fail(problem);
  return name as EnvironmentName;
}

/**
 * Builds the app of an environment (not validated): its platform chart, then its pipelines chart. Without
 * options, from the environment's definition.
 */
export function buildApp(environment: EnvironmentName, outdir = 'dist', options?: StackOptions): { app: App; platform: PlatformChart; pipelines: PipelinesChart } {
  const { app, platformChart, pipelinesChart } = buildEnvironment(definitionFor(environment, options), { outdir });
  return { app, platform: platformChart, pipelines: pipelinesChart };
}

/**
 * Refuses an output that would lose data or that the API server would refuse on the stores already deployed, by
 * comparing with the environment's output already in `outdir` (the last synth, or the GitOps checkout): a store
 * resized, moved to another namespace, removed, or given another data format (a Postgres major version). Nothing is
 * written then. StatefulSets named in CD4ML_ACKNOWLEDGE_DATA_CHANGE (`namespace/name`, comma-separated) pass once
 * migrated.
 */
export function guardDataOnResynth(outdir: string, environment: EnvironmentName, next: ReadonlyArray<Record<string, unknown>>, acknowledged = process.env[ACKNOWLEDGE_ENV] ?? ''): void {
  // only this environment's output: another environment in the same directory is another deployment
  const previous = readEnvironmentOutput(outdir, environment);
  const problems = checkDataSafeUpgrade(previous, next, acknowledged.split(',').map((s) => s.trim()).filter((s) => s !== ''));
  if (problems.length > 0) throw new Cd4mlValidationError(problems);
}
