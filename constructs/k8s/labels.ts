/** The recommended Kubernetes labels, so tooling groups cd4ml's objects. */
export const PART_OF = 'cd4ml';

/** Labels that select a component's pods (stable: they are part of every selector). */
export function selectorLabels(name: string, instance: string): Record<string, string> {
  return { 'app.kubernetes.io/name': name, 'app.kubernetes.io/instance': instance };
}

/** Labels put on every object of a component. */
export function componentLabels(name: string, instance: string, component: string): Record<string, string> {
  return {
    ...selectorLabels(name, instance),
    'app.kubernetes.io/component': component,
    'app.kubernetes.io/part-of': PART_OF,
    'app.kubernetes.io/managed-by': PART_OF,
  };
}

/**
 * Annotations that keep an object when GitOps prunes or deletes the application that rendered it: what holds data
 * (a store's StatefulSet, the namespace of its volumes) and the CRDs whose deletion deletes every object of theirs.
 * `kubectl delete -f` ignores them (see the README, "What removes data").
 * @see https://argo-cd.readthedocs.io/en/stable/user-guide/sync-options/#no-prune-resources
 * @see https://fluxcd.io/flux/components/kustomize/kustomizations/#prune
 */
export const KEEP_ON_PRUNE: Readonly<Record<string, string>> = {
  'argocd.argoproj.io/sync-options': 'Prune=false,Delete=false',
  'kustomize.toolkit.fluxcd.io/prune': 'disabled',
};
