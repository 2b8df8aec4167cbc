import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';

/** One rule of a {@link namespacedAdmissionPolicy}: a CEL expression every matching request must satisfy. */
export interface AdmissionValidation {
  /** CEL over `object` (and `oldObject`, `request`); true admits. */
  readonly expression: string;
  /** What the API server answers when it does not hold (no value of the request is echoed). */
  readonly message: string;
}

/** Options of {@link namespacedAdmissionPolicy}. */
export interface NamespacedAdmissionPolicyOptions {
  /** Name of the policy and its binding (cluster-scoped: include the namespace it guards). */
  readonly name: string;
  /** The only namespace the binding applies in. */
  readonly namespace: string;
  /** Labels of the policy and its binding. */
  readonly labels: Record<string, string>;
  /** What it intercepts: API groups, resources and operations. */
  readonly rules: ReadonlyArray<{ readonly apiGroups: string[]; readonly resources: string[]; readonly operations: string[] }>;
  /** Conditions that select which matching requests are checked. @default - all of them */
  readonly matchConditions?: ReadonlyArray<{ readonly name: string; readonly expression: string }>;
  /** What every matching request must satisfy (all of them). */
  readonly validations: readonly AdmissionValidation[];
}

/**
 * A ValidatingAdmissionPolicy (GA since Kubernetes 1.30) and its Deny binding, limited to one namespace: the way to
 * enforce what RBAC and LimitRanges cannot express without side effects (a per-container cap that adds no defaults,
 * a `create` limited by name). The API server itself evaluates it; nothing runs in the cluster.
 * @see https://kubernetes.io/docs/reference/access-authn-authz/validating-admission-policy/
 */
export function namespacedAdmissionPolicy(scope: Construct, id: string, o: NamespacedAdmissionPolicyOptions): ApiObject {
  const policy = new ApiObject(scope, id, {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicy',
    metadata: { name: o.name, labels: o.labels },
    spec: {
      failurePolicy: 'Fail',
      matchConstraints: { resourceRules: o.rules.map((r) => ({ apiGroups: r.apiGroups, apiVersions: ['*'], resources: r.resources, operations: r.operations })) },
      ...(o.matchConditions ? { matchConditions: o.matchConditions } : {}),
      validations: o.validations.map((v) => ({ expression: v.expression, message: v.message })),
    },
  });
  const binding = new ApiObject(scope, `${id}Binding`, {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicyBinding',
    metadata: { name: o.name, labels: o.labels },
    spec: {
      policyName: o.name,
      validationActions: ['Deny'],
      matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': o.namespace } } },
    },
  });
  binding.addDependency(policy);
  return policy;
}
