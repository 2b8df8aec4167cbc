import { chmodSync, cpSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'fs';
import { dirname, join } from 'path';
import { get } from './apply';
import { ControlPlane } from './control-plane';
import { run, scratch, start, Started } from './processes';

// Runs one container of a rendered pod template as a local process, the way the kubelet would run it: its command
// and args, its env (values, ConfigMap and Secret keys read from the real API server, field refs), its volumes
// mounted at their paths (ConfigMaps and Secrets as files, emptyDirs, the projected service-account token from the
// TokenRequest API) inside a private mount namespace, as the pod's uid. The image is the one thing not reproduced:
// the command runs against this machine's tools, with `path` first on PATH. Service DNS names in env values and args
// are mapped to loopback addresses through `services`.

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface LocalPodOptions {
  readonly cp: ControlPlane;
  readonly namespace: string;
  /** The pod spec (a workload's `spec.template.spec`). */
  readonly pod: Obj;
  /** Name of the container (or init container) to run. */
  readonly container: string;
  /** `host:port` as rendered -> `127.0.0.1:port` where the real server listens. */
  readonly services?: ReadonlyMap<string, string>;
  /** Directories put first on PATH (the image's tools: a venv's bin, Postgres' bin). */
  readonly path?: readonly string[];
  /** Env set after the rendered env (only what a cluster provides that a machine lacks). */
  readonly extraEnv?: Record<string, string>;
  /** Run as root instead of the pod's uid (for tools that need it locally, never to pass a check). @default false */
  readonly keepRoot?: boolean;
  /** A hosts file bound over /etc/hosts (see {@link ServiceAddresses}). @default - the machine's */
  readonly hosts?: string;
  /** The image's entrypoint, for a container that renders only args. @default - none: the container's command */
  readonly entrypoint?: readonly string[];
  /** Files the image holds, as [path on this machine, path in the image] (bound read-only there). @default [] */
  readonly imageFiles?: ReadonlyArray<readonly [string, string]>;
  /** The image's WORKDIR, where the container starts unless it names its own. @default '/' */
  readonly imageWorkingDir?: string;
  /**
   * Host directories standing for PersistentVolumeClaims, by claim name: a pod's claim volume is bound there, so pods
   * of one workflow share what they write, as they would on the claim's volume. @default {} (a claim volume fails)
   */
  readonly claims?: Readonly<Record<string, string>>;
  /**
   * The pod's directory, shared by its containers (an init container's emptyDir output is there for the main one).
   * @default - a new directory per container
   */
  readonly podDir?: string;
}

/** Rewrites every rendered `host:port` (and bare host) of a Service to where the real server listens. */
export function mapServices(value: string, services: ReadonlyMap<string, string> | undefined): string {
  let out = value;
  for (const [from, to] of services ?? []) out = out.split(from).join(to);
  return out;
}

async function secretData(cp: ControlPlane, namespace: string, name: string): Promise<Record<string, string>> {
  const s = await get<Obj>(cp, 'v1', 'Secret', namespace, name);
  if (!s) throw new Error(`Secret ${namespace}/${name} does not exist (the pod would not start)`);
  return Object.fromEntries(Object.entries((s.data ?? {}) as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
}

async function configMapData(cp: ControlPlane, namespace: string, name: string): Promise<Record<string, string>> {
  const c = await get<Obj>(cp, 'v1', 'ConfigMap', namespace, name);
  if (!c) throw new Error(`ConfigMap ${namespace}/${name} does not exist (the pod would not start)`);
  return (c.data ?? {}) as Record<string, string>;
}

/** Prepares the container: resolves env and volumes; returns the command line to run in a mount namespace. */
async function prepare(o: LocalPodOptions): Promise<{ argv: string[]; env: NodeJS.ProcessEnv; dir: string }> {
  const { cp, namespace, pod } = o;
  const c: Obj | undefined = [...(pod.initContainers ?? []), ...(pod.containers ?? [])].find((x: Obj) => x.name === o.container);
  if (!c) throw new Error(`no container ${o.container} in the pod`);
  const dir = o.podDir ?? scratch(`pod-${o.container}`);
  const uid: number = c.securityContext?.runAsUser ?? pod.securityContext?.runAsUser ?? 65534;
  const gid: number = c.securityContext?.runAsGroup ?? pod.securityContext?.runAsGroup ?? pod.securityContext?.fsGroup ?? uid;

  // env
  const env: Record<string, string> = {};
  for (const e of (c.env ?? []) as Obj[]) {
    if (e.value !== undefined) env[e.name] = mapServices(String(e.value).replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, v) => env[v] ?? m), o.services);
    else if (e.valueFrom?.secretKeyRef) {
      const ref = e.valueFrom.secretKeyRef;
      const data = await secretData(cp, namespace, ref.name);
      if (data[ref.key] === undefined) throw new Error(`env ${e.name}: Secret ${namespace}/${ref.name} has no key ${ref.key}`);
      env[e.name] = data[ref.key];
    } else if (e.valueFrom?.configMapKeyRef) {
      const ref = e.valueFrom.configMapKeyRef;
      const data = await configMapData(cp, namespace, ref.name);
      if (data[ref.key] === undefined) throw new Error(`env ${e.name}: ConfigMap ${namespace}/${ref.name} has no key ${ref.key}`);
      env[e.name] = mapServices(data[ref.key], o.services);
    } else if (e.valueFrom?.fieldRef) {
      const f = e.valueFrom.fieldRef.fieldPath;
      env[e.name] = f === 'metadata.namespace' ? namespace : f === 'metadata.name' ? `${o.container}-local` : '';
    }
  }

  // volumes -> host directories
  const sources = new Map<string, string>();
  for (const v of (pod.volumes ?? []) as Obj[]) {
    const claim = v.persistentVolumeClaim?.claimName as string | undefined;
    if (claim !== undefined) {
      const bound = o.claims?.[claim];
      if (!bound) throw new Error(`volume ${v.name}: claim ${claim} has no directory standing for it (claims)`);
      mkdirSync(bound, { recursive: true });
      sources.set(v.name, bound);
      continue;
    }
    const src = join(dir, 'volumes', v.name);
    mkdirSync(src, { recursive: true });
    const files: Record<string, string> = {};
    if (v.configMap) Object.assign(files, await configMapData(cp, namespace, v.configMap.name));
    else if (v.secret) Object.assign(files, await secretData(cp, namespace, v.secret.secretName));
    else if (v.projected) {
      for (const s of v.projected.sources as Obj[]) {
        if (s.serviceAccountToken) files[s.serviceAccountToken.path] = await tokenFor(cp, namespace, pod.serviceAccountName ?? 'default');
        if (s.configMap) Object.assign(files, await configMapData(cp, namespace, s.configMap.name));
        if (s.secret) Object.assign(files, await secretData(cp, namespace, s.secret.name));
        if (s.downwardAPI) files.namespace = namespace;
      }
    } else if (!v.emptyDir) throw new Error(`volume ${v.name}: only configMap, secret, projected and emptyDir volumes run locally`);
    for (const [k, val] of Object.entries(files)) {
      mkdirSync(dirname(join(src, k)), { recursive: true });
      writeFileSync(join(src, k), val);
    }
    sources.set(v.name, src);
  }
  // the service-account token the kubelet mounts when the pod automounts one
  const mounts: Array<[string, string]> = [];
  const automount = pod.automountServiceAccountToken ?? true;
  if (automount && !(c.volumeMounts ?? []).some((m: Obj) => m.mountPath === '/var/run/secrets/kubernetes.io/serviceaccount')) {
    const src = join(dir, 'volumes', 'kube-api-access');
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, 'token'), await tokenFor(cp, namespace, pod.serviceAccountName ?? 'default'));
    writeFileSync(join(src, 'ca.crt'), readFileSync(join(cp.dir, 'certs', 'apiserver.crt')));
    writeFileSync(join(src, 'namespace'), namespace);
    mounts.push([src, '/var/run/secrets/kubernetes.io/serviceaccount']);
  }
  // the kubelet gives every container the API server's address (the `kubernetes` Service), token or not
  const api = new URL(cp.admin.server);
  env.KUBERNETES_SERVICE_HOST = api.hostname;
  env.KUBERNETES_SERVICE_PORT = api.port;
  for (const m of (c.volumeMounts ?? []) as Obj[]) {
    const src = sources.get(m.name);
    if (!src) throw new Error(`volumeMount ${m.name}: no such volume`);
    mounts.push([m.subPath ? join(src, m.subPath) : src, m.mountPath]);
  }
  run('chown', ['-R', `${uid}:${gid}`, join(dir, 'volumes'), ...Object.values(o.claims ?? {})], { allowFail: true });
  chmodSync(dir, 0o755);

  if (o.hosts) mounts.push([o.hosts, '/etc/hosts']);
  // copied into the pod's own directory first: the source may sit where the pod's volumes (its /tmp) hide it
  for (const [src, target] of o.imageFiles ?? []) {
    const copy = join(dir, 'image', target);
    cpSync(src, copy, { recursive: true });
    run('chmod', ['-R', 'a+rX', join(dir, 'image')]);
    mounts.push([copy, target]);
  }
  // parents before children, so a volume mounted inside another one's path stays visible
  mounts.sort(([, a], [, b]) => a.split('/').length - b.split('/').length);

  // the mount namespace: bind every volume at its path, then drop to the pod's uid
  const script = join(dir, 'enter.sh');
  writeFileSync(script, [
    '#!/bin/sh', 'set -e',
    ...mounts.flatMap(([src, target]) => [statSync(src).isDirectory() ? `mkdir -p '${target}'` : `[ -e '${target}' ] || touch '${target}'`, `mount --bind '${src}' '${target}'`]),
    // the container's working directory, else the image's
    `cd '${c.workingDir ?? o.imageWorkingDir ?? '/'}'`,
    o.keepRoot ? 'exec "$@"' : `exec setpriv --reuid=${uid} --regid=${gid} --clear-groups "$@"`,
  ].join('\n'));
  chmodSync(script, 0o755);
  const command: string[] = [...(c.command ?? o.entrypoint ?? []), ...(c.args ?? [])].map((a: string) => mapServices(String(a).replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, v) => env[v] ?? m), o.services));
  if (command.length === 0) throw new Error(`container ${o.container} has no command: the image's entrypoint cannot run locally`);
  const PATH = [...(o.path ?? []), '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'].join(':');
  return { argv: ['unshare', '-m', '--propagation', 'private', script, ...command], env: { PATH, ...env, ...(o.extraEnv ?? {}) }, dir };
}

/** A token for a service account from the TokenRequest API (as the kubelet's projected volume holds). */
export async function tokenFor(cp: ControlPlane, namespace: string, serviceAccount: string): Promise<string> {
  const r = await cp.api<Obj>('POST', `/api/v1/namespaces/${namespace}/serviceaccounts/${serviceAccount}/token`, { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } });
  if (r.status !== 201) throw new Error(`TokenRequest for ${namespace}/${serviceAccount}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.status.token as string;
}

/**
 * Runs the container to completion (bounded); returns its exit status, its output, and where its volumes are on this
 * machine (`<volumes>/<volume name>`), so a test can read what it wrote to an emptyDir.
 */
export async function runContainer(o: LocalPodOptions & { timeoutMs?: number }): Promise<{ status: number; stdout: string; stderr: string; volumes: string }> {
  const { argv, env, dir } = await prepare(o);
  if (process.env.CD4ML_TIER_DEBUG) process.stderr.write(`[local-pod] ${argv.join(' ')}\n${readFileSync(join(dir, 'enter.sh'), 'utf8')}\n${JSON.stringify(env)}\n`);
  return { ...run(argv[0], argv.slice(1), { env, allowFail: true, timeoutMs: o.timeoutMs ?? 180000, cwd: '/' }), volumes: join(dir, 'volumes') };
}

/** Starts the container in the background (a server); stop it with processes.stop(). */
export async function startContainer(o: LocalPodOptions & { name?: string }): Promise<Started> {
  const { argv, env, dir } = await prepare(o);
  return start(o.name ?? o.container, argv[0], argv.slice(1), { env, logDir: dir, cwd: '/' });
}

/**
 * Loopback addresses for the cluster's Service names: each Service gets its own 127.a.b.x, where the real server
 * listens on the rendered port, and a hosts file maps every form of its DNS name there. Local pods see it as their
 * /etc/hosts, so the URLs we render are used as they are.
 */
export class ServiceAddresses {
  private readonly addresses = new Map<string, string>();
  /** A random 127.a.b.0/24 per instance, so runs sharing a machine do not meet on the same address and port. */
  private readonly prefix = `127.${2 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;

  /** The loopback address of Service `name` in `namespace` (allocated on first use). */
  public address(name: string, namespace: string): string {
    const key = `${name}.${namespace}`;
    if (!this.addresses.has(key)) this.addresses.set(key, `${this.prefix}.${this.addresses.size + 1}`);
    return this.addresses.get(key)!;
  }

  /** A loopback address for a host outside the cluster (an external database's name, say). */
  public external(host: string): string {
    return this.address(host, '');
  }

  /** A hosts file for the pods (in `dir`); returns its path. */
  public hostsFile(dir: string): string {
    // as the machine's own: localhost only at 127.0.0.1 (the sandbox may have no IPv6 loopback)
    const lines = ['127.0.0.1 localhost'];
    for (const [key, ip] of this.addresses) {
      if (key.endsWith('.')) { lines.push(`${ip} ${key.slice(0, -1)}`); continue; }
      const [name, ns] = key.split('.');
      lines.push(`${ip} ${name}.${ns}.svc.cluster.local ${name}.${ns}.svc ${name}.${ns}`);
    }
    const file = join(dir, 'hosts');
    writeFileSync(file, lines.join('\n') + '\n');
    chmodSync(file, 0o644);
    return file;
  }
}
