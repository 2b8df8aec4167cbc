import { ApiObject } from 'cdk8s';
import { k8s } from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { checkDnsLabel, checkLabels, checkNamespace, checkNoNulls, Problems } from '../../lib';
import { KEEP_ON_PRUNE, PART_OF } from './labels';

/** Props of {@link PlatformNamespace}. */
export interface PlatformNamespaceProps {
  /** The namespace's name (a DNS-1123 label). */
  readonly name: string;
  /**
   * The Kubernetes minor version whose "restricted" Pod Security Standard is enforced.
   * @default 'v1.27'
   * @see https://kubernetes.io/docs/concepts/security/pod-security-admission/
   */
  readonly podSecurityVersion?: string;
  /**
   * Namespace and pod labels of the cluster DNS, which every pod may reach on port 53.
   * @default - namespace `kube-system`, pods labelled `k8s-app: kube-dns` (CoreDNS on k3s, kind, EKS, GKE, AKS)
   */
  readonly dns?: { readonly namespace: string; readonly podSelector: Record<string, string> };
  /**
   * The namespace holds data (a store's volumes): GitOps never prunes or deletes it ({@link KEEP_ON_PRUNE}).
   * @default false
   */
  readonly holdsData?: boolean;
}

/**
 * A namespace that enforces the "restricted" Pod Security Standard and denies all traffic by default;
 * only DNS is open. Workloads open the flows they need through their `connections`.
 */
export class PlatformNamespace extends Construct {
  /** The namespace's name. */
  public readonly name: string;
  /** The Namespace object (for dependencies and escape hatches). */
  public readonly resource: ApiObject;

  public constructor(scope: Construct, id: string, props: PlatformNamespaceProps) {
    super(scope, id);
    const path = this.node.path;
    const problems = new Problems();
    checkNoNulls(props, path, ['name']).forEach((p) => problems.add(p));
    problems.addIf(checkNamespace(props?.name, { path, field: 'name' }));
    const version = props?.podSecurityVersion ?? 'v1.27';
    if (typeof version !== 'string' || !/^(v1\.\d{1,2}|latest)$/.test(version)) {
      problems.add({ path, field: 'podSecurityVersion', value: version, message: 'is not a Kubernetes minor version', fix: 'use a version like "v1.27"' });
    }
    if (props?.dns !== undefined) {
      problems.addIf(checkDnsLabel(props.dns?.namespace, { path, field: 'dns.namespace' }));
      for (const p of checkLabels(props.dns?.podSelector, { path, field: 'dns.podSelector' })) problems.add(p);
    }
    problems.throwIfAny(this);
    this.name = props.name;
    this.resource = new k8s.KubeNamespace(this, 'Resource', {
      metadata: {
        name: this.name,
        annotations: props.holdsData ? { ...KEEP_ON_PRUNE } : undefined,
        labels: {
          'app.kubernetes.io/part-of': PART_OF,
          'app.kubernetes.io/managed-by': PART_OF,
          'pod-security.kubernetes.io/enforce': 'restricted',
          'pod-security.kubernetes.io/enforce-version': version,
          'pod-security.kubernetes.io/audit': 'restricted',
          'pod-security.kubernetes.io/audit-version': version,
          'pod-security.kubernetes.io/warn': 'restricted',
          'pod-security.kubernetes.io/warn-version': version,
        },
      },
    });
    const labels = { 'app.kubernetes.io/part-of': PART_OF, 'app.kubernetes.io/managed-by': PART_OF };
    new k8s.KubeNetworkPolicy(this, 'DefaultDeny', {
      metadata: { name: 'default-deny', namespace: this.name, labels },
      spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
    });
    const dns = props.dns ?? { namespace: 'kube-system', podSelector: { 'k8s-app': 'kube-dns' } };
    new k8s.KubeNetworkPolicy(this, 'AllowDns', {
      metadata: { name: 'allow-dns', namespace: this.name, labels },
      spec: {
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [
          {
            to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': dns.namespace } }, podSelector: { matchLabels: dns.podSelector } }],
            ports: [
              { protocol: 'UDP', port: k8s.IntOrString.fromNumber(53) },
              { protocol: 'TCP', port: k8s.IntOrString.fromNumber(53) },
            ],
          },
        ],
      },
    });
  }
}
