// What a chart user expects to set on every component, beside its resources and replicas: placement, priority,
// pod metadata, extra args and env, and its Service's type and annotations. Checked field by field; applied by the
// workload helpers, so every component gets the same settings the same way.
import { k8s } from 'cdk8s-plus-27';
import {
  checkDnsSubdomain, checkEnvName, checkLabelKey, checkLabels, checkLabelValue, checkNoCredential, checkTolerations, describeType, isCredentialFlag, isPlainObject, Problems,
  REDACTED,
} from '../../lib';
import { lazy } from './lazy';

/** The Service types a component may be exposed with. */
export enum ServiceType {
  /** In the cluster only (the default). */
  CLUSTER_IP = 'ClusterIP',
  /** On a port of every node (the NetworkPolicy still admits only the peers it lists). */
  NODE_PORT = 'NodePort',
  /** Through the cloud's load balancer (the NetworkPolicy still admits only the peers it lists). */
  LOAD_BALANCER = 'LoadBalancer',
}

/** A component's Service. */
export interface ServiceSettings {
  /** Service type. @default ServiceType.CLUSTER_IP */
  readonly type?: ServiceType;
  /** Annotations (an internal load balancer, external-dns). @default {} */
  readonly annotations?: Record<string, string>;
}

/** Pod-level settings of a component, applied to its workload and Service. */
export interface PodSettings {
  /** Node labels its pods need. @default {} */
  readonly nodeSelector?: Record<string, string>;
  /** Taints its pods tolerate. @default [] */
  readonly tolerations?: k8s.Toleration[];
  /** Node and pod (anti-)affinity. @default - none */
  readonly affinity?: k8s.Affinity;
  /** PriorityClass of its pods. @default - the cluster's default */
  readonly priorityClassName?: string;
  /** Annotations on its pods (a service mesh's, a log shipper's). @default {} */
  readonly podAnnotations?: Record<string, string>;
  /** Labels on its pods, besides the ones cd4ml selects them by (which may not be changed). @default {} */
  readonly podLabels?: Record<string, string>;
  /** Arguments appended to its main container's. @default [] */
  readonly extraArgs?: string[];
  /** Environment variables added to its main container (not credentials, not names it sets itself). @default {} */
  readonly extraEnv?: Record<string, string>;
  /** Its Service, where it has one. @default - ClusterIP, no annotations */
  readonly service?: ServiceSettings;
}

const FIELDS = ['nodeSelector', 'tolerations', 'affinity', 'priorityClassName', 'podAnnotations', 'podLabels', 'extraArgs', 'extraEnv', 'service'];
const AFFINITY_KINDS = ['nodeAffinity', 'podAffinity', 'podAntiAffinity'];
/**
 * Flags that decide a component's security, refused in extra args whether or not cd4ml sets them: a repeated
 * `--auth-mode` adds modes in argo-server, a later `--allowed-hosts` wins in MLflow's CLI.
 */
const SECURITY_FLAGS = ['--auth-mode', '--secure', '--namespaced', '--managed-namespace', '--app-name', '--allowed-hosts', '--cors-allowed-origins', '--x-frame-options', '--disable-security-middleware', '--backend-store-uri', '--artifacts-destination'];

/** The flag an argument names (`--flag` of `--flag=value`), if it is one. */
function flagOf(arg: unknown): string | undefined {
  return typeof arg === 'string' && /^--?[A-Za-z]/.test(arg) ? arg.split('=')[0] : undefined;
}

/**
 * Checks pod settings from TypeScript or JavaScript.
 * @param fields the fields besides pod settings the caller takes (reported as known)
 */
export function checkPodSettings(problems: Problems, path: string, field: string, value: unknown, fields: readonly string[] = []): void {
  if (value === undefined) return;
  const site = (f: string) => ({ path, field: `${field}.${f}` });
  if (!isPlainObject(value)) {
    problems.add({ path, field, value: describeType(value), message: `is ${describeType(value)}, not component settings`, fix: `give any of ${[...fields, ...FIELDS].join(', ')}` });
    return;
  }
  for (const k of Object.keys(value)) if (![...fields, ...FIELDS].includes(k)) problems.add({ ...site(k), value: describeType(value[k]), message: 'is not a component setting', fix: `use ${[...fields, ...FIELDS].join(', ')}` });
  if (value.nodeSelector !== undefined) checkLabels(value.nodeSelector, site('nodeSelector')).forEach((p) => problems.add(p));
  if (value.tolerations !== undefined) checkTolerations(value.tolerations, site('tolerations')).forEach((p) => problems.add(p));
  checkAffinity(problems, site('affinity'), value.affinity);
  if (value.priorityClassName !== undefined) problems.addIf(checkDnsSubdomain(value.priorityClassName as string, site('priorityClassName')));
  checkAnnotations(problems, site('podAnnotations'), value.podAnnotations);
  if (value.podLabels !== undefined) checkLabels(value.podLabels, site('podLabels')).forEach((p) => problems.add(p));
  if (value.extraArgs !== undefined) {
    if (!Array.isArray(value.extraArgs)) problems.add({ ...site('extraArgs'), value: describeType(value.extraArgs), message: 'is not a list of strings', fix: 'give e.g. ["--log-level", "debug"]' });
    else value.extraArgs.forEach((a: unknown, i, all: unknown[]) => {
      const at = site(`extraArgs[${i}]`);
      const fix = 'args are rendered in plain text: give the component its credentials through a Secret';
      if (typeof a !== 'string') problems.add({ ...at, value: a, message: `is ${describeType(a)}, not a string`, fix: `write it as a string, "${String(a)}"` });
      else if (i > 0 && isCredentialFlag(all[i - 1])) problems.add({ ...at, value: REDACTED, message: `follows ${String(all[i - 1])}, so it looks like a credential, which would be written into the manifests in plain text`, fix });
      else if (SECURITY_FLAGS.includes(flagOf(a) ?? '')) problems.add({ ...at, value: a, message: `sets ${flagOf(a)}, which decides the component's security and is cd4ml's to set`, fix: 'use the Platform\'s own setting for it (workflowAuthMode, trackingServerHosts, ingress), or drop it' });
      else problems.addIf(checkNoCredential(a, at, fix));
    });
  }
  if (value.extraEnv !== undefined) {
    if (!isPlainObject(value.extraEnv)) problems.add({ ...site('extraEnv'), value: describeType(value.extraEnv), message: 'is not a map of names to values', fix: 'give e.g. { LOG_LEVEL: "debug" }' });
    else for (const [name, v] of Object.entries(value.extraEnv)) {
      problems.addIf(checkEnvName(name, site(`extraEnv.${name}`)));
      if (typeof v !== 'string') problems.add({ ...site(`extraEnv.${name}`), value: v, message: `is ${describeType(v)}, but env values are strings`, fix: `write it as a string, "${String(v)}"` });
      else problems.addIf(checkNoCredential(v, site(`extraEnv.${name}`), 'env values are rendered in plain text: give the component its credentials through a Secret'));
    }
  }
  const service = value.service;
  if (service !== undefined) {
    if (!isPlainObject(service)) problems.add({ ...site('service'), value: describeType(service), message: 'is not Service settings', fix: 'give { type, annotations }' });
    else {
      for (const k of Object.keys(service)) if (!['type', 'annotations'].includes(k)) problems.add({ ...site(`service.${k}`), value: describeType(service[k]), message: 'is not a Service setting', fix: 'use type and annotations' });
      if (service.type !== undefined && !(Object.values(ServiceType) as unknown[]).includes(service.type)) problems.add({ ...site('service.type'), value: service.type, message: 'is not a Service type', fix: `use "${ServiceType.CLUSTER_IP}", "${ServiceType.NODE_PORT}" or "${ServiceType.LOAD_BALANCER}" (ServiceType)` });
      checkAnnotations(problems, site('service.annotations'), service.annotations);
    }
  }
}

/** Checks an affinity as a Pod spec takes it: known kinds, each an object. Used by steps' placement too. */
export function checkAffinity(problems: Problems, site: { path: string; field: string }, value: unknown): void {
  if (value === undefined) return;
  if (!isPlainObject(value)) {
    problems.add({ ...site, value: describeType(value), message: 'is not an affinity', fix: 'give { nodeAffinity, podAffinity, podAntiAffinity } as a Pod spec takes them' });
    return;
  }
  for (const [k, v] of Object.entries(value)) {
    const at = { ...site, field: `${site.field}.${k}` };
    if (!AFFINITY_KINDS.includes(k)) problems.add({ ...at, value: describeType(v), message: 'is not a kind of affinity', fix: `use ${AFFINITY_KINDS.join(', ')}` });
    else if (!isPlainObject(v)) problems.add({ ...at, value: describeType(v), message: `is ${describeType(v)}, not ${k === 'nodeAffinity' ? 'a node' : 'a pod'} affinity`, fix: 'give it as a Pod spec takes it, e.g. { requiredDuringSchedulingIgnoredDuringExecution: ... }' });
  }
}

function checkAnnotations(problems: Problems, site: { path: string; field: string }, value: unknown): void {
  if (value === undefined) return;
  if (!isPlainObject(value)) {
    problems.add({ ...site, value: describeType(value), message: 'is not a map of annotations', fix: 'give e.g. { "prometheus.io/scrape": "true" }' });
    return;
  }
  for (const [k, v] of Object.entries(value)) {
    const at = { ...site, field: `${site.field}[${JSON.stringify(k)}]` };
    problems.addIf(checkLabelKey(k, at));
    if (typeof v !== 'string') problems.addIf(checkLabelValue(v, at));
    else problems.addIf(checkNoCredential(v, at, 'annotations are rendered in plain text'));
  }
}

/** The env names a container already sets, which extra env may not override. */
function envNames(env: unknown): string[] {
  return Array.isArray(env) ? env.map((e: k8s.EnvVar) => e.name) : [];
}

/**
 * Checks that extra env names none of the variables the component sets itself, and that pod labels change none of
 * its selector's labels.
 */
export function checkPodSettingsAgainst(problems: Problems, path: string, field: string, settings: PodSettings | undefined, container: k8s.Container, selector: Record<string, string>): void {
  if (!settings) return;
  const own = new Set(envNames(container.env));
  const ownFlags = new Set((Array.isArray(container.args) ? container.args : []).map(flagOf).filter((f): f is string => f !== undefined));
  (Array.isArray(settings.extraArgs) ? settings.extraArgs : []).forEach((a, i) => {
    const flag = flagOf(a);
    if (flag && ownFlags.has(flag) && !SECURITY_FLAGS.includes(flag)) problems.add({ path, field: `${field}.extraArgs[${i}]`, value: a, message: `sets ${flag} again, which cd4ml already sets`, fix: 'change the component\'s own setting instead, or drop it' });
  });
  for (const name of Object.keys(isPlainObject(settings.extraEnv) ? settings.extraEnv : {})) {
    if (own.has(name)) problems.add({ path, field: `${field}.extraEnv.${name}`, value: name, message: 'is set by cd4ml itself, which it would override', fix: 'set another variable, or change the component\'s own setting' });
  }
  for (const key of Object.keys(isPlainObject(settings.podLabels) ? settings.podLabels : {})) {
    if (key in selector) problems.add({ path, field: `${field}.podLabels[${JSON.stringify(key)}]`, value: key, message: 'is a label cd4ml selects the pods by', fix: 'use another label key' });
  }
}

/** A pod template with the settings applied (its first container is the main one). */
export function withPodSettings(template: { metadata: k8s.ObjectMeta; spec: k8s.PodSpec }, settings: PodSettings | undefined): { metadata: k8s.ObjectMeta; spec: k8s.PodSpec } {
  if (!settings) return template;
  const [main, ...others] = template.spec.containers;
  const extraEnv = Object.entries(settings.extraEnv ?? {}).map(([name, value]) => ({ name, value }));
  const env = main.env;
  const mainWith: k8s.Container = {
    ...main,
    args: settings.extraArgs?.length ? [...(main.args ?? []), ...settings.extraArgs] : main.args,
    env: extraEnv.length === 0 ? env : Array.isArray(env) || env === undefined ? [...(env ?? []), ...extraEnv] : lazy(() => [...(env as unknown as { produce(): k8s.EnvVar[] }).produce(), ...extraEnv]),
  };
  return {
    metadata: {
      ...template.metadata,
      labels: { ...(settings.podLabels ?? {}), ...(template.metadata.labels ?? {}) },
      annotations: settings.podAnnotations && Object.keys(settings.podAnnotations).length ? { ...(template.metadata.annotations ?? {}), ...settings.podAnnotations } : template.metadata.annotations,
    },
    spec: {
      ...template.spec,
      containers: [mainWith, ...others],
      nodeSelector: settings.nodeSelector && Object.keys(settings.nodeSelector).length ? { ...settings.nodeSelector } : template.spec.nodeSelector,
      tolerations: settings.tolerations?.length ? [...settings.tolerations] : template.spec.tolerations,
      affinity: settings.affinity ?? template.spec.affinity,
      priorityClassName: settings.priorityClassName ?? template.spec.priorityClassName,
    },
  };
}
