import { k8s } from 'cdk8s-plus-27';
import { checkUid, ContainerResources, fail } from '../../lib';

/**
 * The one place where every pod and container cd4ml renders is hardened to the Pod Security Standard
 * "restricted" (SECURITY.md rules 1-7). cdk8s-plus-27 sets neither `seccompProfile` nor
 * `capabilities.drop: [ALL]`; every construct here builds its pods through these helpers instead.
 */

/** The uid/gid a pod runs as. */
export interface RunAs {
  /** User id (never 0). */
  readonly uid: number;
  /** Group id (never 0). @default - same as uid */
  readonly gid?: number;
  /** Group that owns mounted volumes. @default - same as gid */
  readonly fsGroup?: number;
}

/** The unprivileged `nobody` user, for images that do not need a particular uid. */
export const NOBODY: RunAs = { uid: 65534, gid: 65534 };

/** A pod-level security context: non-root, RuntimeDefault seccomp, fsGroup for volumes. */
export function restrictedPodSecurityContext(runAs: RunAs): k8s.PodSecurityContext {
  for (const [field, value] of [['uid', runAs.uid], ['gid', runAs.gid], ['fsGroup', runAs.fsGroup]] as const) {
    if (value === undefined && field !== 'uid') continue;
    const problem = checkUid(value, { path: 'restrictedPodSecurityContext', field });
    if (problem) fail(problem);
  }
  const gid = runAs.gid ?? runAs.uid;
  return {
    runAsNonRoot: true,
    runAsUser: runAs.uid,
    runAsGroup: gid,
    fsGroup: runAs.fsGroup ?? gid,
    fsGroupChangePolicy: 'OnRootMismatch',
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** A container-level security context: no escalation, no capabilities, read-only root, RuntimeDefault seccomp. */
export function restrictedContainerSecurityContext(): k8s.SecurityContext {
  return {
    runAsNonRoot: true,
    allowPrivilegeEscalation: false,
    privileged: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** Renders requests and limits. Memory always has a limit; CPU only when asked. */
export function resourceRequirements(r: ContainerResources): k8s.ResourceRequirements {
  const limits: Record<string, k8s.Quantity> = { memory: k8s.Quantity.fromString(r.memoryLimit) };
  if (r.cpuLimit !== undefined) limits.cpu = k8s.Quantity.fromString(r.cpuLimit);
  return {
    requests: { cpu: k8s.Quantity.fromString(r.cpu), memory: k8s.Quantity.fromString(r.memory) },
    limits,
  };
}

/** What a hardened container needs; everything else of `k8s.Container` may be passed through `extra`. */
export interface HardenedContainerOptions {
  /** Container name. */
  readonly name: string;
  /** Pinned image (tag or digest). */
  readonly image: string;
  /** Requests and limits. */
  readonly resources: ContainerResources;
  /** Entrypoint. @default - the image's */
  readonly command?: string[];
  /** Arguments. @default - the image's */
  readonly args?: string[];
  /** Environment. @default - none */
  readonly env?: k8s.EnvVar[];
  /** Named container ports. @default - none */
  readonly ports?: k8s.ContainerPort[];
  /** Volume mounts (writable paths must come from here: the root filesystem is read-only). @default - none */
  readonly volumeMounts?: k8s.VolumeMount[];
  /** Readiness probe. @default - none (only for one-shot containers) */
  readonly readinessProbe?: k8s.Probe;
  /** Liveness probe. @default - none (only for one-shot containers) */
  readonly livenessProbe?: k8s.Probe;
  /** Startup probe, for slow starters. @default - none */
  readonly startupProbe?: k8s.Probe;
  /** Working directory. @default - the image's */
  readonly workingDir?: string;
}

/** A container with the restricted security context and explicit resources. */
export function hardenedContainer(o: HardenedContainerOptions): k8s.Container {
  return {
    name: o.name,
    image: o.image,
    imagePullPolicy: 'IfNotPresent',
    command: o.command,
    args: o.args,
    env: Array.isArray(o.env) && o.env.length === 0 ? undefined : o.env,
    ports: o.ports,
    volumeMounts: o.volumeMounts && o.volumeMounts.length > 0 ? o.volumeMounts : undefined,
    readinessProbe: o.readinessProbe,
    livenessProbe: o.livenessProbe,
    startupProbe: o.startupProbe,
    workingDir: o.workingDir,
    resources: resourceRequirements(o.resources),
    securityContext: restrictedContainerSecurityContext(),
  };
}

/** An HTTP GET probe on a named or numbered port. */
export function httpProbe(path: string, port: number | string, opts: ProbeTiming = {}): k8s.Probe {
  return {
    httpGet: { path, port: typeof port === 'number' ? k8s.IntOrString.fromNumber(port) : k8s.IntOrString.fromString(port), scheme: opts.https ? 'HTTPS' : 'HTTP' },
    ...timing(opts),
  };
}

/** A probe that runs a command in the container. */
export function execProbe(command: string[], opts: ProbeTiming = {}): k8s.Probe {
  return { exec: { command }, ...timing(opts) };
}

/** Probe timing; the defaults suit a server that answers within a second. */
export interface ProbeTiming {
  /** Seconds between probes. @default 10 */
  readonly periodSeconds?: number;
  /** Consecutive failures before acting. @default 3 */
  readonly failureThreshold?: number;
  /** Seconds before a probe times out. @default 3 */
  readonly timeoutSeconds?: number;
  /** Seconds after start before the first probe. @default 0 */
  readonly initialDelaySeconds?: number;
  /** Probe over HTTPS (HTTP probes only). @default false */
  readonly https?: boolean;
}

function timing(o: ProbeTiming): Partial<k8s.Probe> {
  return {
    periodSeconds: o.periodSeconds ?? 10,
    failureThreshold: o.failureThreshold ?? 3,
    timeoutSeconds: o.timeoutSeconds ?? 3,
    initialDelaySeconds: o.initialDelaySeconds,
  };
}

/** An emptyDir volume (for /tmp and runtime dirs under a read-only root), memory-capped. */
export function emptyDirVolume(name: string, sizeLimit = '256Mi'): k8s.Volume {
  return { name, emptyDir: { sizeLimit: k8s.Quantity.fromString(sizeLimit) } };
}
