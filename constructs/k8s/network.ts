import { ApiObject, Lazy } from 'cdk8s';
import { Construct, IConstruct } from 'constructs';
import { checkCidr, checkDnsLabel, checkDnsSubdomain, checkLabels, checkPort, describeType, fail, Problem, Problems } from '../../lib';
import { componentLabels } from './labels';

/** One side of an allowed flow, as a NetworkPolicy peer. */
export interface PeerSpec {
  /** Pods selected by these labels (empty: every pod of the namespace). */
  readonly podSelector?: Record<string, string>;
  /** The namespace of those pods. */
  readonly namespace?: string;
  /** An IP block instead of pods. */
  readonly cidr?: string;
}

/**
 * A NetworkPolicy peer outside cd4ml's own workloads: a namespace, labelled pods, or an IP block.
 */
export class NetworkPeer {
  /** Every pod of a namespace (selected by its `kubernetes.io/metadata.name` label). Refuses a name that is not a DNS-1123 label. */
  public static namespace(name: string): NetworkPeer {
    const problems = new Problems();
    problems.addIf(checkDnsLabel(name, { path: 'NetworkPeer.namespace', field: 'name' }));
    problems.throwIfAny();
    return new NetworkPeer({ namespace: name, podSelector: {} });
  }

  /** Pods with these labels in a namespace. Refuses a bad namespace name, label key or label value. */
  public static pods(namespace: string, labels: Record<string, string>): NetworkPeer {
    const problems = new Problems();
    problems.addIf(checkDnsLabel(namespace, { path: 'NetworkPeer.pods', field: 'namespace' }));
    checkLabels(labels, { path: 'NetworkPeer.pods', field: 'labels' }).forEach((p) => problems.add(p));
    problems.throwIfAny();
    return new NetworkPeer({ namespace, podSelector: { ...labels } });
  }

  /** An IP block in CIDR notation. Refuses anything else. */
  public static cidr(cidr: string): NetworkPeer {
    const problems = new Problems();
    problems.addIf(checkCidr(cidr, { path: 'NetworkPeer.cidr', field: 'cidr' }));
    problems.throwIfAny();
    return new NetworkPeer({ cidr });
  }

  private constructor(public readonly spec: PeerSpec) {}

  /** The peer as NetworkPolicy JSON. */
  public toJson(): Record<string, unknown> {
    const s = this.spec;
    if (s.cidr !== undefined) return { ipBlock: { cidr: s.cidr } };
    const peer: Record<string, unknown> = { podSelector: { matchLabels: s.podSelector ?? {} } };
    if (s.namespace !== undefined) peer.namespaceSelector = { matchLabels: { 'kubernetes.io/metadata.name': s.namespace } };
    return peer;
  }
}

/**
 * Checks a list of peers given by a JavaScript caller: an array of {@link NetworkPeer}s, each made by its factories.
 * @returns one problem per bad entry
 */
export function checkPeers(value: unknown, site: { readonly path: string; readonly field: string }): Problem[] {
  const fix = 'build each peer with NetworkPeer.namespace(), NetworkPeer.pods() or NetworkPeer.cidr()';
  if (!Array.isArray(value)) return [{ ...site, value, message: 'is not a list of NetworkPeers', fix: `give a list; ${fix}` }];
  return value.flatMap((p: unknown, i) => (p instanceof NetworkPeer ? [] : [{ ...site, field: `${site.field}[${i}]`, value: p, message: 'is not a NetworkPeer', fix }]));
}

/**
 * Where API egress goes by default: `172.16.0.0/12`, the private range Docker takes its bridge networks from
 * (`172.17.0.0/16` to `172.31.0.0/16`), where k3d puts the nodes of the sandbox cluster, and with them the API server
 * (k3s serves it on the server node's address, port 6443). Other clusters must set {@link KubeApiAccess.cidr}.
 * @see https://k3d.io/stable/design/networking/
 */
export const DEFAULT_KUBE_API_CIDR = '172.16.0.0/12';

/**
 * The Kubernetes API server, as a NetworkPolicy egress target. The API server is not a pod, so it is reached by
 * address. Kubernetes leaves open whether a plugin checks egress before or after the `kubernetes` Service's address
 * is translated to an endpoint's; the common plugins (kube-router in k3s, Calico, Cilium) check after, so the rule
 * names the endpoints' addresses (`kubectl get endpoints kubernetes -n default`) and ports.
 * @see https://kubernetes.io/docs/concepts/services-networking/network-policies/
 */
export interface KubeApiAccess {
  /**
   * CIDR of the API server's endpoints: set it to your API server endpoints' addresses, e.g. `"192.0.2.10/32"` for
   * the address `kubectl get endpoints kubernetes -n default` lists. `0.0.0.0/0` (or `::/0`) is refused.
   * @default - {@link DEFAULT_KUBE_API_CIDR} (`172.16.0.0/12`: a k3d sandbox's Docker network)
   */
  readonly cidr?: string;
  /** Ports the API server answers on (443 on most managed clusters, 6443 on k3s/kind/kubeadm endpoints). @default [443, 6443] */
  readonly ports?: number[];
}

/** Something whose pods take part in network flows. */
export interface IConnectable {
  /** Its network flows. */
  readonly connections: Connections;
}

/** Where a {@link Connections} object lives and what it selects. */
export interface ConnectionsProps {
  /** Name of the NetworkPolicy (the workload's name). */
  readonly name: string;
  /** Namespace of the workload. */
  readonly namespace: string;
  /** Labels of the workload's pods (empty: every pod of the namespace). */
  readonly podSelector: Record<string, string>;
  /** Labels for the NetworkPolicy object itself. @default - the selector */
  readonly labels?: Record<string, string>;
}

interface Rule {
  readonly peer: Record<string, unknown>;
  readonly port: number;
}

/**
 * The allowed flows of one workload, rendered as one NetworkPolicy that selects its pods. Namespaces deny
 * all traffic by default ({@link PlatformNamespace}); a flow exists only where `allowTo` / `allowFrom` says so.
 * `a.connections.allowTo(b, port)` opens egress on `a` and ingress on `b` together.
 */
export class Connections extends Construct {
  /** Namespace of the selected pods. */
  public readonly namespace: string;
  /** Labels of the selected pods. */
  public readonly podSelector: Record<string, string>;
  private readonly ingress = new Map<string, Rule>();
  private readonly egress = new Map<string, Rule>();

  public constructor(scope: Construct, id: string, props: ConnectionsProps) {
    super(scope, id);
    const problems = new Problems();
    problems.addIf(checkDnsSubdomain(props.name, { path: this.node.path, field: 'name' }));
    problems.addIf(checkDnsLabel(props.namespace, { path: this.node.path, field: 'namespace' }));
    checkLabels(props.podSelector, { path: this.node.path, field: 'podSelector' }).forEach((p) => problems.add(p));
    problems.throwIfAny(this);
    this.namespace = props.namespace;
    this.podSelector = { ...props.podSelector };
    new ApiObject(this, 'Resource', {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: props.name, namespace: props.namespace, labels: props.labels ?? componentLabels(props.name, props.name, 'network-policy') },
      spec: Lazy.any({
        produce: () => ({
          podSelector: { matchLabels: this.podSelector },
          policyTypes: ['Ingress', 'Egress'],
          ingress: group(this.ingress, 'from'),
          egress: group(this.egress, 'to'),
        }),
      }),
    });
  }

  /** This workload as a peer of another's policy. */
  public get peer(): NetworkPeer {
    return NetworkPeer.pods(this.namespace, this.podSelector);
  }

  /** Allows this workload to open TCP connections to `target` on `port` (egress here, ingress there). */
  public allowTo(target: IConnectable, port: number): void {
    this.allowEgress(target.connections.peer, port);
    target.connections.allowIngress(this.peer, port);
  }

  /** Allows `source` to open TCP connections to this workload on `port`. */
  public allowFrom(source: IConnectable, port: number): void {
    source.connections.allowTo({ connections: this }, port);
  }

  /** Allows ingress from a peer outside cd4ml (an ingress controller's namespace, say). */
  public allowIngress(peer: NetworkPeer, port: number): void {
    const json = peer.toJson();
    this.ingress.set(`${JSON.stringify(json)}:${port}`, { peer: json, port });
  }

  /** Allows egress to a peer outside cd4ml (an external S3 endpoint, say). */
  public allowEgress(peer: NetworkPeer, port: number): void {
    const json = peer.toJson();
    this.egress.set(`${JSON.stringify(json)}:${port}`, { peer: json, port });
  }

  /** Allows egress to the Kubernetes API server (only for workloads that call it). */
  public allowToKubeApi(access: KubeApiAccess = {}): void {
    const problems = new Problems();
    checkKubeApiAccess(access, { path: this.node.path, field: 'kubeApi' }).forEach((p) => problems.add(p));
    problems.throwIfAny(this);
    const cidr = access.cidr ?? DEFAULT_KUBE_API_CIDR;
    for (const port of access.ports ?? [443, 6443]) this.allowEgress(NetworkPeer.cidr(cidr), port);
  }
}

/** Checks how workloads reach the Kubernetes API: a CIDR block narrower than everything, and ports. */
export function checkKubeApiAccess(access: unknown, site: { readonly path: string; readonly field: string }): Problem[] {
  const { path, field } = site;
  if (access === undefined) return [];
  if (access === null || typeof access !== 'object' || Array.isArray(access)) return [{ path, field, value: access, message: `is ${describeType(access)}, not { cidr, ports }`, fix: 'give { cidr: "192.0.2.10/32" } (your API server endpoints\' addresses)' }];
  const { cidr = DEFAULT_KUBE_API_CIDR, ports } = access as KubeApiAccess;
  const problems: Problem[] = [];
  const fix = 'set it to your API server endpoints\' addresses (`kubectl get endpoints kubernetes -n default`), e.g. "192.0.2.10/32"';
  const malformed = checkCidr(cidr, { path, field: `${field}.cidr` });
  if (malformed) problems.push({ ...malformed, fix });
  else if (/\/0$/.test(cidr)) problems.push({ path, field: `${field}.cidr`, value: cidr, message: 'opens API egress to every address', fix });
  if (ports !== undefined && !Array.isArray(ports)) problems.push({ path, field: `${field}.ports`, value: ports, message: `is ${describeType(ports)}, not a list of ports`, fix: 'give a list, e.g. [443, 6443]' });
  else for (const port of ports ?? []) { const p = checkPort(port, { path, field: `${field}.ports` }); if (p) problems.push(p); }
  return problems;
}

/**
 * Refuses a grantee that is not an {@link IConnectable} (a JavaScript caller's `undefined`, a name, a plain object),
 * naming the method that was called.
 */
export function checkGrantee(grantee: unknown, site: { readonly path: string; readonly field: string }, scope: IConstruct): asserts grantee is IConnectable {
  const connections = (grantee as Partial<IConnectable> | null | undefined)?.connections;
  if (!(connections instanceof Connections)) {
    fail({ ...site, value: describeType(grantee), message: 'is not something with network connections (an IConnectable)', fix: 'pass the construct whose pods connect, e.g. the platform\'s trackingServer or pipelineRunner' }, scope);
  }
}

/** Groups rules by port so each port renders once with all of its peers. */
function group(rules: Map<string, Rule>, side: 'from' | 'to'): Array<Record<string, unknown>> {
  const byPort = new Map<number, Array<Record<string, unknown>>>();
  for (const r of rules.values()) {
    const peers = byPort.get(r.port) ?? [];
    peers.push(r.peer);
    byPort.set(r.port, peers);
  }
  return [...byPort.entries()]
    .sort(([a], [b]) => a - b)
    .map(([port, peers]) => ({ [side]: peers, ports: [{ protocol: 'TCP', port }] }));
}
