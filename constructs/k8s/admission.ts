import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';

/** One rule of a {@link namespacedAdmissionPolicy}: a CEL expression every matching request must satisfy. */
export interface AdmissionValidation {
  /** CEL over `object` (and `oldObject`, `request`); true admits. May be a `lazy()` value, resolved at synth. */
  readonly expression: string;
  /** What the API server answers when it does not hold (no value of the request is echoed). May be lazy. */
  readonly message: string;
}

/** What a {@link namespacedAdmissionPolicy} intercepts: one group's resources and the operations on them. */
export interface AdmissionRule {
  /** API groups (`''` is the core group). */
  readonly apiGroups: string[];
  /** Resources, e.g. `secrets`. */
  readonly resources: string[];
  /** Operations: `CREATE`, `UPDATE`, `DELETE`, `CONNECT`. */
  readonly operations: string[];
}

/** A condition that selects which matching requests a {@link namespacedAdmissionPolicy} checks. */
export interface AdmissionMatchCondition {
  /** Name of the condition (a qualified name, unique in the policy). */
  readonly name: string;
  /** CEL over `object`, `oldObject`, `request`; the request is checked only when every condition is true. */
  readonly expression: string;
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
  readonly rules: readonly AdmissionRule[];
  /** Conditions that select which matching requests are checked (a user name, say). @default - all of them */
  readonly matchConditions?: readonly AdmissionMatchCondition[];
  /** What every matching request must satisfy (all of them). */
  readonly validations: readonly AdmissionValidation[];
}

/** The two objects of a {@link namespacedAdmissionPolicy}. */
export interface NamespacedAdmissionPolicy {
  /** The ValidatingAdmissionPolicy (cluster-scoped). */
  readonly policy: ApiObject;
  /** Its Deny binding, limited to the namespace (depends on the policy). */
  readonly binding: ApiObject;
}

/** The CEL condition "the request is made by this service account". */
export function requestedByServiceAccount(namespace: string, name: string): AdmissionMatchCondition {
  return { name: 'requested-by-service-account', expression: `request.userInfo.username == ${JSON.stringify(`system:serviceaccount:${namespace}:${name}`)}` };
}

/**
 * A ValidatingAdmissionPolicy (GA since Kubernetes 1.30) and its Deny binding, limited to one namespace: the way to
 * enforce what RBAC and LimitRanges cannot express without side effects (a per-container cap that adds no defaults,
 * a `create` limited by name). The API server itself evaluates it; nothing runs in the cluster. A request the
 * expressions cannot evaluate is refused (`failurePolicy: Fail`).
 * @see https://kubernetes.io/docs/reference/access-authn-authz/validating-admission-policy/
 */
export function namespacedAdmissionPolicy(scope: Construct, id: string, o: NamespacedAdmissionPolicyOptions): NamespacedAdmissionPolicy {
  const policy = new ApiObject(scope, id, {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicy',
    metadata: { name: o.name, labels: o.labels },
    spec: {
      failurePolicy: 'Fail',
      matchConstraints: { resourceRules: o.rules.map((r) => ({ apiGroups: r.apiGroups, apiVersions: ['*'], resources: r.resources, operations: r.operations })) },
      ...(o.matchConditions ? { matchConditions: o.matchConditions.map((c) => ({ name: c.name, expression: c.expression })) } : {}),
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
  return { policy, binding };
}
