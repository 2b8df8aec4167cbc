import { Cd4mlValidationError, checkDnsLabel, Problem } from '../../lib';
import { toYaml } from '../../lib/yaml';
import { EnvironmentOutput, OutputFile } from './gitops';

/**
 * The sandbox's k3d cluster, as a k3d config file (`k3d cluster create --config <file>`), instead of the training
 * material's long `k3d registry create ...` and `k3d cluster create ...` lines. The fields are k3d's `Simple` config,
 * `k3d.io/v1alpha5` (k3d v5.5+, https://k3d.io/stable/usage/configfile/).
 */
export interface K3dClusterOptions {
  /** The cluster's name (its kubectl context is `k3d-<name>`). @default 'cd4ml' */
  readonly name?: string;
  /** Agent nodes beside the one server. @default 1 */
  readonly agents?: number;
  /**
   * The k3s image, pinned: its Kubernetes version is the cluster's. @default 'rancher/k3s:v1.31.5-k3s1' - the
   * default of k3d v5.8.3, which the end-to-end workflow installs
   */
  readonly k3sImage?: string;
  /**
   * The Docker network's subnet: inside `kubeApiCidr`, so the API server is where the platform's egress
   * NetworkPolicies let the controller and the executor reach it. @default '172.28.0.0/16'
   */
  readonly subnet?: string;
  /** The API server's addresses the platform allows (its `kubeApi.cidr`). @default '172.16.0.0/12' */
  readonly kubeApiCidr?: string;
  /**
   * A host folder for k3s's local-path volumes (`/var/lib/rancher/k3s/storage` on every node), so the stores' data
   * (kept by the sandbox's Retain StorageClass) outlives `k3d cluster delete`. @default '/tmp/cd4ml-k3d-storage'
   */
  readonly storageHostPath?: string;
  /**
   * The registry k3d creates beside the cluster (`k3d-<name>:<hostPort>` for the nodes and the delivery workflow's
   * pushes, `localhost:<hostPort>` from the host). @default { name: 'registry.localhost', hostPort: 5000 }
   */
  readonly registry?: { readonly name?: string; readonly hostPort?: number };
  /**
   * Host ports of the cluster's load balancer (k3s's Traefik) when the platform has Ingress hosts.
   * @default { http: 8080, https: 8443 }
   */
  readonly ingressPorts?: { readonly http?: number; readonly https?: number };
}

/** The parts of an IPv4 CIDR, or undefined when it is not one. */
function cidr(text: string): { base: number; bits: number } | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(text);
  if (!m) return undefined;
  const octets = m.slice(1, 5).map(Number);
  const bits = Number(m[5]);
  if (octets.some((o) => o > 255) || bits > 32) return undefined;
  const base = octets.reduce((a, o) => a * 256 + o, 0);
  return { base, bits };
}

/** Whether CIDR `inner` lies inside CIDR `outer`. */
function within(inner: { base: number; bits: number }, outer: { base: number; bits: number }): boolean {
  if (inner.bits < outer.bits) return false;
  const size = 2 ** (32 - outer.bits);
  return Math.floor(inner.base / size) === Math.floor(outer.base / size);
}

/** Checks the options; one problem per bad field. */
export function checkK3dOptions(o: K3dClusterOptions, path = 'k3d'): Problem[] {
  const problems: Problem[] = [];
  const site = (field: string) => ({ path, field });
  if (o.name !== undefined) { const p = checkDnsLabel(o.name, site('name')); if (p) problems.push(p); }
  if (o.agents !== undefined && (!Number.isInteger(o.agents) || o.agents < 0 || o.agents > 10)) problems.push({ ...site('agents'), value: o.agents, message: 'is not a whole number from 0 to 10', fix: 'give e.g. 1' });
  const image = o.k3sImage;
  if (image !== undefined && (typeof image !== 'string' || !/^[a-z0-9./-]+:v\d+\.\d+\.\d+-k3s\d+$/.test(image))) problems.push({ ...site('k3sImage'), value: image, message: 'is not a pinned k3s image', fix: 'give e.g. rancher/k3s:v1.31.5-k3s1' });
  const subnet = cidr(o.subnet ?? '172.28.0.0/16');
  const api = cidr(o.kubeApiCidr ?? '172.16.0.0/12');
  if (!subnet) problems.push({ ...site('subnet'), value: o.subnet, message: 'is not an IPv4 CIDR', fix: 'give e.g. 172.28.0.0/16' });
  if (!api) problems.push({ ...site('kubeApiCidr'), value: o.kubeApiCidr, message: 'is not an IPv4 CIDR', fix: 'give the platform\'s kubeApi.cidr, e.g. 172.16.0.0/12' });
  if (subnet && api && !within(subnet, api)) problems.push({ ...site('subnet'), value: o.subnet, message: `lies outside ${o.kubeApiCidr ?? '172.16.0.0/12'}, where the platform's NetworkPolicies let pods reach the API server`, fix: 'give a subnet inside it, e.g. 172.28.0.0/16, or set the platform\'s kubeApi.cidr to the subnet' });
  const hostPath = o.storageHostPath;
  if (hostPath !== undefined && (typeof hostPath !== 'string' || !hostPath.startsWith('/') || /[\s:,@]/.test(hostPath))) problems.push({ ...site('storageHostPath'), value: hostPath, message: 'is not an absolute path without spaces, colons, commas or @', fix: 'give e.g. /tmp/cd4ml-k3d-storage' });
  const ports: Array<[string, unknown]> = [['registry.hostPort', o.registry?.hostPort], ['ingressPorts.http', o.ingressPorts?.http], ['ingressPorts.https', o.ingressPorts?.https]];
  for (const [field, port] of ports) {
    if (port !== undefined && (!Number.isInteger(port) || (port as number) < 1024 || (port as number) > 65535)) problems.push({ ...site(field), value: port, message: 'is not an unprivileged port (1024-65535)', fix: 'give e.g. 5000' });
  }
  if (o.registry?.name !== undefined && !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(o.registry.name)) problems.push({ ...site('registry.name'), value: o.registry.name, message: 'is not a host name', fix: 'give e.g. registry.localhost' });
  return problems;
}

/**
 * The k3d config of a sandbox that runs this output: one server and its agents on a subnet inside the platform's
 * API server CIDR, a registry beside it, k3s's local-path volumes on a host folder, and Traefik's ports when the
 * platform has Ingress hosts. Written as `k3d/<name>.yaml` beside the environments' folders.
 */
export function k3dConfig(output: EnvironmentOutput, options: K3dClusterOptions = {}): OutputFile {
  const problems = checkK3dOptions(options);
  if (problems.length > 0) throw new Cd4mlValidationError(problems);
  const name = options.name ?? 'cd4ml';
  const registry = { name: options.registry?.name ?? 'registry.localhost', hostPort: options.registry?.hostPort ?? 5000 };
  const hasIngress = output.platformObjects.some((o) => o.kind === 'Ingress');
  const config = {
    apiVersion: 'k3d.io/v1alpha5',
    kind: 'Simple',
    metadata: { name },
    servers: 1,
    agents: options.agents ?? 1,
    image: options.k3sImage ?? 'rancher/k3s:v1.31.5-k3s1',
    subnet: options.subnet ?? '172.28.0.0/16',
    volumes: [{ volume: `${options.storageHostPath ?? '/tmp/cd4ml-k3d-storage'}:/var/lib/rancher/k3s/storage`, nodeFilters: ['all'] }],
    ...(hasIngress ? {
      ports: [
        { port: `${options.ingressPorts?.http ?? 8080}:80`, nodeFilters: ['loadbalancer'] },
        { port: `${options.ingressPorts?.https ?? 8443}:443`, nodeFilters: ['loadbalancer'] },
      ],
    } : {}),
    registries: { create: { name: registry.name, host: '127.0.0.1', hostPort: String(registry.hostPort) } },
    options: { k3d: { wait: true, timeout: '300s' }, kubeconfig: { updateDefaultKubeconfig: true, switchCurrentContext: true } },
  };
  const header = [
    `# The ${output.environment} platform's k3d cluster: k3d cluster create --config <this file>`,
    `# Images pushed to localhost:${registry.hostPort} are pulled in the cluster as k3d-${registry.name}:${registry.hostPort}/<image>.`,
    '',
  ].join('\n');
  return { path: `k3d/${name}.yaml`, content: `${header}${toYaml([config])}` };
}
