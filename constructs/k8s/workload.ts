import { validateRenderedObjects } from './output-checks';
import { createHash } from 'crypto';
import { ApiObject } from 'cdk8s';
import { k8s } from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { ContainerResources, DATA_FORMAT_ANNOTATION, Problems } from '../../lib';
import { componentLabels, KEEP_ON_PRUNE, selectorLabels } from './labels';
import { lazy } from './lazy';
import { Connections, IConnectable } from './network';
import { emptyDirVolume, hardenedContainer, restrictedPodSecurityContext, RunAs } from './pod-security';
import { checkPodSettingsAgainst as checkSettingsAgainst, PodSettings, ServiceSettings, ServiceType, withPodSettings } from './pod-settings';

/** A dedicated ServiceAccount; no API token unless the workload calls the Kubernetes API. */
export function serviceAccount(scope: Construct, id: string, o: { name: string; namespace: string; labels: Record<string, string>; automountToken?: boolean }): ApiObject {
  return new k8s.KubeServiceAccount(scope, id, {
    metadata: { name: o.name, namespace: o.namespace, labels: o.labels },
    automountServiceAccountToken: o.automountToken ?? false,
  });
}

/** One port of a Service, targeting a named container port. */
export interface NamedPort {
  /** Port name (also the container port's name). */
  readonly name: string;
  /** Port number (the Service's and the container's). */
  readonly port: number;
}

/** A Service with an explicit, readable name: ClusterIP unless its settings say otherwise. */
export function clusterIpService(
  scope: Construct,
  id: string,
  o: { name: string; namespace: string; labels: Record<string, string>; selector: Record<string, string>; ports: NamedPort[]; service?: ServiceSettings },
): ApiObject {
  const annotations = o.service?.annotations && Object.keys(o.service.annotations).length ? { ...o.service.annotations } : undefined;
  return new k8s.KubeService(scope, id, {
    metadata: { name: o.name, namespace: o.namespace, labels: o.labels, annotations },
    spec: {
      type: o.service?.type ?? ServiceType.CLUSTER_IP,
      selector: o.selector,
      ports: o.ports.map((p) => ({ name: p.name, port: p.port, targetPort: k8s.IntOrString.fromString(p.name), protocol: 'TCP' })),
    },
  });
}

/** Container ports for a list of named ports. */
export function containerPorts(ports: NamedPort[]): k8s.ContainerPort[] {
  return ports.map((p) => ({ name: p.name, containerPort: p.port, protocol: 'TCP' }));
}

/** What a one-shot setup Job runs. */
export interface SetupJobOptions {
  /** The store the Job sets up: it is named `<store>-setup` and may reach the store on `port`, nothing else. */
  readonly store: IConnectable & { readonly name: string; readonly namespace: string };
  /** The store's port the Job talks to. */
  readonly port: number;
  /** The `app.kubernetes.io/name` of the Job's objects, e.g. `minio-setup`. */
  readonly component: string;
  /** The `app.kubernetes.io/component` of the Job's objects, e.g. `object-store-setup`. */
  readonly role: string;
  /** Image with a POSIX shell. */
  readonly image: string;
  /** uid/gid to run as. */
  readonly runAs: RunAs;
  /** Container resources. */
  readonly resources: ContainerResources;
  /** Produces the files of the ConfigMap mounted at /config (scripts and specs: never credential values); called at synth. */
  readonly files: () => Record<string, string>;
  /** The file of `files` to run with `sh`. */
  readonly entrypoint: string;
  /** Produces the environment (credentials by secret reference only); called at synth. */
  readonly env: () => k8s.EnvVar[];
}

/**
 * A Job that runs an idempotent setup script (create buckets, users, databases) against its store, with a deadline
 * and retries; safe to run again. It is a {@link HashNamedJob}: named `<store>-setup-<hash>` after its pod template and
 * its script, so a changed setup (a new bucket, a new database, another image) is a new Job that runs once, and an
 * unchanged one stays completed in the cluster and in sync with what GitOps applies.
 */
export function setupJob(scope: Construct, id: string, opts: SetupJobOptions): void {
  validateRenderedObjects(scope);
  const name = `${opts.store.name}-setup`;
  // `<store>-setup-<hash>` longer than a Job name allows is reported with the whole output (checkRenderedObjects).
  const o = {
    ...opts,
    name,
    namespace: opts.store.namespace,
    labels: componentLabels(opts.component, name, opts.role),
    selector: selectorLabels(opts.component, name),
  };
  new k8s.KubeConfigMap(scope, `${id}Config`, { metadata: { name: o.name, namespace: o.namespace, labels: o.labels }, data: lazy(o.files) });
  serviceAccount(scope, `${id}ServiceAccount`, { name: o.name, namespace: o.namespace, labels: o.labels });
  new HashNamedJob(scope, id, {
    metadata: { name: o.name, namespace: o.namespace, labels: o.labels },
    spec: {
      backoffLimit: 10,
      activeDeadlineSeconds: 900,
      // No ttlSecondsAfterFinished: see HashNamedJob.
      template: {
        metadata: { labels: { ...o.labels, ...o.selector } },
        spec: {
          serviceAccountName: o.name,
          automountServiceAccountToken: false,
          restartPolicy: 'OnFailure',
          securityContext: restrictedPodSecurityContext(o.runAs),
          containers: [
            hardenedContainer({
              name: 'setup',
              image: o.image,
              resources: o.resources,
              command: ['sh', `/config/${o.entrypoint}`],
              env: lazy(() => [{ name: 'HOME', value: '/tmp' }, ...o.env()]),
              volumeMounts: [
                { name: 'config', mountPath: '/config', readOnly: true },
                { name: 'tmp', mountPath: '/tmp' },
              ],
            }),
          ],
          volumes: [{ name: 'config', configMap: { name: o.name } }, emptyDirVolume('tmp', '64Mi')],
        },
      },
    },
  });
  // Selected by the Job's own labels, never by `job-name` (whose value carries the hash and changes with the input).
  new Connections(scope, `${id}Connections`, { name: o.name, namespace: o.namespace, podSelector: o.selector }).allowTo(opts.store, opts.port);
}

/** Hex digits of the input hash a {@link HashNamedJob} appends to its name (after a `-`). */
export const JOB_INPUT_HASH_LENGTH = 8;

/**
 * The longest name a {@link HashNamedJob} may be given: its rendered name `<name>-<hash>` must stay within the 63
 * characters of a Job name. The Job controller puts the name in its pods' `job-name` and
 * `batch.kubernetes.io/job-name` labels (label values: at most 63 characters), so the API server refuses a longer one
 * with generated selectors ("Even when the name is a DNS subdomain, the name must be no longer than 63 characters":
 * https://kubernetes.io/docs/concepts/workloads/controllers/job/#writing-a-job-spec). Its pods' names need no room:
 * they are `generateName: <job name>-`, which the API server truncates to fit before appending 5 random characters.
 */
export const HASHED_JOB_BASE_MAX_LENGTH = 63 - 1 - JOB_INPUT_HASH_LENGTH;

/**
 * A one-shot Job named `<name>-<hash>`, where the hash (8 hex digits, computed at synth) covers everything that decides
 * what the Job does: its `spec` as rendered (pod template with image, command, env by reference, placement; deadlines)
 * and the data of every ConfigMap in the output that its pods read (the scripts and specs it runs). Secrets' values are
 * never in the output and never in the hash; their names and keys are, through the env references.
 *
 * Why a hashed name and no `ttlSecondsAfterFinished`: a finished Job must stay in the cluster. GitOps tools re-create
 * a rendered object that is missing: Argo CD shows a Job deleted by its TTL as OutOfSync/Missing and syncs it back
 * (argoproj/argo-cd#8586; its docs, "Sync Status with Jobs/Workflows with Time to Live (ttl)" in
 * https://argo-cd.readthedocs.io/en/stable/user-guide/resource_hooks/), Flux corrects the drift at every interval
 * (https://fluxcd.io/flux/components/kustomize/kustomizations/), and `pulumi refresh` drops it from the state so the
 * next `pulumi up` creates it: an expiring setup Job would run again forever. And a Job cannot be updated in place:
 * `spec.template`, `spec.selector` and `spec.completions` are immutable (Kubernetes' `ValidateJobSpecUpdate`; Flux's
 * "Running pre and post-deployment jobs", https://fluxcd.io/flux/use-cases/running-jobs/). So the name follows the
 * input: the same input renders the same name, which stays completed and in sync and never runs again; a changed input
 * renders a new name, a new Job that runs once, and the old one leaves the output, so Argo CD (with pruning) and Flux
 * (`prune: true`) delete it, and Pulumi, whose resource name contains the object's, creates the new one and deletes
 * the old one. Nothing ever patches a Job's template.
 *
 * Why no further annotations: a Job is not an Argo CD hook here (hooks are not part of the application's state and run
 * again on every sync), so it needs no `argocd.argoproj.io/hook`; Argo CD's built-in Job health is Progressing while it
 * runs, Healthy once `Complete` and Degraded once `Failed` (gitops-engine `pkg/health/health_job.go`), which is right
 * as it is; `Replace=true`/`Force=true` sync options and Flux's `kustomize.toolkit.fluxcd.io/force: enabled` exist to
 * delete and re-create a Job whose template changed, which a new name never needs. Setup Jobs must NOT carry
 * {@link KEEP_ON_PRUNE}: the superseded ones are meant to be pruned.
 */
export class HashNamedJob extends k8s.KubeJob {
  /** The Job as rendered, its name followed by `-<hash>` (the hash is computed here, once every input is known). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  public override toJson(): any {
    const json = super.toJson();
    const hash = jobInputHash(json.spec, readConfigMaps(this, json.metadata?.namespace, json.spec?.template?.spec));
    return { ...json, metadata: { ...json.metadata, name: `${json.metadata.name}-${hash}` } };
  }
}

type Json = Record<string, unknown>;

/** The names of the ConfigMaps a pod spec reads: volumes (projected too), `env` key references and `envFrom`. */
export function configMapNamesOf(podSpec: Json | undefined): string[] {
  const names = new Set<string>();
  const list = (v: unknown): Json[] => (Array.isArray(v) ? (v as Json[]) : []);
  const get = (o: unknown, ...path: string[]): unknown => path.reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Json)[k] : undefined), o);
  const add = (n: unknown) => { if (typeof n === 'string') names.add(n); };
  for (const v of list(podSpec?.volumes)) {
    add(get(v, 'configMap', 'name'));
    for (const s of list(get(v, 'projected', 'sources'))) add(get(s, 'configMap', 'name'));
  }
  for (const c of [...list(podSpec?.initContainers), ...list(podSpec?.containers)]) {
    for (const e of list(c.env)) add(get(e, 'valueFrom', 'configMapKeyRef', 'name'));
    for (const e of list(c.envFrom)) add(get(e, 'configMapRef', 'name'));
  }
  return [...names].sort();
}

/** The data of the ConfigMaps of the app's output that a Job's pods read in its namespace, by name (rendered now). */
function readConfigMaps(job: ApiObject, namespace: string | undefined, podSpec: Json | undefined): Array<{ name: string; data?: unknown; binaryData?: unknown }> {
  const wanted = configMapNamesOf(podSpec);
  if (wanted.length === 0) return [];
  const rendered = job.node.root.node.findAll()
    .filter((c): c is ApiObject => c instanceof ApiObject && c.kind === 'ConfigMap' && c.apiVersion === 'v1' && wanted.includes(c.name))
    // the rendered namespace: a chart's default namespace is filled in only there
    .map((c) => c.toJson() as { metadata: { name: string; namespace?: string }; data?: unknown; binaryData?: unknown })
    .filter((c) => c.metadata.namespace === namespace);
  // A ConfigMap the output does not render (supplied by the user) contributes its name only, through the spec.
  return rendered.map((c) => ({ name: c.metadata.name, data: c.data, binaryData: c.binaryData })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * A short, stable hash of a Job's input: the same value gives the same hash in every synth, whatever the order of the
 * keys of its objects (a refactor that reorders fields must not re-run a setup).
 */
export function jobInputHash(...parts: unknown[]): string {
  return createHash('sha256').update(JSON.stringify(canonical(parts))).digest('hex').slice(0, JOB_INPUT_HASH_LENGTH);
}

/** A copy of a JSON value with every object's keys sorted. */
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Json)[k])]));
  return v;
}

/** A PersistentVolumeClaim template for a StatefulSet. */
export function volumeClaimTemplate(o: { name: string; storage: string; storageClassName?: string; labels: Record<string, string> }): k8s.KubePersistentVolumeClaimProps {
  return {
    metadata: { name: o.name, labels: o.labels },
    spec: {
      accessModes: ['ReadWriteOnce'],
      storageClassName: o.storageClassName,
      resources: { requests: { storage: k8s.Quantity.fromString(o.storage) } },
    },
  };
}

/** A PodDisruptionBudget that lets one pod go at a time, so evictions never take every replica (nor block all). */
export function disruptionBudget(scope: Construct, id: string, o: { name: string; namespace: string; labels: Record<string, string>; selector: Record<string, string> }): ApiObject {
  return new k8s.KubePodDisruptionBudget(scope, id, {
    metadata: { name: o.name, namespace: o.namespace, labels: o.labels },
    spec: { maxUnavailable: k8s.IntOrString.fromNumber(1), selector: { matchLabels: o.selector } },
  });
}

/** What a single-node stateful store runs. */
export interface StatefulStoreOptions {
  /** Name of the ServiceAccount, Service and StatefulSet. */
  readonly name: string;
  /** Namespace. */
  readonly namespace: string;
  /** Labels of every object. */
  readonly labels: Record<string, string>;
  /** Pod selector labels. */
  readonly selector: Record<string, string>;
  /** uid/gid the pod runs as. */
  readonly uid: number;
  /** The store's ports (the Service exposes them, the container declares them). */
  readonly ports: NamedPort[];
  /** The store's container; its data volume is called `data`. */
  readonly container: k8s.Container;
  /** Containers that run to completion before it (render a config file, say). @default [] */
  readonly initContainers?: k8s.Container[];
  /** Further volumes (emptyDirs for runtime dirs). */
  readonly volumes: k8s.Volume[];
  /** Size of the data volume. */
  readonly storage: string;
  /** StorageClass of the data volume. */
  readonly storageClassName?: string;
  /**
   * The format of the data on its volume (`postgres 17`): annotated on the StatefulSet, so a change that needs a
   * migration is refused at synth (see `checkDataSafeUpgrade`).
   */
  readonly dataFormat: string;
  /** Seconds the store gets to shut down cleanly. @default 30 */
  readonly terminationGracePeriodSeconds?: number;
  /** Placement, pod metadata, extra args and env, Service type and annotations. @default - none */
  readonly pod?: PodSettings;
}

/**
 * A single-replica store: dedicated ServiceAccount (no token), a ClusterIP Service with a readable name, and a
 * StatefulSet whose `data` volume comes from a claim template retained when the StatefulSet is deleted or scaled.
 * @returns the StatefulSet and the store's network flows
 */
export function statefulStore(scope: Construct, o: StatefulStoreOptions): { statefulSet: ApiObject; connections: Connections } {
  validateRenderedObjects(scope);
  serviceAccount(scope, 'ServiceAccount', { name: o.name, namespace: o.namespace, labels: o.labels });
  clusterIpService(scope, 'Service', { name: o.name, namespace: o.namespace, labels: o.labels, selector: o.selector, ports: o.ports, service: o.pod?.service });
  checkPodSettingsAgainst(scope, o.pod, o.container, o.selector);
  const statefulSet = new k8s.KubeStatefulSet(scope, 'StatefulSet', {
    metadata: { name: o.name, namespace: o.namespace, labels: o.labels, annotations: { ...KEEP_ON_PRUNE, [DATA_FORMAT_ANNOTATION]: o.dataFormat } },
    spec: {
      serviceName: o.name,
      replicas: 1,
      selector: { matchLabels: o.selector },
      persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' },
      updateStrategy: { type: 'RollingUpdate' },
      template: withPodSettings({
        metadata: { labels: { ...o.labels, ...o.selector } },
        spec: {
          serviceAccountName: o.name,
          automountServiceAccountToken: false,
          securityContext: restrictedPodSecurityContext({ uid: o.uid }),
          terminationGracePeriodSeconds: o.terminationGracePeriodSeconds,
          initContainers: o.initContainers,
          containers: [o.container],
          volumes: o.volumes,
        },
      }, o.pod),
      volumeClaimTemplates: [volumeClaimTemplate({ name: 'data', storage: o.storage, storageClassName: o.storageClassName, labels: o.labels })],
    },
  });
  const connections = new Connections(scope, 'Connections', { name: o.name, namespace: o.namespace, podSelector: o.selector, labels: o.labels });
  return { statefulSet, connections };
}

/** What {@link boundRole} grants, and to whom. */
export interface BoundRoleOptions {
  /** Name of the Role and its RoleBinding. */
  readonly name: string;
  /** Namespace the Role grants in. */
  readonly namespace: string;
  /** Labels of both objects. */
  readonly labels: Record<string, string>;
  /** What the Role allows. */
  readonly rules: k8s.PolicyRule[];
  /** The service account bound. @default - the Role's namesake in the Role's namespace */
  readonly subject?: { readonly name: string; readonly namespace: string };
}

/** A Role and the RoleBinding that grants it to one service account (never a ClusterRole). */
export function boundRole(scope: Construct, id: string, o: BoundRoleOptions): ApiObject {
  const role = new k8s.KubeRole(scope, `${id}Role`, { metadata: { name: o.name, namespace: o.namespace, labels: o.labels }, rules: o.rules });
  const subject = o.subject ?? { name: o.name, namespace: o.namespace };
  new k8s.KubeRoleBinding(scope, `${id}RoleBinding`, {
    metadata: { name: o.name, namespace: o.namespace, labels: o.labels },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: o.name },
    subjects: [{ kind: 'ServiceAccount', name: subject.name, namespace: subject.namespace }],
  });
  return role;
}

/** What a stateless server runs. */
export interface DeploymentOptions {
  /** Name of the Deployment (and of its PodDisruptionBudget). */
  readonly name: string;
  /** Namespace. */
  readonly namespace: string;
  /** Labels of every object. */
  readonly labels: Record<string, string>;
  /** Pod selector labels. */
  readonly selector: Record<string, string>;
  /** Replicas; more than one also gets a PodDisruptionBudget that lets one pod go at a time. */
  readonly replicas: number;
  /** The dedicated service account the pods run as. */
  readonly serviceAccountName: string;
  /** Whether the pods get an API token (only for servers that call the Kubernetes API). */
  readonly automountToken: boolean;
  /** uid/gid the pods run as. */
  readonly uid: number;
  /** Containers run to completion before the server starts. @default - none */
  readonly initContainers?: k8s.Container[];
  /** The server's containers. */
  readonly containers: k8s.Container[];
  /** Volumes. @default - none */
  readonly volumes?: k8s.Volume[];
  /** Placement, pod metadata, extra args and env of the first container. @default - none */
  readonly pod?: PodSettings;
}

/** A Deployment of hardened pods, with a PodDisruptionBudget once it has replicas. */
export function deployment(scope: Construct, id: string, o: DeploymentOptions): ApiObject {
  checkPodSettingsAgainst(scope, o.pod, o.containers[0], o.selector);
  const d = new k8s.KubeDeployment(scope, id, {
    metadata: { name: o.name, namespace: o.namespace, labels: o.labels },
    spec: {
      replicas: o.replicas,
      selector: { matchLabels: o.selector },
      template: withPodSettings({
        metadata: { labels: { ...o.labels, ...o.selector } },
        spec: {
          serviceAccountName: o.serviceAccountName,
          automountServiceAccountToken: o.automountToken,
          securityContext: restrictedPodSecurityContext({ uid: o.uid }),
          initContainers: o.initContainers,
          containers: o.containers,
          volumes: o.volumes,
        },
      }, o.pod),
    },
  });
  if (o.replicas > 1) disruptionBudget(scope, `${id}Budget`, { name: o.name, namespace: o.namespace, labels: o.labels, selector: o.selector });
  return d;
}

/** Extra env that would override the component's own, or pod labels that would change its selector: reported with the app's problems. */
function checkPodSettingsAgainst(scope: Construct, pod: PodSettings | undefined, main: k8s.Container, selector: Record<string, string>): void {
  const problems = new Problems();
  checkSettingsAgainst(problems, scope.node.path, 'pod', pod, main, selector);
  problems.deferIfAny(scope);
}
