import { ApiObject, Lazy } from 'cdk8s';
import { Construct } from 'constructs';
import { checkCidr, checkPort, Problems } from '../../lib';
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
  /** Every pod of a namespace (selected by its `kubernetes.io/metadata.name` label). */
  public static namespace(name: string): NetworkPeer {
    return new NetworkPeer({ namespace: name, podSelector: {} });
  }

  /** Pods with these labels in a namespace. */
  public static pods(namespace: string, labels: Record<string, string>): NetworkPeer {
    return new NetworkPeer({ namespace, podSelector: labels });
  }

  /** An IP block in CIDR notation. */
  public static cidr(cidr: string): NetworkPeer {
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

/** The Kubernetes API server, as a NetworkPolicy egress target. */
export interface KubeApiAccess {
  /** CIDR of the API server endpoints. @default '0.0.0.0/0' (the API server is not a pod; narrow it to your control plane's addresses) */
  readonly cidr?: string;
  /** Ports the API server answers on (443 via the `kubernetes` Service, 6443 on k3s/kind control planes). @default [443, 6443] */
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

  /** Allows egress to the Kubernetes API server (for workloads that call it). */
  public allowToKubeApi(access: KubeApiAccess = {}): void {
    const problems = new Problems();
    const cidr = access.cidr ?? '0.0.0.0/0';
    problems.addIf(checkCidr(cidr, { path: this.node.path, field: 'kubeApi.cidr' }));
    for (const port of access.ports ?? []) problems.addIf(checkPort(port, { path: this.node.path, field: 'kubeApi.ports' }));
    problems.throwIfAny();
    for (const port of access.ports ?? [443, 6443]) this.allowEgress(NetworkPeer.cidr(cidr), port);
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
